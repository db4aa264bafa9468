"""`minterpolate`: FFmpeg's motion-compensated interpolation, the baseline a video user without a GPU
reaches for, run through PyAV's bundled FFmpeg filter graph (no ffmpeg binary needed).

The filter is `minterpolate=mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1` (block motion estimation
in both directions, adaptive overlapped block motion compensation, variable-size blocks), scene-change
detection off, otherwise at FFmpeg's defaults. It emits the frames of an output rate: frame m at
m / fps seconds, interpolated between the input frames around that instant (alpha in 1/1024 steps) or a
copy where the instant is an input frame's. It holds one input frame back, so a stream is closed by
repeating its last frame one frame later; that is how the last pair's frames come out.

Two ways in: as an `Interpolator` (one pair, any times; a fresh graph per call) for the benchmarks, and
`open_shot` for `video`, which feeds a whole shot through ONE graph frame after frame, as
`ffmpeg -vf minterpolate` does (each frame's motion estimated once, with the previous one's vectors as
predictors).
"""

import math
from collections.abc import Iterator, Sequence
from fractions import Fraction

import av
import numpy as np

from jax_softsplat.data import to_uint8
from jax_softsplat.video_format import to_8_bits

# Its own scene-change detection is off: `video` detects cuts for every model alike (and repeats the
# frame there), and on a lone pair it takes large motion for a cut and returns a copy of a frame.
FILTER_OPTIONS = "mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1:scd=none"
# minterpolate quantises the position between two frames to 1/1024.
ALPHA_STEPS = 1024
# Outputs on a grid of 1/GRID_LIMIT or coarser come from one graph; finer times get one graph each.
GRID_LIMIT = 32
# minterpolate searches 16x16 blocks up to 32 pixels away; smaller frames are padded (borders repeated).
MIN_SIZE = 32


def _graph(width: int, height: int, pix_fmt: str, rate: Fraction, time_base: Fraction) -> av.filter.Graph:
    graph = av.filter.Graph()
    source = graph.add_buffer(width=width, height=height, format=pix_fmt, time_base=time_base)
    interpolate = graph.add("minterpolate", f"fps={rate.numerator}/{rate.denominator}:{FILTER_OPTIONS}")
    sink = graph.add("buffersink")
    source.link_to(interpolate)
    interpolate.link_to(sink)
    graph.configure()
    return graph


def _pull_all(graph: av.filter.Graph) -> list[av.VideoFrame]:
    frames = []
    while True:
        try:
            frames.append(graph.pull())
        except (av.BlockingIOError, av.EOFError):
            return frames


def _push(graph: av.filter.Graph, rgb: np.ndarray, pts: int, pix_fmt: str) -> list[av.VideoFrame]:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
    frame.pts = pts
    graph.push(frame)
    return _pull_all(graph)


