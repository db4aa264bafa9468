"""Bad input gets a clear error naming the argument and the expected shape or dtype; extreme flows
contribute nothing and leave every gradient finite."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import OPERATOR, REFERENCE

import jax_softsplat

IMPLEMENTATIONS = pytest.mark.parametrize("splat", [OPERATOR, REFERENCE], ids=["kernel", "reference"])
X = np.zeros((2, 3, 4, 5), np.float32)
FLOW = np.zeros((2, 2, 4, 5), np.float32)
METRIC = np.zeros((2, 1, 4, 5), np.float32)


@IMPLEMENTATIONS
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(x=X[0]), ValueError, r"x must have shape \[N, C, H, W\]"),
        (dict(x=X[None]), ValueError, r"x must have shape \[N, C, H, W\]"),
        (dict(flow=FLOW[0]), ValueError, r"flow must have shape \[N, 2, H, W\] = \(2, 2, 4, 5\)"),
        (dict(flow=FLOW[:1]), ValueError, r"flow must have shape"),
        (dict(flow=FLOW[..., :4]), ValueError, r"flow must have shape"),
        (dict(flow=FLOW[:, :1]), ValueError, r"flow must have shape \[N, 2, H, W\]"),
        (dict(flow=np.zeros((2, 3, 4, 5), np.float32)), ValueError, r"flow must have shape"),
        (dict(metric=METRIC[:, :, :3]), ValueError, r"metric must have shape \[N, 1, H, W\] = \(2, 1, 4, 5\)"),
        (dict(metric=np.zeros((2, 2, 4, 5), np.float32)), ValueError, r"metric must have shape"),
        (dict(x=X.astype(np.int32)), TypeError, r"x must be a floating-point array.*int32"),
        (dict(flow=FLOW.astype(np.int64)), TypeError, r"flow must be a floating-point array"),
        (dict(metric=METRIC.astype(bool)), TypeError, r"metric must be a floating-point array"),
        (dict(mode="max"), ValueError, r"mode must be one of"),
        (dict(mode="avg", metric=METRIC), ValueError, r"mode 'avg' takes no metric"),
        (dict(mode="sum", metric=METRIC), ValueError, r"mode 'sum' takes no metric"),
        (dict(mode="soft", metric=None), ValueError, r"mode 'soft' needs a metric of shape \[N, 1, H, W\]"),
        (dict(mode="linear", metric=None), ValueError, r"mode 'linear' needs a metric"),
        (dict(layout="CHWN"), ValueError, r"layout must be one of"),
        (dict(normalize="eps"), ValueError, r"normalize must be one of"),
    ],
)
def test_bad_arguments_are_named(splat, kwargs, error, message):
    args = dict(x=X, flow=FLOW, metric=METRIC, mode="soft")
    args.update(kwargs)
    with pytest.raises(error, match=message):
        splat(args.pop("x"), args.pop("flow"), args.pop("metric"), args.pop("mode"), **args)


def test_nhwc_errors_speak_nhwc():
    with pytest.raises(ValueError, match=r"flow must have shape \[N, H, W, 2\]"):
        OPERATOR(np.zeros((1, 4, 5, 3)), np.zeros((1, 2, 4, 5)), None, "sum", layout="NHWC")


def _forward_call(x, flow, metric, *, aux_channels=0, mode=0, stable=False, out_dtype=None):
    """A forward custom call built by hand, bypassing the Python wrapper's checks."""
    aux = (x.shape[0], aux_channels) + x.shape[2:]
    out_dtype = out_dtype or x.dtype
    call = jax.ffi.ffi_call(
        "jax_softsplat_forward",
        (jax.ShapeDtypeStruct(x.shape, out_dtype), jax.ShapeDtypeStruct(aux, out_dtype)),
    )
    attrs = dict(channels_last=False, mode=np.int32(mode), normalize=np.int32(0), stable=stable)
    return jax.block_until_ready(call(x, flow, metric, **attrs))


