"""Video frame interpolation, streamed: frames are decoded, interpolated and encoded as they come, in
three threads joined by bounded queues, so memory does not grow with the length of the video.

Output frame k shows the instant k * step, in input frames: `step` is 1 / factor (factor output frames
per input frame) or input rate / output rate (frame-rate conversion, e.g. 25 -> 60 fps). An instant on
an input frame is that frame, unchanged; one between frames i and i + 1 is interpolated at
t = instant - i. N input frames thus give floor((N - 1) / step) + 1 output frames. Across a scene cut
the frames are not interpolated (that would blend two unrelated shots): the earlier frame is repeated.
Audio, when present, is copied unchanged. The output is written to a temporary file and renamed when
complete.
"""

from __future__ import annotations

import ctypes
import math
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import av

from jax_softsplat.data import to_uint8
from jax_softsplat.files import atomic_path
from jax_softsplat.interpolation import Interpolator

DEFAULT_FACTOR = 2
# Bhattacharyya distance between the colour histograms of two consecutive frames above which they are
# taken to belong to different shots: motion barely changes a histogram (at most 0.05 between the
# frames of car-turn.mp4), a cut replaces it.
SCENE_CUT_THRESHOLD = 0.3
# H.264 settings: x264's "veryfast" preset at crf 16 encodes a 1080p frame in 100 ms where "medium" at
# crf 17 takes 250 ms (two cores), for 0.4 dB less (40.8 against 41.2 dB PSNR of the encoded frames of
# upscaled car-turn.mp4) and a 10 % larger file; at "medium", encoding two frames per pair took as
# long as interpolating them.
X264_OPTIONS = {"crf": "16", "preset": "veryfast"}
# Frames waiting between the threads: enough to smooth out uneven stages, few enough that memory stays
# flat (4K RGB frames are 25 MB each).
QUEUE_FRAMES = 4


# glibc's M_MMAP_THRESHOLD, the value it is fixed at, and the frame size from which it is (see
# `_return_frame_buffers`).
_M_MMAP_THRESHOLD, _FRAME_BUFFER_BYTES = -3, 4 << 20
_LARGE_FRAME_PIXELS = 2560 * 1440


def _return_frame_buffers() -> None:
    """Keeps frame-sized buffers out of the heap, so that freeing one gives its memory back at once.

    glibc raises its mmap threshold each time a large mapped block is freed (up to 32 MB); frame-sized
    buffers (25 MB at 4K) then come from the heaps of the several threads at work, which keep what is
    freed. Fixed at 4 MB, the peak resident memory of 4K `classic` over 16 frames fell from 3483 to
    2889 MB. Only done for frames above 2560x1440: below, memory is far from a concern and mapping every
    large buffer afresh costs page faults. Other C libraries have no mallopt and are left as they are."""
    try:
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, _FRAME_BUFFER_BYTES)
    except (OSError, AttributeError):
        pass


class VideoArgumentError(ValueError):
    """Bad input or output for `interpolate_video`; `argument` names which ("source" or "target") so that
    a command line can name its own option instead."""

    def __init__(self, argument: str, path, reason: str):
        super().__init__(f"{argument} {path}: {reason}")
        self.argument, self.path, self.reason = argument, path, reason


def frame_step(rate: Fraction, factor: int | None = None, fps: Fraction | None = None) -> tuple[Fraction, Fraction]:
    """(step, output rate) for an input at `rate` frames per second.

    With `factor`, factor output frames per input frame (step 1 / factor), played at `fps` or by default
    at factor x rate (same duration); with `fps` alone, frame-rate conversion to fps (step rate / fps,
    same duration); with neither, factor 2."""
    rate = Fraction(rate)
    if factor is not None and factor < 2:
        raise ValueError(f"factor: expected an integer >= 2, got {factor}")
    if fps is not None and fps <= 0:
        raise ValueError(f"fps: expected a positive rate, got {fps}")
    if factor is None and fps is not None:
        return rate / Fraction(fps), Fraction(fps)
    factor = factor or DEFAULT_FACTOR
    return Fraction(1, factor), Fraction(fps) if fps is not None else rate * factor


