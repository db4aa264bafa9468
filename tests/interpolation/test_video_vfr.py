"""`video` on variable-frame-rate footage (30 fps stretches alternating with 24 fps, as a phone records in
low light) with audio: interpolated frames sit between the real timestamps of their neighbours, `--fps`
samples the real timeline, and the audio stays in sync to the end (measured on flash/beep markers with
the ffmpeg command line)."""

from fractions import Fraction

import pytest
import video_media as vm

from jax_softsplat import cli

SECONDS = 7.0  # two rate changes each way


pytestmark = pytest.mark.usefixtures("ffmpeg_tools")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return vm.vfr_marker_clip(tmp_path_factory.mktemp("vfr") / "phone.mp4", seconds=SECONDS)


def run_video(source, out, *args):
    assert cli.main(["video", "--in", str(source), "--out", str(out), "--model", "average", "--quiet", *args]) == 0
    return out


def test_factor_places_each_frame_between_its_neighbours_real_times(clip, tmp_path):
    times = vm.vfr_timeline(SECONDS).times
    assert set(b - a for a, b in zip(times, times[1:])) == {Fraction(1, 30), Fraction(1, 24)}
    assert vm.frame_times(clip) == pytest.approx([float(t) for t in times], abs=1e-6)
    out = run_video(clip, tmp_path / "out.mp4", "--factor", "3")
    shown = vm.frame_times(out)
    assert len(shown) == 3 * (len(times) - 1) + 1
    tick = 1 / 90000 / 3  # the output's time base: a third of the input's tick
    for i, (a, b) in enumerate(zip(times, times[1:])):
        for j in range(3):
            assert shown[3 * i + j] == pytest.approx(float(a + j * (b - a) / 3), abs=tick)
    drift = vm.av_drift(out)
    assert abs(drift.end) <= drift.resolution and abs(drift.worst) <= drift.resolution


def test_fps_samples_the_real_timeline_and_keeps_sync(clip, tmp_path):
    out = run_video(clip, tmp_path / "out30.mp4", "--fps", "30")
    shown = vm.frame_times(out)
    assert shown == pytest.approx([k / 30 for k in range(len(shown))], abs=1e-6)
    end = float(vm.vfr_timeline(SECONDS).times[-1])
    assert len(shown) == int(end * 30) + 1
    drift = vm.av_drift(out)
    assert abs(drift.end) <= drift.resolution and abs(drift.worst) <= drift.resolution
    # The audio is copied unchanged: same start, same length.
    before, after = vm.probe_video(clip), vm.probe_video(out)
    assert after["streams"] == before["streams"] == ["video", "audio"]
