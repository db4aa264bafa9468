"""`jax-softsplat video`: a video with more frames: N times as many, or converted to another frame rate."""

import argparse
from fractions import Fraction
from pathlib import Path

from jax_softsplat.commands.options import add_model_arguments, load_model, output_file, positive_int
from jax_softsplat.video import SCENE_CUT_THRESHOLD, VideoArgumentError, interpolate_video

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov")  # containers that take H.264 (and copied audio)


def _fps(text: str) -> Fraction:
    try:
        fps = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a frame rate such as 50 or 30000/1001, got {text!r}") from None
    if fps <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return fps


def _factor(text: str) -> int:
    try:
        factor = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2, got {text!r}") from None
    if factor < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2, got {factor}")
    return factor


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="source", required=True, help="the video to read (anything FFmpeg decodes)")
    parser.add_argument("--out", required=True, help=f"the video to write, H.264 in {'/'.join(VIDEO_SUFFIXES)}")
    parser.add_argument(
        "--factor",
        type=_factor,
        help="output frames per input frame, any integer >= 2 (default: 2, or what --fps implies)",
    )
    parser.add_argument(
        "--fps",
        type=_fps,
        help="output frame rate. Alone: frame-rate conversion, same duration (e.g. 25 -> 60, "
        "each output frame interpolated at its own instant); with --factor: the rate the frames are played "
        "at (the input's rate gives slow motion). Default: factor x the input's",
    )
    parser.add_argument("--max-frames", type=positive_int, help="read only the first N input frames")
    parser.add_argument(
        "--scene-threshold",
        type=float,
        default=SCENE_CUT_THRESHOLD,
        help="histogram distance (0-1) between consecutive frames above which they are taken as a scene "
        "cut and repeated rather than interpolated (default: %(default)s)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> None:
    source = Path(args.source)
    if not source.is_file():
        raise FileNotFoundError(f"--in {source}: no such file")
    out = output_file("--out", args.out, inputs=(source,), suffixes=VIDEO_SUFFIXES)
    model, interpolator = load_model(args)
    try:
        counts = interpolate_video(
            source,
            out,
            interpolator,
            factor=args.factor,
            fps=args.fps,
            max_frames=args.max_frames,
            scene_cut_threshold=args.scene_threshold,
            progress=not args.quiet,
        )
    except VideoArgumentError as error:
        option = {"source": "--in", "target": "--out"}[error.argument]
        raise ValueError(f"{option} {error.path}: {error.reason}; nothing was written") from error
    cuts = counts["scene cuts"]
    print(
        f"{out}  ({counts['input frames']} -> {counts['output frames']} frames at {float(counts['fps']):g} fps, "
        f"model {model}, {len(cuts)} scene cut(s){' at input frames ' + str(cuts) if cuts else ''}, "
        f"audio {'copied' if counts['audio copied'] else 'none'})"
    )
