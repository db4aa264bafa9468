"""Where the shared sample data lives, and image reading/writing."""

import os
from pathlib import Path

import numpy as np
from PIL import Image

from jax_softsplat.files import atomic_path

DATA_ENV = "JAX_SOFTSPLAT_DATA"


def shared_data_dir() -> Path:
    """The shared data folder: $JAX_SOFTSPLAT_DATA, else ../shared/data from the working directory."""
    return Path(os.environ.get(DATA_ENV, Path("..") / "shared" / "data"))


def read_image(path) -> np.ndarray:
    """An image file -> float32 RGB [H, W, 3] in [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image at {path}")
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable image ({error})") from error
    return np.asarray(rgb, np.float32) / 255.0


def to_uint8(image) -> np.ndarray:
    return np.round(np.clip(np.asarray(image, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def write_image(path, image) -> None:
    """Writes float [0, 1] or uint8 RGB [H, W, 3] atomically, in the format the suffix names."""
    image = np.asarray(image)
    pixels = image if image.dtype == np.uint8 else to_uint8(image)
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format=Image.registered_extensions().get(path.suffix.lower()))