def output_count(inputs: int, step: Fraction) -> int:
    """How many output frames `inputs` input frames give: the instants k * step up to the last frame."""
    return math.floor((inputs - 1) / step) + 1 if inputs > 0 else 0


def output_instant(k: int, step: Fraction) -> tuple[int, Fraction]:
    """Output frame k -> (input frame i, t in [0, 1)): the instant k * step lies t of the way from input
    frame i to frame i + 1 (t = 0: it is frame i itself)."""
    position = k * Fraction(step)
    index = math.floor(position)
    return index, position - index


def outputs_between(first: int, last: int, step: Fraction) -> range:
    """The output frames whose instants lie in [first, last) (input frame positions)."""
    return range(math.ceil(first / step), math.ceil(last / step))


class ShotStream(Protocol):
    """The output frames of one shot, fed its uint8 RGB input frames in order (`push` with the frame's
    index in the video), each output frame yielded as soon as it is ready; `close` yields the rest, up to
    the shot's last frame. An interpolator may offer `open_shot(step, start) -> ShotStream` to see a
    whole shot (FFmpeg's minterpolate does); others are called pair by pair (`PairShot`)."""

    def push(self, index: int, frame: np.ndarray) -> Iterator[np.ndarray]: ...

    def close(self) -> Iterator[np.ndarray]: ...


class PairShot:
    """A `ShotStream` over an `Interpolator`: one call per pair of frames for all the instants between them.

    An interpolator that also offers `prepare(one, two) -> state` (what depends on the pair only, e.g.
    optical flow; given the uint8 frames) and `render(state, times) -> frames` has each pair prepared in
    a background thread while the previous pair renders: output lags one input frame behind, the stages
    overlap."""

    def __init__(self, interpolator: Interpolator, step: Fraction, start: int):
        self.interpolator, self.step = interpolator, Fraction(step)
        self.previous, self.index = None, start
        self.staged = hasattr(interpolator, "prepare") and hasattr(interpolator, "render")
        self.executor = ThreadPoolExecutor(1) if self.staged else None
        self.pending = None

    def _pair(self, index: int, frame: np.ndarray) -> tuple:
        """(the earlier frame when an instant falls on it, else None; the times in (0, 1); the work)."""
        times = [output_instant(k, self.step)[1] for k in outputs_between(self.index, index, self.step)]
        first = self.previous if times and times[0] == 0 else None
        times = [float(t) for t in times if t != 0]
        previous, job = self.previous, None

        def floats():
            return tuple(np.asarray(f, np.float32) / 255.0 for f in (previous, frame))

        if times:
            job = self.executor.submit(self.interpolator.prepare, previous, frame) if self.staged else floats()
        return first, times, job

    def _emit(self, pair: tuple) -> Iterator[np.ndarray]:
        first, times, job = pair
        if first is not None:
            yield first
        if times:
            frames = self.interpolator.render(job.result(), times) if self.staged else self.interpolator(*job, times)
            yield from (to_uint8(f) for f in frames)

    def push(self, index: int, frame: np.ndarray) -> Iterator[np.ndarray]:
        if self.previous is not None:
            pair = self._pair(index, frame)
            if self.staged:
                if self.pending is not None:
                    yield from self._emit(self.pending)
                self.pending = pair
            else:
                yield from self._emit(pair)
        self.previous, self.index = frame, index

    def close(self) -> Iterator[np.ndarray]:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            yield from self._emit(pending)
        if self.executor is not None:
            self.executor.shutdown()
        if self.previous is not None and output_instant(math.ceil(self.index / self.step), self.step) == (
            self.index,
            0,
        ):
            yield self.previous


