"""The weights-free `classic` interpolator: exact motion is recovered, Middlebury clears its bar."""

import numpy as np
import pytest
from media import moving_texture

from jax_softsplat import benchmarks
from jax_softsplat import classic as classic_module
from jax_softsplat.classic import ClassicInterpolator, splat_both
from jax_softsplat.metrics import psnr

MIDDLEBURY_BAR = 34.0  # dB, mean PSNR over the 12 sequences (frame average: 28.0 dB)


@pytest.fixture(scope="module")
def classic():
    return ClassicInterpolator()


def test_pure_translation_recovers_the_middle_frame(classic):
    one, middle, two = moving_texture(96, 128, [0.0, 0.5, 1.0], motion=(6.0, -3.0))
    estimate = classic(one, two, [0.5])[0]
    inner = np.s_[8:-8, 8:-8]  # content entering at the borders is not in either frame
    assert estimate.shape == one.shape and estimate.dtype == np.float32
    assert psnr(middle[inner], estimate[inner]) > 38.0
    assert psnr(middle[inner], estimate[inner]) > psnr(middle[inner], (0.5 * (one + two))[inner]) + 10


def test_times_move_the_content_proportionally(classic):
    frames = moving_texture(64, 96, [0.0, 0.25, 0.75, 1.0], motion=(4.0, 2.0))
    quarter, three_quarters = classic(frames[0], frames[-1], [0.25, 0.75])
    inner = np.s_[8:-8, 8:-8]
    assert psnr(frames[1][inner], quarter[inner]) > 36.0
    assert psnr(frames[2][inner], three_quarters[inner]) > 36.0


def test_merged_normalisation_weights_frames_by_time():
    """With zero flow, both frames land on every pixel with equal importance where they agree; the
    result is their (1 - t, t) blend from ONE normalisation, and every pixel is covered twice."""
    rng = np.random.default_rng(0)
    one = rng.uniform(size=(8, 10, 3)).astype(np.float32)
    two = np.clip(one + 0.01, 0, 1).astype(np.float32)
    zero = np.zeros((8, 10, 2), np.float32)
    for t in (0.2, 0.5, 0.9):
        frame, coverage = splat_both(one, two, zero, zero, np.float32(t))
        np.testing.assert_allclose(frame, (1 - t) * one + t * two, atol=1e-5)
        np.testing.assert_allclose(coverage, 2.0, atol=1e-6)


def test_holes_are_filled(classic, monkeypatch):
    """Flows that carry both frames to the right leave the left border uncovered at t = 0.5 (nothing
    lands there): black in the splat, filled from the neighbourhood in the interpolator's result."""
    one, two = moving_texture(48, 64, [0.0, 1.0], motion=(0.0, 0.0), seed=3)
    rightwards = np.broadcast_to(np.float32([12.0, 0.0]), (48, 64, 2)).copy()
    splat, coverage = (np.asarray(a) for a in splat_both(one, two, rightwards, rightwards, np.float32(0.5)))
    holes = coverage < 0.5
    assert holes[:, :5].all() and not holes[:, 7:].any()
    assert splat[holes].max() == 0.0
    monkeypatch.setattr(classic_module, "small_flows", lambda a, b, preset, pool: (rightwards, rightwards))
    estimate = classic(one, two, [0.5])[0]
    np.testing.assert_array_equal(estimate[~holes], np.clip(splat[~holes], 0, 1))
    assert (estimate[holes].sum(axis=-1) > 0.3).all()
    border = estimate[:, 5:9].mean(axis=(0, 1))  # filled with colours like those of its neighbours
    np.testing.assert_allclose(estimate[holes].mean(axis=0), border, atol=0.1)


@pytest.mark.parametrize("height, width", [(37, 51), (5, 3), (1, 1)])
def test_any_size(classic, height, width):
    one, two = moving_texture(height, width, [0.0, 1.0], motion=(2.0, 1.0))
    (middle,) = classic(one, two, [0.5])
    assert middle.shape == (height, width, 3) and 0.0 <= middle.min() and middle.max() <= 1.0


def test_middlebury_clears_the_bar(shared_data, classic):
    scores = list(benchmarks.middlebury(classic, shared_data / "middlebury"))
    assert len(scores) == 12
    mean = benchmarks.mean(scores)
    assert mean.psnr >= MIDDLEBURY_BAR, benchmarks.table(scores, "sequence")
    assert mean.ssim > 0.94
