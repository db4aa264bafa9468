"""The fused modes against their composition from summation splatting, and the stable softmax."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import OPERATOR, REFERENCE, call, random_inputs
from jax.test_util import check_grads

import jax_softsplat
from jax_softsplat.splat import _splat

COMPOSED = jax_softsplat.softsplat_composed


def value_and_grads(fn, mode, layout, x, flow, metric, **kwargs):
    takes_metric = mode in ("linear", "soft")

    def loss(x, flow, metric):
        out = call(fn, x, flow, metric, mode, layout, **kwargs)
        weights = jnp.cos(jnp.arange(out.size, dtype=out.dtype)).reshape(out.shape)
        return jnp.sum(out * weights), out

    grad = jax.grad(loss, argnums=(0, 1, 2) if takes_metric else (0, 1), has_aux=True)
    return jax.jit(grad)(x, flow, metric)


@pytest.mark.parametrize("normalize", ["addeps", "zeroeps", "clipeps"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("mode", ["avg", "linear", "soft"])
def test_fused_equals_composed_within_float32_rounding(mode, layout, normalize):
    x, flow, metric = random_inputs(np.random.default_rng(30), n=2, c=4, h=12, w=13, layout=layout)
    if mode == "linear":
        metric = np.abs(metric) + 0.1
    grads, out = value_and_grads(OPERATOR, mode, layout, x, flow, metric, normalize=normalize)
    ref_grads, ref_out = value_and_grads(COMPOSED, mode, layout, x, flow, metric, normalize=normalize)
    np.testing.assert_allclose(out, ref_out, rtol=2e-6, atol=2e-6)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=2e-5, atol=2e-5 * max(1.0, float(np.abs(r).max())))


def _signed_linear_inputs(layout):
    """float64 inputs on which every sum the operator forms is exact in any order: values in
    eighths, integer flows (bilinear shares 0 and 1), metrics -1, 1, 2 and 2^-30. Landing several
    pixels on each target, they give weight sums that are exactly 0 over a nonzero numerator,
    negative, or positive below 1e-7."""
    rng = np.random.default_rng(35)
    x = rng.integers(-16, 17, size=(2, 3, 8, 9)) / 8.0
    flow = rng.integers(-2, 3, size=(2, 2, 8, 9)).astype(np.float64)
    metric = rng.choice([-1.0, 1.0, 2.0, 2.0**-30], size=(2, 1, 8, 9))
    if layout == "NHWC":
        x, flow, metric = (np.ascontiguousarray(np.moveaxis(a, 1, -1)) for a in (x, flow, metric))
    return x, flow, metric


@pytest.mark.parametrize("normalize", ["addeps", "zeroeps", "clipeps"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_fused_equals_composed_where_the_normalisations_differ(layout, normalize):
    """The random inputs above give weight sums far from 1e-7, where zeroeps and clipeps coincide;
    signed linear weights separate them, in values and in gradients."""
    x, flow, metric = _signed_linear_inputs(layout)
    outs = {
        n: np.asarray(call(REFERENCE, x, flow, metric, "linear", layout, normalize=n)) for n in ("zeroeps", "clipeps")
    }
    assert np.sum(outs["zeroeps"] != outs["clipeps"]) > 20, "the normalisations must differ here"
    grads, out = value_and_grads(OPERATOR, "linear", layout, x, flow, metric, normalize=normalize)
    for other in (COMPOSED, REFERENCE):
        ref_grads, ref_out = value_and_grads(other, "linear", layout, x, flow, metric, normalize=normalize)
        # The sums are exact; only the final division and the gradients' sums of cosines round.
        np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=0)
        for g, r in zip(grads, ref_grads):
            np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-9 * float(np.abs(r).max()))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_stable_equals_plain_softmax_where_the_plain_one_is_fine(layout):
    """Every target gets weight from pixels of metric in [-2, 2], so the 1e-7 is negligible either way."""
    x, flow, metric = random_inputs(np.random.default_rng(31), h=16, w=16, layout=layout, dtype=np.float64)
    flow = np.clip(flow, -0.4, 0.4)  # pixels stay near home: every target receives weight
    plain = OPERATOR(x, flow, metric, "soft", layout=layout)
    stable = OPERATOR(x, flow, metric, "soft", layout=layout, stable=True)
    np.testing.assert_allclose(stable, plain, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_stable_handles_metrics_of_1e4(layout, dtype):
    x, flow, metric = random_inputs(np.random.default_rng(32), h=10, w=11, layout=layout, dtype=dtype)
    metric = (metric * 5e3).astype(dtype)  # up to +-1e4
    plain = OPERATOR(x, flow, metric, "soft", layout=layout)
    assert not np.all(np.isfinite(plain)), "the plain softmax overflows here (else this test proves nothing)"
    grads, out = value_and_grads(OPERATOR, "soft", layout, x, flow, metric, stable=True)
    ref_grads, ref_out = value_and_grads(REFERENCE, "soft", layout, x, flow, metric, stable=True)
    assert np.all(np.isfinite(out)) and all(np.all(np.isfinite(g)) for g in grads)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, ref_out, rtol=tol, atol=tol)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=10 * tol, atol=10 * tol * max(1.0, float(np.abs(r).max())))
    # With metrics this far apart, each target takes the value of its highest-metric source.
    assert np.max(np.abs(out)) <= np.max(np.abs(x)) * (1 + 1e-6)


def test_stable_winner_takes_all():
    """Two pixels land on the same target with metrics 1e4 apart: the higher one's value wins exactly."""
    x = np.array([[[[1.0, 5.0]]]])  # [1, 1, 1, 2]
    flow = np.array([[[[1.0, 0.0]], [[0.0, 0.0]]]])  # pixel 0 moves onto pixel 1
    for z0, z1, winner in ((1e4, 0.0, 1.0), (0.0, 1e4, 5.0), (-1e4, -2e4, 1.0)):
        metric = np.array([[[[z0, z1]]]])
        out = OPERATOR(x, flow, metric, "soft", stable=True)
        np.testing.assert_allclose(out[0, 0, 0, 1], winner, rtol=1e-6)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_stable_check_grads_float64_with_large_metrics(layout):
    x, flow, metric = random_inputs(
        np.random.default_rng(33), n=1, c=2, h=5, w=6, layout=layout, dtype=np.float64, kink_free=True
    )
    metric = metric * 300  # far beyond exp's float64 range in the plain softmax when summed
    f = lambda x, flow, metric: OPERATOR(x, flow, metric, "soft", layout=layout, stable=True)  # noqa: E731
    # Finite differences of 1e-4 in a metric of ~600 change exp(z - max) by 1e-4 relative: fine.
    check_grads(f, (x, flow, metric), order=1, modes=["rev"], eps=1e-4, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["sum", "avg", "linear", "soft"])
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision_error_bound(mode, dtype):
    """Half precision is computed in float32 and rounded once: within one rounding (2^-8 relative
    for bfloat16, 2^-11 for float16) of the float32 result on the same (rounded) inputs."""
    x, flow, metric = random_inputs(np.random.default_rng(34), h=16, w=16)
    if mode == "linear":
        metric = np.abs(metric) + 0.5
    low = [jnp.asarray(a, dtype) for a in (x, flow, metric)]
    out = call(OPERATOR, *low, mode)
    assert out.dtype == dtype
    exact = call(OPERATOR, *(a.astype(jnp.float32) for a in low), mode)
    unit = 2.0**-8 if dtype == jnp.bfloat16 else 2.0**-11
    err = np.abs(np.asarray(out, np.float64) - np.asarray(exact, np.float64))
    assert np.all(err <= unit * np.abs(np.asarray(exact, np.float64)) + 1e-30)
    grads = jax.grad(lambda x: jnp.sum(call(OPERATOR, x, *low[1:], mode).astype(jnp.float32)))(low[0])
    assert grads.dtype == dtype and np.all(np.isfinite(np.asarray(grads, np.float32)))