def output_frames(
    frames: Iterable[np.ndarray],
    interpolator: Interpolator,
    step: Fraction,
    scene_cut_threshold: float,
    cuts: list[int],
) -> Iterator[np.ndarray]:
    """uint8 RGB input frames -> uint8 RGB output frames at the instants k * step, holding one shot's
    stream at a time. The index of each input frame that starts a new shot is appended to `cuts`."""
    step = Fraction(step)
    open_shot: Callable[[Fraction, int], ShotStream] = getattr(
        interpolator, "open_shot", lambda step, start: PairShot(interpolator, step, start)
    )
    shot, previous = None, None
    for index, current in enumerate(frames):
        if previous is not None and is_scene_cut(previous, current, scene_cut_threshold):
            cuts.append(index)
            yield from shot.close()
            # The instants strictly between the two shots show the earlier frame.
            between = outputs_between(index - 1, index, step)
            yield from (previous for k in between if output_instant(k, step)[1] != 0)
            shot = None
        if shot is None:
            shot = open_shot(step, index)
        yield from shot.push(index, current)
        previous = current
    if shot is not None:
        yield from shot.close()


def colour_histogram(frame: np.ndarray) -> np.ndarray:
    """A normalised 8x8x8 RGB histogram of a uint8 RGB frame."""
    import cv2

    histogram = cv2.calcHist([frame], [0, 1, 2], None, [8, 8, 8], [0, 256] * 3)
    return cv2.normalize(histogram, histogram).flatten()


def is_scene_cut(previous: np.ndarray, current: np.ndarray, threshold: float = SCENE_CUT_THRESHOLD) -> bool:
    """Whether two consecutive uint8 RGB frames belong to different shots (histogram distance)."""
    import cv2

    distance = cv2.compareHist(colour_histogram(previous), colour_histogram(current), cv2.HISTCMP_BHATTACHARYYA)
    return distance > threshold


def _encoder(output: av.container.OutputContainer, rate: Fraction, width: int, height: int):
    stream = output.add_stream("libx264", rate=rate)
    stream.width, stream.height = width, height
    # yuv420p is what players expect; it needs even sizes, so odd ones keep full chroma instead.
    stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    stream.options = dict(X264_OPTIONS)
    return stream


_DONE = object()


def in_background(items: Iterable, size: int = QUEUE_FRAMES) -> Iterator:
    """Yields what `items` yields, computed ahead in another thread, at most `size` items ahead. An
    exception there is raised here; stopping early (closing this generator) stops that thread."""
    buffer: queue.Queue = queue.Queue(size)
    stop = threading.Event()

    def produce():
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(("done", _DONE))
        except BaseException as error:  # handed to the consumer, which raises it
            buffer.put(("error", error))

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            kind, item = buffer.get()
            if kind == "error":
                raise item
            if kind == "done":
                return
            yield item
    finally:
        stop.set()
        thread.join()


class _Encoder:
    """Encodes and muxes frames in its own thread (x264 and the RGB -> YUV conversion overlap with the
    interpolation); audio packets handed over by the decoder are muxed here too, so that only this thread
    writes to the container."""

    def __init__(self, writer, stream, rate: Fraction, audio_out):
        self.writer, self.stream, self.rate, self.audio_out = writer, stream, rate, audio_out
        self.audio: deque = deque()
        self.frames: queue.Queue = queue.Queue(QUEUE_FRAMES)
        self.count, self.error = 0, None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _mux_audio(self):
        while self.audio:
            packet = self.audio.popleft()
            packet.stream = self.audio_out
            self.writer.mux(packet)

    def _run(self):
        import av

        try:
            while (frame := self.frames.get()) is not None:
                picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
                picture.pts, picture.time_base = self.count, 1 / self.rate
                self._mux_audio()
                self.writer.mux(self.stream.encode(picture))
                self.count += 1
            self._mux_audio()
            self.writer.mux(self.stream.encode(None))
        except BaseException as error:  # raised by `put` or `finish` in the calling thread
            self.error = error
            while self.frames.get() is not None:  # let the producer finish
                pass

    def put(self, frame: np.ndarray) -> None:
        if self.error is not None:
            raise self.error
        self.frames.put(frame)

    def finish(self) -> int:
        self.frames.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.count


