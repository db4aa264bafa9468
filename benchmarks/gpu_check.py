"""One command for a lent GPU machine: installs the wheel, checks and times jax_softsplat on the GPU, writes
a report folder and prints a one-screen summary (docs/gpu_check.md).

    python3 benchmarks/gpu_check.py --wheel build/wheelhouse/jax_softsplat-...-cp312-...whl --out $OUT/gpu-check
    python3 benchmarks/gpu_check.py --dry-run --wheel ... --out /tmp/gpu-check   # the same code on the CPU

Parts: a. devices and versions; b. the operator's tests on the GPU, for _cuda13 and _cuda12; c.
compute-sanitizer memcheck and racecheck over every mode, layout and dtype, each after a planted fault
the tool must report; d. the operator's speed table; e. the network's speed, memory and training
steps; f. the authors' network against ours. Each part runs in child processes under a time budget
(the whole fits in 6 minutes on one H100) and ends ok, failed, skipped or not available with a
reason; the exit status is 1 when a part failed. The driver itself imports neither JAX nor the package,
so a crash in one part cannot take the report down with it.
"""

import argparse
import glob
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CHILDREN = os.path.join(HERE, "gpu_check")
PART_IDS = ("a", "b-cuda13", "b-cuda12", "c-memcheck", "c-racecheck", "d", "e", "f")
TITLES = {
    "a": "devices, versions, registered modules",
    "b-cuda13": "operator tests, _cuda13",
    "b-cuda12": "operator tests, _cuda12 (forced)",
    "c-memcheck": "compute-sanitizer memcheck",
    "c-racecheck": "compute-sanitizer racecheck",
    "d": "operator speed table",
    "e": "network: inference and training",
    "f": "authors' network against ours",
}
# Seconds per phase on the GPU. Phase 1 (a, b, c, f) checks values, not speed, so its parts share the
# machine; d and e are timed alone, one after the other. 135 + 90 + 105 s leaves time for the install
# and the start of each process within 6 minutes.
PHASE1_S, SPEED_S = 135, 90
NETWORK_S = {"infer 1080p": 25, "infer 4k": 35, "train float32": 22, "train bfloat16": 23}
OUR_KERNELS = ("init_aux_kernel", "splat_kernel", "normalize_kernel", "backward_kernel")
LOG_LIMIT = 2 << 20  # logs above this keep their head and tail: the folder stays well under 16 MB