def test_kernel_rejects_a_malformed_call_with_an_error_not_a_crash():
    """The handler's own checks, which guard calls that do not come through `softsplat`."""
    no_metric = np.zeros((X.shape[0], 0) + X.shape[2:], X.dtype)
    with pytest.raises(Exception, match="flow .* does not match x"):
        _forward_call(X, FLOW[:, :, :3], no_metric)
    with pytest.raises(Exception, match="metric .* does not match x"):
        _forward_call(X, FLOW, METRIC[:, :, :3], aux_channels=1, mode=3)
    with pytest.raises(Exception, match="aux .* does not match x"):
        _forward_call(X, FLOW, METRIC, aux_channels=2, mode=3)
    with pytest.raises(Exception, match="unknown mode 7"):
        _forward_call(X, FLOW, no_metric, mode=7)
    with pytest.raises(Exception, match="stable applies to soft mode only"):
        _forward_call(X, FLOW, no_metric, stable=True)
    with pytest.raises(Exception, match="float32, float64, bfloat16 or float16"):
        whole = lambda a: a.astype(np.int32)  # noqa: E731
        _forward_call(whole(X), whole(FLOW), whole(no_metric))
    half = lambda a: a.astype(np.float16)  # noqa: E731
    # Half-precision inputs accumulate into float32: a float16 output buffer is refused...
    with pytest.raises(Exception, match="out .* does not match x .* dtype float32"):
        _forward_call(half(X), half(FLOW), half(no_metric))
    # ...and so is a flow of another dtype than x.
    with pytest.raises(Exception, match="flow .* does not match x .* dtype float16"):
        _forward_call(half(X), FLOW, half(no_metric), out_dtype=np.float32)
    out, _ = _forward_call(half(X), half(FLOW), half(no_metric), out_dtype=np.float32)
    assert out.dtype == np.float32


EXTREME = [np.nan, np.inf, -np.inf, 1e30, -1e30, 3e9, -3e9, 1e38]


@IMPLEMENTATIONS
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("component", [0, 1])
def test_extreme_flows_contribute_nothing_and_have_zero_gradients(splat, dtype, component):
    rng = np.random.default_rng(20)
    h, w = 4, len(EXTREME)
    x = rng.normal(size=(1, 2, h, w)).astype(dtype)
    flow = rng.uniform(-0.9, 0.9, size=(1, 2, h, w)).astype(dtype)
    flow[0, component, 1, :] = EXTREME  # row 1 holds one extreme value per column
    clean = flow.copy()
    clean[0, :, 1, :] = 0
    x_without = x.copy()
    x_without[0, :, 1, :] = 0  # the same image with row 1 removed from the splat

    out = splat(x, flow, None, "sum")
    np.testing.assert_array_equal(np.isfinite(out), True)
    np.testing.assert_allclose(out, splat(x_without, clean, None, "sum"), rtol=1e-6, atol=1e-6)

    def loss(x, flow, metric):
        return jnp.sum(splat(x, flow, metric, "soft") ** 2)

    metric = rng.normal(size=(1, 1, h, w)).astype(dtype)
    gx, gflow, gmetric = jax.grad(loss, argnums=(0, 1, 2))(x, flow, metric)
    for g in (gx, gflow, gmetric):
        assert np.all(np.isfinite(g))
    np.testing.assert_array_equal(gx[0, :, 1], 0)
    np.testing.assert_array_equal(gflow[0, :, 1], 0)
    np.testing.assert_array_equal(gmetric[0, :, 1], 0)


@IMPLEMENTATIONS
def test_nan_in_x_propagates_to_where_it_lands(splat):
    x = np.ones((1, 1, 3, 3), np.float32)
    x[0, 0, 0, 0] = np.nan
    flow = np.zeros((1, 2, 3, 3), np.float32)
    flow[0, :, 0, 0] = 1.5  # lands between (1, 1), (2, 1), (1, 2), (2, 2)
    out = np.asarray(splat(x, flow, None, "sum"))[0, 0]
    assert np.isnan(out[1:, 1:]).all() and np.isfinite(out[0]).all() and np.isfinite(out[:, 0]).all()


@IMPLEMENTATIONS
@pytest.mark.parametrize("mode", ["sum", "avg", "linear", "soft"])
@pytest.mark.parametrize("shape", [(0, 3, 4, 5), (2, 3, 1, 1), (1, 1, 1, 7), (1, 0, 3, 3)])
def test_empty_batch_and_tiny_images(splat, mode, shape):
    n, c, h, w = shape
    x = np.ones(shape, np.float32)
    flow = np.zeros((n, 2, h, w), np.float32)
    metric = np.ones((n, 1, h, w), np.float32)  # weight 1 in linear mode, e in soft mode
    m = metric if mode in ("linear", "soft") else None
    out = splat(x, flow, m, mode)
    assert out.shape == shape
    expected = 1.0 if mode == "sum" else 1.0 / (1.0 + 1e-7)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    grads = jax.grad(lambda x, f: jnp.sum(splat(x, f, m, mode)), argnums=(0, 1))(x, flow)
    assert grads[0].shape == x.shape and grads[1].shape == flow.shape


def test_all_modes_are_exported():
    assert jax_softsplat.MODES == ("sum", "avg", "linear", "soft")
