"""A pure-`jnp` softmax splatting: the test oracle, and a fallback that needs no compiled extension.

Same signature and semantics as `jax_softsplat.softsplat`; the summation splat is a scatter-add whose
gradients come from JAX's autodiff with the floor held constant, as docs/operator.md defines them.
"""

import math

import jax
import jax.numpy as jnp

from jax_softsplat import modes


def _corners(flow: jax.Array):
    """Where the pixels of one image land: for each of the four corners, the flat target index
    (h * w for a corner outside the image, a row that is dropped afterwards) and the bilinear weight."""
    h, w, _ = flow.shape
    dtype = flow.dtype
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
    corners = []
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        weight = (ax if dx else 1 - ax) * (ay if dy else 1 - ay)
        cx, cy = x0 + dx, y0 + dy
        inside = valid & (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
        corners.append((jnp.where(inside, cy * w + cx, h * w).reshape(-1), weight.reshape(-1)))
    return corners


def _splat_one(x: jax.Array, flow: jax.Array) -> jax.Array:
    """Summation splat of one image: x [H, W, C], flow [H, W, 2] -> [H, W, C]."""
    h, w, c = x.shape
    out = jnp.zeros((h * w + 1, c), x.dtype)
    for index, weight in _corners(flow):
        out = out.at[index].add(weight[:, None] * x.reshape(h * w, c))
    return out[: h * w].reshape(h, w, c)


def _stable_soft_one(x: jax.Array, flow: jax.Array, metric: jax.Array, normalize: str) -> jax.Array:
    """Softmax splat of one image with the per-target maximum metric subtracted before the exp."""
    h, w, c = x.shape
    z = metric.reshape(h * w)
    corners = _corners(flow)
    # Only corners with positive weight take part in the maximum; the maximum is held constant for
    # the gradient (the softmax does not depend on it).
    top = jnp.full((h * w + 1,), -jnp.inf, x.dtype)
    for index, weight in corners:
        top = top.at[index].max(jnp.where(weight > 0, z, -jnp.inf))
    top = jax.lax.stop_gradient(top)
    num = jnp.zeros((h * w + 1, c), x.dtype)
    den = jnp.zeros((h * w + 1,), x.dtype)
    for index, weight in corners:
        # exp(-inf) = 0 with a zero derivative: corners of zero weight stay out of the values and
        # the gradients even where z - top would overflow.
        s = weight * jnp.exp(jnp.where(weight > 0, z - top[index], -jnp.inf))
        num = num.at[index].add(s[:, None] * x.reshape(h * w, c))
        den = den.at[index].add(s)
    out = num[: h * w] / modes.normalize_by(den[: h * w], normalize)[:, None]
    return out.reshape(h, w, c)


def _per_image(fn, channels_last: bool, *arrays):
    """Applies fn to each image of arrays with any leading batch dimensions, in either layout."""
    if not channels_last:
        arrays = [jnp.moveaxis(a, -3, -1) for a in arrays]
    batch = arrays[0].shape[:-3]
    flat = math.prod(batch)
    out = jax.vmap(fn)(*(a.reshape((flat,) + a.shape[-3:]) for a in arrays))
    out = out.reshape(batch + out.shape[1:])
    return out if channels_last else jnp.moveaxis(out, -1, -3)


def splat_sum(x: jax.Array, flow: jax.Array, channels_last: bool) -> jax.Array:
    """Summation splatting with any leading batch dimensions, in either layout."""
    return _per_image(_splat_one, channels_last, x, flow)


def softsplat(x, flow, metric=None, mode="soft", *, layout="NCHW", normalize="addeps", stable=False) -> jax.Array:
    """Pure-`jnp` twin of `jax_softsplat.softsplat` (see there for the arguments)."""
    x, flow, metric, out_dtype = modes.prepare(x, flow, metric, mode, layout, normalize, stable)
    if stable:
        one = lambda x, flow, metric: _stable_soft_one(x, flow, metric, normalize)  # noqa: E731
        out = _per_image(one, layout == "NHWC", x, flow, metric)
    else:
        out = modes.compose(splat_sum, x, flow, metric, mode, layout=layout, normalize=normalize)
    return out.astype(out_dtype)