@pytest.mark.summation_order
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("mode", ["sum", "avg", "linear", "soft"])
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_inputs_read_in_place_equal_float32_inputs_bit_for_bit(dtype, mode, layout):
    """x, flow and metric of one half dtype go to the kernels as they are (no float32 copy); widening
    is exact, so values and gradients equal those of float32 inputs holding the same values, to the
    bit. float16's special values (subnormals, -0, inf, NaN) included."""
    x, flow, metric = random_inputs(np.random.default_rng(36), n=2, c=5, h=9, w=11, layout=layout)
    if mode == "linear":
        metric = np.abs(metric) + 0.5
    low = [jnp.asarray(a, dtype) for a in (x, flow, metric)]
    if dtype == jnp.float16:
        special = jnp.asarray([6e-8, -6e-8, 3e-5, -0.0, np.inf, -np.inf, np.nan, 65504.0], dtype)
        low[0] = low[0].reshape(-1).at[: special.size].set(special).reshape(low[0].shape)
    wide = [a.astype(jnp.float32) for a in low]
    argnums = (0, 1, 2) if mode in ("linear", "soft") else (0, 1)

    def loss(x, flow, metric):  # the float32 inputs' result rounded to `dtype`, as the half path rounds it
        out = call(OPERATOR, x, flow, metric, mode, layout).astype(dtype).astype(jnp.float32)
        return jnp.sum(out * jnp.cos(jnp.arange(out.size, dtype=out.dtype)).reshape(out.shape)), out

    (grads, out), (wide_grads, wide_out) = (
        jax.jit(jax.grad(loss, argnums, has_aux=True))(*args) for args in (low, wide)
    )
    assert call(OPERATOR, *low, mode, layout).dtype == dtype and all(g.dtype == dtype for g in grads)
    np.testing.assert_array_equal(out, wide_out)
    for g, w in zip(grads, wide_grads):
        np.testing.assert_array_equal(np.asarray(g, np.float32), np.asarray(w.astype(dtype), np.float32))


