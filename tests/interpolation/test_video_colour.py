"""`video` keeps what the camera recorded: bit depth, colour tags and HDR metadata, the colour of the
pixels themselves (matrix and range, both ways), sample aspect ratio and rotation. Inputs are made, and
outputs probed and decoded, with FFmpeg's command line (tests/video_media.py), not with the PyAV that
`video` uses; every frame is compared with the decoded input in the input's own colour space."""

import dataclasses
from fractions import Fraction

import av
import numpy as np
import pytest
import video_media as vm
from media import moving_texture, write_clip

from jax_softsplat import cli
from jax_softsplat.video_format import Colour, Layout, from_rgb, to_rgb

CLIPS = {
    "bt601": (vm.bt601_clip, vm.BT601),
    "bt709": (vm.bt709_clip, vm.BT709),
    "bt709-full": (vm.bt709_full_clip, vm.BT709_FULL),
    "hlg": (vm.hlg_clip, vm.BT2020_HLG),
    "pq": (vm.pq_clip, vm.BT2020_PQ),
}
SECONDS = 0.8  # 20 frames at 25 fps
TAGS = ("color_range", "color_space", "color_primaries", "color_transfer")


pytestmark = pytest.mark.usefixtures("ffmpeg_tools")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("video_colour")


@pytest.fixture(scope="module")
def clips(folder):
    made = {}

    def get(name):
        if name not in made:
            make, _ = CLIPS[name]
            made[name] = make(folder / f"{name}.mp4", seconds=SECONDS)
        return made[name]

    return get


def run_video(source, out, *args, model="average"):
    status = cli.main(["video", "--in", str(source), "--out", str(out), "--model", model, "--quiet", *args])
    assert status == 0
    return out


def psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


def compare_planes(source, out, lossless: bool):
    """Output frame 2k against input frame k (the frames not interpolated), plane by plane, in the
    input's own colour space; output frame 2k + 1 against the mean of its two neighbours' planes."""
    before = vm.probe_video(source)
    bits = before["bits"]
    original = vm.decode_planes(source)
    written = vm.decode_planes(out, before["pix_fmt"])
    assert written.y.shape[0] == 2 * original.y.shape[0] - 1
    peak = (1 << bits) - 1
    for plane_in, plane_out in zip(original, written):
        kept = plane_out[0::2]
        if lossless:
            np.testing.assert_array_equal(kept, plane_in)
        else:
            assert psnr(kept, plane_in, peak) > 40
        # The average model's frame halfway: the mean of its neighbours, converted to RGB and back.
        middle = (plane_in[:-1].astype(np.float64) + plane_in[1:]) / 2
        error = np.abs(plane_out[1::2] - middle)
        code = 1 << (bits - 8)  # one 8-bit code value at this depth
        assert np.median(error) <= (1 if lossless else 2) * code
        assert np.mean(error) < (1.5 if lossless else 3) * code


@pytest.mark.parametrize("name", list(CLIPS))
def test_default_h264_keeps_depth_tags_and_frames(clips, tmp_path, name):
    source = clips(name)
    out = run_video(source, tmp_path / "out.mp4")
    before, after = vm.probe_video(source), vm.probe_video(out)
    assert after["codec_name"] == "h264"
    assert after["bits"] == before["bits"]  # 10-bit HLG and PQ stay 10-bit
    assert {tag: after[tag] for tag in TAGS} == {tag: before[tag] for tag in TAGS}
    compare_planes(source, out, lossless=False)


@pytest.mark.parametrize("name", list(CLIPS))
def test_lossless_output_keeps_the_input_frames_exactly(clips, tmp_path, name):
    """FFV1 has no codec error: the frames not interpolated are the decoded input, bit for bit."""
    source = clips(name)
    out = run_video(source, tmp_path / "out.mkv", "--codec", "ffv1")
    before, after = vm.probe_video(source), vm.probe_video(out)
    assert after["codec_name"] == "ffv1" and after["bits"] == before["bits"]
    assert {tag: after[tag] for tag in TAGS} == {tag: before[tag] for tag in TAGS}
    compare_planes(source, out, lossless=True)


def test_the_hdr_phone_clip_comes_out_10_bit_hlg_with_its_frames(clips, tmp_path):
    """10-bit HEVC, BT.2020, HLG in; the default command (the weights-free classic model, H.264) out."""
    source = clips("hlg")
    out = run_video(source, tmp_path / "phone.mp4", model="classic")
    after = vm.probe_video(out)
    assert after["pix_fmt"] == "yuv420p10le" and after["bits"] == 10
    assert (after["color_primaries"], after["color_transfer"], after["color_space"], after["color_range"]) == (
        "bt2020",
        "arib-std-b67",
        "bt2020nc",
        "tv",
    )
    original, written = vm.decode_planes(source), vm.decode_planes(out)
    for plane_in, plane_out in zip(original, written):
        assert psnr(plane_out[0::2], plane_in, 1023) > 40


