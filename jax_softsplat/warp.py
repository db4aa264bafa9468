"""Backward warping (`backwarp`): bilinear sampling of an image at positions moved by a flow."""

import jax
import jax.numpy as jnp


def _backwarp_one(image: jax.Array, flow: jax.Array) -> jax.Array:
    """image [H, W, C], flow [H, W, 2] -> [H, W, C]."""
    h, w, c = image.shape
    sx = jnp.arange(w, dtype=flow.dtype)[None, :] + flow[..., 0]
    sy = jnp.arange(h, dtype=flow.dtype)[:, None] + flow[..., 1]
    finite = jnp.isfinite(sx) & jnp.isfinite(sy)
    sx, sy = jnp.where(finite, sx, -2), jnp.where(finite, sy, -2)  # -2: every corner outside
    fx = jax.lax.stop_gradient(jnp.floor(sx))
    fy = jax.lax.stop_gradient(jnp.floor(sy))
    ax, ay = sx - fx, sy - fy
    flat = image.reshape(h * w, c)
    out = jnp.zeros((h, w, c), jnp.result_type(image, flow))
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        cx, cy = fx + dx, fy + dy
        inside = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
        index = jnp.where(inside, cy * w + cx, 0).astype(jnp.int32)
        weight = (ax if dx else 1 - ax) * (ay if dy else 1 - ay)
        out = out + jnp.where(inside, weight, 0)[..., None] * flat[index]
    return out


def backwarp(image, flow, *, layout: str = "NCHW") -> jax.Array:
    """Samples `image` at (x + u, y + v) bilinearly, zero outside the image.

    The pixel convention is that of `grid_sample(align_corners=True)`: pixel centres sit at integer
    coordinates, so an integer flow returns exact pixels. Shapes as for `softsplat`: image [N, C, H, W]
    and flow [N, 2, H, W] (or channels last with layout="NHWC"). Non-finite flow samples zero.
    """
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"backwarp: layout must be 'NCHW' or 'NHWC', got {layout!r}")
    image, flow = jnp.asarray(image), jnp.asarray(flow)
    given = f"image {image.shape} and flow {flow.shape}"
    if image.ndim != 4 or flow.ndim != 4:
        raise ValueError(f"backwarp: image and flow must be 4-D ({layout}), got {given}")
    if layout == "NCHW":
        image, flow = jnp.moveaxis(image, 1, -1), jnp.moveaxis(flow, 1, -1)
    if flow.shape[-1] != 2 or flow.shape[:3] != image.shape[:3]:
        expected = "[N, 2, H, W]" if layout == "NCHW" else "[N, H, W, 2]"
        raise ValueError(f"backwarp: flow must have shape {expected} with the N, H, W of image ({layout}), got {given}")
    out = jax.vmap(_backwarp_one)(image, flow)
    return jnp.moveaxis(out, -1, 1) if layout == "NCHW" else out
