"""The Flax NNX network: architecture against the official key table, block shapes, the cost volume
and the resize against direct loops, normalisation, determinism and differentiability."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from network_helpers import SMALL, official_table, random_network

from jax_softsplat.models import NetworkConfig, interpolate_batch
from jax_softsplat.models.correlation import correlation
from jax_softsplat.models.layers import Upsample, resize_bilinear
from jax_softsplat.models.network import normalize, pad_even
from jax_softsplat.models.weights import abstract_network, official_names, parameters


@pytest.fixture(scope="module")
def network():
    return random_network(SMALL)


def frames(n, h, w, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(jnp.asarray(rng.uniform(0, 1, (n, h, w, 3)), jnp.float32) for _ in range(2))


def test_official_architecture_matches_the_key_table():
    params = parameters(abstract_network(NetworkConfig()))
    assert sum(int(np.prod(p.shape)) for p in params.values()) == 7_668_852
    flow = sum(int(np.prod(p.shape)) for name, p in params.items() if name.startswith("flow/"))
    assert flow == 4_198_620
    table, names = official_table(), official_names()
    assert len(table) == len(params) == 278
    assert sorted(names.values()) == sorted(table)
    for ours, key in names.items():
        shape = params[ours].shape
        if ours.endswith("/kernel"):  # HWIO here, OIHW in PyTorch
            shape = (shape[3], shape[2], shape[0], shape[1])
        assert tuple(shape) == table[key], (ours, key)


def test_scaled_config_keeps_the_structure():
    config = NetworkConfig.scaled(0.25)
    assert config.extractor == (4, 8, 16, 24, 32, 48) and config.softmetric[0] % 4 == 0
    assert len(official_names(config)) == 278
    assert NetworkConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="decoder"):
        NetworkConfig(decoder=(8, 8))


# Eager Flax compiles every operation on its own; one jit per test is much quicker.
@nnx.jit
def run_blocks(network, one, two, t):
    features = network.flow.extractor(one)
    flows = network.estimate_flow(one, two)
    pyramids, metrics = network.synthesis.features(one, two, flows)
    return features, flows, pyramids, metrics, network.synthesize(one, two, flows, t)


batch_jit = nnx.jit(interpolate_batch)


@pytest.mark.parametrize("h, w", [(24, 32), (22, 38)])  # levels of odd size below 22 x 38
def test_block_shapes_and_dtypes(network, h, w):
    one, two = frames(2, h, w)
    features, flows, pyramids, metrics, out = run_blocks(network, one, two, jnp.array([0.3, 0.7], jnp.float32))
    size = (h, w)
    for level, c in zip(features, SMALL.extractor):
        size = (-(-size[0] // 2), -(-size[1] // 2))  # stride-2 conv with padding 1: ceil
        assert level.shape == (2, *size, c) and level.dtype == jnp.float32
    assert [f.shape for f in flows] == [(2, h, w, 2)] * 2
    assert all(f.dtype == jnp.float32 and bool(jnp.isfinite(f).all()) for f in flows)
    assert [p.shape for p in pyramids] == [
        (4, h, w, 3 + SMALL.encoder[0]),
        (4, h // 2, w // 2, SMALL.encoder[1]),
        (4, -(-h // 4), -(-w // 4), SMALL.encoder[2]),
    ]
    assert metrics.shape == (4, h, w, 1) and metrics.dtype == jnp.float32
    assert out.shape == (2, h, w, 3) and out.dtype == jnp.float32
    assert bool(jnp.isfinite(out).all())


def test_network_refuses_odd_or_mismatched_frames(network):
    one, two = frames(1, 10, 13)
    with pytest.raises(ValueError, match="even"):
        network(one, two, 0.5)
    with pytest.raises(ValueError, match=r"\[N, H, W, 3\]"):
        network(one[..., :2], two[..., :2], 0.5)
    with pytest.raises(ValueError, match="t must be"):
        interpolate_batch(network, one, two, jnp.zeros(3))


def test_interpolate_batch_pads_flips_normalises_and_is_deterministic(network):
    """The RGB entry point equals the network on padded, normalised BGR frames, mapped back; and
    the same call gives the same bits."""
    one, two = frames(2, 17, 23, seed=2)
    out = batch_jit(network, one, two, jnp.float32(0.25))
    assert out.shape == (2, 17, 23, 3) and out.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(out), np.asarray(batch_jit(network, one, two, jnp.float32(0.25))))
    bgr = [np.pad(np.asarray(x)[..., ::-1], ((0, 0), (0, 1), (0, 1), (0, 0)), mode="edge") for x in (one, two)]
    means = [x.mean(axis=(1, 2, 3), keepdims=True) for x in bgr]
    mu = np.mean(means, axis=0)
    sigma = np.sqrt(np.mean([x.var(axis=(1, 2, 3), keepdims=True) + (mu - m) ** 2 for x, m in zip(bgr, means)], axis=0))
    y = nnx.jit(lambda net, a, b: net(a, b, 0.25))(
        network, *(jnp.asarray((x - mu) / (sigma + 1e-7), jnp.float32) for x in bgr)
    )
    expected = (np.asarray(y) * sigma + mu)[:, :17, :23, ::-1]
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-3, atol=1e-3)


def test_normalize_matches_pooled_moments():
    one, two = frames(2, 6, 8, seed=3)
    a, b, mu, sigma = normalize(one, two)
    pooled = np.concatenate([np.asarray(one), np.asarray(two)], axis=1)  # per sample
    np.testing.assert_allclose(np.asarray(mu).ravel(), pooled.mean(axis=(1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(sigma).ravel(), pooled.std(axis=(1, 2, 3)), rtol=1e-4)
    np.testing.assert_allclose(
        np.asarray(a), (np.asarray(one) - np.asarray(mu)) / (np.asarray(sigma) + 1e-7), rtol=1e-4, atol=1e-5
    )
    assert pad_even(one[:, :5, :7]).shape == (2, 6, 8, 3)
    np.testing.assert_array_equal(np.asarray(pad_even(one[:, :5, :7]))[:, 5, :7], np.asarray(one)[:, 4, :7])


@pytest.mark.slow
def test_interpolate_batch_is_differentiable(network):
    one, two = frames(2, 12, 14, seed=4)
    target = (one + two) / 2
    t = jnp.array([0.5, 0.25], jnp.float32)

    def loss(net):
        return jnp.mean(jnp.abs(interpolate_batch(net, one, two, t) - target))

    value, grads = nnx.jit(nnx.value_and_grad(loss))(network)
    leaves = jax.tree.leaves(nnx.state(grads, nnx.Param))
    assert np.isfinite(float(value)) and len(leaves) == 278
    assert all(bool(jnp.isfinite(g).all()) for g in leaves)
    assert sum(float(jnp.abs(g).sum()) > 0 for g in leaves) > 200  # gradients reach both halves


@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (1, 3, 37, 2)])  # one tile; several, the last one partial
def test_correlation_against_a_direct_loop(shape):
    n, h, w, c = shape
    rng = np.random.default_rng(5)
    one, two = (rng.normal(size=shape).astype(np.float32) for _ in range(2))
    expected = np.zeros((n, h, w, 81), np.float32)
    for y in range(h):
        for x in range(w):
            for dy in range(-4, 5):
                for dx in range(-4, 5):
                    if 0 <= y + dy < h and 0 <= x + dx < w:
                        expected[:, y, x, (dy + 4) * 9 + dx + 4] = np.mean(
                            one[:, y, x] * two[:, y + dy, x + dx], axis=-1
                        )
    np.testing.assert_allclose(np.asarray(correlation(jnp.asarray(one), jnp.asarray(two))), expected, atol=1e-6)


def resize_loop(x, height, width):
    """PyTorch's bilinear, align_corners=False, written out pixel by pixel."""
    n, h, w, c = x.shape
    out = np.zeros((n, height, width, c))

    def taps(i, size_in, size_out):
        src = max((i + 0.5) * size_in / size_out - 0.5, 0.0)
        lo = int(np.floor(src))
        return lo, min(lo + 1, size_in - 1), src - lo

    for i in range(height):
        y0, y1, fy = taps(i, h, height)
        for j in range(width):
            x0, x1, fx = taps(j, w, width)
            top = x[:, y0, x0] * (1 - fx) + x[:, y0, x1] * fx
            bottom = x[:, y1, x0] * (1 - fx) + x[:, y1, x1] * fx
            out[:, i, j] = top * (1 - fy) + bottom * fy
    return out


