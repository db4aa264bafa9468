"""The PyTorch `index_add_` baseline of `jax-softsplat speed operator` computes the operator: its
forward output and autograd's gradients against the jnp reference, so that the speed-ups quoted
against it compare equal work. torch is installed on the Python 3.11 stack only."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import REFERENCE, call, random_inputs

from jax_softsplat.commands.speed import _torch_fn

torch = pytest.importorskip("torch", reason="torch is installed on the Python 3.11 stack only")

# Relative to the largest reference value (or 1). float64 rounds only in its last bits. float32
# holds a target point near column 64 to 7.6e-6, so bilinear shares move by that much (4.8e-6
# measured). bfloat16 accumulates in bfloat16 (8 significant bits), as a PyTorch user's bfloat16
# tensors would: a few roundings of 2^-8 each, through exp and a division for the metric's gradient
# (3.7e-2 measured). Target points computed in bfloat16 itself, whose integers are exact only up to
# 256, put the values at the wrong pixels: errors of 40% and more.
TOLERANCE = {"float64": 1e-12, "float32": 2e-5, "bfloat16": 6e-2}


def inputs(dtype, layout, mode):
    """280 pixels a plane, so that flat indices pass 256, bfloat16's last exact integer; kink free
    so that float32 target points and the reference's float64 ones have the same floor."""
    x, flow, metric = random_inputs(np.random.default_rng(44), n=2, c=3, h=4, w=70, layout=layout, kink_free=True)
    if mode == "linear":
        metric = np.abs(metric) + 0.1  # weight sums far from 0, where the division is well conditioned
    # The inputs as the baseline reads them, rounded to its dtype (it widens the float32 it is given);
    # writable copies, as torch.from_numpy wants.
    return tuple(np.array(jnp.asarray(a, dtype).astype(jnp.float32)) for a in (x, flow, metric))


def reference_output_and_grads(mode, layout, x, flow, metric, cotangent):
    def forward(x, flow, metric):
        return call(REFERENCE, x, flow, metric, mode, layout)

    wide = [np.asarray(a, np.float64) for a in (x, flow, metric)]
    out, pullback = jax.vjp(forward, *wide)
    return np.asarray(out), [np.asarray(g) for g in pullback(np.asarray(cotangent, np.float64))]


def assert_close(actual, expected, dtype, what):
    actual = actual.detach().to(torch.float64).numpy()
    scale = max(1.0, float(np.abs(expected).max()))
    error = float(np.abs(actual - expected).max())
    assert error <= TOLERANCE[dtype] * scale, f"{what}: off by {error:.3g} (largest value {scale:.3g})"


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("mode", ["sum", "avg", "linear", "soft"])
def test_torch_baseline_computes_the_operator(mode, layout, dtype):
    x, flow, metric = inputs(dtype, layout, mode)
    cotangent = np.cos(np.arange(x.size, dtype=np.float32)).reshape(x.shape)
    cotangent = np.array(jnp.asarray(cotangent, dtype).astype(jnp.float32))
    expected, expected_grads = reference_output_and_grads(mode, layout, x, flow, metric, cotangent)

    run = _torch_fn(mode, layout, dtype)
    assert_close(run(x, flow, metric), expected, dtype, "forward")
    out, grads = run(x, flow, metric, cotangent)
    assert_close(out, expected, dtype, "forward of forward+backward")
    names = ["dL/dx", "dL/dflow", "dL/dmetric"]
    if mode in ("sum", "avg"):
        assert grads[2] is None, "the metric is not used in this mode"
        names = names[:2]
    for name, grad, reference in zip(names, grads, expected_grads):
        assert grad.dtype == getattr(torch, dtype)
        assert_close(grad, reference, dtype, name)
