"""`jax-softsplat video`: a video with more frames: N times as many, or converted to another frame rate."""

import argparse
import re
import sys
from fractions import Fraction
from pathlib import Path

from jax_softsplat.commands.options import add_model_arguments, load_model, output_file, positive_int
from jax_softsplat.errors import RunFailed
from jax_softsplat.video import SCENE_CUT_THRESHOLD, VideoArgumentError, interpolate_video
from jax_softsplat.video_format import CODECS, CONTAINERS, DEFAULT_CODEC, check_codec

VIDEO_SUFFIXES = tuple(CONTAINERS)


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


def _crf(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 16 or 18.5, got {text!r}") from None


def _codec_help() -> str:
    lines = []
    for codec in CODECS.values():
        quality = f"crf {codec.crf[0]:g}-{codec.crf[1]:g} (default {codec.default_crf:g})" if codec.crf else "no crf"
        presets = (
            f"{codec.preset_name} {'|'.join(codec.presets)} (default {codec.default_preset or 'by input'})"
            if codec.presets
            else f"no {codec.preset_name}"
        )
        lines.append(f"{codec.name}: {codec.description}; {quality}; {presets}")
    return "; ".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="source", required=True, help="the video to read (anything FFmpeg decodes)")
    parser.add_argument(
        "--out",
        required=True,
        help=f"the video to write ({', '.join(VIDEO_SUFFIXES)}); colour, bit depth, pixel aspect, rotation and "
        "timing are the input's",
    )
    parser.add_argument(
        "--codec",
        choices=tuple(CODECS),
        default=DEFAULT_CODEC,
        help=f"the encoder (default: %(default)s). {_codec_help()}",
    )
    parser.add_argument("--crf", type=_crf, help="quality for h264 and h265, lower is better (default: the codec's)")
    parser.add_argument(
        "--preset",
        help="x264/x265 speed preset for h264 and h265, or the ProRes profile for prores (default: the codec's)",
    )
    parser.add_argument(
        "--partial",
        action="store_true",
        help="if the input breaks partway (corrupt or truncated), write what was decoded and say so, instead "
        "of stopping with status 1 and writing nothing",
    )
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
    codec = CODECS[args.codec]
    check_codec(codec, out.suffix, args.crf, args.preset)
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
            codec=args.codec,
            crf=args.crf,
            preset=args.preset,
            partial=args.partial,
            progress=not args.quiet,
        )
    except VideoArgumentError as error:
        option = {"source": "--in", "target": "--out"}[error.argument]
        raise ValueError(f"{option} {error.path}: {error.reason}; nothing was written") from error
    except RunFailed as error:
        raise type(error)(_with_options(str(error))) from error
    cuts = counts["scene cuts"]
    if counts["broken"]:
        print(f"warning: {_with_options(counts['broken'])}; the output covers those frames only", file=sys.stderr)
    if counts["hdr metadata"] == "dropped":
        print(
            f"warning: --codec {args.codec} cannot carry the input's HDR mastering display and light level "
            "metadata, which were dropped (h265 keeps them)",
            file=sys.stderr,
        )
    print(
        f"{out}  ({counts['input frames']} -> {counts['output frames']} frames at {float(counts['fps']):g} fps, "
        f"model {model}, {len(cuts)} scene cut(s){' at input frames ' + str(cuts) if cuts else ''}, "
        f"audio {'copied' if counts['audio copied'] else 'none'}, {args.codec} {counts['pixel format']}, "
        f"{counts['colour']})"
    )


def _with_options(message: str) -> str:
    """A library message that starts by naming the input or output, with the option instead."""
    return re.sub(r"^(input|output)\b", lambda m: {"input": "--in", "output": "--out"}[m.group(1)], message)
