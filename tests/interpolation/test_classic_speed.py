"""What keeps `classic` fast on large frames: compiled once per frame size, no constant folding (nor any
error-looking XLA output) at 1080p and 4K, flow computed at the preset's resolution, the OpenCV
importance equal to the operator-based definition."""

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from media import moving_texture

from jax_softsplat import classic
from jax_softsplat.classic import PRESETS, ClassicInterpolator, flow_size, importance
from jax_softsplat.warp import backwarp


def test_compiled_once_across_pairs_and_times():
    interpolator = ClassicInterpolator("fast")
    frames = moving_texture(40, 56, [0.0, 0.5, 1.0, 1.5], motion=(3.0, 1.0))
    interpolator(frames[0], frames[1], [0.5])
    size = classic._merged_splat._cache_size()
    for one, two in zip(frames[1:], frames[2:]):
        interpolator(one, two, [0.25, 0.5, 0.75])
    assert classic._merged_splat._cache_size() == size


def test_flow_resolution_follows_the_preset():
    assert flow_size(480, 640, PRESETS["standard"]) == (480, 640)  # Middlebury: full resolution
    assert flow_size(480, 640, PRESETS["fast"]) == (480, 640)
    assert flow_size(1080, 1920, PRESETS["standard"]) == (416, 739)
    assert flow_size(2160, 3840, PRESETS["standard"]) == (416, 739)
    assert flow_size(1080, 1920, PRESETS["full"]) == (1080, 1920)
    h, w = flow_size(1080, 1920, PRESETS["fast"])
    assert abs(h * w - 640 * 480) < 1000 and abs(w / h - 16 / 9) < 0.01


def test_upscaled_flow_is_in_frame_pixels():
    """A translation found on the downscaled frames is reported in pixels of the full frame."""
    one, two = moving_texture(720, 1280, [0.0, 1.0], motion=(12.0, -6.0), seed=1)
    forward, backward = classic.optical_flows(one, two, classic.Preset(flow_pixels=320 * 180))
    inner = np.s_[100:-100, 100:-100]
    np.testing.assert_allclose(np.median(forward[inner], axis=(0, 1)), [12.0, -6.0], atol=0.5)
    np.testing.assert_allclose(np.median(backward[inner], axis=(0, 1)), [-12.0, 6.0], atol=0.5)


def test_importance_matches_backwarp_definition():
    rng = np.random.default_rng(0)
    one, two = moving_texture(33, 47, [0.0, 1.0], motion=(3.0, -2.0))
    flow = rng.normal(scale=3.0, size=(33, 47, 2)).astype(np.float32)
    error = jnp.mean(jnp.abs(one[None] - backwarp(two[None], flow[None], layout="NHWC")), axis=-1)[0]
    window = jax.lax.reduce_window(error, 0.0, jax.lax.add, (5, 5), (1, 1), "SAME")
    count = jax.lax.reduce_window(jnp.ones_like(error), 0.0, jax.lax.add, (5, 5), (1, 1), "SAME")
    expected = np.clip(-20.0 * np.asarray(window / count), -20, 20)
    # OpenCV's bilinear weights are quantised to 1/32 of a pixel.
    np.testing.assert_allclose(importance(one, two, flow), expected, atol=0.1)


@pytest.mark.parametrize("height, width", [(1080, 1920), (2160, 3840)])
@pytest.mark.slow
def test_no_error_looking_output_at_large_sizes(height, width, tmp_path):
    """A first pair at 1080p and 4K: nothing on stderr that looks like an error (XLA's E1202
    slow_operation_alarm for constant folding used to print ten lines)."""
    script = textwrap.dedent(f"""
        import numpy as np
        from jax_softsplat.classic import ClassicInterpolator
        rng = np.random.default_rng(0)
        one = rng.uniform(size=({height}, {width}, 3)).astype(np.float32)
        two = np.roll(one, 3, axis=1)
        (middle,) = ClassicInterpolator().__call__(one, two, [0.5])
        assert middle.shape == ({height}, {width}, 3)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr
