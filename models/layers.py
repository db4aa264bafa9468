"""Building blocks shared by the flow and synthesis networks (NHWC, float32)."""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def conv3x3(cin: int, cout: int, *, rngs: nnx.Rngs, stride: int = 1, bias: bool = False) -> nnx.Conv:
    """A 3x3 convolution padded by 1 (PyTorch's `Conv2d(cin, cout, 3, stride, 1)`)."""
    return nnx.Conv(
        cin,
        cout,
        kernel_size=(3, 3),
        strides=(stride, stride),
        padding=((1, 1), (1, 1)),
        use_bias=bias,
        rngs=rngs,
    )


class PReLU(nnx.Module):
    """Per-channel parametric ReLU, slopes initialised to 0.25 (PyTorch's `PReLU(channels, 0.25)`)."""

    def __init__(self, channels: int):
        self.weight = nnx.Param(jnp.full((channels,), 0.25, jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.where(x >= 0, x, self.weight[...] * x)


def _resize_axis(x: jax.Array, axis: int, size: int) -> jax.Array:
    """Bilinear resampling of one axis to `size`, with PyTorch's align_corners=False convention:
    source = (target + 0.5) * in / out - 0.5, clamped at 0, the upper neighbour clamped at in - 1,
    and no antialiasing when shrinking."""
    n = x.shape[axis]
    if size == n:
        return x
    if size == 2 * n:  # exact x2: every output mixes two neighbours with weights 3/4 and 1/4
        edged = jnp.concatenate(
            [jax.lax.slice_in_dim(x, 0, 1, axis=axis), x, jax.lax.slice_in_dim(x, n - 1, n, axis=axis)], axis
        )
        before = jax.lax.slice_in_dim(edged, 0, n, axis=axis)
        after = jax.lax.slice_in_dim(edged, 2, n + 2, axis=axis)
        even, odd = 0.75 * x + 0.25 * before, 0.75 * x + 0.25 * after
        stacked = jnp.stack([even, odd], axis=axis + 1)
        return stacked.reshape(x.shape[:axis] + (size,) + x.shape[axis + 1 :])
    if 2 * size == n:  # exact /2: each output is the mean of a pair
        pairs = x.reshape(x.shape[:axis] + (size, 2) + x.shape[axis + 1 :])
        return pairs.mean(axis=axis + 1)
    source = np.maximum((np.arange(size) + 0.5) * (n / size) - 0.5, 0.0)
    lower = np.floor(source).astype(np.int32)
    upper = np.minimum(lower + 1, n - 1)
    shape = [1] * x.ndim
    shape[axis] = size
    frac = jnp.asarray((source - lower).reshape(shape), x.dtype)
    return jnp.take(x, lower, axis=axis) * (1 - frac) + jnp.take(x, upper, axis=axis) * frac


def resize_bilinear(x: jax.Array, height: int, width: int) -> jax.Array:
    """[N, H, W, C] -> [N, height, width, C] like `F.interpolate(mode='bilinear', align_corners=False)`.

    (`jax.image.resize` would antialias when shrinking and builds dense weight matrices, which cost
    as much as a convolution at full resolution.)
    """
    return _resize_axis(_resize_axis(x, 1, height), 2, width)


def resize_flow(flow: jax.Array, height: int, width: int) -> jax.Array:
    """Resizes a flow field [N, H, W, 2] and rescales both components by the width ratio, as the
    reference does."""
    return resize_bilinear(flow, height, width) * (width / flow.shape[2])


class Basic(nnx.Module):
    """A residual block: "relu-conv-relu-conv" (PReLU, conv, PReLU, conv) or "conv-relu-conv"; the
    skip is the identity when the widths agree, else a bias-free 1x1 convolution."""

    def __init__(self, kind: str, cin: int, mid: int, cout: int, *, rngs: nnx.Rngs):
        if kind not in ("relu-conv-relu-conv", "conv-relu-conv"):
            raise ValueError(f"Basic: unknown kind {kind!r}")
        self.kind = kind
        self.pre = PReLU(cin) if kind == "relu-conv-relu-conv" else None
        self.conv_a = conv3x3(cin, mid, rngs=rngs)
        self.act = PReLU(mid)
        self.conv_b = conv3x3(mid, cout, rngs=rngs)
        self.shortcut = (
            None if cin == cout else nnx.Conv(cin, cout, kernel_size=(1, 1), padding="VALID", use_bias=False, rngs=rngs)
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.pre(x) if self.pre is not None else x
        y = self.conv_b(self.act(self.conv_a(y)))
        return y + (x if self.shortcut is None else self.shortcut(x))


class Downsample(nnx.Module):
    """PReLU, conv stride 2, PReLU, conv: to the next coarser row of a grid."""

    def __init__(self, cin: int, cout: int, *, rngs: nnx.Rngs):
        self.pre = PReLU(cin)
        self.conv_a = conv3x3(cin, cout, stride=2, rngs=rngs)
        self.act = PReLU(cout)
        self.conv_b = conv3x3(cout, cout, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.conv_b(self.act(self.conv_a(self.pre(x))))


class Upsample(nnx.Module):
    """Bilinear x2, PReLU, conv, PReLU, conv: to the next finer row of a grid, cropped to `like`
    (the finer row can be one pixel smaller than twice the coarser one)."""

    def __init__(self, cin: int, cout: int, *, rngs: nnx.Rngs):
        self.pre = PReLU(cin)
        self.conv_a = conv3x3(cin, cout, rngs=rngs)
        self.act = PReLU(cout)
        self.conv_b = conv3x3(cout, cout, rngs=rngs)

    def __call__(self, x: jax.Array, like: jax.Array) -> jax.Array:
        _, h, w, _ = x.shape
        y = self.conv_b(self.act(self.conv_a(self.pre(resize_bilinear(x, 2 * h, 2 * w)))))
        return y[:, : like.shape[1], : like.shape[2], :]
