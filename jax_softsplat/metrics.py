"""Image quality as the interpolation benchmarks measure it: scikit-image PSNR and SSIM on uint8 images."""

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from jax_softsplat.data import to_uint8


def _as_uint8(image) -> np.ndarray:
    image = np.asarray(image)
    return image if image.dtype == np.uint8 else to_uint8(image)


def psnr(target, estimate) -> float:
    """PSNR in dB of two RGB images (uint8, or float in [0, 1] rounded to uint8 first), data range 255."""
    return float(peak_signal_noise_ratio(_as_uint8(target), _as_uint8(estimate), data_range=255))


def ssim(target, estimate) -> float:
    """SSIM of two RGB images (as for `psnr`), data range 255, default 7x7 window, channels last."""
    return float(structural_similarity(_as_uint8(target), _as_uint8(estimate), data_range=255, channel_axis=2))
