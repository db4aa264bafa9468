"""The custom call against the pure-jnp reference: every mode x layout x dtype, under jit and vmap,
forward and VJP."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import OPERATOR, REFERENCE, call, random_inputs

MODES = ["sum", "avg", "linear", "soft"]
LAYOUTS = ["NCHW", "NHWC"]
# (dtype, forward tolerance, gradient tolerance): half precision is computed in float32 and rounded
# once at the end, so it differs from the reference by at most about one rounding of the output.
DTYPES = {
    "float32": (np.float32, 1e-5, 1e-4),
    "float64": (np.float64, 1e-12, 1e-11),
    "bfloat16": (jnp.bfloat16, 1e-2, 2e-2),
    "float16": (np.float16, 2e-3, 5e-3),
}


def assert_close(actual, expected, tol):
    actual = np.asarray(jnp.asarray(actual, jnp.float64))
    expected = np.asarray(jnp.asarray(expected, jnp.float64))
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mode", MODES)
def test_forward_and_vjp_match_reference(mode, layout, dtype_name):
    dtype, tol, grad_tol = DTYPES[dtype_name]
    x, flow, metric = random_inputs(np.random.default_rng(1), layout=layout, dtype=dtype)
    takes_metric = mode in ("linear", "soft")

    def loss(fn):
        def f(x, flow, metric):
            out = call(fn, x, flow, metric, mode, layout)
            assert out.dtype == x.dtype and out.shape == x.shape
            wide = jnp.promote_types(out.dtype, jnp.float32)
            weights = jnp.cos(jnp.arange(out.size, dtype=wide)).reshape(out.shape)
            return jnp.sum(out.astype(wide) * weights)

        return jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2) if takes_metric else (0, 1)))

    value, grads = loss(OPERATOR)(x, flow, metric)
    ref_value, ref_grads = loss(REFERENCE)(x, flow, metric)
    out = jax.jit(lambda *a: call(OPERATOR, *a, mode, layout))(x, flow, metric)
    ref_out = call(REFERENCE, x, flow, metric, mode, layout)
    assert out.dtype == x.dtype
    assert_close(out, ref_out, tol)
    assert_close(value, ref_value, tol * 10)
    for g, ref_g in zip(grads, ref_grads):
        assert g.dtype == ref_g.dtype
        assert_close(g, ref_g, grad_tol)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mode", MODES)
def test_vmap_over_extra_batch_dimensions(mode, layout):
    rng = np.random.default_rng(2)
    batches = [random_inputs(rng, n=2, h=5, w=6, layout=layout) for _ in range(3)]
    x, flow, metric = (np.stack(parts) for parts in zip(*batches))

    def splat(fn):
        return jax.vmap(lambda x, f, m: call(fn, x, f, m, mode, layout))

    out = jax.jit(splat(OPERATOR))(x, flow, metric)
    for i, (xi, fi, mi) in enumerate(batches):
        assert_close(out[i], call(REFERENCE, xi, fi, mi, mode, layout), 1e-5)


def test_nested_vmap_and_vmap_of_grad():
    rng = np.random.default_rng(3)
    x, flow, metric = random_inputs(rng, n=4 * 3 * 2, h=5, w=4)
    x, flow, metric = (a.reshape((4, 3, 2) + a.shape[1:]) for a in (x, flow, metric))

    def loss(fn):
        def f(x, flow, metric):
            return jnp.sum(fn(x, flow, metric, "soft") ** 2)

        return jax.vmap(jax.vmap(jax.grad(f, argnums=(0, 1, 2))))

    grads = jax.jit(loss(OPERATOR))(x, flow, metric)
    ref_grads = loss(REFERENCE)(x, flow, metric)
    for g, ref_g in zip(grads, ref_grads):
        assert g.shape == ref_g.shape
        assert_close(g, ref_g, 1e-4)


def test_vmap_with_only_x_batched_broadcasts_the_flow():
    rng = np.random.default_rng(4)
    x, flow, _ = random_inputs(rng, n=1)
    xs = np.stack([x, 2 * x, -x])
    out = jax.vmap(lambda x: OPERATOR(x, flow, None, "avg"))(xs)
    for i, scale in enumerate((1, 2, -1)):
        assert_close(out[i], REFERENCE(scale * x, flow, None, "avg"), 1e-5)


@pytest.mark.summation_order
def test_same_result_from_run_to_run():
    x, flow, metric = random_inputs(np.random.default_rng(5), n=2, c=8, h=31, w=37, flow_scale=2.0)
    f = jax.jit(lambda x, f, m: OPERATOR(x, f, m, "soft"))
    first = np.asarray(f(x, flow, metric))
    for _ in range(3):
        np.testing.assert_array_equal(np.asarray(f(x, flow, metric)), first)


def test_image_large_enough_for_huge_page_scratch_matches_reference():
    """From 32 MiB the backward pass's plane of per-target terms (8 bytes a pixel in float32) is
    allocated apart, in huge pages: 2048 x 2100 pixels take that path."""
    x, flow, metric = random_inputs(np.random.default_rng(7), n=1, c=1, h=2048, w=2100)

    def vjp(fn):
        def f(x, flow, metric):
            out, pullback = jax.vjp(lambda *a: call(fn, *a, "soft"), x, flow, metric)
            return out, pullback(jnp.cos(jnp.arange(out.size, dtype=out.dtype)).reshape(out.shape))

        return jax.jit(f)(x, flow, metric)

    out, grads = vjp(OPERATOR)
    ref_out, ref_grads = vjp(REFERENCE)
    assert_close(out, ref_out, 1e-5)
    for g, ref_g in zip(grads, ref_grads):
        assert_close(g, ref_g, 1e-4)
