"""Peak resident memory of `jax-softsplat video` over a short and a long run: whether memory grows with
the length of the video.

    python benchmarks/video_memory.py [--frames 100,5000] [--models average,classic] [--size 64x64]
                                      [--fps 25] [--keep DIR] [--json PATH]

Makes, in a temporary folder, one small H.264 clip of the moving pattern of tests/video_media.py
(BT.709, max(--frames) + 1 frames at --fps), then runs the command line `video` (`python -m
jax_softsplat.cli video --max-frames N`, default factor 2, the jax_softsplat this Python imports) once
per model and N, each in a fresh process; a run's peak resident set is that process's own ru_maxrss,
read by os.wait4 when it ends. The table gives each run's frames, wall seconds and peak RSS, and per
model the growth from the shortest run to the longest: a streamed video holds a bounded number of
frames, so the growth should stay near zero whatever the length.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import video_media  # noqa: E402  (tests/ holds the clip generators and probes the tests use too)


def run_measured(command: list[str], cwd: Path) -> dict:
    """Runs `command`, returning its exit status, wall seconds, peak RSS (MiB) and output tails."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        return {
            "status": process.returncode,
            "wall_s": wall,
            "peak_mib": usage.ru_maxrss / 1024,  # KiB on Linux
            "stdout": out.read()[-2000:],
            "stderr": err.read()[-2000:],
        }


KINDS = {"bt709": "8-bit BT.709 H.264", "hlg": "10-bit BT.2020 HLG HEVC"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", default="100,5000", help="comma-separated --max-frames (default: %(default)s)")
    parser.add_argument("--models", default="average,classic", help="comma-separated --model (default: %(default)s)")
    parser.add_argument("--size", default="64x64", help="WIDTHxHEIGHT of the clip (default: %(default)s)")
    parser.add_argument("--fps", type=int, default=25, help="frame rate of the clip (default: %(default)s)")
    parser.add_argument(
        "--colour",
        choices=("bt709", "hlg"),
        default="bt709",
        help="the clip: 8-bit BT.709 H.264, or 10-bit BT.2020 HLG HEVC (16-bit RGB inside video); default: %(default)s",
    )
    parser.add_argument("--keep", type=Path, help="write the clip and outputs here instead of a temporary folder")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    counts = sorted(int(n) for n in args.frames.split(","))
    width, height = (int(v) for v in args.size.lower().split("x"))
    video_media.require_ffmpeg()

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        clip = folder / "pattern.mp4"
        start = time.perf_counter()
        seconds = (counts[-1] + 1) / args.fps
        colour = {"bt709": video_media.BT709, "hlg": video_media.BT2020_HLG}[args.colour]
        video_media.colour_clip(clip, colour, width=width, height=height, fps=args.fps, seconds=seconds)
        print(f"clip: {clip.name}, {time.perf_counter() - start:.1f} s to make", file=sys.stderr, flush=True)
        for model in args.models.split(","):
            for count in counts:
                out = folder / f"{model}_{count}.mp4"
                command = [sys.executable, "-m", "jax_softsplat.cli", "video", "--in", str(clip), "--out", str(out)]
                command += ["--model", model, "--max-frames", str(count), "--quiet"]
                # From the scratch folder: from the repository root, `python -m` would import the source
                # folder (no compiled modules) instead of the installed jax_softsplat.
                result = run_measured(command, folder)
                row = {"model": model, "max_frames": count, "wall_s": result["wall_s"], "peak_mib": result["peak_mib"]}
                if result["status"]:
                    row["error"] = f"video exited with status {result['status']}"
                    print(f"{out.name}: {result['stderr']}", file=sys.stderr)
                else:
                    print(result["stdout"].strip(), file=sys.stderr, flush=True)
                    row["output_frames"] = video_media.probe_video(out)["nb_frames"]
                rows.append(row)

    print(
        f"{width}x{height} {KINDS[args.colour]} clip at {args.fps} fps, `video --max-frames N` at the default "
        f"factor 2, one fresh process per run; {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print(f"{'model':<9} {'max frames':>10} {'out frames':>10} {'wall s':>7} {'peak RSS MiB':>12}")
    for r in rows:
        if "error" in r:
            print(f"{r['model']:<9} {r['max_frames']:>10} {'':>10} {r['wall_s']:>7.1f} {'':>12}  {r['error']}")
            continue
        print(
            f"{r['model']:<9} {r['max_frames']:>10} {r['output_frames']:>10} {r['wall_s']:>7.1f} {r['peak_mib']:>12.0f}"
        )
    for model in args.models.split(","):
        done = [r for r in rows if r["model"] == model and "error" not in r]
        if len(done) > 1:
            first, last = done[0], done[-1]
            print(
                f"{model}: peak RSS {round(last['peak_mib'] - first['peak_mib']):+d} MiB from {first['max_frames']} to "
                f"{last['max_frames']} input frames"
            )
    if args.json:
        args.json.write_text(json.dumps({"size": args.size, "fps": args.fps, "rows": rows}, indent=1) + "\n")
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
