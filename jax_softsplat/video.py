"""Video frame interpolation, streamed: frames are decoded, interpolated and encoded as they come, in
three threads joined by bounded queues, so memory does not grow with the length of the video.

Which frames come out is `video_timeline`'s business; what their pixels mean (colour, bit depth, pixel
aspect, rotation, HDR metadata), `video_format`'s. This module runs the pipeline: it reads the input's
real timestamps (phones record at a variable rate), times every output frame on that timeline, copies
the audio unchanged (so it stays in sync), writes to a temporary file that is renamed when complete, and
checks what was written. A stream that breaks partway stops the run, or with `partial` is cut there.
"""

from __future__ import annotations

import ctypes
import math
import queue
import threading
import warnings
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import av

from jax_softsplat.errors import InputBroken, OutputWriteError
from jax_softsplat.files import atomic_path
from jax_softsplat.interpolation import Interpolator
from jax_softsplat.video_format import (
    CODECS,
    DEFAULT_CODEC,
    HDR,
    Colour,
    Layout,
    as_output,
    from_rgb,
    tag_stream,
    to_rgb,
)
from jax_softsplat.video_timeline import (
    DEFAULT_FACTOR,
    SCENE_CUT_THRESHOLD,
    frame_step,
    output_count,
    timed_outputs,
)

__all__ = ["DEFAULT_FACTOR", "SCENE_CUT_THRESHOLD", "VideoArgumentError", "interpolate_video"]

# Frames waiting between the threads: enough to smooth out uneven stages, few enough that memory stays
# flat (4K RGB frames are 25 MB each).
QUEUE_FRAMES = 4
# A stream whose frames end this many frame intervals before its stated duration was cut short.
TRUNCATION_FRAMES = 2

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


_DONE = object()


def join(thread: threading.Thread) -> None:
    """Waits for `thread` to end, even if a stop (KeyboardInterrupt) arrives meanwhile, then raises that
    stop: the resources the thread uses (the input, the output file) are closed after it, never under it.
    The command line ignores further signals once it has taken one, so at most one arrives here."""
    stop = None
    while thread.is_alive():
        try:
            thread.join()
        except KeyboardInterrupt as error:
            stop = error
    if stop is not None:
        raise stop


def in_background(items: Iterable, size: int = QUEUE_FRAMES) -> Iterator:
    """Yields what `items` yields, computed ahead in another thread, at most `size` items ahead. An
    exception there is raised here; stopping early (closing this generator) stops that thread."""
    buffer: queue.Queue = queue.Queue(size)
    stop = threading.Event()

    def put(entry) -> bool:
        """Waits for room unless the consumer has stopped (which then never takes another entry)."""
        while not stop.is_set():
            try:
                buffer.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("done", _DONE))
        except BaseException as error:  # handed to the consumer, which raises it
            put(("error", error))

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
        join(thread)


class Originals:
    """The decoded picture behind each RGB frame still in flight: an output frame that IS an input frame
    is encoded from its decoded picture, not from RGB (no conversion, no rounding). An entry lives as long
    as its RGB array."""

    def __init__(self):
        self._pictures: dict[int, tuple[weakref.ref, av.VideoFrame]] = {}

    def add(self, rgb: np.ndarray, picture: av.VideoFrame) -> None:
        key = id(rgb)
        self._pictures[key] = (weakref.ref(rgb, lambda _, key=key: self._pictures.pop(key, None)), picture)

    def get(self, rgb: np.ndarray) -> av.VideoFrame | None:
        entry = self._pictures.get(id(rgb))
        return entry[1] if entry is not None and entry[0]() is rgb else None


@dataclass
class Clock:
    """When output frame k is shown, in seconds on the input's timeline, and the time base its
    timestamps are written in.

    By frame index (a factor): output k lies k * step of the way along the input frames and is shown at
    that fraction of the real interval between its two frames (the input's timing kept, variable rate
    included), or, with a playback rate, every 1 / fps from the first frame (slow motion). By time
    (frame-rate conversion): output k is shown at k * step seconds."""

    step: Fraction
    by_time: bool
    playback: Fraction | None  # a constant playback rate for a factor (slow motion), else None
    time_base: Fraction

    def __post_init__(self):
        self.times: dict[int, Fraction] = {}  # input index -> timestamp, dropped once passed
        self.first: Fraction | None = None
        self.oldest = 0

    def add_input(self, index: int, time: Fraction) -> None:
        if self.first is None:
            self.first = time
        self.times[index] = time

    def time(self, k: int) -> Fraction:
        if self.by_time:
            return k * self.step
        if self.playback is not None:
            return self.first + k / self.playback
        position = k * self.step
        index = math.floor(position)
        t = position - index
        start = self.times[index]
        while self.oldest < index:  # the decoding thread adds entries meanwhile: no iteration over them
            self.times.pop(self.oldest, None)
            self.oldest += 1
        return start if t == 0 else start + t * (self.times[index + 1] - start)

    def pts(self, k: int) -> int:
        return round(self.time(k) / self.time_base)


