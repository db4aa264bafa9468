"""Gradients in float64 against finite differences (jax.test_util.check_grads)."""

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import OPERATOR, random_inputs
from jax.test_util import check_grads


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("mode", ["sum", "avg", "linear", "soft"])
def test_check_grads_float64(mode, layout):
    x, flow, metric = random_inputs(
        np.random.default_rng(10), n=2, c=2, h=5, w=6, layout=layout, dtype=np.float64, kink_free=True
    )
    if mode == "linear":
        metric = np.abs(metric) + 0.5  # linear weights are meant to be positive

    if mode in ("linear", "soft"):
        f = lambda x, flow, metric: OPERATOR(x, flow, metric, mode, layout=layout)  # noqa: E731
        args = (x, flow, metric)
    else:
        f = lambda x, flow: OPERATOR(x, flow, None, mode, layout=layout)  # noqa: E731
        args = (x, flow)
    # Flow steps of 1e-4 never cross an integer: the fractional parts stay in [0.2, 0.8].
    check_grads(f, args, order=1, modes=["rev"], eps=1e-4, atol=1e-6, rtol=1e-6)


def test_metric_gradient_alone():
    """The metric alone, through the fused backward call, against finite differences."""
    x, flow, metric = random_inputs(np.random.default_rng(11), n=1, c=2, h=4, w=5, dtype=np.float64)
    f = lambda metric: jnp.sum(OPERATOR(x, flow, metric, "soft") ** 2)  # noqa: E731
    check_grads(f, (metric,), order=1, modes=["rev"], eps=1e-5)
