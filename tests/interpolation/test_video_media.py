"""The video test clips and probes of tests/video_media.py: each clip carries what it is made to carry
(tags, pixel data in that colour space, bit depth, HDR side data, aspect, rotation, uneven frame times,
damage), and the A/V drift measurement finds zero on the clip as written and a known shift when there
is one. Everything is checked with the ffmpeg/ffprobe command line, which these tests need."""

import dataclasses
import subprocess
from fractions import Fraction

import numpy as np
import pytest
import video_media as vm

COLOURS = {
    "bt601": (vm.bt601_clip, vm.BT601, "h264", "yuv420p"),
    "bt709": (vm.bt709_clip, vm.BT709, "h264", "yuv420p"),
    "bt709-full": (vm.bt709_full_clip, vm.BT709_FULL, "h264", "yuvj420p"),
    "hlg": (vm.hlg_clip, vm.BT2020_HLG, "hevc", "yuv420p10le"),
    "pq": (vm.pq_clip, vm.BT2020_PQ, "hevc", "yuv420p10le"),
}
VFR_SECONDS = 5.0


pytestmark = pytest.mark.usefixtures("ffmpeg_tools")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("video_media")


@pytest.fixture(scope="module")
def colour_clips(folder):
    """Each colour clip, made on first use."""
    made = {}

    def get(name):
        if name not in made:
            made[name] = COLOURS[name][0](folder / f"{name}.mp4")
        return made[name]

    return get


@pytest.fixture(scope="module")
def vfr_clip(folder):
    return vm.vfr_marker_clip(folder / "vfr.mp4", VFR_SECONDS)


@pytest.mark.parametrize("name", COLOURS)
def test_colour_clip_tags(colour_clips, name):
    _, colour, codec, pix_fmt = COLOURS[name]
    info = vm.probe_video(colour_clips(name))
    assert info["codec_name"] == codec and info["pix_fmt"] == pix_fmt and info["bits"] == colour.bits
    assert (info["color_range"], info["color_space"]) == (colour.range, colour.space)
    assert (info["color_primaries"], info["color_transfer"]) == (colour.primaries, colour.transfer)
    assert (info["width"], info["height"], info["r_frame_rate"], info["nb_frames"]) == (128, 96, 25, 50)
    assert info["sample_aspect_ratio"] == 1 and info["rotation"] == 0 and info["streams"] == ["video"]


@pytest.mark.parametrize("name", COLOURS)
def test_colour_clip_pixels_are_in_its_colour_space(colour_clips, name):
    """The decoded luma is the pattern's through the clip's own matrix and range, to within coding
    noise, and clearly not through another matrix or range."""
    colour = COLOURS[name][1]
    planes = vm.decode_planes(colour_clips(name))
    assert planes.y.shape == (50, 96, 128) and planes.u.shape == (50, 48, 64) and planes.v.shape == (50, 48, 64)
    unit = 1 << (colour.bits - 8)  # luma in 8-bit steps
    for frame in (0, 37):
        rgb = vm.pattern(128, 96, frame / 25, colour.levels)
        decoded = planes.y[frame] / unit
        own = vm.expected_luma(rgb, colour) / unit
        assert np.abs(decoded - own).mean() < 1.0
        for other in (vm.BT601, vm.BT709, vm.BT709_FULL, vm.BT2020_HLG):
            if (other.matrix, other.range) == (colour.matrix, colour.range):
                continue
            # Where the two colour spaces give lumas 3 steps or more apart, the data follows its own.
            theirs = vm.expected_luma(rgb, dataclasses.replace(other, bits=colour.bits)) / unit
            apart = np.abs(theirs - own) >= 3
            assert apart.mean() > 0.1, other
            assert np.abs(decoded - own)[apart].mean() < 1.0
            assert np.abs(decoded - theirs)[apart].mean() > 2.0, other


@pytest.mark.parametrize("name", ["hlg", "pq"])
def test_ten_bit_clips_use_all_ten_bits(colour_clips, name):
    """The two low bits vary as much as the others: the pattern is 10-bit, not 8-bit shifted."""
    luma = vm.decode_planes(colour_clips(name), max_frames=2).y
    assert luma.dtype == np.uint16 and luma.max() < 1024
    assert (np.bincount(luma.ravel() % 4, minlength=4) / luma.size).min() > 0.2


def test_clips_move(colour_clips):
    """Consecutive frames differ, and the middle of a pair is neither neighbour: there is something to
    interpolate."""
    luma = vm.decode_planes(colour_clips("bt709"), max_frames=3).y.astype(float)
    assert np.abs(luma[1] - luma[0]).mean() > 2 and np.abs(luma[2] - luma[1]).mean() > 2
    assert np.abs(luma[1] - (luma[0] + luma[2]) / 2).mean() > 1


