"""Options and checks shared by several subcommands."""

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image

from jax_softsplat.data import read_image
from jax_softsplat.interpolation import Interpolator, default_model, load_interpolator


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        help="'classic' (optical flow + softmax splatting, no weights; presets 'classic-fast', "
        "'classic-full'), 'minterpolate' (FFmpeg's filter) or 'average' (frame blending), two baselines, "
        "'l1', 'lf', or the path of a "
        "weights .msgpack file or training run folder (default: l1 when its weights are in the cache "
        "folder, else classic)",
    )
    parser.add_argument("--weights", help="weights file for --model l1/lf (default: the cache folder)")


def load_model(args: argparse.Namespace) -> tuple[str, Interpolator]:
    model = args.model or default_model()
    return model, load_interpolator(model, args.weights)


def input_image(option: str, path) -> np.ndarray:
    """Reads an RGB image given by `option`, with errors that name the option."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{option} {path}: no such file")
    try:
        return read_image(path)
    except ValueError as error:
        raise ValueError(f"{option} {path}: not a readable image") from error


def output_file(option: str, path, *, inputs=(), suffixes=None) -> Path:
    """Checks, before any work is done, that `path` can be written and would not replace an input."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise ValueError(f"{option} {path}: folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise ValueError(f"{option} {path}: folder {path.parent} is not writable")
    if any(path.exists() and path.resolve() == Path(i).resolve() for i in inputs):
        raise ValueError(f"{option} {path}: is one of the inputs; refusing to overwrite it")
    if suffixes is None:
        suffixes = Image.registered_extensions()
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{option} {path}: unknown file type {path.suffix!r} (use e.g. .png)")
    return path


def time_in_unit_interval(text: str) -> float:
    """argparse type: a float strictly between 0 and 1."""
    try:
        t = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0.0 < t < 1.0:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, got {text}")
    return t


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n
