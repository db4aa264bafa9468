"""Running a local (convolutional) part of the network over overlapping windows of a large frame.

Each window carries a halo of at least the receptive field of the part it runs, and only its centre
(the tile) is kept, so the result equals the untiled computation up to float rounding. Windows at the
image border end exactly at the border, where every layer's zero padding then falls where the
untiled network has it. Window starts are multiples of `align` (the coarsest scale inside the part),
so strided convolutions and x2 resizes sample the same pixels as on the whole frame.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@dataclasses.dataclass(frozen=True)
class Axis:
    """How one image axis of `size` full-resolution pixels is cut: windows of `window` pixels at
    `starts`, each keeping `tile` pixels from `valid` (the last tile is moved back to end at the
    border, overlapping its neighbour). One window covering the whole axis when it fits."""

    size: int
    window: int
    tile: int
    starts: tuple[int, ...]
    valid: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.starts)

    def window_at(self, scale: int) -> int:
        return _ceil(self.window, scale)

    def tile_at(self, scale: int) -> int:
        return _ceil(self.size, scale) if self.count == 1 else self.tile // scale

    def valid_at(self, scale: int) -> np.ndarray:
        """Where each tile goes in the output at `scale` (clamped so the last one ends at the border)."""
        limit = _ceil(self.size, scale) - self.tile_at(scale)
        return np.minimum(np.asarray(self.valid) // scale, limit).astype(np.int32)


def plan_axis(size: int, tile: int, halo: int, align: int) -> Axis:
    """Cuts an axis into equal tiles of at most about `tile` pixels (a multiple of `align`) with windows
    reaching at least `halo` pixels beyond each tile, or leaves it whole when one window would cover it."""
    # Equal tiles rather than full ones and a sliver: no more windows than needed, less overlap.
    tile = _ceil(_ceil(size, _ceil(size, max(tile, 1))), align) * align
    # align - 1 more: aligning a window's start down must not eat into the halo on its far side.
    window = tile + 2 * halo + align - 1
    window += (size - window) % align  # so that a window ending at the border starts aligned
    if window >= size:
        return Axis(size, size, size, (0,), (0,))
    valid = tuple(i * tile for i in range(_ceil(size, tile)))
    starts = tuple(min(max((v - halo) // align * align, 0), size - window) for v in valid)
    return Axis(size, window, tile, starts, valid)


def map_tiles(fn, inputs, scales, out_scales, rows: Axis, cols: Axis):
    """`fn(*windows) -> tuple of outputs`, run window by window and assembled.

    inputs[k] is [N, ceil(H / scales[k]), ceil(W / scales[k]), C]; output k of fn is at scale
    out_scales[k] (in [N, h, w, C] windows). One window covering the frame calls fn once, unchanged.
    Windows run one after the other inside an XLA loop, so only one window's intermediates are alive.
    """
    if rows.count == 1 and cols.count == 1:
        return tuple(fn(*inputs))
    n = inputs[0].shape[0]

    zero = jnp.int32(0)  # every index one type, also with jax_enable_x64

    def window(x, scale, top, left):
        return jax.lax.dynamic_slice(
            x, (zero, top // scale, left // scale, zero), (n, rows.window_at(scale), cols.window_at(scale), x.shape[-1])
        )

    specs = [
        jax.ShapeDtypeStruct((n, rows.window_at(s), cols.window_at(s), x.shape[-1]), x.dtype)
        for x, s in zip(inputs, scales)
    ]
    out_specs = jax.eval_shape(fn, *specs)
    outs = tuple(
        jnp.zeros((n, _ceil(rows.size, s), _ceil(cols.size, s), o.shape[-1]), o.dtype)
        for o, s in zip(out_specs, out_scales)
    )
    row_starts, col_starts = jnp.asarray(rows.starts, jnp.int32), jnp.asarray(cols.starts, jnp.int32)
    row_valid = {s: jnp.asarray(rows.valid_at(s)) for s in set(out_scales)}
    col_valid = {s: jnp.asarray(cols.valid_at(s)) for s in set(out_scales)}

    def body(k, outs):
        i, j = k // cols.count, k % cols.count
        top, left = row_starts[i], col_starts[j]
        results = fn(*(window(x, s, top, left) for x, s in zip(inputs, scales)))
        updated = []
        for out, result, s in zip(outs, results, out_scales):
            y, x = row_valid[s][i], col_valid[s][j]
            piece = jax.lax.dynamic_slice(
                result, (zero, y - top // s, x - left // s, zero), (n, rows.tile_at(s), cols.tile_at(s), out.shape[-1])
            )
            updated.append(jax.lax.dynamic_update_slice(out, piece, (zero, y, x, zero)))
        return tuple(updated)

    return jax.lax.fori_loop(0, rows.count * cols.count, body, outs)
