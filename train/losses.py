"""Colour losses and image metrics in jnp, for NHWC float images in [0, 1]."""

import jax
import jax.numpy as jnp
import numpy as np

# The 5-tap binomial filter (1 4 6 4 1) / 16 of Burt & Adelson's Laplacian pyramid, applied separably.
_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur(image: jax.Array) -> jax.Array:
    """Separable binomial blur of NHWC images, reflecting at the borders, channel by channel."""
    channels = image.shape[-1]
    kernel = jnp.asarray(np.outer(_BINOMIAL, _BINOMIAL), image.dtype)[:, :, None, None]
    kernel = jnp.tile(kernel, (1, 1, 1, channels))
    padded = jnp.pad(image, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    return jax.lax.conv_general_dilated(
        padded, kernel, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=channels
    )


def laplacian_pyramid(image: jax.Array, levels: int) -> list[jax.Array]:
    """Band-pass levels (finest first) and the low-pass residual last: `levels` arrays in all."""
    pyramid = []
    current = image
    for _ in range(levels - 1):
        low = _blur(current)
        pyramid.append(current - low)
        current = low[:, ::2, ::2]
    pyramid.append(current)
    return pyramid


def laplacian_l1(prediction: jax.Array, target: jax.Array, levels: int = 5) -> jax.Array:
    """Laplacian-pyramid L1 (Niklaus & Liu 2018, used for the `l1` model): sum over levels l = 0.. of
    2^l * mean |L_l(prediction) - L_l(target)|, so coarse structure is weighted as much as fine detail."""
    max_levels = int(np.floor(np.log2(min(prediction.shape[1:3])))) - 1
    levels = max(1, min(levels, max_levels))
    pairs = zip(laplacian_pyramid(prediction, levels), laplacian_pyramid(target, levels))
    return sum((2.0**level) * jnp.mean(jnp.abs(a - b)) for level, (a, b) in enumerate(pairs))


def l1(prediction: jax.Array, target: jax.Array) -> jax.Array:
    return jnp.mean(jnp.abs(prediction - target))


def colour_loss(kind: str, levels: int = 5):
    """The loss a config names, as `loss(prediction, target) -> scalar`."""
    if kind == "l1":
        return l1
    if kind == "laplacian":
        return lambda prediction, target: laplacian_l1(prediction, target, levels)
    raise ValueError(f"unknown loss {kind!r}: expected 'laplacian' or 'l1'")


def psnr(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """Mean over the batch of the PSNR (dB) of the prediction clipped to [0, 1]."""
    error = jnp.mean((jnp.clip(prediction, 0.0, 1.0) - target) ** 2, axis=(1, 2, 3))
    return jnp.mean(-10.0 * jnp.log10(jnp.maximum(error, 1e-10)))