def _clock(step: Fraction, by_time: bool, playback: Fraction | None, input_base: Fraction) -> Clock:
    if by_time or playback is not None:
        unit = step if by_time else 1 / playback
        # Whole multiples of the output interval, offset (slow motion) by the first input timestamp.
        base = Fraction(1, math.lcm(unit.denominator, input_base.denominator))
    else:
        base = input_base * step  # a fraction j / N of an interval of whole input ticks
    return Clock(step, by_time, playback, base)


class _Encoder:
    """Encodes and muxes frames in its own thread (the RGB -> YUV conversion and the encoder overlap with
    the interpolation); audio packets handed over by the decoder are muxed here too, so that only this
    thread writes to the container. A failed write is kept as an OutputWriteError for the caller."""

    def __init__(self, writer, stream, clock: Clock, originals: Originals, pix_fmt: str, colour: Colour, audio_out):
        self.writer, self.stream, self.clock, self.originals = writer, stream, clock, originals
        self.pix_fmt, self.colour, self.audio_out = pix_fmt, colour, audio_out
        self.audio: queue.SimpleQueue = queue.SimpleQueue()
        self.frames: queue.Queue = queue.Queue(QUEUE_FRAMES)
        self.count, self.error, self.aborted, self.last_pts = 0, None, False, None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _mux(self, packets) -> None:
        import av

        try:
            self.writer.mux(packets)
        except (av.FFmpegError, OSError) as error:
            raise _write_failed(self.writer.name, error) from error

    def _mux_audio(self):
        while not self.audio.empty():
            packet = self.audio.get()
            packet.stream = self.audio_out
            self._mux(packet)

    def _picture(self, k: int, rgb: np.ndarray):
        original = self.originals.get(rgb)
        if original is not None:
            picture = as_output(original, self.pix_fmt, self.colour)
        else:
            picture = from_rgb(rgb, self.pix_fmt, self.colour)
        picture.pts, picture.time_base = self.clock.pts(k), self.clock.time_base
        if self.last_pts is not None and picture.pts <= self.last_pts:
            picture.pts = self.last_pts + 1  # two instants closer than the time base can tell apart
        self.last_pts = picture.pts
        return picture

    def _run(self):
        try:
            while (item := self.frames.get()) is not None:
                if self.aborted:
                    continue
                picture = self._picture(*item)
                self._mux_audio()
                self._mux(self.stream.encode(picture))
                self.count += 1
            if not self.aborted:
                self._mux_audio()
                self._mux(self.stream.encode(None))
        except BaseException as error:  # raised by `put` or `finish` in the calling thread
            self.error = error
            while self.frames.get() is not None:  # let the producer finish
                pass

    def put(self, k: int, frame: np.ndarray) -> None:
        if self.error is not None:
            raise self.error
        self.frames.put((k, frame))

    def finish(self) -> int:
        self.frames.put(None)
        join(self.thread)
        if self.error is not None:
            raise self.error
        return self.count

    def abort(self) -> None:
        """Stops encoding (the frames still queued are dropped) and waits for the thread."""
        self.aborted = True
        self.frames.put(None)
        join(self.thread)


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error)


def _write_failed(path, error: BaseException) -> OutputWriteError:
    return OutputWriteError(f"output {path}: writing failed ({_reason(error)})")


@dataclass
class _Input:
    """What is known of the input stream once its first frame is decoded."""

    colour: Colour
    layout: Layout
    hdr: HDR | None
    rotation: float


def _timestamps(frame, index: int, previous: Fraction | None, nominal: Fraction, base: Fraction, warned: list):
    """The frame's presentation time in seconds, made strictly increasing: a frame without a timestamp,
    or one not after the previous, is placed one nominal interval after it (with a warning, once)."""
    time = frame.pts * base if frame.pts is not None else None
    if previous is not None and (time is None or time <= previous):
        if not warned:
            warnings.warn(
                f"input frame {index} has {'no timestamp' if time is None else 'a timestamp not after the previous'}"
                "; such frames are placed one nominal frame interval after the previous",
                stacklevel=2,
            )
            warned.append(True)
        time = previous + max(base, round(nominal / base) * base)
    return time if time is not None else Fraction(0)


