"""Random-access sources of frame triplets (one, mid, two), all behind one interface.

A source has `len(source)` and `source[i]`, which returns {"one", "mid", "two"} as uint8 RGB [H, W, 3]
arrays of one size, or None when that triplet cannot be read (a corrupt file, frames of different sizes):
the bad triplet is reported through `logging` and skipped by the pipeline instead of ending the run.
Sources are plain picklable objects so grain can hand them to worker processes.
"""

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from jax_softsplat.data import to_uint8
from jax_softsplat.synthetic import moving_layers

log = logging.getLogger("jax_softsplat.train")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v")
FRAME_NAMES = ("one", "mid", "two")


def _read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), np.uint8)


def read_triplet(paths) -> dict | None:
    """Three image files -> a triplet dict, or None (reported) when one is unreadable or sizes differ."""
    try:
        frames = [_read_rgb(path) for path in paths]
    except (OSError, ValueError) as error:
        log.warning("skipping triplet %s: unreadable image (%s)", paths[0].parent, error)
        return None
    if len({frame.shape for frame in frames}) != 1:
        sizes = ", ".join(f"{p.name} {f.shape[1]}x{f.shape[0]}" for p, f in zip(paths, frames))
        log.warning("skipping triplet %s: frames of different sizes (%s)", paths[0].parent, sizes)
        return None
    return dict(zip(FRAME_NAMES, frames))


class VimeoTriplets:
    """Vimeo-90k triplets in their published layout: `<root>/sequences/<a>/<b>/im1.png, im2.png, im3.png`,
    listed (as `<a>/<b>` lines) in `<root>/tri_trainlist.txt` or `tri_testlist.txt`."""

    def __init__(self, root, split: str = "train"):
        root = Path(root)
        listing = root / f"tri_{split}list.txt"
        if not root.is_dir():
            raise FileNotFoundError(f"Vimeo-90k folder {root} does not exist")
        if not listing.is_file():
            raise FileNotFoundError(
                f"{root} is not a Vimeo-90k triplet folder: no {listing.name} (expected tri_trainlist.txt, "
                "tri_testlist.txt and sequences/<a>/<b>/im1.png, im2.png, im3.png)"
            )
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        self.folders = [root / "sequences" / name for name in names]
        if not self.folders:
            raise ValueError(f"{listing} lists no triplets")
        missing = [folder for folder in self.folders[:1] if not (folder / "im1.png").is_file()]
        if missing:
            raise FileNotFoundError(f"{listing} lists {names[0]} but {missing[0] / 'im1.png'} does not exist")

    def __len__(self) -> int:
        return len(self.folders)

    def __getitem__(self, index: int) -> dict | None:
        folder = self.folders[index]
        return read_triplet([folder / "im1.png", folder / "im2.png", folder / "im3.png"])