def test_pq_clip_carries_hdr10_side_data(colour_clips):
    first = vm.frame_side_data(colour_clips("pq"), count=2)
    assert len(first) == 2
    display, light = first[0][vm.MASTERING_DISPLAY_TYPE], first[0][vm.CONTENT_LIGHT_TYPE]
    # MASTER_DISPLAY's G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)
    expected = {"green_x": 13250, "green_y": 34500, "blue_x": 7500, "blue_y": 3000, "red_x": 34000, "red_y": 16000}
    expected |= {"white_point_x": 15635, "white_point_y": 16450}
    assert {key: Fraction(display[key]) * 50000 for key in expected} == expected
    assert Fraction(display["max_luminance"]) == 1000 and Fraction(display["min_luminance"]) == Fraction(5, 1000)
    assert (light["max_content"], light["max_average"]) == vm.MAX_CLL
    assert not any(vm.MASTERING_DISPLAY_TYPE in frame for frame in vm.frame_side_data(colour_clips("hlg")))


@pytest.mark.parametrize("sar", [(4, 3), (32, 27)])
def test_anamorphic_clip(folder, sar):
    info = vm.probe_video(vm.anamorphic_clip(folder / f"sar{sar[0]}x{sar[1]}.mp4", sar))
    assert info["sample_aspect_ratio"] == Fraction(*sar) and (info["width"], info["height"]) == (128, 96)


@pytest.mark.parametrize("rotation, turns", [(-90, -1), (90, 1), (180, 2)])
def test_rotated_clip_is_shown_rotated_by_ffmpeg(folder, rotation, turns):
    """The display matrix reads back as written, and FFmpeg's own auto-rotation turns the stored
    picture the way it says (np.rot90's turns are counterclockwise)."""
    path = vm.rotated_clip(folder / f"rotated{rotation}.mp4", rotation)
    info = vm.probe_video(path)
    assert info["rotation"] == (-180 if rotation == 180 else rotation) and (info["width"], info["height"]) == (128, 96)
    stored = vm.decode_planes(path, max_frames=1).y[0]
    command = ["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-vf", "extractplanes=y", "-f", "rawvideo"]
    shown = subprocess.run([*command, "-"], capture_output=True, check=True).stdout
    expected = np.rot90(stored, turns)
    assert np.array_equal(np.frombuffer(shown, np.uint8).reshape(expected.shape), expected)


def test_rotation_needs_an_mp4(folder):
    with pytest.raises(ValueError, match="MP4"):
        vm.rotated_clip(folder / "rotated.mkv")


def test_vfr_clip_timestamps_are_uneven_and_exact(vfr_clip):
    timeline = vm.vfr_timeline(VFR_SECONDS)
    times = vm.frame_times(vfr_clip)
    assert len(times) == len(timeline.times) == 60 + 36 + 45
    assert np.abs(np.array(times) - np.array(timeline.times, dtype=float)).max() < 1e-9
    steps = np.round(np.diff(times) * 120).astype(int)  # in 120ths of a second: 4 at 30 fps, 5 at 24 fps
    assert set(steps) == {4, 5} and (steps == 5).sum() == 36
    info = vm.probe_video(vfr_clip)
    assert info["streams"] == ["video", "audio"] and info["time_base"] == Fraction(1, 90000)
    assert info["avg_frame_rate"] == Fraction(len(times), 5)  # neither 30 nor 24
    assert timeline.marker_times == [1.0, 2.75, 4.5]


def test_av_drift_of_the_clip_as_written_is_zero(vfr_clip):
    drift = vm.av_drift(vfr_clip)
    assert drift.video_times == vm.vfr_timeline(VFR_SECONDS).marker_times
    assert drift.video_markers == drift.audio_markers == 3 and drift.frames == 141
    assert drift.resolution == pytest.approx(1 / 24)
    assert all(abs(offset) < 0.001 for offset in drift.offsets), drift.offsets
    assert drift.start == drift.offsets[0] and drift.end == drift.offsets[-1]


@pytest.mark.parametrize("shift", [0.25, -0.1])
def test_av_drift_finds_a_shifted_audio_track(vfr_clip, folder, shift):
    """Audio muxed `shift` seconds late (early if negative): the picture is that much early."""
    drift = vm.av_drift(vm.shift_audio(vfr_clip, folder / f"shifted{shift}.mp4", shift))
    assert drift.video_markers == drift.audio_markers == 3
    assert all(abs(offset + shift) < 0.002 for offset in drift.offsets), drift.offsets


@pytest.mark.parametrize(
    "retime",
    [
        "fps=50",  # nearest frame at a constant 50 fps: markers fall between output frames
        "minterpolate=fps=50:mi_mode=blend:scd=none",  # each flash blended into the frames around it
        "minterpolate=fps=120:mi_mode=blend:scd=none",
    ],
)
def test_av_drift_on_a_retimed_copy_is_within_one_output_frame(vfr_clip, folder, retime):
    out = folder / f"retimed-{retime.split('=')[0]}-{retime.split('fps=')[1][:3]}.mp4"
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(vfr_clip), "-vf", retime]
    subprocess.run([*command, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", str(out)], check=True)
    drift = vm.av_drift(out)
    rate = int(retime.split("fps=")[1].split(":")[0])
    assert drift.resolution == pytest.approx(1 / rate) and drift.video_markers == 3
    assert all(abs(offset) <= drift.resolution + 0.001 for offset in drift.offsets), drift.offsets


def test_av_drift_finds_frames_played_at_a_constant_rate(vfr_clip, folder):
    """The mistake variable frame rates invite: every frame stamped 1/30 s after the one before. The
    markers at 1, 2.75 and 4.5 s (frames 30, 78 and 126) are then shown at 1, 2.6 and 4.2 s."""
    out = folder / "constant30.mp4"
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(vfr_clip), "-vf", "setpts=N/30/TB"]
    subprocess.run([*command, "-fps_mode", "passthrough", "-c:v", "libx264", "-c:a", "copy", str(out)], check=True)
    drift = vm.av_drift(out)
    assert drift.offsets == pytest.approx([0.0, -0.15, -0.3], abs=0.002)
    assert drift.end == drift.worst == pytest.approx(-0.3, abs=0.002)


@pytest.mark.parametrize("audio", ["-an", "volume=0"])
def test_av_drift_needs_both_markers(vfr_clip, folder, audio):
    out = folder / f"audio{audio}.mp4"
    options = ["-an"] if audio == "-an" else ["-af", audio, "-c:a", "aac"]
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(vfr_clip), "-c:v", "copy", *options]
    subprocess.run([*command, str(out)], check=True)
    with pytest.raises(ValueError, match="no audio stream" if audio == "-an" else "0 beep"):
        vm.av_drift(out)


def test_truncated_mp4_opens_and_ends_early(folder):
    path = vm.truncated_mp4(folder / "truncated.mp4")
    info = vm.probe_video(path)  # the index at the front is whole
    assert info["nb_frames"] == 75 and info["streams"] == ["video", "audio"]
    assert 10 < len(vm.frame_times(path)) < 70
    assert any("partial file" in line for line in vm.decode_errors(path))


def test_truncated_mkv_ends_early(folder):
    path = vm.truncated_mkv(folder / "truncated.mkv")
    assert vm.probe_video(path)["streams"] == ["video", "audio"]
    assert 10 < len(vm.frame_times(path)) < 70
    assert any("ended prematurely" in line for line in vm.decode_errors(path))


def test_corrupted_clip_fails_to_decode_in_the_middle(folder, colour_clips):
    path = vm.corrupted_clip(folder / "corrupted.mp4")
    assert vm.probe_video(path)["nb_frames"] == 75 and path.stat().st_size > 100_000
    assert vm.decode_errors(path)
    assert not vm.decode_errors(colour_clips("bt709"))
    luma = vm.decode_planes(path).y
    assert 50 < len(luma) <= 75
    expected = vm.expected_luma(vm.pattern(128, 96, 0.0), vm.BT709)
    assert np.abs(luma[0] - expected).mean() < 1.0  # the frames before the damage are whole


def test_decode_planes_widens_bit_depth_exactly(colour_clips):
    path = colour_clips("bt709")
    eight, ten = vm.decode_planes(path, max_frames=2), vm.decode_planes(path, "yuv420p10le", max_frames=2)
    for narrow, wide in zip(eight, ten):
        assert narrow.dtype == np.uint8 and wide.dtype == np.uint16
        assert np.array_equal(wide, narrow.astype(np.uint16) * 4)
    with pytest.raises(ValueError, match="pix_fmt"):
        vm.decode_planes(path, "rgb24")


def test_missing_tools_fail_with_the_package_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="apt-get install --no-install-recommends ffmpeg"):
        vm.probe_video(tmp_path / "any.mp4")


def test_markers_missing_on_one_side_are_left_unpaired():
    marks = [1.0, 2.75, 4.5, 6.25]
    assert vm.pair_markers(marks, [1.0, 2.75, 3.1, 4.5, 6.25]) == [(0, 0), (1, 1), (2, 3), (3, 4)]
    assert vm.pair_markers(marks, [1.0, 4.5, 6.25]) == [(0, 0), (2, 1), (3, 2)]
    # A drift growing by 0.3 s per marker is followed; the offset so far predicts the next beep.
    assert vm.pair_markers([1.3, 3.35, 5.4, 7.45], marks) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert vm.pair_markers([1.0, 2.75], [5.0]) == []
