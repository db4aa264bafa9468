"""Options and checks shared by several subcommands.

Nothing heavy is imported here at module level (not even numpy): the command line imports this module
while parsing, and a mistake in the arguments should be answered before JAX or an optional extra loads.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from jax_softsplat.interpolation import Interpolator

# Shown first when an image suffix is unknown; any other suffix Pillow writes is accepted too.
COMMON_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
# The library names the argument (`model 'x': ...`); the command line names the option instead.
_ARGUMENT_FLAGS = {"model": "--model", "weights": "--weights"}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where the help already says it or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


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
    from jax_softsplat.interpolation import default_model, load_interpolator

    model = args.model or default_model()
    try:
        return model, load_interpolator(model, args.weights)
    except (OSError, ValueError) as error:
        raise type(error)(as_option_error(str(error))) from error


def as_option_error(message: str) -> str:
    """A library message that starts by naming an argument (`model 'x': ...`), with the option instead."""
    return re.sub(r"^(model|weights)\b(?= ?('[^']*'|\S+)?:)", lambda m: _ARGUMENT_FLAGS[m.group(1)], message, count=1)


def input_image(option: str, path) -> np.ndarray:
    """Reads an RGB image given by `option`, with errors that name the option."""
    from jax_softsplat.data import read_image

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
        suffixes = image_suffixes()
        listed = [s for s in COMMON_IMAGE_SUFFIXES if s in suffixes]
        expected = f"an image suffix Pillow writes: {', '.join(listed)}, ..."
    else:
        expected = ("one of " if len(suffixes) > 1 else "") + ", ".join(suffixes)
    if path.suffix.lower() not in suffixes:
        given = f"file type {path.suffix!r}" if path.suffix else "no suffix"
        raise ValueError(f"{option} {path}: {given}; expected {expected}")
    return path


def image_suffixes() -> set[str]:
    """Suffixes of the image formats Pillow can write."""
    from PIL import Image

    Image.init()
    return {suffix for suffix, kind in Image.registered_extensions().items() if kind in Image.SAVE}


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
