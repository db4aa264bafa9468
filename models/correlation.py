"""The cost volume of the flow network: 81 channels of feature correlation."""

import jax
import jax.numpy as jnp

MAX_DISPLACEMENT = 4
CHANNELS = (2 * MAX_DISPLACEMENT + 1) ** 2  # 81


def correlation(one: jax.Array, two: jax.Array) -> jax.Array:
    """[N, H, W, C] x2 -> [N, H, W, 81]: out[..., (dy + 4) * 9 + (dx + 4)] is the mean over channels
    of one(y, x) * two(y + dy, x + dx), zero where (y + dy, x + dx) falls outside the image.

    Computed as 81 shifted products of the zero-padded second map: the shifts are static slices, so
    XLA fuses each product with its channel reduction and never holds an [.., 81, C] intermediate.
    """
    if one.shape != two.shape or one.ndim != 4:
        raise ValueError(f"correlation: one and two must both be [N, H, W, C], got {one.shape} and {two.shape}")
    _, h, w, c = one.shape
    d = MAX_DISPLACEMENT
    padded = jnp.pad(two, ((0, 0), (d, d), (d, d), (0, 0)))
    volume = [
        (one * padded[:, dy : dy + h, dx : dx + w, :]).sum(axis=-1)
        for dy in range(2 * d + 1)
        for dx in range(2 * d + 1)
    ]
    return jnp.stack(volume, axis=-1) / c
