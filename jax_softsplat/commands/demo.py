"""`jax-softsplat demo`: the middle frame of a sample pair, and a strip input | output | input."""

import argparse
from pathlib import Path

import numpy as np

from jax_softsplat.commands.options import add_model_arguments, input_image, load_model
from jax_softsplat.data import shared_data_dir, write_image
from jax_softsplat.synthetic import layered_scene


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", help="folder with images/one.png and two.png (default: $JAX_SOFTSPLAT_DATA or "
        "../shared/data; a generated pair when neither exists)"
    )
    parser.add_argument("--out", default="out", help="folder to write middle.png and strip.png to (default: %(default)s)")
    add_model_arguments(parser)


def strip(*images: np.ndarray, gap: int = 8) -> np.ndarray:
    """The images side by side with white gaps (all of one height)."""
    spacer = np.ones((images[0].shape[0], gap, 3), np.float32)
    parts = [part for image in images for part in (image, spacer)][:-1]
    return np.concatenate(parts, axis=1)


def run(args: argparse.Namespace) -> None:
    images = (Path(args.data) if args.data else shared_data_dir()) / "images"
    if (images / "one.png").is_file() and (images / "two.png").is_file():
        one, two = input_image("--data", images / "one.png"), input_image("--data", images / "two.png")
        source = str(images)
    elif args.data:
        raise FileNotFoundError(f"--data {args.data}: no images/one.png and two.png there")
    else:
        one, two, _ = layered_scene(240, 320)
        source = "a generated pair (no shared data found)"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, interpolator = load_model(args)
    middle = interpolator(one, two, [0.5])[0]
    write_image(out / "middle.png", middle)
    write_image(out / "strip.png", strip(one, middle, two))
    print(f"interpolated {source} at t = 0.5 with model {model}:")
    print(f"  middle frame: {out / 'middle.png'}")
    print(f"  strip (one | middle | two): {out / 'strip.png'}")
