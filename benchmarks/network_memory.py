"""Peak memory and seconds per frame pair of the interpolation network, whole frames and tiled.

    python benchmarks/network_memory.py [--rows 640x480:whole,1920x1080:whole,1920x1080:tiled,3840x2160:tiled]
                                        [--models l1,lf] [--runs 2]

Each row runs in a process of its own (spawned by this script), so that its peak resident set
(ru_maxrss) is that row's alone; the table is printed when all rows are done. A row interpolates one
pair at t = 0.5 `--runs` times with `Interpolator` (RGB in, RGB out): the first call compiles, the
last is the one timed. The weights are random but of the official shapes (`l1` and `lf` are one
architecture; only the seed differs here): the convolutions cost the same whatever the values, and
the splatting, the one part whose cost depends on the data, moves a smooth synthetic pair by a few
pixels. "whole" is `tiling=None`, "tiled" the default `Tiling()`, "auto" what `tiling="auto"` picks.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def frames(height: int, width: int, seed: int):
    """A smooth random pair, the second moved by (3, 2) pixels: cheap to make at 4K."""
    import numpy as np

    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (height // 16 + 2, width // 16 + 2, 3)).astype(np.float32)
    image = np.repeat(np.repeat(coarse, 16, axis=0), 16, axis=1)
    one = np.ascontiguousarray(image[:height, :width])
    two = np.ascontiguousarray(image[2 : height + 2, 3 : width + 3])
    return one, two


def child(size: str, mode: str, model: str, runs: int) -> dict:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from network_speed import random_network

    from jax_softsplat.models import Interpolator, NetworkConfig
    from jax_softsplat.models.tiled import Tiling

    width, height = (int(v) for v in size.lower().split("x"))
    network = random_network(NetworkConfig(), seed={"l1": 1, "lf": 2}[model])
    tiling = {"whole": None, "tiled": Tiling(), "auto": "auto"}[mode]
    interpolator = Interpolator(network, model, tiling=tiling)
    one, two = frames(height, width, seed=0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        out = interpolator(one, two, [0.5])[0]
        seconds.append(time.perf_counter() - start)
    assert out.shape == (height, width, 3)
    return {
        "size": size,
        "mode": mode,
        "model": model,
        "tiles": str(interpolator.tiling_for(height, width)),
        "first_s": seconds[0],
        "last_s": seconds[-1],
        "runs": runs,
        "before_mib": before,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_watched(command: list[str], limit_gib: float) -> subprocess.CompletedProcess:
    """Runs a row, ending it when its resident set passes `limit_gib` (the machine is shared)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        over = None
        while process.poll() is None:
            try:
                with open(f"/proc/{process.pid}/status") as status:
                    rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            except (OSError, StopIteration):
                rss = 0
            if rss > limit_gib * 2**20:
                over = rss
                process.kill()
                process.wait()
                break
            time.sleep(0.2)
        out.seek(0), err.seek(0)
        stderr = err.read() + (f"\nended at {over / 2**20:.1f} GiB resident, above --limit-gib" if over else "")
        return subprocess.CompletedProcess(command, process.returncode, out.read(), stderr)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        default="640x480:whole,1920x1080:whole,1920x1080:tiled,3840x2160:tiled",
        help="comma-separated WIDTHxHEIGHT:{whole,tiled,auto} (default: %(default)s)",
    )
    parser.add_argument("--models", default="l1,lf", help="comma-separated, l1 and/or lf (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=2, help="calls per row, the first compiles (default: %(default)s)")
    parser.add_argument(
        "--limit-gib",
        type=float,
        default=12.0,
        help="end a row whose resident memory passes this (default: %(default)s)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        size, mode, model = args.child.split(":")
        print(json.dumps(child(size, mode, model, args.runs)))
        return
    results = []
    for model in args.models.split(","):
        for row in args.rows.split(","):
            done = run_watched(
                [sys.executable, os.path.abspath(__file__), "--child", f"{row}:{model}", "--runs", str(args.runs)],
                args.limit_gib,
            )
            if done.returncode:
                print(f"{row}:{model} failed (status {done.returncode}):\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(f"2-core VM, random weights of the official shapes, t = 0.5, {args.runs} calls per row (the first compiles)")
    print(f"{'model':<6} {'size':<10} {'mode':<6} {'peak RSS GiB':>12} {'s/pair':>7} {'1st call s':>10}  tiles")
    for r in results:
        print(
            f"{r['model']:<6} {r['size']:<10} {r['mode']:<6} {r['peak_mib'] / 1024:>12.2f} {r['last_s']:>7.1f} "
            f"{r['first_s']:>10.1f}  {r['tiles']}"
        )


if __name__ == "__main__":
    sys.exit(main())
