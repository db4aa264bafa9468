"""Which output frames a stream of input frames gives, and from which pair at which t.

Each input frame sits at a position: its index (a factor of N: output frames at every 1/N of the way
between two frames, however far apart in time they are) or its timestamp in seconds (frame-rate
conversion: output frames at every 1/fps of the input's real timeline, however unevenly its frames are
spaced). Output frame k shows position k * step. A position on an input frame is that frame, unchanged;
one between the frames at p0 and p1 is interpolated at t = (position - p0) / (p1 - p0). Across a scene
cut the frames are not interpolated (that would blend two unrelated shots): the earlier frame is repeated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Protocol

import numpy as np

from jax_softsplat.interpolation import Interpolator

DEFAULT_FACTOR = 2
# Bhattacharyya distance between the colour histograms of two consecutive frames above which they are
# taken to belong to different shots: motion barely changes a histogram (at most 0.05 between the
# frames of car-turn.mp4), a cut replaces it.
SCENE_CUT_THRESHOLD = 0.3


def frame_step(rate: Fraction, factor: int | None = None, fps: Fraction | None = None) -> tuple[Fraction, Fraction]:
    """(step in input frames, output rate) for an input at `rate` frames per second.

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
    """How many output frames `inputs` evenly spaced input frames give: the positions k * step up to the
    last frame."""
    return math.floor((inputs - 1) / step) + 1 if inputs > 0 else 0


def output_instant(k: int, step: Fraction) -> tuple[int, Fraction]:
    """Output frame k -> (input frame i, t in [0, 1)) for frames at integer positions: position k * step
    lies t of the way from frame i to frame i + 1 (t = 0: it is frame i itself)."""
    position = k * Fraction(step)
    index = math.floor(position)
    return index, position - index


def outputs_between(first: Fraction, last: Fraction, step: Fraction) -> range:
    """The output frames whose positions lie in [first, last)."""
    return range(math.ceil(first / step), math.ceil(last / step))


def on_grid(position: Fraction, step: Fraction) -> bool:
    """Whether an output frame falls exactly on `position`."""
    return (Fraction(position) / step).denominator == 1


def unit_float(frame: np.ndarray) -> np.ndarray:
    """An integer RGB frame (uint8 or uint16) as float32 in [0, 1]."""
    return np.asarray(frame, np.float32) / np.float32(np.iinfo(frame.dtype).max)


def to_integer(frame, dtype) -> np.ndarray:
    """A float frame in [0, 1] as uint8 or uint16, rounded."""
    scale = np.float32(np.iinfo(dtype).max)
    return np.round(np.clip(np.asarray(frame, np.float32), 0.0, 1.0) * scale).astype(dtype)


class ShotStream(Protocol):
    """The output frames of one shot, fed its integer RGB input frames in order (`push` with the frame's
    position), each output frame yielded with its number k as soon as it is ready; `close` yields the
    rest, up to the shot's last frame. An interpolator may offer `open_shot(step, start, unit) ->
    ShotStream` to see a whole shot (FFmpeg's minterpolate does; positions are whole multiples of
    `unit`); others are called pair by pair (`PairShot`)."""

    def push(self, position: Fraction, frame: np.ndarray) -> Iterator[tuple[int, np.ndarray]]: ...

    def close(self) -> Iterator[tuple[int, np.ndarray]]: ...