class MinterpolateInterpolator:
    """An `Interpolator` running FFmpeg's minterpolate filter on float32 RGB [H, W, 3] frames in [0, 1].

    Pairs are converted to yuv444p (the filter works in YUV; 4:4:4 loses no colour detail), shots in
    `open_shot` to yuv420p, the format of nearly every video a user would feed ffmpeg.
    """

    pix_fmt = "yuv444p"

    def __call__(self, one: np.ndarray, two: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        one, two = to_uint8(one), to_uint8(two)
        height, width = one.shape[:2]
        pad = ((0, max(0, MIN_SIZE - height)), (0, max(0, MIN_SIZE - width)), (0, 0))
        one, two = np.pad(one, pad, mode="edge"), np.pad(two, pad, mode="edge")
        wanted = [Fraction(float(t)).limit_denominator(ALPHA_STEPS) for t in times]
        grid = math.lcm(*(t.denominator for t in wanted))
        if grid <= GRID_LIMIT:
            # One graph: output frames at m / grid between `one` (pts 0) and `two` (pts 1).
            frames = self._run(one, two, Fraction(grid), Fraction(1), start=0)
            chosen = [frames[t * grid] for t in wanted]
        else:
            # One graph per time t: `one` placed at 1 - t seconds, so the output frame at 1 s is its t.
            chosen = [
                self._run(one, two, Fraction(1), Fraction(1, t.denominator), start=t.denominator - t.numerator)[1]
                for t in wanted
            ]
        return [f.to_ndarray(format="rgb24")[:height, :width].astype(np.float32) / 255.0 for f in chosen]

    def _run(self, one, two, rate: Fraction, time_base: Fraction, start: int) -> dict[int, av.VideoFrame]:
        """Feeds one (at pts `start`), two (one second later) and two again to close; output frames by pts."""
        step = int(1 / time_base)
        graph = _graph(one.shape[1], one.shape[0], self.pix_fmt, rate, time_base)
        out = []
        for k, frame in enumerate((one, two, two)):
            out += _push(graph, frame, start + k * step, self.pix_fmt)
        return {frame.pts: frame for frame in out}

    def open_shot(self, step: Fraction, start: Fraction, unit: Fraction = Fraction(1)) -> "MinterpolateShot":
        """A stream of one shot's integer RGB frames through one persistent graph (see
        `video_timeline.ShotStream`)."""
        return MinterpolateShot(step, start, unit)


class MinterpolateShot:
    """Output frames at positions k * step within one shot, from one filter graph: an input frame at
    position p has pts p / unit (time base `unit`), the output rate is 1 / step, so output pts k is
    position k * step. The filter works at 8 bits: deeper frames are rounded on the way in."""

    pix_fmt = "yuv420p"

    def __init__(self, step: Fraction, start: Fraction, unit: Fraction = Fraction(1)):
        self.step, self.start, self.unit = Fraction(step), Fraction(start), Fraction(unit)
        self.graph, self.last, self.last_position, self.size, self.dtype = None, None, None, None, None

    def _frames(self, frames: list[av.VideoFrame]) -> Iterator[tuple[int, np.ndarray]]:
        for frame in frames:
            # The first output's pts is the first input's rounded to the output grid: drop one before it.
            if self.start <= frame.pts * self.step <= self.last_position:
                rgb = frame.to_ndarray(format="rgb24")[: self.size[0], : self.size[1]]
                yield frame.pts, rgb if self.dtype == np.uint8 else rgb.astype(self.dtype) * np.uint16(257)

    def push(self, position: Fraction, frame: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        if self.graph is None:
            self.size, self.dtype = frame.shape[:2], frame.dtype
            self.pad = (
                (0, self.size[0] % 2 + max(0, MIN_SIZE - self.size[0])),
                (0, self.size[1] % 2 + max(0, MIN_SIZE - self.size[1])),
                (0, 0),
            )
            height, width = self.size[0] + sum(self.pad[0]), self.size[1] + sum(self.pad[1])
            self.graph = _graph(width, height, self.pix_fmt, 1 / self.step, self.unit)
        if frame.dtype != np.uint8:
            frame = to_8_bits(frame)
        if any(sum(p) for p in self.pad):
            frame = np.pad(frame, self.pad, mode="edge")
        self.last, self.last_position = frame, Fraction(position)
        yield from self._frames(_push(self.graph, frame, self._pts(position), self.pix_fmt))

    def _pts(self, position: Fraction) -> int:
        pts = Fraction(position) / self.unit
        if pts.denominator != 1:
            raise ValueError(f"position {position}: not a whole multiple of the time base {self.unit}")
        return int(pts)

    def close(self) -> Iterator[tuple[int, np.ndarray]]:
        """The frames up to the last one pushed: that frame is repeated one output frame later (at least
        one time base tick) to let them out."""
        if self.graph is not None:
            later = math.ceil(max(self.step, self.unit) / self.unit) + self._pts(self.last_position)
            yield from self._frames(_push(self.graph, self.last, later, self.pix_fmt))
            self.graph = None
