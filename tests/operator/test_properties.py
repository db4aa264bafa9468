"""Property-based tests (hypothesis): the custom call against the reference on random shapes (0 and 1
included), modes, layouts, flows with NaN, inf, 1e30 and exact integers, and extreme metrics.

A few hundred cases by default; `HYPOTHESIS_PROFILE=nightly` runs thousands.
"""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
from helpers import OPERATOR, REFERENCE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Runs against slower builds (the emulated GPU kernels, the sanitizers) and the other stacks take a sample.
settings.register_profile("sampled", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# (with 4 channels or more the CPU kernel works plane by plane in NCHW)
SHAPES = [(0, 2, 3, 3), (1, 1, 1, 1), (1, 3, 1, 5), (2, 1, 4, 1), (2, 2, 4, 3), (1, 3, 6, 7), (1, 5, 5, 4)]
SPECIAL_FLOWS = [np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0, 1.0, -1.0, 2.0, -3.0]


@st.composite
def problems(draw):
    mode = draw(st.sampled_from(["sum", "avg", "linear", "soft", "soft-stable"]))
    layout = draw(st.sampled_from(["NCHW", "NHWC"]))
    # A few shapes, so that compiled programs are reused across examples; empty batches, single
    # pixels, single rows and columns, odd and even sizes.
    n, c, h, w = draw(st.sampled_from(SHAPES))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, h, w))
    flow = rng.uniform(-4, 4, size=(n, 2, h, w))
    # Some flow values replaced by specials: non-finite, huge, or exact integers (the kinks).
    special = rng.random(flow.shape) < draw(st.sampled_from([0.0, 0.2, 0.6]))
    flow = np.where(special, rng.choice(SPECIAL_FLOWS, size=flow.shape), flow)
    if mode == "linear":
        metric = 10.0 ** rng.uniform(-3, 3, size=(n, 1, h, w))  # positive, six decades
    elif mode == "soft":
        metric = rng.uniform(-20, 20, size=(n, 1, h, w))  # the plain softmax's working range
    else:
        metric = rng.choice([-1e4, 1e4, 0.0], size=(n, 1, h, w)) + rng.normal(size=(n, 1, h, w))
    if layout == "NHWC":
        x, flow, metric = (np.moveaxis(a, 1, -1) for a in (x, flow, metric))
    return mode, layout, x, flow, metric


@functools.cache
def compiled(fn, mode, layout):
    """jit of the forward and the VJP (one per implementation, mode and layout; jit caches shapes)."""
    stable = mode == "soft-stable"
    mode = "soft" if stable else mode
    takes_metric = mode in ("linear", "soft")
    kwargs = dict(layout=layout, stable=True) if stable else dict(layout=layout)

    def f(x, flow, metric):
        return fn(x, flow, metric if takes_metric else None, mode, **kwargs)

    def forward_and_vjp(x, flow, metric):
        out, pullback = jax.vjp(f, x, flow, metric)
        cotangent = jnp.cos(jnp.arange(out.size, dtype=out.dtype)).reshape(out.shape)
        return (out, *pullback(cotangent))

    return jax.jit(forward_and_vjp)


def evaluate(fn, mode, layout, x, flow, metric):
    return [np.asarray(a) for a in compiled(fn, mode, layout)(x, flow, metric)]


@given(problems())
def test_operator_matches_reference(problem):
    mode, layout, x, flow, metric = problem
    ours = evaluate(OPERATOR, mode, layout, x, flow, metric)
    theirs = evaluate(REFERENCE, mode, layout, x, flow, metric)
    for name, a, b in zip(["out", "grad_x", "grad_flow", "grad_metric"], ours, theirs):
        assert a.shape == b.shape
        # Non-finite flow contributes nothing, so everything is finite; the values agree to
        # float64 rounding of sums taken in a different order.
        assert np.all(np.isfinite(a)), name
        scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * scale, err_msg=name)
