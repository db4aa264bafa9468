"""`jax-softsplat demo`: the middle frame of a sample pair, and a strip input | output | input."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from jax_softsplat.commands.options import add_model_arguments, load_model

if TYPE_CHECKING:
    import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        help="folder with images/one.png and two.png (default: the shared data, found through "
        "$JAX_SOFTSPLAT_DATA, ../shared/data or beside the source checkout; a generated pair when there is none)",
    )
    parser.add_argument("--out", default="out", help="folder to write middle.png and strip.png to")
    add_model_arguments(parser)


def strip(*images: np.ndarray, gap: int = 8) -> np.ndarray:
    """The images side by side with white gaps (all of one height)."""
    import numpy as np

    spacer = np.ones((images[0].shape[0], gap, 3), np.float32)
    parts = [part for image in images for part in (image, spacer)][:-1]
    return np.concatenate(parts, axis=1)


def run(args: argparse.Namespace) -> None:
    from jax_softsplat.data import sample_pair, write_image

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: is a file; give a folder")
    try:
        one, two, _, source = sample_pair(args.data)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"--data {error}") from error
    except ValueError as error:
        raise ValueError(f"--data {error}") from error
    out.mkdir(parents=True, exist_ok=True)
    model, interpolator = load_model(args)
    middle = interpolator(one, two, [0.5])[0]
    write_image(out / "middle.png", middle)
    write_image(out / "strip.png", strip(one, middle, two))
    print(f"interpolated {source} at t = 0.5 with model {model}:")
    print(f"  middle frame: {out / 'middle.png'}")
    print(f"  strip (one | middle | two): {out / 'strip.png'}")
