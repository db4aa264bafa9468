"""`softsplat`: the operator on the compiled XLA custom calls, differentiable through `jax.custom_vjp`.

The kernels run every mode fused: the weight, the exp and the division happen inside the forward call,
which also returns an auxiliary plane (the weight sum, and for the stable softmax the per-target
maximum metric) that the backward call reuses instead of recomputing it.

Which implementation runs is decided per lowering platform (`jax.lax.platform_dependent`): the kernels
with their `custom_vjp` on the platforms that have them registered (`_ffi.KERNEL_PLATFORMS`: CPU, and
CUDA when a CUDA module is), and on any other (ROCm, TPU, Metal, CUDA without its module) the pure-jnp
`jax_softsplat.reference`, differentiated by JAX's autodiff: the same values and gradients, slower.
Lowering for such a platform warns once per platform and process, with a `NoKernelWarning`.
"""

import functools
import threading
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

from jax_softsplat import _ffi, modes, reference

_MODE_CODES = {mode: np.int32(i) for i, mode in enumerate(modes.MODES)}
_NORMALIZE_CODES = {name: np.int32(i) for i, name in enumerate(modes.NORMALIZATIONS)}


def _aux_channels(mode: str, stable: bool) -> int:
    return 0 if mode == "sum" else (2 if stable else 1)


def _attrs(mode: str, normalize: str, stable: bool, channels_last: bool) -> dict:
    return dict(
        channels_last=channels_last,
        mode=_MODE_CODES[mode],
        normalize=_NORMALIZE_CODES[normalize],
        stable=stable,
    )


def _layout(channels_last: bool) -> str:
    return "NHWC" if channels_last else "NCHW"


# vmap_method="broadcast_all": the kernels treat every dimension before (C, H, W) as batch, so a vmapped
# call becomes one call over a larger batch instead of a loop; an unbatched operand is broadcast (a copy
# of flow or metric, small next to x, in the rare case that only x is batched).


def _forward(x, flow, metric, mode, normalize, stable, channels_last):
    aux_shape = modes.with_channels(x.shape, _aux_channels(mode, stable), _layout(channels_last))
    dtype = modes.compute_dtype(x)  # half-precision inputs are accumulated in float32
    call = jax.ffi.ffi_call(
        _ffi.FORWARD,
        (jax.ShapeDtypeStruct(x.shape, dtype), jax.ShapeDtypeStruct(aux_shape, dtype)),
        vmap_method="broadcast_all",
    )
    return call(x, flow, metric, **_attrs(mode, normalize, stable, channels_last))


def _backward(residuals, grad_out, mode, normalize, stable, channels_last):
    x, flow, metric, out, aux = residuals
    call = jax.ffi.ffi_call(
        _ffi.BACKWARD,
        tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in (x, flow, metric)),
        vmap_method="broadcast_all",
    )
    return call(x, flow, metric, out, aux, grad_out, **_attrs(mode, normalize, stable, channels_last))


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5, 6))
def _splat(x, flow, metric, mode, normalize, stable, channels_last):
    """The fused operator on prepared arrays; `metric` has zero channels in modes without one. The
    result is in x's dtype, rounded once from the float32 the kernel accumulates half precision in."""
    out, _ = _forward(x, flow, metric, mode, normalize, stable, channels_last)
    return out.astype(x.dtype)


def _splat_fwd(x, flow, metric, mode, normalize, stable, channels_last):
    out, aux = _forward(x, flow, metric, mode, normalize, stable, channels_last)
    # The rounding to x's dtype happens inside the VJP so that the cotangent reaches the backward
    # kernel in that dtype: rounding outside made XLA convert it to a float32 temporary, 25 MB at
    # 1080p that was new memory (page faults) on every call.
    return out.astype(x.dtype), (x, flow, metric, out, aux)


def _splat_bwd(mode, normalize, stable, channels_last, residuals, grad_out):
    return tuple(_backward(residuals, grad_out, mode, normalize, stable, channels_last))


_splat.defvjp(_splat_fwd, _splat_bwd)


class NoKernelWarning(RuntimeWarning):
    """softsplat was lowered for a platform without a jax_softsplat kernel and runs the pure-jnp path."""


_warned_platforms: set[str] = set()
_warned_lock = threading.Lock()  # lowering may run on several threads at once


def _warn_no_kernel(platform: str) -> None:
    with _warned_lock:
        if platform in _warned_platforms:
            return
        _warned_platforms.add(platform)
    if platform == "cuda":
        why = _ffi.missing_cuda_kernel_hint(_ffi.CUDA_PLUGINS, _ffi.built_cuda_modules())
    else:
        why = "jax_softsplat has kernels for CPU and CUDA only"
    warnings.warn(
        f"softsplat is lowered for platform {platform!r}, where no jax_softsplat kernel is registered: {why}. "
        "It runs the pure-jnp implementation (jax_softsplat.reference) there: the same values and "
        "gradients, several times slower.",
        NoKernelWarning,
        stacklevel=2,
    )