def arguments(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wheel", required=True, help="the jax_softsplat wheel to check (installed with --no-deps)")
    p.add_argument("--out", required=True, help="the report folder (made; its earlier contents are replaced)")
    p.add_argument("--extra-wheels", help="a folder of small pure-Python wheels to install beside it")
    p.add_argument("--dry-run", action="store_true", help="tiny sizes on platform cpu: the same code, quickly")
    p.add_argument("--authors-softsplat", help="the authors' softsplat.py (CuPy), timed in part d")
    p.add_argument("--authors-repo", help="the authors' repository (run.py), compared in part f")
    p.add_argument("--sanitizer", help="compute-sanitizer's path (default: PATH, then /usr/local/cuda*)")
    p.add_argument("--parts", nargs="+", choices=PART_IDS, default=list(PART_IDS), help="run only these parts")
    p.add_argument(
        "--budget-scale", type=float, help="multiplies every time budget (default 1; 4 in a dry run, on shared cores)"
    )
    p.add_argument("--keep-site", action="store_true", help="keep the installed package under OUT/site")
    p.add_argument("--plant-failure", choices=PART_IDS, help="tests of this script only: make that part fail")
    args = p.parse_args(argv)
    for name in ("wheel", "authors_softsplat", "authors_repo", "extra_wheels", "sanitizer"):
        path = getattr(args, name)
        if path and not os.path.exists(path):
            p.error(f"--{name.replace('_', '-')} {path}: no such file or folder")
    if args.budget_scale is None:
        args.budget_scale = 4.0 if args.dry_run else 1.0
    return args


class Check:
    def __init__(self, args):
        self.args, self.dry = args, args.dry_run
        self.out = os.path.abspath(args.out)
        if os.path.isdir(self.out):
            shutil.rmtree(self.out)
        for sub in ("logs", "json"):
            os.makedirs(os.path.join(self.out, sub))
        self.site = os.path.join(self.out, "site")
        self.parts: dict[str, dict] = {}
        self.lock = threading.Lock()
        # Our own switches, and pytest-xdist's worker variables when this runs inside a test worker (the
        # children's pytest would take itself for a worker and its plugin would record nothing).
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_SOFTSPLAT_", "PYTEST_XDIST_"))}
        self.env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [self.site, os.environ.get("PYTHONPATH")])),
            XLA_PYTHON_CLIENT_PREALLOCATE="false",  # processes share the GPU in phase 1
            JAX_PLATFORMS="cpu" if self.dry else "cuda,cpu",  # on the GPU run, no silent CPU fallback
            PYTHONUNBUFFERED="1",
            PYTHONDONTWRITEBYTECODE="1",
        )
        self.env.pop("GPU_CHECK_PLANT_FAILURE", None)
        if args.plant_failure:
            self.env["GPU_CHECK_PLANT_FAILURE"] = args.plant_failure
        if self.dry:  # the dry run compiles the same network programs in several processes
            self.env["JAX_COMPILATION_CACHE_DIR"] = os.path.join(self.out, "jax-cache")
            self.env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"

    # ---- bookkeeping ---------------------------------------------------------------------------------
    def set(self, part: str, status: str, reason: str = "", **details) -> None:
        with self.lock:
            entry = self.parts.setdefault(part, {"part": part, "title": TITLES[part], "cut_short": False})
            entry.update(status=status, reason=reason)
            entry.setdefault("details", {}).update(details)

    def child(self, part, name, command, budget, env=None, cwd=None):
        """Runs a child with its output in logs/NAME.log; ends it (process group) after `budget` seconds.
        Returns (exit status or None when ended, seconds, its JSON results or None)."""
        budget *= self.args.budget_scale
        log_path = os.path.join(self.out, "logs", f"{name}.log")
        json_path = os.path.join(self.out, "json", f"{name}.json")
        if command and command[-1] == "<child-args>":
            deadline = budget - max(8.0, 0.2 * budget)  # the child stops starting rows before it is ended
            command = command[:-1] + ["--json", json_path, "--part", part, "--deadline", f"{deadline:.0f}"]
            command += ["--dry-run"] if self.dry else []
        start = time.monotonic()
        with open(log_path, "w") as log:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env or self.env, cwd=cwd, start_new_session=True
            )
            try:
                status = process.wait(timeout=budget)
            except subprocess.TimeoutExpired:
                status = None
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(process.pid, sig)
                        process.wait(timeout=5)
                        break
                    except (ProcessLookupError, subprocess.TimeoutExpired):
                        continue
                log.write(f"\n[gpu_check: ended after its budget of {budget:.0f} s]\n")
        seconds = time.monotonic() - start
        data = None
        if os.path.exists(json_path):
            with open(json_path) as f:
                data = json.load(f)
        with self.lock:
            entry = self.parts.setdefault(part, {"part": part, "title": TITLES[part], "cut_short": False})
            entry["seconds"] = entry.get("seconds", 0.0) + seconds
            entry.setdefault("logs", []).append(os.path.relpath(log_path, self.out))
            if status is None or (data and data.get("cut_short")):
                entry["cut_short"] = True
        return status, seconds, data

    def python(self, script: str, *extra) -> list[str]:
        return [sys.executable, os.path.join(CHILDREN, script), *extra, "<child-args>"]

    # ---- install ---------------------------------------------------------------------------------------
    def install(self) -> bool:
        wheels = [self.args.wheel] + sorted(glob.glob(os.path.join(self.args.extra_wheels or "", "*.whl")))
        command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check"]
        command += ["-q", "--target", self.site, *wheels]
        done = subprocess.run(command, capture_output=True, text=True)
        with open(os.path.join(self.out, "logs", "install.log"), "w") as log:
            log.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}")
        with zipfile.ZipFile(self.args.wheel) as wheel:
            names = wheel.namelist()
        self.cuda_majors = sorted({int(m) for n in names for m in re.findall(r"^jax_softsplat/_cuda(\d+)\.", n)})
        self.installed = {"wheels": [os.path.basename(w) for w in wheels], "cuda_modules": self.cuda_majors}
        if done.returncode:
            self.install_error = (done.stderr or done.stdout).strip()[-600:]
        return done.returncode == 0

    # ---- parts -----------------------------------------------------------------------------------------
    def part_a(self):
        status, _, data = self.child("a", "a-info", self.python("info.py"), 60)
        info = (data or {}).get("info")
        if status != 0 or not info:
            return self.set("a", "failed", f"exit status {status}; see logs/a-info.log")
        registered = info.get("cuda_module")
        if not self.dry and not registered:
            return self.set("a", "failed", "no CUDA module registered (see cuda_plugins, built_cuda_modules)", **info)
        self.set("a", "ok", f"registered: {registered or 'none (cpu)'}", **info)

    def part_b(self, major: int):
        part = f"b-cuda{major}"
        if major not in self.cuda_majors:
            return self.set(part, "not built", f"the wheel carries no _cuda{major} module")
        files = ["tests/operator/test_gradients.py"] if self.dry else ["tests/operator"]
        json_path = os.path.join(self.out, "json", f"{part}.json")
        command = [sys.executable, "-P", "-m", "pytest", "-p", "no:cacheprovider", "-p", "gpu_check_pytest_plugin"]
        command += ["-m", "not summation_order", "-q", "-rfE", "-o", "console_output_style=classic"]
        if not self.dry and importlib.util.find_spec("xdist"):
            command += ["-n", "4"]  # two runs side by side (and the sanitizer) on 16 cores
        env = dict(self.env, GPU_CHECK_PYTEST_JSON=json_path, GPU_CHECK_PART=part)
        env["PYTHONPATH"] = os.pathsep.join([self.site, CHILDREN, os.environ.get("PYTHONPATH", "")]).rstrip(":")
        env["SOFTSPLAT_EXPECT_CUDA_MODULES"] = " ".join(map(str, self.cuda_majors))
        if major == 12:  # a CUDA 12 module runs on a CUDA 13 driver; the jax-cuda13-plugin would pick _cuda13
            env["JAX_SOFTSPLAT_CUDA_MODULE"] = "12"
        status, _, _ = self.child(part, part, command + files, PHASE1_S, env=env, cwd=REPO)
        result = {}
        if os.path.exists(json_path):
            with open(json_path) as f:
                result = json.load(f)
        devices = []
        for path in sorted(glob.glob(json_path + ".device-*.json")):
            with open(path) as f:
                devices.append(json.load(f))
        counts = result.get("counts", {})
        details = dict(counts=counts, failed_tests=result.get("failed", []), devices=devices, files=files)
        wrong = [d for d in devices if not d["package"].startswith(self.site)]
        if not self.dry:
            expected = f"jax_softsplat._cuda{major}"
            wrong += [d for d in devices if d["backend"] != "gpu" or d["cuda_module"] != expected]
        ended = status is None
        if counts.get("failed") or counts.get("error"):
            return self.set(part, "failed", f"{counts['failed']} failed, {counts['error']} errors", **details)
        if wrong:
            return self.set(part, "failed", f"the tests ran on {wrong[0]}, not the wheel's _cuda{major}", **details)
        if not counts.get("passed") or not devices:
            return self.set(part, "failed", f"no test passed (exit status {status})", **details)
        if status not in (0, None):
            return self.set(part, "failed", f"pytest exit status {status}", **details)
        where = devices[0]["device"]
        self.set(part, "ok", f"{counts['passed']} passed, {counts['skipped']} skipped on {where}", **details)
        if ended:
            self.parts[part]["reason"] += " (ended at its budget: the rest did not run)"

    def sanitizer(self):
        if self.args.sanitizer:
            return self.args.sanitizer
        found = shutil.which("compute-sanitizer")
        candidates = sorted(glob.glob("/usr/local/cuda*/bin/compute-sanitizer"), reverse=True)
        candidates += sorted(glob.glob("/usr/local/cuda*/compute-sanitizer/compute-sanitizer"), reverse=True)
        return found or (candidates[0] if candidates else None)

    def part_c(self, tool: str):
        part = f"c-{tool}"
        tool_path = self.sanitizer()
        if tool_path is None:
            # The child still runs, directly, so that it keeps working where the tool is absent.
            status, _, data = self.child(part, f"{part}-direct", self.python("sanitize_child.py"), PHASE1_S)
            rows = len((data or {}).get("rows", []))
            if status != 0:
                return self.set(part, "failed", f"the child failed without the tool (exit status {status})")
            return self.set(part, "not available", f"compute-sanitizer not found; its child ran directly: {rows} cases")
        wrap = [tool_path, "--tool", tool, "--error-exitcode", "99", "--report-api-errors", "no", "--print-limit", "50"]
        fault = "oob" if tool == "memcheck" else "race"
        planted_log = os.path.join(self.out, "logs", f"{part}-planted-report.log")
        command = wrap + ["--log-file", planted_log, sys.executable, os.path.join(CHILDREN, "planted_fault.py")]
        start = time.monotonic()
        planted_status, _, _ = self.child(part, f"{part}-planted", command + ["--fault", fault], 45)
        planted = sanitizer_report(planted_log)
        budget = PHASE1_S - (time.monotonic() - start) / self.args.budget_scale
        report_log = os.path.join(self.out, "logs", f"{part}-report.log")
        command = wrap + ["--log-file", report_log] + self.python("sanitize_child.py")
        # One cudaMalloc per buffer (not slices of XLA's pool), so that memcheck knows every buffer's
        # bounds; no autotuning, whose many trial kernels would only slow the tool down.
        env = dict(self.env, XLA_PYTHON_CLIENT_ALLOCATOR="platform")
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_gpu_autotune_level=0").strip()
        status, _, data = self.child(part, part, command, max(budget, 20), env=env)
        report = sanitizer_report(report_log)
        rows = (data or {}).get("rows", [])
        details = dict(tool=tool_path, planted=dict(planted, exit_status=planted_status), report=report, cases=rows)
        if not (planted_status == 99 and planted["errors"] > 0):
            return self.set(
                part, "failed", f"the planted {fault} fault was not reported: the tool is not watching", **details
            )
        if report["ours"]:
            return self.set(
                part, "failed", f"{report['ours']} reports in our kernels (logs/{part}-report.log)", **details
            )
        if status not in (0, 99, None) or (status is None and not rows):
            return self.set(
                part, "failed", f"the operator child ended with {status}, {len(rows)} cases done", **details
            )
        others = f"; {report['errors']} reports outside our kernels" if report["errors"] else ""
        self.set(part, "ok", f"planted fault reported; {len(rows)} of 8 dtype x layout cases clean{others}", **details)

    def part_d(self):
        extra = ["--runs", "3" if self.dry else "20"]
        if self.args.authors_softsplat:
            extra += ["--authors-softsplat", os.path.abspath(self.args.authors_softsplat)]
        status, _, data = self.child("d", "d-speed", self.python("operator_speed.py", *extra), SPEED_S)
        data = data or {}
        rows = [r for r in data.get("rows", []) if "median_ms" in r]
        details = {k: data.get(k) for k in ("copy_gbps_jax", "copy_gbps_torch", "nominal_tbps", "notes")}
        details.update(rows=data.get("rows", []), differences=data.get("differences", []))
        bad = [
            d
            for d in data.get("differences", [])
            if d["implementation"] == "reference" and d["max_rel_diff"] > (1e-3 if d["dtype"] == "float32" else 3e-2)
        ]
        kernel_errors = [
            r for r in data.get("rows", []) if r["implementation"] in ("kernel", "reference") and "error" in r
        ]
        if status not in (0, None) or not any(r["implementation"] == "kernel" for r in rows):
            return self.set("d", "failed", f"exit status {status}; see logs/d-speed.log", **details)
        if bad or kernel_errors:
            what = bad[0] if bad else kernel_errors[0]
            return self.set("d", "failed", f"kernel and reference disagree or fail: {what}", **details)
        self.set("d", "ok", f"{len(rows)} timings", **details)

    def part_e(self):
        sizes = {"infer 1080p": "1920x1080", "infer 4k": "3840x2160"}
        train = ["--batch", "8", "--crop", "256", "--runs", "10"]
        infer = ["--runs", "3"]
        if self.dry:  # one tiny frame size for both rows (its compilation is cached), a narrow network
            sizes = {"infer 1080p": "96x64", "infer 4k": "96x64"}
            train, infer = ["--batch", "2", "--crop", "32", "--runs", "2", "--model", "tiny"], ["--runs", "1"]
            infer += ["--width", "0.25"]
        rows, failures = [], []
        for name, budget in NETWORK_S.items():
            task, value = name.split()
            extra = ["--task", task] + (
                ["--size", sizes[name]] + infer if task == "infer" else ["--dtype", value] + train
            )
            status, _, data = self.child("e", f"e-{name.replace(' ', '-')}", self.python("network.py", *extra), budget)
            got = (data or {}).get("rows", [])
            rows += [dict(r, row=name) for r in got]
            if status not in (0, None) or (status is None and not got):
                failures.append(f"{name}: exit status {status}")
        if failures:
            return self.set("e", "failed", "; ".join(failures), rows=rows)
        self.set("e", "ok", f"{len(rows)} rows", rows=rows)

    def part_f(self):
        compare = os.path.join(HERE, "compare_original.py")
        if not self.args.authors_repo:
            return self.set("f", "skipped", "--authors-repo not given")
        if not os.path.exists(compare):
            return self.set("f", "not available", "benchmarks/compare_original.py is not in this tree")
        # compare_original.py has no option yet to keep the authors' CuPy kernels on the GPU: it runs as
        # written, on the CPU, with its checked PyTorch stand-ins for their kernels; reported as such.
        command = [sys.executable, compare, "--authors-repo", os.path.abspath(self.args.authors_repo)]
        status, _, _ = self.child("f", "f-authors", command, PHASE1_S, env=dict(self.env, JAX_PLATFORMS="cpu"))
        with open(os.path.join(self.out, "logs", "f-authors.log"), errors="replace") as f:
            tail = f.read()[-3000:]
        how = "CPU, the authors' CuPy kernels replaced by compare_original.py's stand-ins (no GPU option yet)"
        if status is None:
            return self.set("f", "failed", f"ended at its budget; {how}", log_tail=tail)
        result = "all thresholds met" if status == 0 else f"exit status {status} (see logs/f-authors.log)"
        self.set("f", "ok" if status == 0 else "failed", f"{result}; {how}", log_tail=tail)

    def run(self) -> None:
        chosen = set(self.args.parts)
        for part in PART_IDS:
            if part not in chosen:
                self.set(part, "skipped", "not selected (--parts)")
        phase1 = {
            "a": self.part_a,
            "b-cuda13": lambda: self.part_b(13),
            "b-cuda12": lambda: self.part_b(12),
            "c-memcheck": lambda: self.part_c("memcheck"),
            "c-racecheck": lambda: self.part_c("racecheck"),
            "f": self.part_f,
        }
        threads = [threading.Thread(target=self.guard, args=(p, fn)) for p, fn in phase1.items() if p in chosen]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for part, fn in (("d", self.part_d), ("e", self.part_e)):
            if part in chosen:
                self.guard(part, fn)

    def guard(self, part, fn) -> None:
        """A part whose evaluation raises is failed, with the error, and the others go on."""
        try:
            fn()
        except Exception as error:  # noqa: BLE001
            self.set(part, "failed", f"gpu_check raised {type(error).__name__}: {error}")


