"""`jax-softsplat quality middlebury|xiph`: PSNR/SSIM tables of an interpolator, as the paper measures them."""

import argparse
import json
from pathlib import Path

from jax_softsplat import benchmarks
from jax_softsplat.commands.options import HelpFormatter, add_model_arguments, load_model, output_file
from jax_softsplat.data import shared_data_dir
from jax_softsplat.files import atomic_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    suites = parser.add_subparsers(dest="suite", required=True, metavar="SUITE")
    summary = "the 12 Middlebury sequences with ground truth: frame10 + frame11 -> frame10i11 at t = 0.5"
    middlebury = suites.add_parser("middlebury", help=summary, description=summary, formatter_class=HelpFormatter)
    middlebury.add_argument(
        "--data",
        help="folder of sequence folders holding frame10.png, frame11.png, frame10i11.png "
        "(default: middlebury/ of the shared data: $JAX_SOFTSPLAT_DATA, else ../shared/data from the current "
        "folder, else beside the source checkout)",
    )
    summary = "Xiph protocols on folders of frames: triplets i-1, i+1 -> i for i = 2, 4, ..., 98"
    xiph = suites.add_parser(
        "xiph",
        help=summary,
        formatter_class=HelpFormatter,
        description=f"{summary}. Each clip is a folder of frames (sorted by name; the first 100 are used, or all "
        "when fewer). '2k': every frame area-resized to half its width and height (4096x2160 -> 2048x1080); "
        "'4k': the centre crop of half its width and height (rows 540:-540, columns 1024:-1024 of 4096x2160).",
    )
    xiph.add_argument("--data", required=True, help="a folder of frames, or a folder of such folders (one per clip)")
    xiph.add_argument(
        "--protocol",
        nargs="+",
        choices=benchmarks.XIPH_PROTOCOLS,
        default=list(benchmarks.XIPH_PROTOCOLS),
        help="which protocols to run",
    )
    for suite in (middlebury, xiph):
        add_model_arguments(suite)
        suite.add_argument("--json", help="also write the scores to this JSON file")


def _data_folder(args: argparse.Namespace) -> tuple[Path, str]:
    """The folder to score and how to name it in an error: the option when given, else the shared data."""
    if args.data:
        return Path(args.data), "--data "
    return shared_data_dir() / "middlebury", "the shared data's middlebury folder "


def run(args: argparse.Namespace) -> None:
    json_path = output_file("--json", args.json, suffixes=(".json",)) if args.json else None
    data, named = _data_folder(args)
    try:  # a bad folder fails before the model loads
        if args.suite == "middlebury":
            benchmarks.middlebury_sequences(data)
        else:
            benchmarks.xiph_clips(data)
    except (OSError, ValueError) as error:
        raise type(error)(f"{named}{error}") from error
    model, interpolator = load_model(args)
    if args.suite == "middlebury":
        results = {"middlebury": list(benchmarks.middlebury(interpolator, data))}
    else:
        results = {f"xiph-{p}": list(benchmarks.xiph(interpolator, data, p)) for p in args.protocol}
    for name, scores in results.items():
        print(f"\n{name}, model {model}\n")
        print(benchmarks.table(scores, "sequence" if name == "middlebury" else "clip"))
    if json_path:
        report = {"model": model, **{name: benchmarks.as_json(s) for name, s in results.items()}}
        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\n{json_path}")
