"""The network's inference in pieces that fit a memory budget at 4K: the local parts (the synthesis
encoder, the softmetric grid, the warp blocks and the GridNet) run over overlapping windows; the
global parts, where pixels move anywhere, run on the whole frame: the flow network (at half
resolution and below, untouched), the error map's backward warp (a few channels at a time) and the
softmax splatting (one frame at a time). The result equals `Synthesis.features` +
`Synthesis.render` up to float rounding.

What is kept between times: the flows, the importance metrics, the normalised frames and the two
coarser pyramid levels; the full-resolution level (35 channels of both frames, 2.3 GB at 4K) is
recomputed for each time, which costs two convolutions per pixel and frame.
"""

import dataclasses

import jax
import jax.numpy as jnp

from jax_softsplat import softsplat

from .layers import resize_bilinear, resize_flow
from .synthesis import Softmetric
from .tiling import Axis, map_tiles, plan_axis

# Halos: receptive-field radii in full-resolution pixels, as the gradient of one output pixel shows
# them (tests/test_network_tiling.py checks each), plus the coarsest scale - 1 for the output pixel's
# phase; and the coarsest scale inside each part, which window starts must be multiples of.
ENCODER_HALO, ENCODER_ALIGN = 16, 4  # 11 + 3 at the 1/4 level
TOP_ENCODER_HALO = 2  # the full-resolution level alone: two 3x3 convolutions
SOFTMETRIC_HALO, SOFTMETRIC_ALIGN = 72, 8  # 62 + 7
WARP_HALO = 2  # conv-relu-conv, in pixels of its own level
GRID_HALO, GRID_ALIGN = 68, 4  # 61 + 3


@dataclasses.dataclass(frozen=True)
class Tiling:
    """Square tiles of `tile` full-resolution pixels (the kept centre of each window)."""

    tile: int = 1024

    def __post_init__(self):
        if not (isinstance(self.tile, int) and self.tile >= 64):
            raise ValueError(f"Tiling.tile must be an int >= 64 (pixels), got {self.tile!r}")

    def plan(self, height: int, width: int, halo: int, align: int, level: int = 0) -> tuple[Axis, Axis]:
        tile = self.tile >> level
        return plan_axis(height, tile, halo, align), plan_axis(width, tile, halo, align)


def map_tiled(fn, inputs, scales, out_scales, height, width, tiling: Tiling, halo, align, level=0):
    rows, cols = tiling.plan(height, width, halo, align, level)
    return map_tiles(fn, inputs, scales, out_scales, rows, cols)


def encode(synthesis, frames: jax.Array, tiling: Tiling):
    """The synthesis encoder's three levels of frames [M, H, W, 3], window by window."""
    _, h, w, _ = frames.shape
    return map_tiled(
        lambda x: tuple(synthesis.encoder(x)), [frames], (1,), (1, 2, 4), h, w, tiling, ENCODER_HALO, ENCODER_ALIGN
    )


def error_map(top: jax.Array, flows: tuple[jax.Array, jax.Array], group: int = 8) -> jax.Array:
    """`Softmetric.error` of both frames, [2N, H, W, 1], a few channels at a time: the backward warp
    of all 35 channels of both frames at once held several full-resolution copies (9 GB at 4K).
    The sum over channels is taken group by group, which rounds a little differently."""
    n, channels = flows[0].shape[0], top.shape[-1]
    group = max(d for d in range(1, group + 1) if channels % d == 0)
    _, h, w, _ = top.shape
    zero = jnp.int32(0)
    errors = []
    for k in (0, 1):
        # Sliced straight from `top`: a frame's slice taken outside the loop was a copy of it.
        def add(i, total, k=k):
            a, b = (
                jax.lax.dynamic_slice(top, (jnp.int32(m * n), zero, zero, jnp.int32(i) * group), (n, h, w, group))
                for m in (k, 1 - k)
            )
            return total + Softmetric.error(a, b, flows[k]) * group

        total = jnp.zeros((n, *top.shape[1:3], 1), top.dtype)
        errors.append(jax.lax.fori_loop(0, channels // group, add, total) / channels)
    return jnp.concatenate(errors, axis=0)


def metrics(synthesis, top: jax.Array, flows: tuple[jax.Array, jax.Array], tiling: Tiling):
    """`Synthesis.features`' importance metrics [2N, H, W, 1] from the full-resolution pyramid level
    [2N, H, W, 35] (one's, then two's) that `encode` gives."""
    error = error_map(top, flows)
    _, h, w, _ = top.shape
    (out,) = map_tiled(
        lambda image, err: (synthesis.softmetric.from_error(image, err),),
        [top[..., :3], error],
        (1, 1),
        (1,),
        h,
        w,
        tiling,
        SOFTMETRIC_HALO,
        SOFTMETRIC_ALIGN,
    )
    return out


def splat_level(synthesis, level: int, source, metric, flow, scale, tiling: Tiling):
    """One frame's splatted features at one level, as `Synthesis.render` makes them.

    source: the frame [1, H, W, 3] at level 0 (its encoding is recomputed), else that level of the
    pyramid. metric [1, H, W, 1] and flow [1, H, W, 2] at full resolution; scale is t for frame one
    and 1 - t for frame two, [1, 1, 1, 1].
    """
    metric, flow = metric * 2 * scale, flow * scale
    # The render resizes level by level; the same steps give the same values.
    sizes = [(metric.shape[1], metric.shape[2])]
    for _ in range(level):
        h, w = sizes[-1]
        sizes.append((-(-h // 2), -(-w // 2)))
    for h, w in sizes[1:]:
        metric, flow = resize_bilinear(metric, h, w), resize_flow(flow, h, w)
    if level == 0:
        _, h, w, _ = source.shape
        top = synthesis.encoder.levels[0]
        (source,) = map_tiled(
            lambda x, m: (jnp.concatenate([x, top(x), m], axis=-1),),
            [source, metric],
            (1, 1),
            (1,),
            h,
            w,
            tiling,
            TOP_ENCODER_HALO,
            1,
        )
    else:
        source = jnp.concatenate([source, metric], axis=-1)
    return softsplat(source, flow, jnp.clip(-metric, -20.0, 20.0), mode="soft", layout="NHWC")


def warp_block(synthesis, level: int, splat_one, splat_two, tiling: Tiling):
    """The conv-relu-conv block that merges both frames' splatted features at one level."""
    _, h, w, _ = splat_one.shape
    block = synthesis.warp[level]
    (out,) = map_tiled(
        lambda a, b: (block(jnp.concatenate([a, b], axis=-1)),),
        [splat_one, splat_two],
        (1, 1),
        (1,),
        h,
        w,
        tiling,
        WARP_HALO,
        1,
        level,
    )
    return out


def grid(synthesis, warped, tiling: Tiling):
    """The GridNet on the three merged levels, window by window -> [N, H, W, 3]."""
    _, h, w, _ = warped[0].shape
    (out,) = map_tiled(
        lambda *levels: (synthesis.grid(list(levels)),),
        list(warped),
        (1, 2, 4),
        (1,),
        h,
        w,
        tiling,
        GRID_HALO,
        GRID_ALIGN,
    )
    return out