def sanitizer_report(path: str) -> dict:
    """compute-sanitizer's counts from its log: all errors (or hazards), and those in our kernels."""
    text = open(path, errors="replace").read() if os.path.exists(path) else ""
    summaries = [int(n) for n in re.findall(r"(?:ERROR SUMMARY|RACECHECK SUMMARY): (\d+)", text)]
    at_lines = [line for line in text.splitlines() if re.search(r"\bat\b|Race reported|Invalid", line)]
    ours = sum(1 for line in at_lines if any(k in line for k in OUR_KERNELS))
    return {"errors": max(summaries, default=0), "ours": ours, "summary_found": bool(summaries)}


# ---- report ------------------------------------------------------------------------------------------------
def speed_lines(d: dict) -> list[str]:
    rows = d.get("rows", [])
    by_config: dict[tuple, dict] = {}
    for r in rows:
        key = (r["size"], r["channels"], r["dtype"], r["passes"])
        by_config.setdefault(key, {})[r["implementation"]] = r
    copy = d.get("copy_gbps_jax")
    nominal = d.get("nominal_tbps")
    header = f"{'size':>5} {'C':>3} {'dtype':>8} {'pass':>16} {'kernel ms':>9} {'GB/s':>6} {'%copy':>5}"
    header += f" {'ref/k':>6} {'torch/k':>7} {'authors/k':>9}"
    lines = [header]
    for (size, c, dtype, passes), impl in by_config.items():
        k = impl.get("kernel", {})
        kms = k.get("median_ms")

        def ratio(name, impl=impl, kms=kms):
            r = impl.get(name, {})
            return f"{r['median_ms'] / kms:.1f}x" if kms and "median_ms" in r else ("err" if "error" in r else "-")

        gbps = k.get("gbps")
        line = f"{size:>5} {c:>3} {dtype:>8} {passes:>16} {kms if kms is None else round(kms, 3):>9}"
        line += f" {gbps and round(gbps):>6} {(f'{100 * gbps / copy:.0f}' if gbps and copy else '-'):>5}"
        line += f" {ratio('reference'):>6} {ratio('torch'):>7} {ratio('authors'):>9}"
        lines.append(line)
    band = f"copy bandwidth measured: {copy:.0f} GB/s (jax)" if copy else "copy bandwidth: not measured"
    if d.get("copy_gbps_torch"):
        band += f", {d['copy_gbps_torch']:.0f} GB/s (torch)"
    band += f"; nominal {nominal * 1000:.0f} GB/s" if nominal else "; nominal: not known for this device"
    return lines + [band]


