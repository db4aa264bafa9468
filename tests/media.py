"""Generated test media: moving textures, Vimeo-90k-style triplet folders, and short H.264 clips with an
optional audio track."""

from fractions import Fraction

import av
import numpy as np
from PIL import Image

from jax_softsplat.synthetic import Texture
from jax_softsplat.train.sources import SyntheticTriplets


def moving_texture(height: int, width: int, times, motion=(6.0, -3.0), seed: int = 0) -> list[np.ndarray]:
    """Frames of one texture translated by `motion` * t (pixels, x then y) for each t: float32 [H, W, 3]."""
    texture = Texture.random(np.random.default_rng(seed))
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    return [texture(x - t * motion[0], y - t * motion[1]).astype(np.float32) for t in times]


def make_vimeo(root, count=5, size=(24, 32), *, motion=2.0, test_count=1):
    """Writes `count` generated triplets in the Vimeo-90k layout under `root`; the first `test_count`
    are also listed as the test split. Returns `root`."""
    source = SyntheticTriplets(count, *size, seed=0, max_motion=motion)
    names = []
    for index in range(count):
        folder = root / "sequences" / "00001" / f"{index:04d}"
        folder.mkdir(parents=True)
        for number, name in enumerate(("one", "mid", "two"), start=1):
            Image.fromarray(source[index][name]).save(folder / f"im{number}.png")
        names.append(f"00001/{index:04d}")
    (root / "tri_trainlist.txt").write_text("\n".join(names) + "\n")
    (root / "tri_testlist.txt").write_text("\n".join(names[:test_count]) + "\n")
    return root


def write_clip(
    path, frames: list[np.ndarray], fps: int = 25, audio_seconds: float | None = None, audio_codec: str = "aac"
) -> None:
    """Writes float RGB frames as H.264 (and, if asked, a 440 Hz tone of that many seconds)."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "10"}
        sound = None
        if audio_seconds:
            sound = out.add_stream(audio_codec, rate=44100)
            sound.layout = "mono"
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            samples = int(44100 * audio_seconds)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 44100)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = 44100, start, Fraction(1, 44100)
                out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))


def read_clip(path) -> tuple[list[np.ndarray], Fraction, bool]:
    """(uint8 RGB frames, frame rate, whether there is an audio stream) of a video file."""
    with av.open(str(path)) as clip:
        rate = clip.streams.video[0].average_rate
        has_audio = bool(clip.streams.audio)
        frames = [f.to_ndarray(format="rgb24") for f in clip.decode(video=0)]
    return frames, rate, has_audio
