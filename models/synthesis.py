"""The synthesis network: feature pyramid, learned splatting importance, softmax splatting at three
levels, and a GridNet that fuses the warped pyramids into the frame at time t."""

import jax
import jax.numpy as jnp
from flax import nnx

from jax_softsplat import backwarp, softsplat

from .config import NetworkConfig
from .layers import Basic, Downsample, PReLU, Upsample, conv3x3, resize_bilinear, resize_flow


class EncoderLevel(nnx.Module):
    """conv, PReLU, conv, PReLU (bias-free); the first conv has stride 2 below the top level."""

    def __init__(self, cin: int, cout: int, stride: int, *, rngs: nnx.Rngs):
        self.conv_a = conv3x3(cin, cout, stride=stride, rngs=rngs)
        self.act_a = PReLU(cout)
        self.conv_b = conv3x3(cout, cout, rngs=rngs)
        self.act_b = PReLU(cout)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.act_b(self.conv_b(self.act_a(self.conv_a(x))))


class Encoder(nnx.Module):
    """Frame -> [cat(frame, level 1) at full resolution, level 2 at 1/2, level 3 at 1/4]."""

    def __init__(self, widths: tuple[int, ...], *, rngs: nnx.Rngs):
        ins = (3,) + tuple(widths[:-1])
        self.levels = nnx.List(
            [EncoderLevel(cin, cout, 1 if i == 0 else 2, rngs=rngs) for i, (cin, cout) in enumerate(zip(ins, widths))]
        )

    def __call__(self, image: jax.Array) -> list[jax.Array]:
        pyramid, x = [], image
        for level in self.levels:
            x = level(x)
            pyramid.append(x)
        pyramid[0] = jnp.concatenate([image, pyramid[0]], axis=-1)
        return pyramid


class Softmetric(nnx.Module):
    """The learned splatting importance of frame a given its flow to b, from its image and from
    its brightness-constancy error (a small two-column grid of four rows)."""

    def __init__(self, widths: tuple[int, ...], *, rngs: nnx.Rngs):
        quarter = widths[0] // 4
        self.image_conv = conv3x3(3, widths[0] - quarter, rngs=rngs)
        self.error_conv = conv3x3(1, quarter, rngs=rngs)
        self.down = nnx.List([Downsample(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])])
        self.lateral = nnx.List([Basic("relu-conv-relu-conv", c, c, c, rngs=rngs) for c in widths])
        # up[r] brings row r + 1 to row r.
        self.up = nnx.List([Upsample(b, a, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])])
        self.output = Basic("conv-relu-conv", widths[0], widths[0], 1, rngs=rngs)

    @staticmethod
    def error(top_a: jax.Array, top_b: jax.Array, flow_ab: jax.Array) -> jax.Array:
        """The brightness-constancy error [N, H, W, 1] of the top pyramid levels (global: it warps)."""
        return jnp.abs(top_a - backwarp(top_b, flow_ab, layout="NHWC")).mean(axis=-1, keepdims=True)

    def __call__(self, enc_a: list[jax.Array], enc_b: list[jax.Array], flow_ab: jax.Array) -> jax.Array:
        """-> [N, H, W, 1]."""
        return self.from_error(enc_a[0][..., :3], self.error(enc_a[0], enc_b[0], flow_ab))

    def from_error(self, image: jax.Array, error: jax.Array) -> jax.Array:
        """The importance from the image and its error map: local (convolutions only)."""
        rows = [jnp.concatenate([self.image_conv(image), self.error_conv(error)], axis=-1)]
        for down in self.down:
            rows.append(down(rows[-1]))
        rows[-1] = self.lateral[-1](rows[-1])
        for r in reversed(range(len(rows) - 1)):
            rows[r] = self.lateral[r](rows[r]) + self.up[r](rows[r + 1], like=rows[r])
        return self.output(rows[0])


