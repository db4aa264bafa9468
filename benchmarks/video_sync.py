"""Audio/video sync of `jax-softsplat video` on a variable-frame-rate clip: the offset at the start and
the drift at the end.

    python benchmarks/video_sync.py [--seconds 600] [--models average] [--runs factor2,fps60]
                                    [--size 64x48] [--keep DIR] [--json PATH]

Makes, in a temporary folder, the marker clip of tests/video_media.py (`vfr_marker_clip`): H.264 + AAC,
stretches of 30 fps (2 s) alternating with 24 fps (1.5 s) as a phone records in low light, a flash (a
corner box turning white) on the middle frame of each stretch and a beep starting at exactly that
frame's time. The
command line `video` (`python -m jax_softsplat.cli video`, the jax_softsplat this Python imports) runs
on it once per model and run: `factor2` is --factor 2, `fps60` is --fps 60 (other runs: factorN,
fpsN). Each file's offsets (flash time minus beep onset, by the ffmpeg command line, tests/video_media.py
`av_drift`) are printed: at the first marker ("start"), the last ("end", the drift over the clip) and
the largest; a flash's time is that of a frame, so an offset is exact to within "resolution" (the frame
interval there). "markers" counts the flash-beep pairs and the flashes and beeps found (a flash that
interpolation washed out stays unpaired). Frame counts are ffprobe's decoded frames; wall seconds are
the command's, in a fresh process each.
"""

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import video_media  # noqa: E402  (tests/ holds the clip generators and probes the tests use too)


def run_arguments(run: str) -> list[str]:
    """factor2 -> --factor 2, fps60 -> --fps 60."""
    for prefix, option in (("factor", "--factor"), ("fps", "--fps")):
        if run.startswith(prefix) and run[len(prefix) :]:
            return [option, run[len(prefix) :]]
    raise argparse.ArgumentTypeError(f"unknown run {run!r}: expected factorN or fpsN (e.g. factor2, fps60)")


def measure(path: Path) -> dict:
    try:
        drift = video_media.av_drift(path)
    except (ValueError, RuntimeError) as error:
        return {"error": str(error).splitlines()[0]}
    return {
        "frames": drift.frames,
        "pairs": len(drift.offsets),
        "video_markers": drift.video_markers,
        "audio_markers": drift.audio_markers,
        "start_ms": drift.start * 1000,
        "end_ms": drift.end * 1000,
        "worst_ms": drift.worst * 1000,
        "resolution_ms": drift.resolution * 1000,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="clip length (default: %(default)s)")
    parser.add_argument("--models", default="average", help="comma-separated --model values (default: %(default)s)")
    parser.add_argument("--runs", default="factor2,fps60", help="comma-separated factorN/fpsN (default: %(default)s)")
    parser.add_argument("--size", default="64x48", help="WIDTHxHEIGHT of the clip (default: %(default)s)")
    parser.add_argument("--keep", type=Path, help="write the clip and outputs here instead of a temporary folder")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    try:
        runs = {run: run_arguments(run) for run in args.runs.split(",")}
    except argparse.ArgumentTypeError as error:
        parser.error(f"--runs: {error}")
    width, height = (int(v) for v in args.size.lower().split("x"))
    video_media.require_ffmpeg()

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        clip = folder / "vfr_markers.mp4"
        start = time.perf_counter()
        video_media.vfr_marker_clip(clip, args.seconds, width=width, height=height)
        print(f"clip: {clip.name}, {time.perf_counter() - start:.1f} s to make", file=sys.stderr, flush=True)
        rows = [{"file": "input", "model": "-", "run": "-", "wall_s": None, **measure(clip)}]
        for model in args.models.split(","):
            for run, options in runs.items():
                out = folder / f"{model}_{run}.mp4"
                command = [sys.executable, "-m", "jax_softsplat.cli", "video", "--in", str(clip), "--out", str(out)]
                command += ["--model", model, "--quiet", *options]
                start = time.perf_counter()
                # Run from the scratch folder: from the repository root, `python -m` would import the
                # source folder (no compiled modules) instead of the installed jax_softsplat.
                done = subprocess.run(command, capture_output=True, text=True, cwd=folder)
                wall = time.perf_counter() - start
                row = {"file": out.name, "model": model, "run": " ".join(options), "wall_s": wall}
                if done.returncode:
                    row["error"] = f"video exited with status {done.returncode}"
                    print(f"{out.name}: {done.stderr[-2000:]}", file=sys.stderr)
                else:
                    print(done.stdout.strip(), file=sys.stderr, flush=True)
                    row.update(measure(out))
                rows.append(row)

    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(
        f"VFR marker clip: {args.seconds:g} s, {width}x{height}, 30 fps (2 s) / 24 fps (1.5 s) stretches, "
        f"a flash + beep per stretch; {platform.machine()}, Python {platform.python_version()}; measured by "
        f"{' '.join(ffmpeg.split()[:3])}"
    )
    print(
        "offset = flash time - beep onset (ms, + = picture late); start = first marker, end = last marker; "
        "markers = pairs/flashes/beeps"
    )
    header = f"{'file':<22} {'model':<9} {'run':<11} {'frames':>7} {'wall s':>7} {'markers p/v/a':>13} "
    print(header + f"{'start ms':>9} {'end ms':>9} {'worst ms':>9} {'res. ms':>8}")
    for r in rows:
        wall = "-" if r["wall_s"] is None else f"{r['wall_s']:.1f}"
        line = f"{r['file']:<22} {r['model']:<9} {r['run']:<11} "
        if "error" in r:
            print(line + f"{'':>7} {wall:>7}  {r['error']}")
            continue
        markers = f"{r['pairs']}/{r['video_markers']}/{r['audio_markers']}"
        print(
            line + f"{r['frames']:>7} {wall:>7} {markers:>13} {r['start_ms']:>9.1f} {r['end_ms']:>9.1f} "
            f"{r['worst_ms']:>9.1f} {r['resolution_ms']:>8.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"seconds": args.seconds, "size": args.size, "rows": rows}, indent=1) + "\n")
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
