"""The four splatting modes built on summation splatting, with argument checking.

Everything here is plain JAX and is shared by the custom-call operator (`jax_softsplat.softsplat`) and the
pure-`jnp` oracle (`jax_softsplat.reference.softsplat`); only the summation splat differs between them.
Gradients w.r.t. the metric flow through the exp, the concatenation and the division by autodiff.
"""

from typing import Callable

import jax
import jax.numpy as jnp

MODES = ("sum", "avg", "linear", "soft")
NORMALIZATIONS = ("addeps", "zeroeps", "clipeps")
LAYOUTS = ("NCHW", "NHWC")
EPS = 1e-7  # the reference's epsilon for every normalisation variant

# splat_sum(x, flow, channels_last) -> out, on float32 or float64 arrays of the checked shapes.
SplatSum = Callable[[jax.Array, jax.Array, bool], jax.Array]


def _shape_name(layout: str, channels: str) -> str:
    return f"[N, {channels}, H, W]" if layout == "NCHW" else f"[N, H, W, {channels}]"


def _as_float_array(value, name: str) -> jax.Array:
    array = jnp.asarray(value)
    if not jnp.issubdtype(array.dtype, jnp.floating):
        raise TypeError(
            f"softsplat: {name} must be a floating-point array (float16, bfloat16, float32 or float64), "
            f"got dtype {array.dtype}"
        )
    return array


def check_args(x, flow, metric, mode: str, layout: str, normalize: str):
    """Validates the arguments; returns them as arrays. Errors name the argument and expected shape."""
    if mode not in MODES:
        raise ValueError(f"softsplat: mode must be one of {MODES}, got {mode!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"softsplat: layout must be one of {LAYOUTS}, got {layout!r}")
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"softsplat: normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    x = _as_float_array(x, "x")
    flow = _as_float_array(flow, "flow")
    if x.ndim != 4:
        raise ValueError(
            f"softsplat: x must have shape {_shape_name(layout, 'C')} (layout {layout}), got shape "
            f"{tuple(x.shape)}; use jax.vmap for more batch dimensions"
        )
    n, h, w = (x.shape[0], x.shape[2], x.shape[3]) if layout == "NCHW" else x.shape[:3]
    expected_flow = (n, 2, h, w) if layout == "NCHW" else (n, h, w, 2)
    if tuple(flow.shape) != expected_flow:
        raise ValueError(
            f"softsplat: flow must have shape {_shape_name(layout, '2')} = {expected_flow} to match x of "
            f"shape {tuple(x.shape)} (layout {layout}), got shape {tuple(flow.shape)}"
        )
    if mode in ("sum", "avg"):
        if metric is not None:
            raise ValueError(f"softsplat: mode {mode!r} takes no metric; pass metric=None")
        return x, flow, None
    if metric is None:
        raise ValueError(
            f"softsplat: mode {mode!r} needs a metric of shape {_shape_name(layout, '1')}"
        )
    metric = _as_float_array(metric, "metric")
    expected_metric = (n, 1, h, w) if layout == "NCHW" else (n, h, w, 1)
    if tuple(metric.shape) != expected_metric:
        raise ValueError(
            f"softsplat: metric must have shape {_shape_name(layout, '1')} = {expected_metric} to match "
            f"x of shape {tuple(x.shape)} (layout {layout}), got shape {tuple(metric.shape)}"
        )
    return x, flow, metric


def compute_dtype(*arrays) -> jnp.dtype:
    """float64 if any input is float64; otherwise float32 (half precision accumulates in float32)."""
    if any(a is not None and a.dtype == jnp.float64 for a in arrays):
        return jnp.dtype(jnp.float64)
    return jnp.dtype(jnp.float32)


def normalize_by(norm: jax.Array, normalize: str) -> jax.Array:
    if normalize == "addeps":
        return norm + EPS
    if normalize == "zeroeps":
        return jnp.where(norm == 0, jnp.ones_like(norm), norm)
    return jnp.maximum(norm, EPS)


def splat_modes(
    splat_sum: SplatSum,
    x,
    flow,
    metric=None,
    mode: str = "soft",
    *,
    layout: str = "NCHW",
    normalize: str = "addeps",
) -> jax.Array:
    x, flow, metric = check_args(x, flow, metric, mode, layout, normalize)
    out_dtype = x.dtype
    dtype = compute_dtype(x, flow, metric)
    x, flow = x.astype(dtype), flow.astype(dtype)
    channels_last = layout == "NHWC"
    if mode == "sum":
        return splat_sum(x, flow, channels_last).astype(out_dtype)

    axis = -1 if channels_last else 1
    if mode == "avg":
        weight = jnp.ones(x.shape[:-1] + (1,) if channels_last else x.shape[:1] + (1,) + x.shape[2:], dtype)
    elif mode == "linear":
        weight = metric.astype(dtype)
    else:
        weight = jnp.exp(metric.astype(dtype))
    splat = splat_sum(jnp.concatenate([x * weight, weight], axis=axis), flow, channels_last)
    channels = x.shape[axis]
    numerator = jax.lax.slice_in_dim(splat, 0, channels, axis=axis)
    norm = jax.lax.slice_in_dim(splat, channels, channels + 1, axis=axis)
    return (numerator / normalize_by(norm, normalize)).astype(out_dtype)
