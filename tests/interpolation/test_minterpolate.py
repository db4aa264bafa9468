"""FFmpeg's minterpolate as a model: it really interpolates (the instant asked, not a copy of a frame),
pair by pair and through one graph per shot in `video`, at any size."""

from fractions import Fraction

import numpy as np
import pytest
from media import moving_texture, read_clip, write_clip

from jax_softsplat import cli, minterpolate
from jax_softsplat.interpolation import load_interpolator
from jax_softsplat.metrics import psnr
from jax_softsplat.minterpolate import MinterpolateInterpolator
from jax_softsplat.video_timeline import output_count, output_frames

INNER = np.s_[8:-8, 8:-8]


def closest(estimate, frames):
    return int(np.argmax([psnr(f[INNER], estimate[INNER]) for f in frames]))


def test_by_name():
    assert isinstance(load_interpolator("minterpolate"), MinterpolateInterpolator)
    with pytest.raises(ValueError, match="weights w.msgpack: the minterpolate model has no weights"):
        load_interpolator("minterpolate", "w.msgpack")


@pytest.mark.parametrize("times", [[0.5], [0.25, 0.5, 0.75]])
def test_pair_gives_the_instants_asked(times):
    """Each output matches the true frame at its own time best, among frames every 1/8."""
    grid = list(np.arange(9) / 8)
    frames = moving_texture(96, 128, grid, motion=(8.0, -4.0))
    outputs = MinterpolateInterpolator()(frames[0], frames[-1], times)
    assert len(outputs) == len(times)
    for t, out in zip(times, outputs):
        assert out.shape == (96, 128, 3) and out.dtype == np.float32
        assert grid[closest(out, frames)] == t


def test_times_off_the_grid_get_a_graph_each(monkeypatch):
    """A time such as 0.37 is reached by placing the first frame at 1 - t seconds; forced onto that
    path, t = 0.25 gives what the grid of quarters gives."""
    one, two = moving_texture(64, 96, [0.0, 1.0], motion=(6.0, 3.0), seed=2)
    interpolator = MinterpolateInterpolator()
    on_grid = interpolator(one, two, [0.25, 0.75])
    monkeypatch.setattr(minterpolate, "GRID_LIMIT", 1)
    np.testing.assert_array_equal(interpolator(one, two, [0.25, 0.75]), on_grid)
    (odd,) = interpolator(one, two, [0.37])
    assert not np.array_equal(odd, one) and not np.array_equal(odd, on_grid[0])


@pytest.mark.parametrize("height, width", [(1, 1), (5, 3), (37, 51)])
def test_any_size(height, width):
    one, two = moving_texture(height, width, [0.0, 1.0], motion=(2.0, 1.0))
    (middle,) = MinterpolateInterpolator()(one, two, [0.5])
    assert middle.shape == (height, width, 3) and 0.0 <= middle.min() and middle.max() <= 1.0


@pytest.mark.parametrize("step", [Fraction(1, 2), Fraction(5, 12)])
def test_shot_stream_gives_every_instant_once(step):
    """One graph per shot: output k shows instant k * step (input frames exactly where it is one)."""
    times = np.arange(0, 7 + 1e-9, float(step))
    truth = moving_texture(80, 112, [*range(8), *times], motion=(4.0, 2.0), seed=3)
    inputs = [np.round(f * 255).astype(np.uint8) for f in truth[:8]]
    out = list(output_frames(iter(inputs), MinterpolateInterpolator(), step, 2.0, []))
    assert len(out) == output_count(8, step) == len(times)
    candidates = truth[8:]
    for k, frame in enumerate(out):
        assert frame.dtype == np.uint8 and frame.shape == (80, 112, 3)
        assert closest(frame.astype(np.float32) / 255, candidates) == k


def test_video_with_minterpolate(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JAX_SOFTSPLAT_HOME", str(tmp_path / "cache"))
    source = tmp_path / "in.mp4"
    write_clip(source, moving_texture(64, 96, np.arange(5) * 0.5, motion=(4.0, 1.0)), fps=10)
    out = tmp_path / "out.mp4"
    assert cli.main(["video", "--in", str(source), "--out", str(out), "--model", "minterpolate", "--quiet"]) == 0
    assert "5 -> 9 frames at 20 fps, model minterpolate" in capsys.readouterr().out
    frames, rate, _ = read_clip(out)
    assert len(frames) == 9 and rate == 20
