"""The flow network: a small PWC-Net that estimates both directions with shared decoders."""

import jax
import jax.numpy as jnp
from flax import nnx

from jax_softsplat import backwarp

from .config import NetworkConfig
from .correlation import CHANNELS as CORRELATION_CHANNELS
from .correlation import correlation
from .layers import conv3x3, resize_flow


def _leaky(x: jax.Array) -> jax.Array:
    return jax.nn.leaky_relu(x, 0.1)


class ExtractorLevel(nnx.Module):
    """conv stride 2 + LeakyReLU(0.1), conv + LeakyReLU(0.1), with bias."""

    def __init__(self, cin: int, cout: int, *, rngs: nnx.Rngs):
        self.conv_a = conv3x3(cin, cout, stride=2, bias=True, rngs=rngs)
        self.conv_b = conv3x3(cout, cout, bias=True, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return _leaky(self.conv_b(_leaky(self.conv_a(x))))


class Extractor(nnx.Module):
    """Six feature levels at 1/2, 1/4, ..., 1/64 resolution (finest first)."""

    def __init__(self, widths: tuple[int, ...], *, rngs: nnx.Rngs):
        ins = (3,) + tuple(widths[:-1])
        self.levels = nnx.List([ExtractorLevel(cin, cout, rngs=rngs) for cin, cout in zip(ins, widths)])

    def __call__(self, x: jax.Array) -> list[jax.Array]:
        features = []
        for level in self.levels:
            x = level(x)
            features.append(x)
        return features


class Decoder(nnx.Module):
    """The per-level flow decoder: a plain conv chain that outputs the absolute flow at its level."""

    def __init__(self, cin: int, widths: tuple[int, ...], *, rngs: nnx.Rngs):
        chain = (cin,) + tuple(widths) + (2,)
        self.convs = nnx.List([conv3x3(a, b, bias=True, rngs=rngs) for a, b in zip(chain[:-1], chain[1:])])

    def __call__(self, one: jax.Array, two: jax.Array, previous: jax.Array | None) -> jax.Array:
        if previous is None:  # the coarsest level: no estimate to warp with yet
            x = jnp.concatenate([one, correlation(one, two)], axis=-1)
        else:
            _, h, w, _ = one.shape
            up = resize_flow(previous, h, w)
            warped = backwarp(two, up, layout="NHWC")
            x = jnp.concatenate([one, correlation(one, warped), up], axis=-1)
        for conv in self.convs[:-1]:
            x = _leaky(conv(x))
        return self.convs[-1](x)


class FlowNet(nnx.Module):
    def __init__(self, config: NetworkConfig, *, rngs: nnx.Rngs):
        self.extractor = Extractor(config.extractor, rngs=rngs)
        # decoders[0] runs at 1/2 resolution (the official `netFirst`), decoders[5] at 1/64.
        self.decoders = nnx.List(
            [
                Decoder(c + CORRELATION_CHANNELS + (2 if level < 5 else 0), config.decoder, rngs=rngs)
                for level, c in enumerate(config.extractor)
            ]
        )

    def __call__(self, one: jax.Array, two: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Normalised frames [N, H, W, 3] -> (flow one->two, flow two->one), [N, H, W, 2] in pixels."""
        n, h, w, _ = one.shape
        # Both frames through the extractor, and both directions through each decoder, as one batch.
        features = self.extractor(jnp.concatenate([one, two], axis=0))
        flow = None
        for level in reversed(range(len(self.decoders))):
            f = features[level]
            a, b = f, jnp.concatenate([f[n:], f[:n]], axis=0)  # (one, two) and (two, one)
            flow = self.decoders[level](a, b, flow)
        flow = resize_flow(flow, h, w)
        return flow[:n], flow[n:]
