"""`softsplat`: the operator on the compiled XLA custom calls, differentiable through `jax.custom_vjp`."""

import functools

import jax

from jax_softsplat import _ffi, modes


def _forward(x: jax.Array, flow: jax.Array, channels_last: bool) -> jax.Array:
    # broadcast_all: the kernels treat every dimension before (C, H, W) as batch, so a vmapped call
    # becomes one call over a larger batch instead of a loop; an unbatched operand is broadcast
    # (a copy of flow, which is small next to x, in the rare case that only x is batched).
    call = jax.ffi.ffi_call(
        _ffi.FORWARD, jax.ShapeDtypeStruct(x.shape, x.dtype), vmap_method="broadcast_all"
    )
    return call(x, flow, channels_last=channels_last)


def _backward(x: jax.Array, flow: jax.Array, grad_out: jax.Array, channels_last: bool):
    call = jax.ffi.ffi_call(
        _ffi.BACKWARD,
        (jax.ShapeDtypeStruct(x.shape, x.dtype), jax.ShapeDtypeStruct(flow.shape, flow.dtype)),
        vmap_method="broadcast_all",
    )
    return call(x, flow, grad_out, channels_last=channels_last)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def splat_sum(x: jax.Array, flow: jax.Array, channels_last: bool) -> jax.Array:
    """Summation splatting of x by flow on the custom call (float32/float64, shapes already checked)."""
    return _forward(x, flow, channels_last)


def _splat_sum_fwd(x, flow, channels_last):
    return _forward(x, flow, channels_last), (x, flow)


def _splat_sum_bwd(channels_last, residuals, grad_out):
    x, flow = residuals
    grad_x, grad_flow = _backward(x, flow, grad_out, channels_last)
    return grad_x, grad_flow


splat_sum.defvjp(_splat_sum_fwd, _splat_sum_bwd)


def softsplat(x, flow, metric=None, mode="soft", *, layout="NCHW", normalize="addeps") -> jax.Array:
    """Forward-warps `x` by `flow` (softmax splatting, Niklaus & Liu, CVPR 2020).

    Args:
      x: image or features, [N, C, H, W] (layout "NCHW") or [N, H, W, C] (layout "NHWC").
      flow: displacement in pixels, [N, 2, H, W] or [N, H, W, 2]; channel 0 is horizontal.
      metric: importance, [N, 1, H, W] or [N, H, W, 1]; required by "linear" and "soft", refused by
        "sum" and "avg". "soft" does not clip it: clip to [-20, 20] as the reference's callers do.
      mode: "sum", "avg", "linear" or "soft".
      layout: "NCHW" (the reference's) or "NHWC" (Flax's); neither is transposed internally.
      normalize: "addeps" (norm + 1e-7, the reference's default), "zeroeps" (0 -> 1) or "clipeps"
        (max(norm, 1e-7)).

    Returns:
      An array of the shape and dtype of x. float16/bfloat16 inputs are computed in float32; float64
      stays float64. Differentiable w.r.t. x, flow and metric; works under jit, vmap and grad.
    """
    return modes.splat_modes(
        splat_sum, x, flow, metric, mode, layout=layout, normalize=normalize
    )