def interpolate_video(
    source,
    target,
    interpolator: Interpolator,
    *,
    factor: int | None = None,
    fps: Fraction | None = None,
    max_frames: int | None = None,
    scene_cut_threshold: float = SCENE_CUT_THRESHOLD,
    progress: bool = True,
) -> dict:
    """Writes `source` with more frames to `target` (H.264, audio copied).

    `factor` output frames per input frame, played at factor x the input rate unless `fps` says
    otherwise (give the input's rate for slow motion); or `fps` alone: frame-rate conversion (see
    `frame_step`). `max_frames` reads only the first frames. Returns counts for the caller to report.
    A source with fewer than two frames (an image, say) is an error and leaves no output behind.
    """
    import av
    from tqdm import tqdm

    source, target = Path(source), Path(target)
    try:
        reader = av.open(str(source))
    except av.FFmpegError as error:
        raise VideoArgumentError("source", source, f"not a readable video ({error})") from error
    with reader:
        if not reader.streams.video:
            raise VideoArgumentError("source", source, "no video stream")
        video = reader.streams.video[0]
        video.thread_type = "AUTO"
        if video.codec_context.width * video.codec_context.height > _LARGE_FRAME_PIXELS:
            _return_frame_buffers()
        audio = reader.streams.audio[0] if reader.streams.audio else None
        rate = Fraction(video.average_rate or video.guessed_rate or 25)
        step, out_rate = frame_step(rate, factor, fps)
        total = video.frames or None
        if max_frames is not None:
            total = min(total, max_frames) if total else max_frames
        inputs, cuts = 0, []
        with atomic_path(target) as tmp, av.open(str(tmp), "w") as writer:
            if audio is not None and audio.codec_context.name not in writer.supported_codecs:
                raise VideoArgumentError(
                    "target",
                    target,
                    f"a {target.suffix} file cannot hold the input's {audio.codec_context.name} "
                    "audio, which is copied unchanged; try another container (.mkv, .mov, .mp4)",
                )
            # Both streams exist before the first packet is written (which writes the header).
            stream = _encoder(writer, out_rate, video.codec_context.width, video.codec_context.height)
            audio_out = writer.add_stream_from_template(audio) if audio is not None else None
            encoder = _Encoder(writer, stream, out_rate, audio_out)

            def decoded() -> Iterator[np.ndarray]:
                nonlocal inputs
                for packet in reader.demux(*(s for s in (video, audio) if s is not None)):
                    if packet.stream is audio:
                        if packet.dts is not None:  # None marks the demuxer's empty flush packet
                            encoder.audio.append(packet)
                        continue
                    for frame in packet.decode():
                        if max_frames is not None and inputs >= max_frames:
                            return  # audio past this point is dropped with the frames
                        inputs += 1
                        yield frame.to_ndarray(format="rgb24")

            background = in_background(decoded())
            frames = output_frames(background, interpolator, step, scene_cut_threshold, cuts)
            try:
                expected = output_count(total, step) if total else None
                for frame in tqdm(frames, total=expected, unit="frame", disable=not progress):
                    encoder.put(frame)
            finally:  # the decoding thread stops before the reader closes, the encoder flushes
                frames.close()
                background.close()
                outputs = encoder.finish()
            if inputs < 2:
                found = "no video frames" if inputs == 0 else "a single frame (an image?)"
                raise VideoArgumentError(
                    "source", source, f"{found} decoded; at least 2 frames are needed to interpolate"
                )
    return {
        "input frames": inputs,
        "output frames": outputs,
        "scene cuts": cuts,
        "fps": out_rate,
        "step": step,
        "audio copied": audio is not None,
    }