@pytest.mark.parametrize("size", [(5, 7), (10, 14), (3, 4), (2, 3), (9, 15), (5, 7)])
def test_resize_bilinear_matches_align_corners_false(size):
    x = np.random.default_rng(6).normal(size=(2, 5, 7, 3))
    with jax.enable_x64(True):  # float64, so that the comparison with the loop can be this tight
        resized = np.asarray(resize_bilinear(jnp.asarray(x), *size))
    np.testing.assert_allclose(resized, resize_loop(x, *size), atol=1e-12)


def test_resize_bilinear_matches_torch_when_available():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(7).normal(size=(1, 8, 15, 2)).astype(np.float32)
    for size in [(16, 30), (4, 8), (15, 29), (3, 7)]:
        expected = (
            torch.nn.functional.interpolate(
                torch.from_numpy(x).permute(0, 3, 1, 2), size=size, mode="bilinear", align_corners=False
            )
            .permute(0, 2, 3, 1)
            .numpy()
        )
        np.testing.assert_allclose(np.asarray(resize_bilinear(jnp.asarray(x), *size)), expected, atol=1e-5)


def test_upsample_crops_to_the_finer_row():
    up = Upsample(4, 2, rngs=nnx.Rngs(0))
    coarse, fine = jnp.ones((1, 3, 4, 4), jnp.float32), jnp.ones((1, 5, 8, 2), jnp.float32)
    assert up(coarse, like=fine).shape == (1, 5, 8, 2)
