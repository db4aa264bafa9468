"""`jax-softsplat benchmark middlebury|xiph`: PSNR/SSIM tables as the paper measures them."""

import argparse
import json
from pathlib import Path

from jax_softsplat import benchmarks
from jax_softsplat.commands.options import add_model_arguments, load_model, output_file
from jax_softsplat.data import shared_data_dir
from jax_softsplat.files import atomic_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    suites = parser.add_subparsers(dest="suite", required=True)
    middlebury = suites.add_parser(
        "middlebury",
        help="the 12 Middlebury sequences with ground truth: frame10 + frame11 -> frame10i11 at t = 0.5",
    )
    middlebury.add_argument(
        "--data", help="folder of sequence folders holding frame10.png, frame11.png, frame10i11.png "
        "(default: the shared data's middlebury/)"
    )
    xiph = suites.add_parser(
        "xiph",
        help="Xiph protocols on folders of frames: triplets i-1, i+1 -> i for i = 2, 4, ..., 98",
        description="Each clip is a folder of frames (sorted by name; the first 100 are used, or all when "
        "fewer). '2k': every frame area-resized to half its width and height (4096x2160 -> 2048x1080); "
        "'4k': the centre crop of half its width and height (rows 540:-540, columns 1024:-1024 of 4096x2160).",
    )
    xiph.add_argument("--data", required=True, help="a folder of frames, or a folder of such folders (one per clip)")
    xiph.add_argument(
        "--protocol", nargs="+", choices=benchmarks.XIPH_PROTOCOLS, default=list(benchmarks.XIPH_PROTOCOLS),
        help="which protocols to run (default: both)",
    )
    for suite in (middlebury, xiph):
        add_model_arguments(suite)
        suite.add_argument("--json", help="also write the scores to this JSON file")


def run(args: argparse.Namespace) -> None:
    json_path = output_file("--json", args.json, suffixes=(".json",)) if args.json else None
    if args.suite == "middlebury":
        data = Path(args.data) if args.data else shared_data_dir() / "middlebury"
        benchmarks.middlebury_sequences(data)  # fails on a bad folder before the model loads
        model, interpolator = load_model(args)
        results = {"middlebury": list(benchmarks.middlebury(interpolator, data))}
    else:
        benchmarks.xiph_clips(args.data)
        model, interpolator = load_model(args)
        results = {f"xiph-{p}": list(benchmarks.xiph(interpolator, args.data, p)) for p in args.protocol}
    for name, scores in results.items():
        print(f"\n{name}, model {model}\n")
        print(benchmarks.table(scores, "sequence" if name == "middlebury" else "clip"))
    if json_path:
        report = {"model": model, **{name: benchmarks.as_json(s) for name, s in results.items()}}
        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\n{json_path}")
