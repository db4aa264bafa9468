"""Output frames on a real timeline: unevenly spaced input frames (a phone dropping to 24 fps in low
light), the instants and t each output frame gets, and the timestamps it is written with."""

from fractions import Fraction

import numpy as np
import pytest

from jax_softsplat.video import Originals, _clock
from jax_softsplat.video_timeline import timed_outputs, to_integer, unit_float

# 30 fps, then 24 fps, then 30 fps again (seconds), in a 1/90000 time base.
TIMES = [Fraction(k, 30) for k in range(4)] + [Fraction(3, 30) + Fraction(k, 24) for k in range(1, 4)]
TIMES += [TIMES[-1] + Fraction(k, 30) for k in range(1, 3)]
BASE = Fraction(1, 90000)


def labelled(count, dtype=np.uint8):
    """Frames whose every pixel holds the frame's index (different enough to never be a scene cut)."""
    return [np.full((4, 6, 3), 10 * i, dtype) for i in range(count)]


def test_by_time_samples_the_real_timeline():
    """--fps 60 over uneven frames: output k at k / 60 s, t measured within the real interval around it."""
    frames = labelled(len(TIMES))
    calls = []

    def interpolator(one, two, times):
        calls.append((float(one[0, 0, 0] * 255 / 10), list(times)))
        return [np.zeros_like(one) for _ in times]

    out = list(timed_outputs(zip(TIMES, frames), interpolator, Fraction(1, 60), 2.0, [], BASE))
    ks = [k for k, _ in out]
    assert ks == list(range(len(ks))) and ks[-1] == int(TIMES[-1] * 60)
    # Each output instant k / 60 lies in [TIMES[i], TIMES[i + 1]) at t = (k / 60 - TIMES[i]) / interval.
    expected = {}
    for k in ks:
        instant = Fraction(k, 60)
        i = max(j for j, time in enumerate(TIMES) if time <= instant)
        t = (instant - TIMES[i]) / (TIMES[i + 1] - TIMES[i]) if i + 1 < len(TIMES) else 0
        if t:
            expected.setdefault(i, []).append(float(t))
    assert {round(i): times for i, times in calls} == expected
    # In the 24 fps stretch, instants 1/60 s apart are 0.4 of an interval apart (not 0.5 as at 30 fps).
    assert expected[4] == pytest.approx([0.2, 0.6])
    # Instants on an input frame are that frame, the very array.
    for k, frame in out:
        if Fraction(k, 60) in TIMES:
            assert frame is frames[TIMES.index(Fraction(k, 60))]


def test_factor_keeps_the_real_instants():
    """--factor 2 on uneven frames: each interpolated frame is shown halfway between ITS neighbours."""
    clock = _clock(Fraction(1, 2), False, None, BASE)
    for i, time in enumerate(TIMES):
        clock.add_input(i, time)
    pts = [clock.pts(k) for k in range(2 * len(TIMES) - 1)]
    shown = [p * clock.time_base for p in pts]
    for i in range(len(TIMES) - 1):
        assert shown[2 * i] == TIMES[i]
        assert shown[2 * i + 1] == (TIMES[i] + TIMES[i + 1]) / 2
    assert clock.time_base == BASE / 2


def test_slow_motion_and_rate_conversion_clocks():
    slow = _clock(Fraction(1, 4), False, Fraction(30), BASE)
    slow.add_input(0, Fraction(1, 10))  # a stream that starts at 0.1 s keeps that offset
    assert [slow.time(k) for k in range(3)] == [
        Fraction(1, 10),
        Fraction(1, 10) + Fraction(1, 30),
        Fraction(1, 10) + Fraction(2, 30),
    ]
    ntsc = _clock(Fraction(1001, 60000), True, None, BASE)
    assert ntsc.time(3) == Fraction(3003, 60000)
    assert (ntsc.time(3) / ntsc.time_base).denominator == 1


def test_clock_forgets_passed_inputs():
    clock = _clock(Fraction(1, 2), False, None, BASE)
    for i in range(1000):
        clock.add_input(i, Fraction(i, 30))
        if i:
            clock.time(2 * i - 1)
    assert len(clock.times) <= 3


def test_originals_live_as_long_as_their_frames():
    originals = Originals()
    frame, picture = np.zeros((2, 2, 3), np.uint8), object()
    originals.add(frame, picture)
    assert originals.get(frame) is picture and originals.get(frame.copy()) is None
    del frame
    assert originals._pictures == {}


def test_integer_frames_round_trip_at_their_depth():
    for dtype in (np.uint8, np.uint16):
        frame = np.arange(0, np.iinfo(dtype).max, np.iinfo(dtype).max // 97, dtype=dtype)[:96].reshape(4, 8, 3)
        np.testing.assert_array_equal(to_integer(unit_float(frame), dtype), frame)


def test_uneven_timeline_with_a_pair_per_instant_is_staged_alike():
    """A staged interpolator (prepare/render) gets deep frames as floats and gives the same output."""

    class Staged:
        def prepare(self, one, two):
            assert one.dtype == np.uint8 or one.dtype == np.float32
            return unit_float(one) if one.dtype == np.uint8 else one, unit_float(two) if two.dtype == np.uint8 else two

        def render(self, state, times):
            one, two = state
            return [(1 - t) * one + t * two for t in times]

        def __call__(self, one, two, times):
            return self.render((one, two), times)

    for dtype in (np.uint8, np.uint16):
        frames = labelled(len(TIMES), dtype)
        staged = list(timed_outputs(zip(TIMES, frames), Staged(), Fraction(1, 60), 2.0, [], BASE))
        plain = list(timed_outputs(zip(TIMES, frames), Staged().__call__, Fraction(1, 60), 2.0, [], BASE))
        assert [k for k, _ in staged] == [k for k, _ in plain]
        for (_, a), (_, b) in zip(staged, plain):
            assert a.dtype == dtype
            np.testing.assert_array_equal(a, b)


def test_missing_or_repeated_timestamps_are_placed_one_interval_on_with_a_warning():
    from types import SimpleNamespace

    from jax_softsplat.video import _timestamps

    nominal, warned = Fraction(1, 25), []
    assert _timestamps(SimpleNamespace(pts=9000), 0, None, nominal, BASE, warned) == Fraction(1, 10)
    with pytest.warns(UserWarning, match="input frame 1 has no timestamp"):
        assert _timestamps(SimpleNamespace(pts=None), 1, Fraction(1, 10), nominal, BASE, warned) == Fraction(14, 100)
    # Once warned, a repeated timestamp is placed one interval on without another warning.
    assert _timestamps(SimpleNamespace(pts=9000), 2, Fraction(14, 100), nominal, BASE, warned) == Fraction(18, 100)