class PairShot:
    """A `ShotStream` over an `Interpolator`: one call per pair of frames for all the instants between them.

    An interpolator that also offers `prepare(one, two) -> state` (what depends on the pair only, e.g.
    optical flow; given uint8 frames as they are, deeper ones as float32 in [0, 1]) and
    `render(state, times) -> frames` has each pair prepared in a background thread while the previous
    pair renders: output lags one input frame behind, the stages overlap."""

    def __init__(self, interpolator: Interpolator, step: Fraction, start: Fraction):
        self.interpolator, self.step = interpolator, Fraction(step)
        self.previous, self.position = None, Fraction(start)
        self.staged = hasattr(interpolator, "prepare") and hasattr(interpolator, "render")
        self.executor = ThreadPoolExecutor(1) if self.staged else None
        self.pending = None

    def _pair(self, position: Fraction, frame: np.ndarray) -> tuple:
        """(k and the earlier frame when an output falls on it, else None; the (k, t) in (0, 1); the work)."""
        span = position - self.position
        instants = [
            (k, (k * self.step - self.position) / span) for k in outputs_between(self.position, position, self.step)
        ]
        first = (instants[0][0], self.previous) if instants and instants[0][1] == 0 else None
        instants = [(k, t) for k, t in instants if t != 0]
        previous, job = self.previous, None
        if instants:
            if self.staged:
                one, two = (f if f.dtype == np.uint8 else unit_float(f) for f in (previous, frame))
                job = self.executor.submit(self.interpolator.prepare, one, two)
            else:
                job = (unit_float(previous), unit_float(frame))
        return first, instants, job, frame.dtype

    def _emit(self, pair: tuple) -> Iterator[tuple[int, np.ndarray]]:
        first, instants, job, dtype = pair
        if first is not None:
            yield first
        if instants:
            times = [float(t) for _, t in instants]
            frames = self.interpolator.render(job.result(), times) if self.staged else self.interpolator(*job, times)
            yield from ((k, to_integer(f, dtype)) for (k, _), f in zip(instants, frames))

    def push(self, position: Fraction, frame: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        position = Fraction(position)
        if self.previous is not None:
            pair = self._pair(position, frame)
            if self.staged:
                if self.pending is not None:
                    yield from self._emit(self.pending)
                self.pending = pair
            else:
                yield from self._emit(pair)
        self.previous, self.position = frame, position

    def abandon(self) -> None:
        """Drops the pair being prepared: a run that stops does not wait for its flow computation."""
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> Iterator[tuple[int, np.ndarray]]:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            yield from self._emit(pending)
        if self.executor is not None:
            self.executor.shutdown()
        if self.previous is not None and on_grid(self.position, self.step):
            yield int(self.position / self.step), self.previous


def timed_outputs(
    inputs: Iterable[tuple[Fraction, np.ndarray]],
    interpolator: Interpolator,
    step: Fraction,
    scene_cut_threshold: float,
    cuts: list[int],
    unit: Fraction = Fraction(1),
) -> Iterator[tuple[int, np.ndarray]]:
    """(position, integer RGB frame) pairs in order -> (k, frame) for the output frames at positions
    k * step, holding one shot's stream at a time. Positions must increase and be whole multiples of
    `unit`. The index of each input frame that starts a new shot is appended to `cuts`."""
    step = Fraction(step)
    open_shot: Callable[[Fraction, Fraction, Fraction], ShotStream] = getattr(
        interpolator, "open_shot", lambda step, start, unit: PairShot(interpolator, step, start)
    )
    shot, previous, previous_position = None, None, None
    try:
        for index, (position, current) in enumerate(inputs):
            position = Fraction(position)
            if previous is not None and is_scene_cut(previous, current, scene_cut_threshold):
                cuts.append(index)
                yield from shot.close()
                # The instants strictly between the two shots show the earlier frame.
                for k in outputs_between(previous_position, position, step):
                    if k * step != previous_position:
                        yield k, previous
                shot = None
            if shot is None:
                shot = open_shot(step, position, unit)
            yield from shot.push(position, current)
            previous, previous_position = current, position
        if shot is not None:
            yield from shot.close()
            shot = None
    finally:  # stopped early (closed, or an error): what a shot has under way is dropped
        if shot is not None and hasattr(shot, "abandon"):
            shot.abandon()


def output_frames(
    frames: Iterable[np.ndarray],
    interpolator: Interpolator,
    step: Fraction,
    scene_cut_threshold: float,
    cuts: list[int],
) -> Iterator[np.ndarray]:
    """`timed_outputs` for evenly spaced frames (frame i at position i): the output frames alone."""
    inputs = ((Fraction(index), frame) for index, frame in enumerate(frames))
    return (frame for _, frame in timed_outputs(inputs, interpolator, step, scene_cut_threshold, cuts))


def colour_histogram(frame: np.ndarray) -> np.ndarray:
    """A normalised 8x8x8 RGB histogram of an integer RGB frame (uint8 or uint16)."""
    import cv2

    top = float(np.iinfo(frame.dtype).max) + 1
    histogram = cv2.calcHist([frame], [0, 1, 2], None, [8, 8, 8], [0, top] * 3)
    return cv2.normalize(histogram, histogram).flatten()


def is_scene_cut(previous: np.ndarray, current: np.ndarray, threshold: float = SCENE_CUT_THRESHOLD) -> bool:
    """Whether two consecutive integer RGB frames belong to different shots (histogram distance)."""
    import cv2

    distance = cv2.compareHist(colour_histogram(previous), colour_histogram(current), cv2.HISTCMP_BHATTACHARYYA)
    return distance > threshold