def network_lines(rows: list[dict]) -> list[str]:
    lines = []
    for r in rows:
        peak = f"{r['peak_bytes'] / 2**30:.2f} GiB" if r.get("peak_bytes") else "peak: not reported"
        if r["task"] == "infer":
            sec = r.get("seconds_per_pair")
            what = f"{sec:.3f} s/pair" if sec is not None else "not timed"
            lines.append(f"{r['row']:<15} {r['size']:>10}: {what}, first call {r['first_call_s']:.1f} s, {peak}")
        else:
            rate = r.get("steps_per_second")
            what = f"{rate:.2f} steps/s" if rate else "not timed"
            dtype = f"(prediction {r.get('prediction_dtype')})"
            lines.append(f"{r['row']:<15} {r['batch']}x{r['crop']}^2: {what}, {peak} {dtype}")
    return lines


def summary(check: Check, seconds: float, failed: list[str]) -> str:
    a = check.parts.get("a", {}).get("details", {})
    dist = a.get("distributions", {})
    plugin = dist.get("jax-cuda13-plugin") or dist.get("jax-cuda12-plugin") or "none"
    lines = [
        f"gpu_check{' (dry run, cpu)' if check.dry else ''}: {a.get('device', '?')}; {a.get('nvidia_smi', '')}",
        f"jax {a.get('jax', '?')}, jaxlib {a.get('jaxlib', '?')}, CUDA plugin {plugin}; wheel modules "
        f"{', '.join(f'_cuda{m}' for m in check.cuda_majors) or 'none'}; registered: {a.get('cuda_module')}",
        "",
    ]
    for part in PART_IDS:
        p = check.parts[part]
        cut = " (cut short)" if p.get("cut_short") else ""
        lines.append(f"{part:<11} {p['status'] + cut:<24} {p.get('seconds', 0):>5.0f} s  {p['reason']}"[:160])
    d = check.parts["d"].get("details", {})
    if d.get("rows"):
        lines += ["", "operator, mode soft, NCHW (median ms; ratios: time / kernel time)"] + speed_lines(d)
    e = check.parts["e"].get("details", {})
    if e.get("rows"):
        lines += ["", "network, random weights"] + network_lines(e["rows"])
    lines += ["", f"{seconds:.0f} s in all; report {os.path.join(check.out, 'gpu-report.md')}"]
    lines.append(f"FAILED: {', '.join(failed)}" if failed else "no part failed")
    return "\n".join(lines)


