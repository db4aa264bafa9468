"""The cost volume of the flow network: 81 channels of feature correlation."""

import jax
import jax.numpy as jnp

MAX_DISPLACEMENT = 4
CHANNELS = (2 * MAX_DISPLACEMENT + 1) ** 2  # 81

# Width of the row tiles that become small matrix products (see `correlation`); 16 was the fastest
# of 4..64 on the level sizes of a 640x480 frame (XLA CPU, benchmarks/network_speed.py).
TILE = 16


def correlation(one: jax.Array, two: jax.Array) -> jax.Array:
    """[N, H, W, C] x2 -> [N, H, W, 81]: out[..., (dy + 4) * 9 + (dx + 4)] is the mean over channels
    of one(y, x) * two(y + dy, x + dx), zero where (y + dy, x + dx) falls outside the image.

    81 shifted products reduced over C are slow on XLA CPU (each is a short reduction along the minor
    axis). Instead each row is cut into tiles of TILE pixels, and for every vertical shift dy a tile
    of `one` [TILE, C] is multiplied by the matching window of `two` [TILE + 8, C] (a batched matrix
    product, which XLA runs fast); the 9 horizontal shifts are the 9 diagonals of that product. This
    does (TILE + 8) / 9 times the necessary arithmetic and is still several times quicker.
    """
    if one.shape != two.shape or one.ndim != 4:
        raise ValueError(f"correlation: one and two must both be [N, H, W, C], got {one.shape} and {two.shape}")
    n, h, w, c = one.shape
    d, k = MAX_DISPLACEMENT, 2 * MAX_DISPLACEMENT + 1
    tile = min(w, TILE)
    tiles = -(-w // tile)
    wide = tiles * tile
    one = jnp.pad(one, ((0, 0), (0, 0), (0, wide - w), (0, 0))).reshape(n, h, tiles, tile, c)
    two = jnp.pad(two, ((0, 0), (d, d), (d, d + wide - w), (0, 0)))  # zeros outside
    # windows[:, y, i] = two's columns i * tile - d .. (i + 1) * tile + d - 1 of padded row y.
    windows = jnp.stack([two[:, :, i * tile : (i + 1) * tile + 2 * d] for i in range(tiles)], axis=2)
    rows = []
    for dy in range(k):
        products = jnp.einsum("nhitc,nhisc->nhits", one, windows[:, dy : dy + h])  # [.., tile, tile + 8]
        # products[.., t, t + dx] for dx = 0..8: flattened, row t starts at t * (tile + 8), so with
        # a stride of tile + 9 the diagonals line up as the first 9 columns.
        flat = products.reshape(n, h, tiles, tile * (tile + 2 * d))
        flat = jnp.pad(flat, ((0, 0), (0, 0), (0, 0), (0, tile)))
        band = flat.reshape(n, h, tiles, tile, tile + 2 * d + 1)[..., :k]
        rows.append(band.reshape(n, h, wide, k)[:, :, :w])
    return jnp.stack(rows, axis=3).reshape(n, h, w, k * k) / c
