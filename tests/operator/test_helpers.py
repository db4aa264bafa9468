"""backwarp, .flo files, flow colours and the generated scene."""

import jax.numpy as jnp
import numpy as np
import pytest

import jax_softsplat
from jax_softsplat.synthetic import layered_scene


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_backwarp_is_the_adjoint_of_sum_splatting(layout):
    """<splat(x, f), g> == <x, backwarp(g, f)>: splatting scatters with the weights backwarp gathers."""
    rng = np.random.default_rng(30)
    shape = (2, 3, 6, 7) if layout == "NCHW" else (2, 6, 7, 3)
    flow_shape = (2, 2, 6, 7) if layout == "NCHW" else (2, 6, 7, 2)
    x, g = rng.normal(size=shape), rng.normal(size=shape)
    flow = rng.uniform(-3, 3, size=flow_shape)
    lhs = jnp.vdot(jax_softsplat.softsplat(x, flow, None, "sum", layout=layout), g)
    rhs = jnp.vdot(x, jax_softsplat.backwarp(g, flow, layout=layout))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


def test_backwarp_integer_flow_returns_exact_pixels_and_zero_outside():
    image = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    flow = np.zeros((1, 2, 3, 4), np.float32)
    flow[:, 0] = 1.0  # sample one pixel to the right
    out = np.asarray(jax_softsplat.backwarp(image, flow))[0, 0]
    np.testing.assert_array_equal(out[:, :3], image[0, 0, :, 1:])
    np.testing.assert_array_equal(out[:, 3], 0.0)
    half = np.zeros((1, 2, 3, 4), np.float32)
    half[:, 1] = 0.5
    out = np.asarray(jax_softsplat.backwarp(image, half))[0, 0]
    np.testing.assert_allclose(out[:2], (image[0, 0, :2] + image[0, 0, 1:]) / 2)
    np.testing.assert_allclose(out[2], image[0, 0, 2] / 2)  # the row below is zero padding


def test_backwarp_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"flow must have shape \[N, 2, H, W\]"):
        jax_softsplat.backwarp(np.zeros((1, 3, 4, 5)), np.zeros((1, 2, 4, 4)))


def test_flo_round_trip(tmp_path):
    flow = np.random.default_rng(31).normal(size=(5, 7, 2)).astype(np.float32)
    path = tmp_path / "a.flo"
    jax_softsplat.write_flo(path, flow)
    assert path.stat().st_size == 12 + flow.size * 4
    np.testing.assert_array_equal(jax_softsplat.read_flo(path), flow)
    assert [p.name for p in tmp_path.iterdir()] == ["a.flo"]  # no temporary file left behind


def test_read_flo_on_shared_data(shared_data):
    flow = jax_softsplat.read_flo(shared_data / "images" / "flow.flo")
    assert flow.shape == (320, 320, 2) and flow.dtype == np.float32
    assert np.isfinite(flow).all() and np.abs(flow).max() > 1


def test_read_flo_rejects_foreign_and_truncated_files(tmp_path):
    good = tmp_path / "good.flo"
    jax_softsplat.write_flo(good, np.zeros((4, 4, 2), np.float32))
    data = good.read_bytes()
    (tmp_path / "magic.flo").write_bytes(b"HEIP" + data[4:])  # PIEH is the right magic
    (tmp_path / "short.flo").write_bytes(data[:-4])
    (tmp_path / "long.flo").write_bytes(data + b"\0\0\0\0")
    (tmp_path / "tiny.flo").write_bytes(data[:6])
    with pytest.raises(ValueError, match="magic"):
        jax_softsplat.read_flo(tmp_path / "magic.flo")
    for name in ("short", "long"):
        with pytest.raises(ValueError, match="holds 128 bytes of flow"):
            jax_softsplat.read_flo(tmp_path / f"{name}.flo")
    with pytest.raises(ValueError, match="header"):
        jax_softsplat.read_flo(tmp_path / "tiny.flo")


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "keep.flo"
    jax_softsplat.write_flo(path, np.ones((2, 2, 2), np.float32))
    before = path.read_bytes()
    with pytest.raises(ValueError):
        jax_softsplat.write_flo(path, np.ones((2, 2, 3), np.float32))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        jax_softsplat.write_flo(tmp_path / "missing" / "x.flo", np.ones((2, 2, 2), np.float32))
    assert path.read_bytes() == before


def test_flow_to_color_follows_the_middlebury_wheel():
    flow = np.zeros((2, 3, 2), np.float32)
    flow[0, 0] = (1, 0)  # right: red
    flow[0, 1] = (0, 1)  # down: between yellow-green
    flow[0, 2] = (np.nan, 0)
    colour = jax_softsplat.flow_to_color(flow)
    assert colour.dtype == np.uint8 and colour.shape == (2, 3, 3)
    np.testing.assert_array_equal(colour[1, 0], (255, 255, 255))  # no motion is white
    np.testing.assert_array_equal(colour[0, 2], (0, 0, 0))  # non-finite is black
    r, g, b = colour[0, 0].astype(int)
    assert r == 255 and b < 60 and g < 60


def test_generated_scene_has_the_flow_it_claims():
    one, two, flow = layered_scene(64, 80, seed=3)
    assert one.shape == two.shape == (64, 80, 3) and flow.shape == (64, 80, 2)
    warped = np.asarray(jax_softsplat.backwarp(two[None], flow[None], layout="NHWC"))[0]
    # Where frame two shows what frame one's pixel moved to (not occluded, not outside), they agree.
    tx = np.arange(80)[None, :] + flow[..., 0]
    ty = np.arange(64)[:, None] + flow[..., 1]
    inside = (tx >= 1) & (tx < 78) & (ty >= 1) & (ty < 62)
    error = np.abs(warped - one).mean(axis=2)
    assert np.median(error[inside]) < 0.02


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    import os

    path = tmp_path / "perm.flo"
    jax_softsplat.write_flo(path, np.zeros((2, 2, 2), np.float32))
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    path.chmod(0o600)
    jax_softsplat.write_flo(path, np.ones((2, 2, 2), np.float32))
    assert path.stat().st_mode & 0o777 == 0o600  # an existing file keeps its mode