def test_pq_hdr_side_data_is_copied_by_h265_and_dropped_with_a_warning_by_h264(clips, tmp_path, capsys):
    source = clips("pq")
    wanted = vm.frame_side_data(source)[0]
    out = run_video(source, tmp_path / "pq.mp4", "--codec", "h265")
    capsys.readouterr()
    got = vm.frame_side_data(out)[0]
    for kind in (vm.MASTERING_DISPLAY_TYPE, vm.CONTENT_LIGHT_TYPE):
        assert {k: v for k, v in got[kind].items()} == {k: v for k, v in wanted[kind].items()}
    assert vm.probe_video(out)["color_transfer"] == "smpte2084"
    streams = vm.ffprobe_json(out, "-show_streams", "-select_streams", "v")["streams"]
    assert streams[0]["codec_tag_string"] == "hvc1"  # what Apple's players require of HEVC in MP4
    run_video(source, tmp_path / "pq264.mp4")
    assert "cannot carry the input's HDR mastering display" in capsys.readouterr().err
    assert vm.MASTERING_DISPLAY_TYPE not in vm.frame_side_data(tmp_path / "pq264.mp4")[0]


@pytest.mark.parametrize("codec, suffix, pix_fmt", [("prores", ".mov", "yuv422p10le"), ("h265", ".mkv", "yuv420p10le")])
def test_other_codecs_keep_depth_and_tags(clips, tmp_path, codec, suffix, pix_fmt):
    source = clips("hlg")
    out = run_video(source, tmp_path / f"out{suffix}", "--codec", codec)
    before, after = vm.probe_video(source), vm.probe_video(out)
    assert after["pix_fmt"] == pix_fmt
    assert {tag: after[tag] for tag in TAGS} == {tag: before[tag] for tag in TAGS}
    original, written = vm.decode_planes(source), vm.decode_planes(out, "yuv420p10le")
    assert psnr(written.y[0::2], original.y, 1023) > 40


def test_anamorphic_and_rotated_clips_keep_aspect_and_rotation(folder, tmp_path):
    wide = vm.anamorphic_clip(folder / "wide.mp4", sar=(4, 3), seconds=SECONDS)
    out = run_video(wide, tmp_path / "wide.mp4")
    assert vm.probe_video(out)["sample_aspect_ratio"] == vm.probe_video(wide)["sample_aspect_ratio"] == Fraction(4, 3)
    turned = vm.rotated_clip(folder / "turned.mp4", rotation=-90, seconds=SECONDS)
    out = run_video(turned, tmp_path / "turned.mkv")
    assert vm.probe_video(out)["rotation"] == vm.probe_video(turned)["rotation"] == -90
    assert (vm.probe_video(out)["width"], vm.probe_video(out)["height"]) == (128, 96)  # stored, not turned


@pytest.mark.parametrize("name", list(CLIPS))
def test_rgb_conversions_use_the_streams_matrix_and_range(clips, name):
    """Decoded pixels -> RGB match the pattern the clip was made from (the matrix and range right on the
    way in), and RGB -> the output's YUV gives the luma the colour's own formula gives (on the way out)."""
    _, colour = CLIPS[name]
    with av.open(str(clips(name))) as clip:
        picture = next(clip.decode(video=0))
    described, layout = Colour.of(picture), Layout.of(picture.format.name)
    assert described.assumed == ()
    made = vm.pattern(picture.width, picture.height, 0.0, colour.levels)
    weights = np.array([colour.kr, 1 - colour.kr - colour.kb, colour.kb])

    def luma_error(described):
        """Median error of the decoded picture's luma (R'G'B' weighted by the clip's own matrix), away
        from the frame's edges: 4:2:0 chroma and the codec blur colour, not luma."""
        rgb = to_rgb(picture, described, layout)
        assert rgb.dtype == (np.uint16 if colour.bits > 8 else np.uint8)
        error = (rgb / np.iinfo(rgb.dtype).max - made)[4:-4, 4:-4] @ weights
        return float(np.median(np.abs(error)))

    # About 0.002 with the stream's matrix and range, at least 0.009 with another matrix or range.
    assert luma_error(described) < 0.005
    other_matrix = 1 if described.matrix != 1 else 6
    assert luma_error(dataclasses.replace(described, matrix=other_matrix)) > 0.005
    if not picture.format.name.startswith("yuvj"):  # yuvj* formats are full range to the scaler whatever it is told
        assert luma_error(dataclasses.replace(described, full_range=not described.full_range)) > 0.005
    depth = "10le" if colour.bits > 8 else ""
    rgb = np.round(made * (65535 if colour.bits > 8 else 255)).astype(np.uint16 if colour.bits > 8 else np.uint8)
    plane = from_rgb(rgb, "yuv444p" + depth, described).planes[0]
    luma = np.frombuffer(plane, np.uint16 if colour.bits > 8 else np.uint8).reshape(plane.height, -1)
    error = np.abs(luma[:, : plane.width] - vm.expected_luma(made, colour)) / (1 << (colour.bits - 8))
    assert error.max() <= 1 and error.mean() < 0.5  # in 8-bit code values


def test_an_untagged_clip_gets_what_players_assume_and_says_so(tmp_path, capsys):
    """No matrix or range in the stream: BT.601 below 1280x720, limited range, written into the output's
    tags (so that every player shows it alike) and named as assumed."""
    source = tmp_path / "plain.mp4"
    write_clip(source, moving_texture(48, 64, [0.0, 0.5, 1.0]))
    assert vm.probe_video(source)["color_space"] is None
    out = run_video(source, tmp_path / "out.mp4")
    assert "BT.601 (assumed), limited range (assumed)" in capsys.readouterr().out
    after = vm.probe_video(out)
    assert (after["color_space"], after["color_range"]) == ("smpte170m", "tv")
