"""Loaded into the operator test run (part b) with -p: records where the tests really ran (the device, the
CUDA module _ffi registered, the package's folder) and the outcome of every test as it comes, so that a run
ended at its time budget still says how far it got. With pytest-xdist the workers record their device and
the controller the outcomes."""

import json
import os

import common
import pytest

OUT = os.environ.get("GPU_CHECK_PYTEST_JSON", "")
PART = os.environ.get("GPU_CHECK_PART", "")
counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
failed_ids: list[str] = []
device_written = False


def _write(path: str, data: dict) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=1)
    os.replace(path + ".tmp", path)


def pytest_configure(config):
    if os.environ.get("GPU_CHECK_PLANT_FAILURE") == PART:
        raise pytest.UsageError(f"planted failure in part {PART} (GPU_CHECK_PLANT_FAILURE, for tests of gpu_check)")


def pytest_runtest_setup(item):
    global device_written
    if device_written or not OUT:
        return
    device_written = True
    # dry_run=True: record the backend whatever it is; the driver judges it (part b's expected device).
    record = common.check_backend(dry_run=True)
    _write(f"{OUT}.device-{os.getpid()}.json", record)


def pytest_runtest_logreport(report):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller receives every worker's reports too
    if report.when == "call":
        outcome = report.outcome
    elif report.failed:
        outcome = "error"  # a fixture's setup or teardown failed
    elif report.when == "setup" and report.skipped:
        outcome = "skipped"
    else:
        return
    counts[outcome] += 1
    if outcome in ("failed", "error"):
        failed_ids.append(report.nodeid)
    if OUT:
        _write(OUT, {"counts": counts, "failed": failed_ids[:50], "finished": False})


def pytest_sessionfinish(exitstatus):
    if OUT and not os.environ.get("PYTEST_XDIST_WORKER"):
        _write(OUT, {"counts": counts, "failed": failed_ids[:50], "finished": True, "exitstatus": int(exitstatus)})
