"""Interpolation benchmarks (Middlebury, Xiph) as the paper measures them: PSNR/SSIM of the frame
interpolated at t = 0.5 against the true middle frame."""

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from jax_softsplat.data import read_image, to_uint8
from jax_softsplat.interpolation import Interpolator

MIDDLEBURY_FILES = ("frame10.png", "frame11.png", "frame10i11.png")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm")
XIPH_FRAMES = 100  # the protocol uses the first 100 frames of each clip
XIPH_PROTOCOLS = ("2k", "4k")


@dataclass(frozen=True)
class Score:
    name: str
    psnr: float
    ssim: float


def score(interpolator: Interpolator, one, two, target, name: str) -> Score:
    from jax_softsplat.metrics import psnr, ssim  # scikit-image: only once there is something to score

    """Interpolates t = 0.5 between `one` and `two`, rounds to uint8 as the benchmarks do, and scores it."""
    middle = to_uint8(interpolator(one, two, [0.5])[0])
    target = to_uint8(target)
    return Score(name, psnr(target, middle), ssim(target, middle))


def middlebury_sequences(data) -> list[Path]:
    """The sequence folders under `data` that hold frame10.png, frame11.png and frame10i11.png."""
    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(f"{data}: no such folder")
    found = sorted(p for p in data.iterdir() if all((p / f).is_file() for f in MIDDLEBURY_FILES))
    if not found:
        raise ValueError(f"{data}: no sequence folders with {', '.join(MIDDLEBURY_FILES)}")
    return found


def middlebury(interpolator: Interpolator, data) -> Iterator[Score]:
    """Scores per Middlebury sequence: frame10 and frame11 in, frame10i11 the target."""
    for folder in middlebury_sequences(data):
        one, two, target = (read_image(folder / f) for f in MIDDLEBURY_FILES)
        yield score(interpolator, one, two, target, folder.name)


def xiph_2k(frame: np.ndarray) -> np.ndarray:
    """The "2K" protocol: the frame resized to half its width and height (4096x2160 -> 2048x1080) with
    area interpolation."""
    import cv2

    h, w = frame.shape[:2]
    return cv2.resize(frame, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def xiph_4k(frame: np.ndarray) -> np.ndarray:
    """The "4K" protocol: the centre crop of half the width and height (4096x2160 -> rows 540:-540,
    columns 1024:-1024)."""
    h, w = frame.shape[:2]
    return frame[h // 4 : h - h // 4, w // 4 : w - w // 4]


def xiph_triplets(count: int) -> list[tuple[int, int, int]]:
    """(i - 1, i + 1, i) for i = 2, 4, ..., 98 over the first 100 frames, or over as many as there are."""
    count = min(count, XIPH_FRAMES)
    return [(i - 1, i + 1, i) for i in range(2, count - 1, 2)]


def clip_frames(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def xiph_clips(data) -> list[Path]:
    """The clips under `data`: `data` itself when it holds frames, else its subfolders that do."""
    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(f"{data}: no such folder")
    folders = [data] if clip_frames(data) else sorted(p for p in data.iterdir() if p.is_dir() and clip_frames(p))
    folders = [f for f in folders if len(clip_frames(f)) >= 3]
    if not folders:
        raise ValueError(f"{data}: no folder of at least 3 frames (PNG/JPEG/...) found")
    return folders


def xiph(interpolator: Interpolator, data, protocol: str) -> Iterator[Score]:
    """Scores per clip (mean over its triplets) under the "2k" or "4k" protocol."""
    resize_or_crop = {"2k": xiph_2k, "4k": xiph_4k}[protocol]

    def prepare(path: Path) -> np.ndarray:  # resized as uint8, as the reference does
        return resize_or_crop(to_uint8(read_image(path))).astype(np.float32) / 255.0

    for folder in xiph_clips(data):
        frames = clip_frames(folder)
        scores = [
            score(interpolator, *(prepare(frames[k]) for k in triplet), name=frames[triplet[2]].name)
            for triplet in xiph_triplets(len(frames))
        ]
        yield Score(folder.name, float(np.mean([s.psnr for s in scores])), float(np.mean([s.ssim for s in scores])))


def mean(scores: list[Score]) -> Score:
    return Score("mean", float(np.mean([s.psnr for s in scores])), float(np.mean([s.ssim for s in scores])))


def table(scores: list[Score], title: str) -> str:
    """A Markdown table: one row per score and the mean."""
    lines = [f"| {title} | PSNR (dB) | SSIM |", "| --- | ---: | ---: |"]
    lines += [f"| {s.name} | {s.psnr:.2f} | {s.ssim:.4f} |" for s in [*scores, mean(scores)]]
    return "\n".join(lines)


def as_json(scores: list[Score]) -> dict:
    return {"sequences": [asdict(s) for s in scores], "mean": asdict(mean(scores))}
