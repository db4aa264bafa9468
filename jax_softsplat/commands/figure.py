"""`jax-softsplat figure`: the paper's warping figure, one frame splatted in the four modes."""

import argparse
from pathlib import Path

from jax_softsplat.commands.options import output_file, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        help="folder with images/one.png, two.png and flow.flo (default: the shared data, found through "
        "$JAX_SOFTSPLAT_DATA, ../shared/data or beside the source checkout; a generated scene when there is none)",
    )
    parser.add_argument("--out", default="out/warping.png", help="image to write (its folder is created)")
    parser.add_argument("--tile", type=positive_int, default=160, help="width of each picture in pixels")


def run(args: argparse.Namespace) -> None:
    from jax_softsplat.data import sample_pair, write_image

    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--out {out}: cannot create its folder {out.parent} ({error.strerror})") from None
    out = output_file("--out", out)
    try:
        one, two, flow, source = sample_pair(args.data, with_flow=True)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"--data {error}") from error
    except ValueError as error:
        raise ValueError(f"--data {error}") from error
    from jax_softsplat.figure import warping_figure

    write_image(out, warping_figure(one, two, flow, tile=args.tile))
    print(f"warping figure of {source}: {out}")
