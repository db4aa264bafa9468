"""What every child of benchmarks/gpu_check.py shares: its arguments, the planted failure, results saved as
they come (a child ended at its time budget still leaves the rows it measured), and the checks that it
runs where it should (the wheel's package, the GPU unless --dry-run)."""

import argparse
import json
import os
import statistics
import time

PLANT_ENV = "GPU_CHECK_PLANT_FAILURE"  # a part id; that part's child fails on purpose (tests only)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", required=True, help="where the child writes its results")
    p.add_argument("--part", required=True, help="the part id (for the planted failure)")
    p.add_argument("--dry-run", action="store_true", help="tiny sizes, platform cpu")
    p.add_argument("--deadline", type=float, default=1e9, help="seconds from start after which no new row starts")
    return p


class Results:
    """A JSON file rewritten after every row; `cut_short` says rows were left out at the deadline."""

    def __init__(self, args, **fields):
        self.path, self.deadline, self.start = args.json, args.deadline, time.monotonic()
        self.data = {"part": args.part, "rows": [], "cut_short": False, "notes": [], **fields}
        self.save()
        if os.environ.get(PLANT_ENV) == args.part:
            raise SystemExit(f"planted failure in part {args.part} ({PLANT_ENV}, for tests of gpu_check)")

    def save(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1, default=str)
        os.replace(tmp, self.path)

    def add(self, row: dict) -> None:
        self.data["rows"].append(row)
        self.save()

    def note(self, text: str) -> None:
        print(text, flush=True)
        self.data["notes"].append(text)
        self.save()

    def out_of_time(self, left: str) -> bool:
        """True (and recorded) when the deadline has passed; `left` names what is left out."""
        if time.monotonic() - self.start < self.deadline:
            return False
        self.data["cut_short"] = True
        self.note(f"time budget spent: left out {left}")
        return True


def check_backend(dry_run: bool) -> dict:
    """The device and the package in use; on a GPU run, refuses to measure anything on the CPU."""
    import jax

    import jax_softsplat
    from jax_softsplat import _ffi

    device = jax.devices()[0]
    info = {
        "backend": jax.default_backend(),
        "device": f"{device.platform}: {device.device_kind}",
        "cuda_module": _ffi.CUDA_MODULE,
        "package": os.path.dirname(jax_softsplat.__file__),
    }
    if not dry_run and info["backend"] != "gpu":
        raise SystemExit(f"expected the GPU backend, got {info['backend']} ({info['device']})")
    return info


def median_ms(fn, sync, runs: int, warmup: int = 2) -> tuple[float, int]:
    """Median milliseconds of `runs` calls, each synchronised by `sync(result)`, after `warmup` calls."""
    for _ in range(warmup):
        sync(fn())
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sync(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, runs
