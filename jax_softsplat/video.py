"""Video frame interpolation, streamed: frames are decoded, interpolated and encoded one pair at a time,
so memory does not grow with the length of the video.

N input frames become (N - 1) * factor + 1 output frames: each input frame, then factor - 1 frames
interpolated at t = k / factor, and the last input frame at the end. Across a scene cut the frames are
not interpolated (that would blend two unrelated shots) but the earlier frame is repeated. Audio, when
present, is copied unchanged. The output is written to a temporary file and renamed when complete.
"""

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from tqdm import tqdm

from jax_softsplat.data import to_uint8
from jax_softsplat.files import atomic_path
from jax_softsplat.interpolation import Interpolator

FACTORS = (2, 4, 8)
# Bhattacharyya distance between the colour histograms of two consecutive frames above which they are
# taken to belong to different shots: motion barely changes a histogram (at most 0.05 between the
# frames of car-turn.mp4), a cut replaces it.
SCENE_CUT_THRESHOLD = 0.3


def colour_histogram(frame: np.ndarray) -> np.ndarray:
    """A normalised 8x8x8 RGB histogram of a uint8 RGB frame."""
    histogram = cv2.calcHist([frame], [0, 1, 2], None, [8, 8, 8], [0, 256] * 3)
    return cv2.normalize(histogram, histogram).flatten()


def is_scene_cut(previous: np.ndarray, current: np.ndarray, threshold: float = SCENE_CUT_THRESHOLD) -> bool:
    """Whether two consecutive uint8 RGB frames belong to different shots (histogram distance)."""
    distance = cv2.compareHist(colour_histogram(previous), colour_histogram(current), cv2.HISTCMP_BHATTACHARYYA)
    return distance > threshold


def output_frames(
    frames: Iterator[np.ndarray], interpolator: Interpolator, factor: int, scene_cut_threshold: float, cuts: list[int]
) -> Iterator[np.ndarray]:
    """uint8 RGB input frames -> uint8 RGB output frames, holding two input frames at a time. The index
    of each input frame that starts a new shot is appended to `cuts`."""
    times = [k / factor for k in range(1, factor)]
    previous = None
    for index, current in enumerate(frames):
        if previous is not None:
            yield previous
            if is_scene_cut(previous, current, scene_cut_threshold):
                cuts.append(index)
                yield from (previous for _ in times)
            else:
                one, two = (np.asarray(f, np.float32) / 255.0 for f in (previous, current))
                yield from (to_uint8(middle) for middle in interpolator(one, two, times))
        previous = current
    if previous is not None:
        yield previous


def _encoder(output: av.container.OutputContainer, rate: Fraction, width: int, height: int):
    stream = output.add_stream("libx264", rate=rate)
    stream.width, stream.height = width, height
    # yuv420p is what players expect; it needs even sizes, so odd ones keep full chroma instead.
    stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    stream.options = {"crf": "17", "preset": "medium"}
    return stream


def interpolate_video(
    source,
    target,
    interpolator: Interpolator,
    *,
    factor: int = 2,
    fps: Fraction | None = None,
    max_frames: int | None = None,
    scene_cut_threshold: float = SCENE_CUT_THRESHOLD,
    progress: bool = True,
) -> dict:
    """Writes `source` with `factor` times as many frames to `target` (H.264, audio copied).

    `fps` defaults to factor x the input rate (same duration, smoother motion); pass the input rate for
    slow motion. `max_frames` reads only the first frames. Returns counts for the caller to report.
    """
    source, target = Path(source), Path(target)
    try:
        reader = av.open(str(source))
    except av.FFmpegError as error:
        raise ValueError(f"--in {source}: not a readable video ({error})") from error
    with reader:
        if not reader.streams.video:
            raise ValueError(f"--in {source}: no video stream")
        video = reader.streams.video[0]
        video.thread_type = "AUTO"
        audio = reader.streams.audio[0] if reader.streams.audio else None
        rate = Fraction(video.average_rate or video.guessed_rate or 25)
        out_rate = Fraction(fps) if fps is not None else rate * factor
        total = video.frames or None
        if max_frames is not None:
            total = min(total, max_frames) if total else max_frames
        inputs, outputs, cuts = 0, 0, []
        with atomic_path(target) as tmp, av.open(str(tmp), "w") as writer:
            if audio is not None and audio.codec_context.name not in writer.supported_codecs:
                raise ValueError(
                    f"--out {target}: a {target.suffix} file cannot hold the input's {audio.codec_context.name} "
                    "audio, which is copied unchanged; try another container (.mkv, .mov, .mp4)"
                )
            # Both streams exist before the first packet is written (which writes the header).
            encoder = _encoder(writer, out_rate, video.codec_context.width, video.codec_context.height)
            audio_out = writer.add_stream_from_template(audio) if audio is not None else None

            def decoded() -> Iterator[np.ndarray]:
                nonlocal inputs
                for packet in reader.demux(*(s for s in (video, audio) if s is not None)):
                    if packet.stream is audio:
                        if packet.dts is not None:  # None marks the demuxer's empty flush packet
                            packet.stream = audio_out
                            writer.mux(packet)
                        continue
                    for frame in packet.decode():
                        if max_frames is not None and inputs >= max_frames:
                            return  # audio past this point is dropped with the frames
                        inputs += 1
                        yield frame.to_ndarray(format="rgb24")

            frames = output_frames(decoded(), interpolator, factor, scene_cut_threshold, cuts)
            expected = (total - 1) * factor + 1 if total else None
            for frame in tqdm(frames, total=expected, unit="frame", disable=not progress):
                picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
                picture.pts, picture.time_base = outputs, 1 / out_rate
                writer.mux(encoder.encode(picture))
                outputs += 1
            if outputs == 0:
                raise ValueError(f"--in {source}: no video frames could be decoded")
            writer.mux(encoder.encode(None))
    return {"input frames": inputs, "output frames": outputs, "scene cuts": cuts, "fps": out_rate,
            "audio copied": audio is not None}
