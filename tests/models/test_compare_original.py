"""benchmarks/compare_original.py without the authors' checkout: its PyTorch stand-ins for the
authors' two CUDA kernels against its literal loops, the random state dict against our converter,
and a clear error for a missing --authors-repo."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_original.py"


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("compare_original", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_splatting_stand_in_matches_its_loop(compare, dtype):
    torch = pytest.importorskip("torch", reason="torch is installed on the Python 3.11 stack only")
    values, flow, _ = compare.kernel_inputs(3, dtype)
    got = compare.splat_sum(torch.from_numpy(values), torch.from_numpy(flow)).numpy()
    expected = compare.splat_sum_loop(values, flow)
    np.testing.assert_allclose(got, expected, atol=compare.KERNEL_THRESHOLDS[dtype], rtol=0)
    # The loop itself: a pixel landing on an integer position puts all of its value there, and one
    # whose target is not finite puts nothing anywhere.
    single = np.zeros((1, 1, 3, 4), dtype)
    single[0, 0, 0, 0] = 2.0
    moved = np.zeros((1, 2, 3, 4), dtype)
    moved[0, :, 0, 0] = [3.0, 2.0]
    assert compare.splat_sum_loop(single, moved)[0, 0, 2, 3] == 2.0
    assert compare.splat_sum_loop(single, moved).sum() == 2.0
    moved[0, 0, 0, 0] = np.nan
    assert not compare.splat_sum_loop(single, moved).any()
    assert not compare.splat_sum(torch.from_numpy(single), torch.from_numpy(moved)).any()


@pytest.mark.parametrize("shape", [(1, 3, 6, 7), (2, 2, 3, 2)])
def test_cost_volume_stand_in_matches_its_loop(compare, shape):
    torch = pytest.importorskip("torch", reason="torch is installed on the Python 3.11 stack only")
    rng = np.random.default_rng(4)
    one, two = rng.normal(size=shape), rng.normal(size=shape)
    got = compare.cost_volume(torch.from_numpy(one), torch.from_numpy(two)).numpy()
    expected = compare.cost_volume_loop(one, two)
    assert got.shape == (shape[0], 81, *shape[2:])
    np.testing.assert_allclose(got, expected, atol=1e-12, rtol=0)
    # Channel 40 is no displacement: the mean over channels of the product in place.
    np.testing.assert_allclose(expected[:, 40], (one * two).mean(1), atol=1e-12)


def test_check_kernels_reports_every_check_passing(compare, capsys):
    pytest.importorskip("torch", reason="torch is installed on the Python 3.11 stack only")
    report = compare.Report()
    compare.check_kernels(report)
    out = capsys.readouterr().out
    assert not report.failed and out.count(" ok") == 6, out


def test_soft_mode_loop_is_the_normalised_exponential_sum(compare):
    values, flow, metric = compare.kernel_inputs(5, "float64")
    flow[...] = 0.0  # nothing moves: every pixel lands on itself alone
    soft = compare.mode_loop(values, flow, metric, "soft")
    np.testing.assert_allclose(soft, values * np.exp(metric) / (np.exp(metric) + 1e-7), rtol=1e-12)
    np.testing.assert_allclose(compare.mode_loop(values, flow, None, "sum"), values, rtol=0)


def test_random_state_dict_has_the_published_layout_and_converts(compare):
    from jax_softsplat.models import from_official

    state = compare.random_state_dict(0)
    assert len(state) == 278 and all(key.startswith("module") for key in state)
    assert sum(value.size for value in state.values()) == 7_668_852
    from_official(state)  # every tensor consumed, every shape checked


def test_missing_authors_repo_is_a_clear_error(compare, tmp_path, capsys):
    assert compare.main(["--authors-repo", str(tmp_path / "absent")]) == 2
    assert "--authors-repo" in (err := capsys.readouterr().err) and "no such directory" in err
    # As a command, before anything heavy is imported.
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--authors-repo", str(tmp_path / "absent")], capture_output=True, text=True
    )
    assert result.returncode == 2 and "no such directory" in result.stderr
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 2 and "--authors-repo" in result.stderr


def test_checkout_missing_files_runs_the_kernel_checks_and_fails(compare, tmp_path, capsys):
    pytest.importorskip("torch", reason="torch is installed on the Python 3.11 stack only")
    (tmp_path / "softsplat.py").write_text("")
    assert compare.main(["--authors-repo", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "NOT RUN their run.py: not in the checkout" in out
    assert "NOT RUN their correlation/correlation.py" in out
    assert "NOT RUN the network comparison" in out and "cost volume" in out