def _is_cut(a: np.ndarray, b: np.ndarray, threshold: float) -> bool:
    """A scene cut between two frames: their mean absolute difference on a coarse grey image is large."""

    def grey(frame):
        step = max(1, min(frame.shape[:2]) // 64)
        return frame[::step, ::step].mean(axis=2, dtype=np.float32) / 255.0

    ga, gb = grey(a), grey(b)
    if ga.shape != gb.shape:
        return True
    return float(np.abs(ga - gb).mean()) > threshold


def decode_video(path: Path, out: Path) -> list[Path]:
    """Decodes a video into numbered PNG frames in `out` once (a `.done` marker records completion)."""
    import av  # optional dependency ("video" extra), needed only for video files

    done = out / ".done"
    if not done.is_file():
        out.mkdir(parents=True, exist_ok=True)
        log.info("decoding %s into %s", path, out)
        try:
            with av.open(str(path)) as container:
                for number, frame in enumerate(container.decode(video=0)):
                    Image.fromarray(frame.to_ndarray(format="rgb24")).save(out / f"{number:06d}.png")
        except av.error.FFmpegError as error:
            raise ValueError(f"{path}: not a readable video ({error})") from error
        done.write_text("ok\n")
    return sorted(out.glob("*.png"))


class FrameTriplets:
    """Triplets of consecutive frames (i, i+1, i+2) from a folder holding frame folders and/or videos.

    Every folder (the root included) whose files are images is one clip, frames in name order; every
    video file is decoded once into `cache/<name>/` and is one clip. Triplets spanning a scene cut are
    left out.
    """

    def __init__(self, root, *, cache=None, scene_cut: float = 0.12):
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"frames folder {root} does not exist")
        clips = []
        for folder in sorted({root, *(p for p in root.rglob("*") if p.is_dir())}):
            frames = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if frames:
                clips.append(frames)
        videos = sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
        if videos:
            if cache is None:
                raise ValueError(f"{root} holds videos: a cache folder is needed to decode them into frames")
            for video in videos:
                clips.append(decode_video(video, Path(cache) / video.relative_to(root).with_suffix("")))
        self.triplets = []
        cuts = 0
        for frames in clips:
            images = [None] * len(frames)
            for i in range(len(frames) - 2):
                for j in (i, i + 1, i + 2):
                    if images[j] is None:
                        try:
                            images[j] = _read_rgb(frames[j])
                        except (OSError, ValueError) as error:
                            log.warning("skipping frame %s: unreadable image (%s)", frames[j], error)
                            images[j] = np.zeros((0, 0, 3), np.uint8)
                if _is_cut(images[i], images[i + 1], scene_cut) or _is_cut(images[i + 1], images[i + 2], scene_cut):
                    cuts += 1
                else:
                    self.triplets.append(tuple(frames[i : i + 3]))
                images[i] = None  # only a sliding window of decoded frames stays in memory
        if not self.triplets:
            raise ValueError(
                f"{root}: no triplets found (need folders of >= 3 image frames or video files; "
                f"{len(clips)} clip(s), {cuts} triplet(s) across scene cuts)"
            )
        if cuts:
            log.info("%s: %d triplets, %d left out at scene cuts", root, len(self.triplets), cuts)

    def __len__(self) -> int:
        return len(self.triplets)

    def __getitem__(self, index: int) -> dict | None:
        return read_triplet(self.triplets[index])


class SyntheticTriplets:
    """Generated triplets: textured layers moving with different known motions, with occlusion; the
    middle frame is the exact scene at t = 0.5. Scene `i` is the same for a given seed, always."""

    def __init__(self, size: int = 1024, height: int = 288, width: int = 352, *, seed: int = 0, max_motion=12.0):
        if size < 1:
            raise ValueError(f"synthetic dataset size must be >= 1, got {size}")
        self.size, self.height, self.width, self.seed, self.max_motion = size, height, width, seed, max_motion

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict:
        scene_seed = np.random.SeedSequence([self.seed, index])
        layers = 2 + int(np.random.default_rng(scene_seed).integers(0, 3))
        frames = moving_layers(
            self.height, self.width, seed=scene_seed.generate_state(1)[0], layers=layers, max_motion=self.max_motion
        )
        return dict(zip(FRAME_NAMES, (to_uint8(frame) for frame in frames)))


def make_source(kind: str, path: str, *, split: str = "train", cache=None, config=None, seed: int = 0):
    """The source a config names: kind "synthetic", "vimeo" or "frames"."""
    if kind == "synthetic":
        return SyntheticTriplets(
            config.synthetic_size,
            config.synthetic_height,
            config.synthetic_width,
            seed=seed,
            max_motion=config.synthetic_motion,
        )
    if not path:
        raise ValueError(f"data kind {kind!r} needs a path (--data PATH or --set data.path=...)")
    if kind == "vimeo":
        return VimeoTriplets(path, split)
    if kind == "frames":
        return FrameTriplets(path, cache=cache, scene_cut=config.scene_cut if config else 0.12)
    raise ValueError(f"unknown data kind {kind!r}: expected 'synthetic', 'vimeo' or 'frames'")
