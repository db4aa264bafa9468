"""Random inputs shared by the tests."""

import numpy as np

import jax_softsplat


def random_inputs(rng, n=2, c=3, h=7, w=9, layout="NCHW", dtype=np.float32, flow_scale=3.0, kink_free=False):
    """x, flow, metric in `layout`. With kink_free, every target point has fractional parts in
    [0.2, 0.8], away from the integer positions where splatting is not differentiable."""
    x = rng.normal(size=(n, c, h, w))
    flow = rng.uniform(-flow_scale, flow_scale, size=(n, 2, h, w))
    if kink_free:
        flow = np.round(flow) + rng.uniform(0.2, 0.8, size=flow.shape)
    metric = rng.uniform(-2, 2, size=(n, 1, h, w))
    if layout == "NHWC":
        x, flow, metric = (np.moveaxis(a, 1, -1) for a in (x, flow, metric))
    return tuple(np.ascontiguousarray(a).astype(dtype) for a in (x, flow, metric))


def call(fn, x, flow, metric, mode, layout="NCHW", **kwargs):
    """Calls fn with the metric only where the mode takes one."""
    return fn(x, flow, metric if mode in ("linear", "soft") else None, mode, layout=layout, **kwargs)


OPERATOR = jax_softsplat.softsplat
REFERENCE = jax_softsplat.reference.softsplat
