"""`jax-softsplat convert`: the authors' PyTorch weights (network-l1.pytorch, network-lf.pytorch) to ours."""

import argparse
import re
from pathlib import Path

from jax_softsplat.commands.options import output_file

DESCRIPTION = (
    "Converts the authors' state dict (from http://content.sniklaus.com/softsplat/network-<model>.pytorch) "
    "into a jax_softsplat weights file. Reading .pytorch needs torch (pip install 'jax_softsplat[convert]'); "
    "a .npz of the same tensors needs nothing. Files are read as plain tensors: nothing is ever unpickled."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="network-<model>.pytorch (or a .npz of its tensors)")
    parser.add_argument(
        "dst",
        nargs="?",
        help="weights .msgpack to write (default for network-<model>.pytorch: "
        "$JAX_SOFTSPLAT_HOME/network-<model>.msgpack, $JAX_SOFTSPLAT_HOME defaulting to "
        "~/.cache/jax_softsplat, where --model l1/lf look)",
    )
    parser.add_argument("--force", action="store_true", help="replace DST if it exists")


def run(args: argparse.Namespace) -> None:
    src = Path(args.src)
    if not src.is_file():
        raise FileNotFoundError(f"SRC {src}: no such file" if not src.is_dir() else f"SRC {src}: is a folder")
    from jax_softsplat.models.interpolator import official_weights_path, weights_home
    from jax_softsplat.models.weights import convert

    if args.dst is None:
        official = re.fullmatch(r"network-(l1|lf)\.(pytorch|npz)", src.name)
        if official is None:
            raise ValueError(
                f"give DST: {src} is not named network-l1.pytorch or network-lf.pytorch, so it has no default place"
            )
        dst = official_weights_path(official.group(1))
        dst.parent.mkdir(parents=True, exist_ok=True)
    else:
        dst = Path(args.dst)
    dst = output_file("DST", dst, inputs=(src,), suffixes=(".msgpack",))
    if dst.exists() and not args.force:
        raise FileExistsError(f"DST {dst} exists; pass --force to replace it")
    convert(src, dst, overwrite=True)
    print(f"converted {src} -> {dst}")
    if dst.parent == weights_home():
        print("load_interpolator and --model l1/lf find it there")
