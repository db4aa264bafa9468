"""Argument checking shared by every implementation, and the four modes composed from summation
splatting exactly as docs/operator.md defines them (splat concat([x * w, w]), then divide).

The composition is what `jax_softsplat.reference` runs, and what `softsplat_composed` runs on the kernel's
summation splat; `jax_softsplat.softsplat` runs the modes fused inside the kernel instead. Gradients
w.r.t. the metric flow through the exp, the concatenation and the division by autodiff.
"""

from collections.abc import Callable

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


def check_args(x, flow, metric, mode: str, layout: str, normalize: str, stable: bool = False):
    """Validates the arguments; returns them as arrays. Errors name the argument and expected shape."""
    if stable and mode != "soft":
        raise ValueError(f"softsplat: stable=True applies to mode 'soft' only, got mode {mode!r}")
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
        raise ValueError(f"softsplat: mode {mode!r} needs a metric of shape {_shape_name(layout, '1')}")
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


def with_channels(shape: tuple, channels: int, layout: str) -> tuple:
    """`shape` with its channel dimension replaced."""
    shape = list(shape)
    shape[channel_axis(layout)] = channels
    return tuple(shape)


def normalize_by(norm: jax.Array, normalize: str) -> jax.Array:
    if normalize == "addeps":
        return norm + EPS
    if normalize == "zeroeps":
        return jnp.where(norm == 0, jnp.ones_like(norm), norm)
    return jnp.maximum(norm, EPS)


def channel_axis(layout: str) -> int:
    return -1 if layout == "NHWC" else -3


HALF_DTYPES = (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16))


def prepare(x, flow, metric, mode: str, layout: str, normalize: str, stable: bool = False, keep_half: bool = False):
    """Checks the arguments and casts them to the dtype the kernels compute in, except that with
    `keep_half` inputs all of one half-precision dtype stay as they are (the kernels read them in place).

    Returns (x, flow, metric, out_dtype); metric stays None for "sum" and "avg".
    """
    x, flow, metric = check_args(x, flow, metric, mode, layout, normalize, stable)
    out_dtype = x.dtype
    dtypes = {a.dtype for a in (x, flow, metric) if a is not None}
    if keep_half and len(dtypes) == 1 and x.dtype in HALF_DTYPES:
        return x, flow, metric, out_dtype
    dtype = compute_dtype(x, flow, metric)
    metric = None if metric is None else metric.astype(dtype)
    return x.astype(dtype), flow.astype(dtype), metric, out_dtype


def compose(splat_sum: SplatSum, x, flow, metric, mode: str, *, layout: str, normalize: str) -> jax.Array:
    """The mode on prepared arrays (see `prepare`), built from summation splatting as docs/operator.md defines it."""
    channels_last = layout == "NHWC"
    if mode == "sum":
        return splat_sum(x, flow, channels_last)
    axis = channel_axis(layout)
    if mode == "avg":
        weight = jnp.ones(with_channels(x.shape, 1, layout), x.dtype)
    elif mode == "linear":
        weight = metric
    else:
        weight = jnp.exp(metric)
    splat = splat_sum(jnp.concatenate([x * weight, weight], axis=axis), flow, channels_last)
    channels = x.shape[axis]
    numerator = jax.lax.slice_in_dim(splat, 0, channels, axis=axis)
    norm = jax.lax.slice_in_dim(splat, channels, channels + 1, axis=axis)
    return numerator / normalize_by(norm, normalize)