# Marks the pure-jnp path so that lowering it warns: an identity on `flow` (which both the values and
# every gradient need, so dead-code elimination never drops it while the operator runs). It is lowered
# only for the platforms whose branch of `platform_dependent` is the pure-jnp one.
_no_kernel_p = Primitive("jax_softsplat_no_kernel")
_no_kernel_p.def_abstract_eval(lambda aval: aval)
_no_kernel_jit = jax.jit(lambda flow: _no_kernel_p.bind(flow))
# Outside jit (one operation at a time), the branch already chosen for the device runs here; compiling
# the identity lowers it for that device, which warns.
_no_kernel_p.def_impl(lambda flow: _no_kernel_jit(flow))
ad.primitive_jvps[_no_kernel_p] = lambda primals, tangents: (_no_kernel_p.bind(*primals), tangents[0])
batching.primitive_batchers[_no_kernel_p] = lambda args, dims: (_no_kernel_p.bind(*args), dims[0])


def _no_kernel_lowering(ctx, flow):
    # In a lowering for several platforms, this branch serves those without the kernels.
    for platform in ctx.platforms or ctx.module_context.platforms:
        if platform not in _ffi.KERNEL_PLATFORMS:
            _warn_no_kernel(platform)
    return [flow]


mlir.register_lowering(_no_kernel_p, _no_kernel_lowering)


def _per_platform(kernel_path, jnp_path, *args):
    """kernel_path(*args) where the kernels are registered, jnp_path(*args, marked) elsewhere.

    Only the chosen branch is lowered, so CPU programs contain the custom calls alone; the kernel's
    `custom_vjp` lives inside its branch, so elsewhere the gradients are JAX's autodiff of the jnp path.
    """

    def marked(*args):
        x, flow, *rest = args
        return jnp_path(x, _no_kernel_p.bind(flow), *rest)

    kernels = {platform: kernel_path for platform in sorted(_ffi.KERNEL_PLATFORMS)}
    return jax.lax.platform_dependent(*args, default=marked, **kernels)


def _no_metric(x: jax.Array, layout: str) -> jax.Array:
    return jnp.zeros(modes.with_channels(x.shape, 0, layout), x.dtype)


def _kernel_sum(x: jax.Array, flow: jax.Array, channels_last: bool) -> jax.Array:
    return _splat(x, flow, _no_metric(x, _layout(channels_last)), "sum", "addeps", False, channels_last)


def splat_sum(x: jax.Array, flow: jax.Array, channels_last: bool) -> jax.Array:
    """Summation splatting on the custom call (float32/float64 arrays of checked shapes); the pure-jnp
    summation on platforms without the kernels."""
    return _per_platform(
        functools.partial(_kernel_sum, channels_last=channels_last),
        functools.partial(reference.splat_sum, channels_last=channels_last),
        x,
        flow,
    )


def softsplat(x, flow, metric=None, mode="soft", *, layout="NCHW", normalize="addeps", stable=False) -> jax.Array:
    """Forward-warps `x` by `flow` (softmax splatting, Niklaus & Liu, CVPR 2020).

    Args:
      x: image or features, [N, C, H, W] (layout "NCHW") or [N, H, W, C] (layout "NHWC").
      flow: displacement in pixels, [N, 2, H, W] or [N, H, W, 2]; channel 0 is horizontal.
      metric: importance, [N, 1, H, W] or [N, H, W, 1]; required by "linear" and "soft", refused by
        "sum" and "avg".
      mode: "sum", "avg", "linear" or "soft".
      layout: "NCHW" (the reference's) or "NHWC" (Flax's); neither is transposed internally.
      normalize: "addeps" (norm + 1e-7, the reference's default), "zeroeps" (0 -> 1) or "clipeps"
        (max(norm, 1e-7)).
      stable: "soft" only. Subtracts, per target pixel, the largest metric landing there before the
        exp, so any finite metric works (the reference needs it clipped to [-20, 20] to avoid
        overflow). Equal to the plain softmax up to rounding, except that the 1e-7 of the
        normalisation is then relative to the largest weight rather than to exp(0).

    Returns:
      An array of the shape and dtype of x. float16/bfloat16 inputs are computed and accumulated in
      float32 (when x, flow and metric share one half dtype, the kernels read them without a float32
      copy) and rounded once at the end; float64 stays float64. Differentiable w.r.t. x, flow and metric;
      works under jit, vmap and grad. On a platform without a jax_softsplat kernel (anything but CPU
      and CUDA with its module registered) it runs `jax_softsplat.reference` and warns once.
    """
    x, flow, metric, out_dtype = modes.prepare(x, flow, metric, mode, layout, normalize, stable, keep_half=True)
    stable = bool(stable)

    def kernel_path(x, flow, metric):
        if metric is None:
            metric = _no_metric(x, layout)
        return _splat(x, flow, metric, mode, normalize, stable, layout == "NHWC")

    def jnp_path(x, flow, metric):
        return reference.softsplat(x, flow, metric, mode, layout=layout, normalize=normalize, stable=stable)

    out = _per_platform(kernel_path, jnp_path, x, flow, metric)
    return out.astype(out_dtype)


def softsplat_composed(x, flow, metric=None, mode="soft", *, layout="NCHW", normalize="addeps") -> jax.Array:
    """The same operator composed as docs/operator.md defines it (splat concat([x * w, w]), then divide) on
    the kernel's summation splat: the unfused baseline of the benchmark and a cross-check in tests."""
    x, flow, metric, out_dtype = modes.prepare(x, flow, metric, mode, layout, normalize)
    out = modes.compose(splat_sum, x, flow, metric, mode, layout=layout, normalize=normalize)
    return out.astype(out_dtype)