def interpolate_video(
    source,
    target,
    interpolator: Interpolator,
    *,
    factor: int | None = None,
    fps: Fraction | None = None,
    max_frames: int | None = None,
    scene_cut_threshold: float = SCENE_CUT_THRESHOLD,
    codec: str = DEFAULT_CODEC,
    crf: float | None = None,
    preset: str | None = None,
    partial: bool = False,
    progress: bool = True,
) -> dict:
    """Writes `source` with more frames to `target`, audio copied.

    `factor` output frames per input frame, shown at their instants on the input's own timeline (its
    variable rate kept), or played at a constant `fps` if given too (give the input's rate for slow
    motion); or `fps` alone: frame-rate conversion, output frames every 1 / fps seconds of the input's
    real timeline. `codec` is a key of `video_format.CODECS`; `crf` and `preset` default to the codec's.
    `max_frames` reads only the first frames. A stream that breaks partway (corrupt or truncated) raises
    InputBroken and writes nothing, unless `partial`: then the output covers the frames decoded and the
    returned counts say where the input broke. Returns counts for the caller to report. A source with
    fewer than two frames (an image, say) is an error and leaves no output behind.
    """
    import av
    from tqdm import tqdm

    source, target = Path(source), Path(target)
    codec_spec = CODECS[codec]
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
        step_frames, out_rate = frame_step(rate, factor, fps)
        by_time = factor is None and fps is not None
        playback = Fraction(fps) if factor is not None and fps is not None else None
        input_base = Fraction(video.time_base) if video.time_base else 1 / rate
        clock = _clock(1 / Fraction(fps) if by_time else step_frames, by_time, playback, input_base)
        total = video.frames or None
        if max_frames is not None:
            total = min(total, max_frames) if total else max_frames
        stated_end = _stated_end(reader, video)
        inputs, cuts, originals, info = 0, [], Originals(), {}
        broken: list[str] = []
        first_picture = _first_picture(source)
        described = _Input(
            Colour.of(first_picture),
            Layout.of(first_picture.format.name),
            HDR.of(first_picture),
            float(getattr(first_picture, "rotation", 0) or 0),
        )
        width, height = first_picture.width, first_picture.height
        pix_fmt = codec_spec.pixel_format(described.layout, width, height)
        with atomic_path(target) as tmp:
            writer = av.open(str(tmp), "w")
            encoder = None
            try:
                if audio is not None and audio.codec_context.name not in writer.supported_codecs:
                    raise VideoArgumentError(
                        "target",
                        target,
                        f"a {target.suffix} file cannot hold the input's {audio.codec_context.name} "
                        "audio, which is copied unchanged; try another container (.mkv, .mov, .mp4)",
                    )
                # Both streams exist before the first packet is written (which writes the header).
                stream = writer.add_stream(codec_spec.encoder, rate=out_rate)
                stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
                # Timestamps as fine as the clock's: the encoder's default, 1 / rate, would round a
                # variable rate onto a constant grid.
                stream.codec_context.time_base = stream.time_base = clock.time_base
                tag_stream(stream, described.colour, video.sample_aspect_ratio, described.rotation)
                stream.options = codec_spec.options(crf, preset, described.hdr, described.layout)
                if codec_spec.encoder == "libx265":
                    stream.codec_tag = "hvc1"  # what Apple's players require of HEVC in .mp4 and .mov
                audio_out = writer.add_stream_from_template(audio) if audio is not None else None
                encoder = _Encoder(writer, stream, clock, originals, pix_fmt, described.colour, audio_out)
                nominal = 1 / rate

                def decoded() -> Iterator[tuple[Fraction, np.ndarray]]:
                    nonlocal inputs
                    previous, warned = None, []
                    packets = reader.demux(*(s for s in (video, audio) if s is not None))
                    try:
                        for packet in packets:
                            if packet.stream is audio:
                                if packet.dts is not None:  # None marks the demuxer's empty flush packet
                                    encoder.audio.put(packet)
                                continue
                            for picture in packet.decode():
                                if max_frames is not None and inputs >= max_frames:
                                    return  # audio past this point is dropped with the frames
                                if picture.is_corrupt:
                                    raise av.InvalidDataError(0, "a corrupt frame")
                                time = _timestamps(picture, inputs, previous, nominal, input_base, warned)
                                rgb = to_rgb(picture, described.colour, described.layout)
                                originals.add(rgb, picture)
                                clock.add_input(inputs, time)
                                inputs += 1
                                previous = time
                                yield (time if by_time else Fraction(inputs - 1)), rgb
                    except av.FFmpegError as error:
                        broken.append(f"decoding failed ({_reason(error)})")
                    else:
                        if stated_end is not None and previous is not None and max_frames is None:
                            missing = stated_end - (previous + nominal)
                            if missing > TRUNCATION_FRAMES * nominal:
                                broken.append(f"the stream ended {float(missing):.2f} s before its stated end")
                    if broken:
                        start = clock.first or Fraction(0)
                        covered = f"{float(previous + nominal - start):.2f} s" if previous is not None else "0 s"
                        if stated_end is not None:
                            covered += f" of {float(stated_end - start):.2f} s"
                        message = f"input {source}: decoded {inputs} frames ({covered}), then {broken[0]}"
                        info["broken"] = message
                        if not partial:
                            raise InputBroken(f"{message}; nothing was written")

                background = in_background(decoded())
                frames = timed_outputs(
                    background,
                    interpolator,
                    clock.step,
                    scene_cut_threshold,
                    cuts,
                    input_base if by_time else Fraction(1),
                )
                expected = output_count(total, step_frames) if total else None
                try:
                    for k, frame in tqdm(frames, total=expected, unit="frame", disable=not progress):
                        encoder.put(k, frame)
                finally:  # the decoding thread stops before the reader closes
                    frames.close()
                    background.close()
                outputs = encoder.finish()
                encoder = None
                if inputs < 2:
                    found = "no video frames" if inputs == 0 else "a single frame (an image?)"
                    raise VideoArgumentError(
                        "source", source, f"{found} decoded; at least 2 frames are needed to interpolate"
                    )
                _close(writer, target)
            except BaseException:
                if encoder is not None:
                    encoder.abort()
                try:
                    writer.close()
                except Exception:  # the file is removed; the error that stopped the run is the one to report
                    pass
                raise
            _check_written(tmp, target, outputs)
    return {
        "input frames": inputs,
        "output frames": outputs,
        "scene cuts": cuts,
        "fps": out_rate,
        "step": step_frames,
        "audio copied": audio is not None,
        "pixel format": pix_fmt,
        "colour": described.colour.describe(),
        "hdr metadata": "copied"
        if described.hdr and codec_spec.carries_hdr()
        else "dropped"
        if described.hdr
        else None,
        "broken": info.get("broken"),
    }


