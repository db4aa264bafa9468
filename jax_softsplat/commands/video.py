"""`jax-softsplat video`: a video with 2, 4 or 8 times as many frames."""

import argparse
from fractions import Fraction
from pathlib import Path

from jax_softsplat.commands.options import add_model_arguments, load_model, output_file, positive_int
from jax_softsplat.video import FACTORS, SCENE_CUT_THRESHOLD, interpolate_video

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov")  # containers that take H.264 (and copied audio)


def _fps(text: str) -> Fraction:
    try:
        fps = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a frame rate such as 50 or 30000/1001, got {text!r}") from None
    if fps <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return fps


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="source", required=True, help="the video to read (anything FFmpeg decodes)")
    parser.add_argument("--out", required=True, help=f"the video to write, H.264 in {'/'.join(VIDEO_SUFFIXES)}")
    parser.add_argument(
        "--factor", type=int, choices=FACTORS, default=2, help="output frames per input frame (default: 2)"
    )
    parser.add_argument(
        "--fps", type=_fps, help="output frame rate (default: factor x the input's, same duration; "
        "give the input's rate for slow motion)"
    )
    parser.add_argument("--max-frames", type=positive_int, help="read only the first N input frames")
    parser.add_argument(
        "--scene-threshold", type=float, default=SCENE_CUT_THRESHOLD,
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
    counts = interpolate_video(
        source, out, interpolator, factor=args.factor, fps=args.fps, max_frames=args.max_frames,
        scene_cut_threshold=args.scene_threshold, progress=not args.quiet,
    )
    cuts = counts["scene cuts"]
    print(
        f"{out}  ({counts['input frames']} -> {counts['output frames']} frames at {float(counts['fps']):g} fps, "
        f"model {model}, {len(cuts)} scene cut(s){' at input frames ' + str(cuts) if cuts else ''}, "
        f"audio {'copied' if counts['audio copied'] else 'none'})"
    )
