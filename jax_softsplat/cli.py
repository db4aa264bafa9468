"""The `jax-softsplat` command line."""

import argparse
import sys
from pathlib import Path


def _figure(args: argparse.Namespace) -> None:
    from jax_softsplat.data import read_image, shared_data_dir, write_image
    from jax_softsplat.figure import warping_figure
    from jax_softsplat.flo import read_flo
    from jax_softsplat.synthetic import layered_scene

    images = Path(args.data) / "images" if args.data else shared_data_dir() / "images"
    if (images / "flow.flo").is_file():
        one, two = read_image(images / "one.png"), read_image(images / "two.png")
        flow = read_flo(images / "flow.flo")
        source = images
    else:
        if args.data:
            raise SystemExit(f"error: --data {args.data}: no images/one.png, two.png, flow.flo there")
        one, two, flow = layered_scene(240, 320)
        source = "a generated scene (no shared data found)"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_image(out, warping_figure(one, two, flow, tile=args.tile))
    print(f"warping figure of {source}: {out}")


def _convert(args: argparse.Namespace) -> None:
    import re

    from jax_softsplat.models.interpolator import official_weights_path, weights_home
    from jax_softsplat.models.weights import convert

    dst = args.dst
    if dst is None:
        official = re.fullmatch(r"network-(l1|lf)\.(pytorch|npz)", Path(args.src).name)
        if official is None:
            raise SystemExit(
                f"error: give DST: {args.src} is not named network-l1.pytorch or network-lf.pytorch, "
                "so it has no default place"
            )
        dst = official_weights_path(official.group(1))
    try:
        convert(args.src, dst, overwrite=args.force)
    except (FileExistsError, ImportError) as error:
        raise SystemExit(f"error: {error}") from error
    print(f"converted {args.src} -> {dst}")
    if Path(dst).parent == weights_home():
        print("load_interpolator and --model l1/lf find it there")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jax-softsplat", description="Softmax splatting for JAX: figures, interpolation, tools."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    figure = commands.add_parser(
        "figure",
        help="the paper's warping figure: one frame splatted in the four modes for t = 0, 0.1, ..., 1",
    )
    figure.add_argument(
        "--data",
        help="folder with images/one.png, two.png and flow.flo (default: $JAX_SOFTSPLAT_DATA or "
        "../shared/data; a generated scene when neither exists)",
    )
    figure.add_argument("--out", default="out/warping.png", help="PNG to write (default: %(default)s)")
    figure.add_argument("--tile", type=int, default=160, help="width of each picture in pixels (default: %(default)s)")
    figure.set_defaults(run=_figure)

    convert = commands.add_parser(
        "convert",
        help="convert the authors' PyTorch weights (network-l1.pytorch, network-lf.pytorch) to ours",
        description="Converts the authors' state dict (from http://content.sniklaus.com/softsplat/"
        "network-<model>.pytorch) into a jax_softsplat weights file. Reading .pytorch needs torch "
        "(pip install 'jax_softsplat[convert]'); a .npz of the same tensors needs nothing.",
    )
    convert.add_argument("src", help="network-<model>.pytorch (or a .npz of its tensors)")
    convert.add_argument(
        "dst", nargs="?",
        help="weights .msgpack to write (default for network-<model>.pytorch: "
        "$JAX_SOFTSPLAT_HOME/network-<model>.msgpack, $JAX_SOFTSPLAT_HOME defaulting to "
        "~/.cache/jax_softsplat, where --model l1/lf look)",
    )
    convert.add_argument("--force", action="store_true", help="replace DST if it exists")
    convert.set_defaults(run=_convert)

    from jax_softsplat import bench

    timing = commands.add_parser(
        "bench", help="time the operator against its alternatives, side by side, and print a table"
    )
    bench.add_arguments(timing)
    timing.set_defaults(run=bench.main)

    from jax_softsplat.commands import benchmark, demo, interpolate, video

    for name, module, summary in (
        ("interpolate", interpolate, "the frame at time t between two images"),
        ("video", video, "a video with 2, 4 or 8 times as many frames (streamed, audio kept, scene cuts respected)"),
        ("benchmark", benchmark, "PSNR/SSIM of an interpolator on Middlebury or Xiph, as a table"),
        ("demo", demo, "interpolate the sample pair; write the middle frame and a strip (one | middle | two)"),
    ):
        sub = commands.add_parser(name, help=summary, description=summary)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)

    from jax_softsplat.train import cli as train_cli

    train = commands.add_parser(
        "train",
        help="train the interpolation network (synthetic scenes, Vimeo-90k or your videos); resumable",
    )
    train_cli.add_arguments(train)
    train.set_defaults(run=train_cli.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    from jax_softsplat.extras import missing_extra

    try:
        args = build_parser().parse_args(argv)
        args.run(args)
    except ImportError as error:  # an optional extra is not installed: say which one brings it
        message = missing_extra(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:  # bad input: the message names the option, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
