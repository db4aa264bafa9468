"""benchmarks/gpu_check.py, the one command for a lent GPU machine, in its CPU dry run: it installs the
wheel this Python can run, goes through every part's code at tiny sizes, writes its report folder, and
exits non-zero when a part fails."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
PARTS = ("a", "b-cuda13", "b-cuda12", "c-memcheck", "c-racecheck", "d", "e", "f")


def wheel() -> Path:
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    found = sorted((REPO / "build" / "wheelhouse").glob(f"jax_softsplat-*-{tag}-{tag}-*.whl"))
    if not found:
        pytest.fail(f"no {tag} wheel in build/wheelhouse: run `make wheels` first")
    return found[-1]


def run(out: Path, *extra: str) -> subprocess.CompletedProcess:
    # From the report folder's parent, so that the checkout's jax_softsplat/ cannot shadow the wheel.
    command = [sys.executable, str(SCRIPT), "--dry-run", "--wheel", str(wheel()), "--out", str(out), *extra]
    return subprocess.run(command, capture_output=True, text=True, cwd=out.parent, timeout=600)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check") / "report"
    return out, run(out)


def test_dry_run_passes_and_reports_every_part(dry_run):
    out, done = dry_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["dry_run"] is True and results["failed"] == []
    statuses = {part: results["parts"][part]["status"] for part in PARTS}
    assert set(statuses.values()) <= {"ok", "skipped", "not available", "not built"}
    # What the dry run must really run: versions, the tests, the speed table, the network rows.
    for part in ("a", "b-cuda13", "d", "e"):
        assert statuses[part] == "ok", (part, results["parts"][part])
    assert results["parts"]["b-cuda13"]["details"]["counts"]["passed"] > 0
    # Without the tool, the sanitizer child still runs directly, over every dtype and layout.
    for part in ("c-memcheck", "c-racecheck"):
        if statuses[part] == "not available":
            assert "8 cases" in results["parts"][part]["reason"]
    cuda12 = results["install"]["cuda_modules"].count(12)
    assert statuses["b-cuda12"] == ("not built" if not cuda12 else "ok")
    assert statuses["f"] == "skipped" and "--authors-repo" in results["parts"]["f"]["reason"]
    speed = results["parts"]["d"]["details"]
    kernel_rows = [r for r in speed["rows"] if r["implementation"] == "kernel"]
    assert len(kernel_rows) == 8 and all(r["gbps"] > 0 and r["bytes"] > 0 for r in kernel_rows)
    assert speed["copy_gbps_jax"] > 0
    tasks = sorted(r["task"] + r.get("dtype", "") for r in results["parts"]["e"]["details"]["rows"])
    assert tasks == ["infer", "infer", "trainbfloat16", "trainfloat32"]


def test_report_folder_and_summary(dry_run):
    out, done = dry_run
    names = {p.name for p in out.iterdir()}
    assert {"gpu-report.md", "results.json", "summary.txt", "logs", "json"} <= names
    assert "site" not in names  # the installed package is removed: the folder comes back small
    assert sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) < 16 << 20
    summary = (out / "summary.txt").read_text()
    assert summary.strip() in done.stdout  # what the command printed
    for part in PARTS:
        assert any(line.startswith(part + " ") for line in summary.splitlines()), part
    assert "operator, mode soft" in summary and "no part failed" in summary
    assert len(summary.splitlines()) <= 40  # one screen
    report = (out / "gpu-report.md").read_text()
    assert all(f"## {part}:" in report for part in PARTS)


def test_a_failing_part_makes_the_exit_status_non_zero(tmp_path):
    out = tmp_path / "report"
    done = run(out, "--parts", "a", "--plant-failure", "a")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["failed"] == ["a"]
    assert results["parts"]["d"]["status"] == "skipped" and "--parts" in results["parts"]["d"]["reason"]
    assert "planted failure" in (out / "logs" / "a-info.log").read_text()
    assert "FAILED: a" in done.stdout


def test_a_missing_wheel_is_an_argument_error(tmp_path):
    command = [sys.executable, str(SCRIPT), "--dry-run", "--wheel", str(tmp_path / "none.whl"), "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no such file" in done.stderr
