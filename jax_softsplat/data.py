"""Where the shared sample data lives, the sample pair, and image reading/writing.

Pillow is imported inside the functions that need it: the command line imports this module while it
parses, and Pillow belongs to an optional extra.
"""

import os
from pathlib import Path

import numpy as np

from jax_softsplat.checkout import source_checkout
from jax_softsplat.files import atomic_path

DATA_ENV = "JAX_SOFTSPLAT_DATA"
SAMPLE_FILES = ("one.png", "two.png", "flow.flo")  # in <shared data>/images
# Pillow modes holding grey levels wider than 8 bits (a 16-bit greyscale PNG opens as one of these).
WIDE_GREY_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")


def shared_data_candidates() -> list[tuple[str, Path]]:
    """Where the shared data is looked for, in order, each with how it was found: $JAX_SOFTSPLAT_DATA
    alone when it is set; otherwise ../shared/data from the current folder, then beside the source
    checkout this package belongs to."""
    if os.environ.get(DATA_ENV):
        return [(f"${DATA_ENV}", Path(os.environ[DATA_ENV]))]
    candidates = [("../shared/data from the current folder", Path("..") / "shared" / "data")]
    checkout = source_checkout()
    if checkout is not None:
        candidates.append((f"beside the source checkout {checkout}", checkout.parent / "shared" / "data"))
    return candidates


def shared_data_dir() -> Path:
    """The shared data folder (see `shared_data_candidates`); FileNotFoundError naming every place
    looked at, and how to point at the data, when none exists."""
    candidates = shared_data_candidates()
    for _, path in candidates:
        if path.is_dir():
            return path
    looked = "; ".join(f"{how}: {path.resolve()}" for how, path in candidates)
    raise FileNotFoundError(
        f"the shared data folder was not found (looked at {looked}); set ${DATA_ENV} to the folder holding "
        "images/, middlebury/ and videos/"
    )


def sample_pair(folder=None, *, with_flow: bool = False):
    """The sample frames as (one, two, flow, source): images/one.png and two.png (and flow.flo when
    `with_flow`, else flow is None) of `folder`, by default of the shared data; without a `folder` and
    without shared data, a generated layered scene (with its exact flow). FileNotFoundError when a
    given `folder` lacks a file."""
    names = SAMPLE_FILES if with_flow else SAMPLE_FILES[:2]
    if folder is None:
        try:
            images = shared_data_dir() / "images"
        except FileNotFoundError:
            images = None
        if images is None or not all((images / name).is_file() for name in names):
            from jax_softsplat.synthetic import layered_scene

            one, two, flow = layered_scene(240, 320)
            return one, two, flow if with_flow else None, "a generated scene (no shared data found)"
    else:
        images = Path(folder) / "images"
        missing = [name for name in names if not (images / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{folder}: no {', '.join('images/' + name for name in missing)} there")
    one, two = read_image(images / "one.png"), read_image(images / "two.png")
    flow = None
    if with_flow:
        from jax_softsplat.flo import read_flo

        flow = read_flo(images / "flow.flo")
    return one, two, flow, str(images)


def read_image(path) -> np.ndarray:
    """An image file -> float32 RGB [H, W, 3] in [0, 1], scaled by the file's own bit depth (16-bit
    grey included); grey is repeated into the three channels, alpha is dropped, palettes are expanded."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image at {path}")
    try:
        with Image.open(path) as image:
            if image.mode in WIDE_GREY_MODES:
                # Pillow's convert("RGB") clips these to 0..255 instead of scaling them: white.
                grey = np.asarray(image).astype(np.float32) / 65535.0
                return np.repeat(np.clip(grey, 0.0, 1.0)[..., None], 3, axis=-1)
            if image.mode == "F":
                grey = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
                return np.repeat(grey[..., None], 3, axis=-1)
            rgb = image.convert("RGB")
    except (OSError, ValueError, UnidentifiedImageError) as error:
        raise ValueError(f"{path}: not a readable image ({error})") from error
    return np.asarray(rgb, np.float32) / 255.0


def to_uint8(image) -> np.ndarray:
    return np.round(np.clip(np.asarray(image, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def write_image(path, image) -> None:
    """Writes float [0, 1] or uint8 RGB [H, W, 3] atomically, in the format the suffix names."""
    from PIL import Image

    image = np.asarray(image)
    pixels = image if image.dtype == np.uint8 else to_uint8(image)
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format=Image.registered_extensions().get(path.suffix.lower()))