def test_mixed_half_and_float32_inputs_compute_in_float32():
    """bfloat16 features with a float32 flow and metric: the operator computes in float32 on the
    flow as given (not rounded to bfloat16) and rounds its result once to bfloat16. The jnp
    reference in float32 on the same values, rounded once, is the independent check; the two float32
    computations differ only in the order of their additions, by at most `order` (2e-6, a few
    float32 ulps of results up to 2.5; 4.8e-7 measured here), so the operator's bfloat16 result must
    lie between the roundings of reference - order and reference + order."""
    x, flow, metric = random_inputs(np.random.default_rng(37), h=10, w=12)
    x_low = jnp.asarray(x, jnp.bfloat16)
    out = call(OPERATOR, x_low, flow, metric, "soft")
    assert out.dtype == jnp.bfloat16
    reference = np.asarray(call(REFERENCE, x_low.astype(jnp.float32), flow, metric, "soft"))
    assert reference.dtype == np.float32

    def rounded(values):
        return np.asarray(jnp.asarray(values, jnp.float32).astype(jnp.bfloat16).astype(jnp.float32))

    order = 2e-6
    out = np.asarray(out.astype(jnp.float32))
    assert np.all(rounded(reference - order) <= out) and np.all(out <= rounded(reference + order))
    # The bounds above leave several ulps where the result is near 0; away from it they leave one
    # rounding. Rounding the flow to bfloat16 (steps of up to 2^-6 at |flow| < 4) puts 46% of this
    # input's results one bfloat16 ulp or more off, a quarter two or more.
    assert np.mean(out == rounded(reference)) > 0.95


def _half_values(rng, size, dtype, exponents):
    """Random values of `dtype`: random sign and mantissa bits, exponents drawn from `exponents`."""
    values = (rng.uniform(1, 2, size) * 2.0 ** rng.integers(*exponents, size)).astype(np.float32)
    values *= rng.choice([-1, 1], size)
    return jnp.asarray(values, dtype)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_gradients_are_rounded_in_the_kernel_as_xla_rounds(dtype):
    """The backward kernel writes half-precision gradients itself, rounding the float32 it computes in.
    For a batch of 1x1 images in sum mode with zero flow, dL/du is -x * g: the product of two half
    values, exact in float32 (16 or 22 significant bits), which the kernel rounds once. It must match
    XLA's convert on every kind of value: all exponents, exact ties, float16's subnormal range and
    overflow to inf."""
    rng = np.random.default_rng(38)
    size = 16384
    exponents = (-60, 60) if dtype == jnp.bfloat16 else (-14, 14)  # products reach past 65504
    x, g = (_half_values(rng, size, dtype, exponents) for _ in range(2))
    product = np.asarray(x, np.float32) * np.asarray(g, np.float32)
    # float32 subnormals are left out: XLA runs custom calls with them flushed to zero (as its own
    # arithmetic does), so dL/du is 0 there whatever the dtype.
    assert np.all(np.isfinite(product)) and np.all(np.abs(product) >= np.finfo(np.float32).tiny)
    kept = 8 if dtype == jnp.bfloat16 else 11  # significant bits of the half type
    mantissa = np.frexp(product)[0] * 2.0 ** (kept + 1)
    assert np.sum((mantissa == np.floor(mantissa)) & (mantissa % 2 == 1)) > 0, "no exact ties"
    shape = (size, 1, 1, 1)
    x, g = x.reshape(shape), g.reshape(shape)
    flow = jnp.zeros((size, 2, 1, 1), dtype)
    no_metric = jnp.zeros((size, 0, 1, 1), dtype)
    _, pullback = jax.vjp(lambda flow: _splat(x, flow, no_metric, "sum", "addeps", False, False), flow)
    (grad_flow,) = pullback(g)
    assert grad_flow.dtype == dtype
    expected = jnp.asarray(-product).astype(dtype)
    np.testing.assert_array_equal(np.asarray(grad_flow[:, 0, 0, 0], np.float32), np.asarray(expected, np.float32))