def _first_picture(source):
    """The first decoded frame: what the stream's pixels are (the decoder knows better than the header)."""
    import av

    try:
        with av.open(str(source)) as probe:
            for picture in probe.decode(video=0):
                return picture
    except av.FFmpegError as error:
        raise InputBroken(f"input {source}: decoding failed ({_reason(error)}) before the first frame") from error
    raise VideoArgumentError("source", source, "no video frames decoded; at least 2 frames are needed to interpolate")


def _stated_end(reader, video) -> Fraction | None:
    """When the container says the video ends, in seconds on the stream's timeline, if it says."""
    if video.duration is not None and video.time_base:
        return (video.start_time or 0) * Fraction(video.time_base) + video.duration * Fraction(video.time_base)
    if reader.duration is not None:
        return Fraction(reader.start_time or 0, 1_000_000) + Fraction(reader.duration, 1_000_000)
    return None


def _close(writer, target: Path) -> None:
    import av

    try:
        writer.close()
    except (av.FFmpegError, OSError) as error:
        raise _write_failed(target, error) from error


def _check_written(tmp: Path, target: Path, outputs: int) -> None:
    """Reads back the video packets of what was written: a write that failed without an error (a full
    disk at the last buffer) is caught before the file is renamed over `target`."""
    import av

    try:
        with av.open(str(tmp)) as written:
            packets = sum(1 for p in written.demux(video=0) if p.size)
    except (av.FFmpegError, OSError) as error:
        raise OutputWriteError(f"output {target}: the written file cannot be read back ({_reason(error)})") from error
    if packets != outputs:
        raise OutputWriteError(
            f"output {target}: {packets} of {outputs} frames could be read back from the written file"
        )
