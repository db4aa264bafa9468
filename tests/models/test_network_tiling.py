"""The network run in tiles (models/tiled.py): the cut of an axis, the halos against the measured
receptive fields, and the frames against the untiled network."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from network_helpers import SMALL, random_parameters

from jax_softsplat.models import Interpolator, tiled
from jax_softsplat.models.interpolator import UNTILED_PIXELS
from jax_softsplat.models.tiled import Tiling
from jax_softsplat.models.tiling import plan_axis
from jax_softsplat.models.weights import network_from_parameters


@pytest.mark.parametrize(
    "size, tile, halo, align", [(322, 56, 68, 4), (2160, 1024, 68, 4), (401, 64, 72, 8), (130, 64, 2, 1)]
)
def test_plan_axis_covers_the_axis_with_aligned_windows_and_full_halos(size, tile, halo, align):
    axis = plan_axis(size, tile, halo, align)
    assert axis.count > 1
    covered = np.zeros(size, bool)
    for start, valid in zip(axis.starts, axis.valid):
        assert start % align == 0 and 0 <= start and start + axis.window <= size
        lo = min(valid, size - axis.tile)  # the last tile is moved back to end at the border
        hi = lo + axis.tile
        covered[lo:hi] = True
        assert start == 0 or lo - start >= halo
        assert start + axis.window == size or start + axis.window - hi >= halo
    assert covered.all()
    assert axis.tile % align == 0 and axis.tile <= -(-tile // align) * align
    whole = plan_axis(size, size, halo, align)
    assert (whole.count, whole.window, whole.starts) == (1, size, (0,))


def network_with_unsaturated_output():
    """Random weights of SMALL's shapes, with the GridNet's last layer scaled down so that the
    frames stay mostly inside [0, 1]: a clipped pixel would hide a difference."""
    values = random_parameters(SMALL)
    for name in ("synthesis/grid/output/conv_b/kernel", "synthesis/grid/output/shortcut/kernel"):
        values[name] = values[name] * 0.01
    return network_from_parameters(SMALL, values)


def receptive_radius(fn, channels_scales, size, out_scale=1):
    """The largest distance in full-resolution pixels from an output pixel (at any phase of the
    coarsest scale) to an input pixel its gradient reaches, with random weights and inputs."""
    rng = np.random.default_rng(0)
    xs = [jnp.asarray(rng.normal(size=(1, size // s, size // s, c)), jnp.float32) for c, s in channels_scales]

    @jax.jit
    def grads(mask):
        return jax.grad(lambda *xs: jnp.sum(fn(*xs) * mask), argnums=tuple(range(len(xs))))(*xs)

    radius, out_size = 0, size // out_scale
    centre = out_size // 2
    for phase in range(8):
        mask = np.zeros((1, out_size, out_size, 1), np.float32)
        mask[0, centre + phase, centre + phase] = 1
        first, last = (centre + phase) * out_scale, (centre + phase + 1) * out_scale - 1
        for g, (_, s) in zip(grads(jnp.asarray(mask)), channels_scales):
            reached = np.argwhere(np.abs(np.asarray(g)[0]).sum(-1) > 0)
            lo, hi = reached.min(0) * s, reached.max(0) * s + s - 1
            radius = max(radius, *(first - lo), *(hi - last))
    assert 0 < radius < size // 2 - 8  # the field lies inside the test frame
    return radius


@pytest.mark.slow
def test_halos_cover_the_receptive_fields():
    synthesis = network_with_unsaturated_output().synthesis
    e = SMALL.encoder
    grid = receptive_radius(lambda a, b, c: synthesis.grid([a, b, c]), [(e[0], 1), (e[1], 2), (e[2], 4)], 192)
    softmetric = receptive_radius(synthesis.softmetric.from_error, [(3, 1), (1, 1)], 192)
    encoder = max(
        receptive_radius(lambda x, level=level: synthesis.encoder(x)[level], [(3, 1)], 64, out_scale=2**level)
        for level in range(3)
    )
    top = receptive_radius(synthesis.encoder.levels[0], [(3, 1)], 32)
    warp = receptive_radius(synthesis.warp[0], [(2 * (e[0] + 1) + 6, 1)], 32)
    assert grid <= tiled.GRID_HALO and softmetric <= tiled.SOFTMETRIC_HALO and encoder <= tiled.ENCODER_HALO
    assert top <= tiled.TOP_ENCODER_HALO and warp <= tiled.WARP_HALO
    # Tight, not generous: a halo much larger than the field only costs time.
    assert tiled.GRID_HALO - grid <= 8 and tiled.SOFTMETRIC_HALO - softmetric <= 8


# Odd size (padded to even inside), tiles small enough that every tiled part is cut in both axes.
SIZE, TILE = (321, 401), Tiling(64)


@pytest.fixture(scope="module")
def pair_and_network():
    rng = np.random.default_rng(3)
    coarse = rng.uniform(0, 1, (SIZE[0] // 8 + 2, SIZE[1] // 8 + 2, 3)).astype(np.float32)
    image = np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1)
    one, two = image[: SIZE[0], : SIZE[1]], image[3 : SIZE[0] + 3, 5 : SIZE[1] + 5]
    network = network_with_unsaturated_output()
    whole = Interpolator(network, tiling=None)(one, two, [0.3, 0.8])
    return one, two, network, whole


def test_every_tiled_part_is_cut_at_the_test_size():
    h, w = SIZE[0] + 1, SIZE[1] + 1
    for halo, align in [(tiled.GRID_HALO, 4), (tiled.SOFTMETRIC_HALO, 8), (tiled.ENCODER_HALO, 4), (2, 1)]:
        rows, cols = TILE.plan(h, w, halo, align)
        assert rows.count > 1 and cols.count > 1


@pytest.mark.slow
def test_tiled_frames_equal_the_whole_network(pair_and_network):
    one, two, network, whole = pair_and_network
    assert all(np.mean((f > 0) & (f < 1)) > 0.9 for f in whole)  # the comparison is not hidden by clipping
    frames = Interpolator(network, tiling=TILE)(one, two, [0.3, 0.8])
    for a, b in zip(frames, whole):
        assert a.shape == b.shape == (*SIZE, 3) and a.dtype == np.float32
        assert np.abs(a - b).max() <= 1e-4


@pytest.mark.slow
def test_a_halo_short_of_the_receptive_field_shows(pair_and_network, monkeypatch):
    """The comparison above can fail: with the GridNet's halo cut to a quarter, tile seams appear."""
    one, two, network, whole = pair_and_network
    monkeypatch.setattr(tiled, "GRID_HALO", tiled.GRID_HALO // 4)
    jax.clear_caches()  # the halo is read while tracing
    try:
        frames = Interpolator(network, tiling=TILE)(one, two, [0.3])
    finally:
        jax.clear_caches()
    assert np.abs(frames[0] - whole[0]).max() > 1e-2


def test_auto_tiling_by_size_and_bad_arguments():
    interpolator = Interpolator(network_with_unsaturated_output())
    assert interpolator.tiling_for(480, 640) is None and interpolator.tiling_for(720, 1280) is None
    assert interpolator.tiling_for(1080, 1920) == Tiling() and 1080 * 1920 > UNTILED_PIXELS
    assert Interpolator(network_with_unsaturated_output(), tiling=None).tiling_for(2160, 3840) is None
    with pytest.raises(ValueError, match="tiling must be"):
        Interpolator(network_with_unsaturated_output(), tiling=512)
    with pytest.raises(ValueError, match="Tiling.tile"):
        Tiling(8)