def markdown(check: Check, text: str) -> str:
    out = ["# gpu_check report", "", "```", text, "```", ""]
    out += ["| part | what | status | seconds | note |", "| --- | --- | --- | ---: | --- |"]
    for part in PART_IDS:
        p = check.parts[part]
        status = p["status"] + (" (cut short)" if p.get("cut_short") else "")
        note = p["reason"].replace("|", "/").replace("\n", " ")
        out.append(f"| {part} | {p['title']} | {status} | {p.get('seconds', 0):.0f} | {note} |")
    for part in PART_IDS:
        p = check.parts[part]
        out += ["", f"## {part}: {p['title']}", "", f"status: **{p['status']}**; {p['reason']}"]
        if p.get("logs"):
            out.append("logs: " + ", ".join(f"`{log}`" for log in p["logs"]))
        details = p.get("details", {})
        if details:
            out += ["", "```json", json.dumps(details, indent=1, default=str)[:20000], "```"]
    return "\n".join(out) + "\n"


def trim_logs(out: str) -> None:
    for path in glob.glob(os.path.join(out, "logs", "*")):
        if os.path.getsize(path) > LOG_LIMIT:
            with open(path, "rb") as f:
                head, _ = f.read(LOG_LIMIT // 2), f.seek(-LOG_LIMIT // 2, os.SEEK_END)
                tail = f.read()
            with open(path, "wb") as f:
                f.write(head + b"\n[... gpu_check: the middle of this log was cut ...]\n" + tail)


def main(argv=None) -> int:
    args = arguments(argv)
    start = time.monotonic()
    check = Check(args)
    if check.install():
        check.run()
    else:
        for part in PART_IDS:
            check.set(part, "failed", f"the wheel did not install: {check.install_error}")
    seconds = time.monotonic() - start
    failed = [p for p in PART_IDS if check.parts[p]["status"] == "failed"]
    text = summary(check, seconds, failed)
    results = {
        "dry_run": check.dry,
        "argv": sys.argv[1:] if argv is None else argv,
        "install": check.installed,
        "seconds": seconds,
        "failed": failed,
        "parts": check.parts,
    }
    with open(os.path.join(check.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    with open(os.path.join(check.out, "gpu-report.md"), "w") as f:
        f.write(markdown(check, text))
    with open(os.path.join(check.out, "summary.txt"), "w") as f:
        f.write(text + "\n")
    for path in ("site", "jax-cache"):
        if path == "jax-cache" or not args.keep_site:
            shutil.rmtree(os.path.join(check.out, path), ignore_errors=True)
    trim_logs(check.out)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
