"""A pure-`jnp` softmax splatting: the test oracle, and a fallback that needs no compiled extension.

Same signature and semantics as `jax_softsplat.softsplat`; the summation splat is a scatter-add whose
gradients come from JAX's autodiff with the floor held constant, as the spec prescribes.
"""

import math

import jax
import jax.numpy as jnp

from jax_softsplat import modes


def _splat_one(x: jax.Array, flow: jax.Array) -> jax.Array:
    """Summation splat of one image: x [H, W, C], flow [H, W, 2] -> [H, W, C]."""
    h, w, c = x.shape
    dtype = x.dtype
    tx = jnp.arange(w, dtype=dtype)[None, :] + flow[..., 0]
    ty = jnp.arange(h, dtype=dtype)[:, None] + flow[..., 1]
    # Same test as the kernel: NaN fails every comparison, and huge flows are out before any int cast.
    valid = (tx >= -1) & (tx < w) & (ty >= -1) & (ty < h)
    # Replacing invalid targets keeps NaN and inf out of the gradients of every other pixel.
    tx = jnp.where(valid, tx, 0)
    ty = jnp.where(valid, ty, 0)
    fx = jax.lax.stop_gradient(jnp.floor(tx))
    fy = jax.lax.stop_gradient(jnp.floor(ty))
    ax, ay = tx - fx, ty - fy
    x0, y0 = fx.astype(jnp.int32), fy.astype(jnp.int32)
    out = jnp.zeros((h * w + 1, c), dtype)  # the last row collects dropped corners
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        weight = (ax if dx else 1 - ax) * (ay if dy else 1 - ay)
        cx, cy = x0 + dx, y0 + dy
        inside = valid & (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
        index = jnp.where(inside, cy * w + cx, h * w)
        out = out.at[index.reshape(h * w)].add((weight[..., None] * x).reshape(h * w, c))
    return out[: h * w].reshape(h, w, c)


def splat_sum(x: jax.Array, flow: jax.Array, channels_last: bool) -> jax.Array:
    """Summation splatting with any leading batch dimensions, in either layout."""
    if not channels_last:
        x, flow = jnp.moveaxis(x, -3, -1), jnp.moveaxis(flow, -3, -1)
    batch = x.shape[:-3]
    flat = math.prod(batch)
    out = jax.vmap(_splat_one)(x.reshape((flat,) + x.shape[-3:]), flow.reshape((flat,) + flow.shape[-3:]))
    out = out.reshape(batch + out.shape[1:])
    return out if channels_last else jnp.moveaxis(out, -1, -3)


def softsplat(x, flow, metric=None, mode="soft", *, layout="NCHW", normalize="addeps") -> jax.Array:
    """Pure-`jnp` twin of `jax_softsplat.softsplat` (see there for the arguments)."""
    return modes.splat_modes(
        splat_sum, x, flow, metric, mode, layout=layout, normalize=normalize
    )
