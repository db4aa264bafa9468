"""Speed and memory of `jax-softsplat video` per model at 1080p and 4K, side by side in one run.

    jax-softsplat speed video [--size 1080p 4k] [--model classic classic-fast ...] [--frames 12]

There is no 1080p or 4K sample video, so the shared car-turn.mp4 (640x360, 25 fps, a car turning past
a camera that pans) is upscaled (bicubic) to 1920x1080 and 3840x2160 and encoded first (H.264 crf 10,
yuv420p, as a camera's or a download's would be): the
motion is the clip's, in pixels of the larger frame (3x and 6x), the detail is not that of a real 1080p
or 4K camera. Each model runs in its own process (so that its peak resident memory is its own): one
2-frame video first (compilation, warm-up), then the timed video of --frames frames at factor 2. The
time per interpolated frame is that run's wall time (decoding, interpolation and encoding together,
as a user waits for them) over the number of interpolated frames; CPU seconds per frame are given
too. Lines that XLA or FFmpeg print to stderr in the form of an error (E1202 ..., [error]) are
reported.
"""

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

SIZES = {"1080p": (1920, 1080), "4k": (3840, 2160)}
MODELS = ("classic", "classic-fast", "classic-full", "minterpolate", "average")
SOURCE = Path("videos") / "car-turn.mp4"
ERROR_LINE = re.compile(r"^[EF]\d{4} |slow_operation_alarm|\[error\]|Traceback", re.MULTILINE)


def upscaled_clip(source: Path, target: Path, size: tuple[int, int], frames: int) -> Path:
    """The first `frames` frames of `source`, resized to `size` (bicubic), as H.264 (crf 10, yuv420p)."""
    import av
    import cv2

    with av.open(str(source)) as reader, av.open(str(target), "w") as writer:
        rate = reader.streams.video[0].average_rate
        stream = writer.add_stream("libx264", rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10", "preset": "veryfast"}
        for index, frame in enumerate(reader.decode(video=0)):
            if index == frames:
                break
            big = cv2.resize(frame.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_CUBIC)
            picture = av.VideoFrame.from_ndarray(big, format="rgb24")
            picture.pts, picture.time_base = index, 1 / Fraction(rate)
            writer.mux(stream.encode(picture))
        writer.mux(stream.encode(None))
    return target


def measure(model: str, clip: Path, frames: int) -> dict:
    """Runs in the child process: warm-up on 2 frames, then the timed run."""
    from jax_softsplat.interpolation import load_interpolator
    from jax_softsplat.video import interpolate_video

    interpolator = load_interpolator(model)
    with tempfile.TemporaryDirectory() as folder:
        interpolate_video(clip, Path(folder) / "warm.mp4", interpolator, factor=2, max_frames=2, progress=False)
        wall, cpu = time.perf_counter(), time.process_time()
        counts = interpolate_video(
            clip, Path(folder) / "out.mp4", interpolator, factor=2, max_frames=frames, progress=False
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    interpolated = counts["output frames"] - counts["input frames"]
    return {
        "model": model,
        "frames": counts["input frames"],
        "interpolated": interpolated,
        "seconds_per_frame": wall / interpolated,
        "cpu_seconds_per_frame": cpu / interpolated,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(model: str, clip: Path, frames: int) -> dict:
    command = [sys.executable, "-m", "jax_softsplat.video_speed", model, str(clip), str(frames)]
    # Run beside the clip: from a source checkout, `python -m` would import the source folder instead
    # of the installed build.
    done = subprocess.run(command, capture_output=True, text=True, cwd=clip.parent)
    if done.returncode != 0:
        raise RuntimeError(f"{model} on {clip.name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["error_lines"] = [m.group(0) for m in ERROR_LINE.finditer(done.stderr)]
    return result


def table(results: list[dict]) -> str:
    lines = [
        "| size | model | s per interpolated frame | x minterpolate's speed | CPU s per frame | peak RSS (MB) "
        "| error-looking stderr lines |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        base = next((b for b in results if b["size"] == r["size"] and b["model"] == "minterpolate"), None)
        ratio = f"{base['seconds_per_frame'] / r['seconds_per_frame']:.2f}" if base else ""
        lines.append(
            f"| {r['size']} | {r['model']} | {r['seconds_per_frame']:.3f} | {ratio} | "
            f"{r['cpu_seconds_per_frame']:.3f} | {r['peak_rss_mb']:.0f} | {len(r['error_lines'])} |"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `jax-softsplat speed video`."""
    parser.add_argument("--size", nargs="+", choices=list(SIZES), default=list(SIZES), help="frame sizes")
    parser.add_argument("--model", nargs="+", default=list(MODELS), help="models to time")
    parser.add_argument("--frames", type=int, default=12, help="input frames of the timed run (at least 3)")
    parser.add_argument("--data", help="the shared data folder (default: $JAX_SOFTSPLAT_DATA, else ../shared/data)")
    parser.add_argument("--json", help="also write the results to this JSON file")


def run(args: argparse.Namespace) -> None:
    """`jax-softsplat speed video`: every model in its own process, then the table."""
    from jax_softsplat.commands.options import output_file
    from jax_softsplat.data import shared_data_dir
    from jax_softsplat.files import atomic_path
    from jax_softsplat.interpolation import load_interpolator

    if args.frames < 3:
        raise ValueError(f"--frames: expected at least 3, got {args.frames}")
    json_path = output_file("--json", args.json, suffixes=(".json",)) if args.json else None
    for model in args.model:  # an unknown name fails here, before any clip is encoded
        if model not in MODELS:
            load_interpolator(model)
    source = (Path(args.data) if args.data else shared_data_dir()) / SOURCE
    if not source.is_file():
        raise FileNotFoundError(f"--data {source.parent.parent}: no {SOURCE} there")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for size in args.size:
            clip = upscaled_clip(source, Path(folder) / f"car-turn-{size}.mp4", SIZES[size], args.frames)
            for model in args.model:
                result = {"size": size, **run_child(model, clip, args.frames)}
                results.append(result)
                print(
                    f"{size} {model}: {result['seconds_per_frame']:.3f} s per frame, {result['peak_rss_mb']:.0f} MB",
                    file=sys.stderr,
                    flush=True,
                )
                for line in result["error_lines"]:
                    print(f"  stderr: {line}", file=sys.stderr)
    print(table(results))
    if json_path:
        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(results, indent=2) + "\n")


def child_main(argv: list[str]) -> int:
    """The child process of one row: `python -m jax_softsplat.video_speed MODEL CLIP FRAMES`."""
    model, clip, frames = argv
    print(json.dumps(measure(model, Path(clip), int(frames))))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