class GridNet(nnx.Module):
    """Three rows x six columns; columns 0-2 pass information down, columns 3-5 up."""

    COLUMNS = 6

    def __init__(self, widths: tuple[int, ...], *, rngs: nnx.Rngs):
        rows = range(len(widths))
        # lateral[r][c] goes from column c to c + 1 in row r; down[c][r] from row r to r + 1 in
        # column c (c = 0, 1, 2); up[c - 3][r] from row r + 1 to row r in column c (c = 3, 4, 5).
        self.lateral = nnx.List(
            [
                nnx.List(
                    [
                        Basic("relu-conv-relu-conv", widths[r], widths[r], widths[r], rngs=rngs)
                        for _ in range(self.COLUMNS - 1)
                    ]
                )
                for r in rows
            ]
        )
        half = self.COLUMNS // 2
        self.down = nnx.List(
            [nnx.List([Downsample(widths[r], widths[r + 1], rngs=rngs) for r in rows[:-1]]) for _ in range(half)]
        )
        self.up = nnx.List(
            [nnx.List([Upsample(widths[r + 1], widths[r], rngs=rngs) for r in rows[:-1]]) for _ in range(half)]
        )
        self.output = Basic("conv-relu-conv", widths[0], widths[0], 3, rngs=rngs)

    def __call__(self, warped: list[jax.Array]) -> jax.Array:
        rows = [warped[0]]
        for r in range(1, len(warped)):
            rows.append(warped[r] + self.down[0][r - 1](rows[r - 1]))
        half = self.COLUMNS // 2
        for c in range(1, half):
            for r in range(len(rows)):
                rows[r] = self.lateral[r][c - 1](rows[r])
                if r > 0:
                    rows[r] = rows[r] + self.down[c][r - 1](rows[r - 1])
        for c in range(half, self.COLUMNS):
            for r in reversed(range(len(rows))):
                rows[r] = self.lateral[r][c - 1](rows[r])
                if r < len(rows) - 1:
                    rows[r] = rows[r] + self.up[c - half][r](rows[r + 1], like=rows[r])
        return self.output(rows[0])


class Synthesis(nnx.Module):
    """Two frames, their flows and a time t -> the frame at t (normalised BGR)."""

    def __init__(self, config: NetworkConfig, *, rngs: nnx.Rngs):
        widths = config.encoder
        self.encoder = Encoder(widths, rngs=rngs)
        self.softmetric = Softmetric(config.softmetric, rngs=rngs)
        # Each level's input: both frames' splatted features and splatted importance (3 more
        # channels at the top level, where the features include the image).
        ins = [2 * (c + 1) + (6 if level == 0 else 0) for level, c in enumerate(widths)]
        self.warp = nnx.List([Basic("conv-relu-conv", cin, c, c, rngs=rngs) for cin, c in zip(ins, widths)])
        self.grid = GridNet(widths, rngs=rngs)

    def features(self, one: jax.Array, two: jax.Array, flows: tuple[jax.Array, jax.Array]):
        """What does not depend on t: each frame's pyramid and raw importance metric.

        Returns (pyramids, metrics): pyramids[l] is [2N, ...] (frame one's N, then frame two's),
        metrics is [2N, H, W, 1] (one's, from its flow to two, then two's).
        """
        pyramids = self.encoder(jnp.concatenate([one, two], axis=0))
        n = one.shape[0]
        swapped = [jnp.concatenate([p[n:], p[:n]], axis=0) for p in pyramids]
        metrics = self.softmetric(pyramids, swapped, jnp.concatenate(flows, axis=0))
        return pyramids, metrics

    def render(self, pyramids, metrics, flows: tuple[jax.Array, jax.Array], t: jax.Array) -> jax.Array:
        """The frame at time t ([N], or a scalar) from the output of `features`."""
        n = flows[0].shape[0]
        t = jnp.broadcast_to(jnp.asarray(t, flows[0].dtype), (n,)).reshape(n, 1, 1, 1)
        # Frame one moves forward by t, frame two backward by 1 - t; importance scales alike.
        scale = jnp.concatenate([t, 1 - t], axis=0)
        metric = metrics * 2 * scale
        flow = jnp.concatenate(flows, axis=0) * scale
        warped = []
        for level, (pyramid, block) in enumerate(zip(pyramids, self.warp)):
            _, h, w, _ = pyramid.shape
            if level > 0:
                metric = resize_bilinear(metric, h, w)
                flow = resize_flow(flow, h, w)
            splat = softsplat(
                jnp.concatenate([pyramid, metric], axis=-1),
                flow,
                jnp.clip(-metric, -20.0, 20.0),
                mode="soft",
                layout="NHWC",
            )
            warped.append(block(jnp.concatenate([splat[:n], splat[n:]], axis=-1)))
        return self.grid(warped)

    def __call__(self, one, two, flows, t):
        pyramids, metrics = self.features(one, two, flows)
        return self.render(pyramids, metrics, flows, t)
