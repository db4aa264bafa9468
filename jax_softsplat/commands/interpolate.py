"""`jax-softsplat interpolate`: the frame at time t between two images."""

import argparse

from jax_softsplat.commands.options import (
    add_model_arguments,
    input_image,
    load_model,
    output_file,
    time_in_unit_interval,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--one", required=True, help="the first frame (any image format Pillow reads)")
    parser.add_argument("--two", required=True, help="the second frame, of the same size")
    parser.add_argument("--out", required=True, help="the image to write (format from its suffix, e.g. .png)")
    parser.add_argument(
        "--time", type=time_in_unit_interval, default=0.5, help="where between the frames, in (0, 1) (default: 0.5)"
    )
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> None:
    one, two = input_image("--one", args.one), input_image("--two", args.two)
    if one.shape != two.shape:
        (h1, w1), (h2, w2) = one.shape[:2], two.shape[:2]
        raise ValueError(f"--one and --two must have the same size, got {w1}x{h1} and {w2}x{h2}")
    out = output_file("--out", args.out, inputs=(args.one, args.two))
    model, interpolator = load_model(args)
    from jax_softsplat.data import write_image

    write_image(out, interpolator(one, two, [args.time])[0])
    print(f"{out}  (t = {args.time}, model {model})")
