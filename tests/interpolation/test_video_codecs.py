"""`video --codec/--crf/--preset`: what `--help` says, and combinations refused before any work starts."""

import pytest
from media import moving_texture, write_clip

from jax_softsplat import cli
from jax_softsplat.video_format import CODECS, Codec, Colour, Layout, check_codec


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.mp4"
    write_clip(path, moving_texture(32, 48, [0.0, 0.5, 1.0]))
    return path


def test_help_shows_the_encoder_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["video", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--codec {h264,h265,prores,ffv1}" in text and "(default: h264)" in text
    for codec in CODECS.values():
        assert codec.description in text
    assert "crf 0-51 (default 16)" in text and "preset ultrafast|" in text and "(default veryfast)" in text
    assert "profile proxy|lt|standard|hq|4444|4444xq" in text
    assert "--crf CRF" in text and "--preset PRESET" in text and "--partial" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--codec", "prores", "--out", "OUT.mp4"], "--codec prores: a .mp4 file cannot hold Apple ProRes"),
        (["--codec", "ffv1", "--out", "OUT.mov"], "--codec ffv1: a .mov file cannot hold FFV1"),
        (["--codec", "prores", "--crf", "10", "--out", "OUT.mov"], "--crf: prores has no crf"),
        (["--codec", "ffv1", "--preset", "fast", "--out", "OUT.mkv"], "--preset: ffv1 has no presets"),
        (["--preset", "quick", "--out", "OUT.mp4"], "--preset quick: expected one of ultrafast, superfast"),
        (["--codec", "prores", "--preset", "fast", "--out", "OUT.mov"], "for prores (its profile)"),
        (["--crf", "52", "--out", "OUT.mp4"], "--crf 52: expected 0 to 51 for h264"),
        (["--codec", "h265", "--crf", "-1", "--out", "OUT.mkv"], "--crf -1: expected 0 to 51 for h265"),
    ],
)
def test_refused_before_any_work(clip, tmp_path, capsys, monkeypatch, argv, message):
    def no_model(args):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr("jax_softsplat.commands.video.load_model", no_model)
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in argv]
    assert cli.main(["video", "--in", str(clip), "--model", "average", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_an_unknown_codec_is_argparses_error(clip, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["video", "--in", str(clip), "--out", str(tmp_path / "o.mp4"), "--codec", "vp9"])
    assert exit_.value.code == 2
    assert "invalid choice: 'vp9'" in capsys.readouterr().err


def test_every_codec_fits_the_containers_it_is_offered_in():
    fits = {
        "h264": {".mp4", ".mov", ".mkv"},
        "h265": {".mp4", ".mov", ".mkv"},
        "prores": {".mov", ".mkv"},
        "ffv1": {".mp4", ".mkv"},
    }
    for name, codec in CODECS.items():
        for suffix in (".mp4", ".mov", ".mkv"):
            if suffix in fits[name]:
                check_codec(codec, suffix, None, None)
            else:
                with pytest.raises(ValueError, match=f"--codec {name}: a {suffix} file cannot hold"):
                    check_codec(codec, suffix, None, None)


@pytest.mark.parametrize(
    "codec, pix_fmt, size, expected",
    [
        ("h264", "yuv420p", (64, 48), "yuv420p"),
        ("h264", "yuv420p10le", (64, 48), "yuv420p10le"),
        ("h264", "yuv420p12le", (64, 48), "yuv420p10le"),  # x264 stops at 10 bits
        ("h264", "yuv420p", (63, 48), "yuv444p"),  # 4:2:0 needs even sizes
        ("h264", "yuv422p10le", (64, 48), "yuv422p10le"),
        ("h265", "yuv420p12le", (64, 48), "yuv420p12le"),
        ("h265", "gbrp", (64, 48), "yuv444p"),
        ("prores", "yuv420p", (64, 48), "yuv422p10le"),
        ("prores", "yuv444p12le", (64, 48), "yuv444p10le"),
        ("ffv1", "yuv420p10le", (64, 48), "yuv420p10le"),
        ("ffv1", "yuvj420p", (64, 48), "yuv420p"),
        ("ffv1", "nv12", (64, 48), "yuv420p"),
        ("ffv1", "p010le", (64, 48), "yuv420p10le"),
        ("ffv1", "gray10le", (64, 48), "yuv420p10le"),
    ],
)
def test_output_pixel_format_keeps_depth_and_chroma_where_the_codec_can(codec, pix_fmt, size, expected):
    assert CODECS[codec].pixel_format(Layout.of(pix_fmt), *size) == expected


def test_codec_table_is_well_formed():
    for codec in CODECS.values():
        assert isinstance(codec, Codec)
        assert list(codec.depths) == sorted(codec.depths)
        assert (codec.crf is None) == (codec.default_crf is None)
        assert codec.default_preset is None or codec.default_preset in codec.presets


def test_encoder_options_follow_the_codec_and_input():
    h264, h265, prores, ffv1 = (CODECS[name] for name in ("h264", "h265", "prores", "ffv1"))
    deep = Layout("420", 10)
    assert h264.options(None, None, None, deep) == {"crf": "16", "preset": "veryfast"}
    assert h264.options(20.5, "slow", None, deep) == {"crf": "20.5", "preset": "slow"}
    assert h265.options(None, None, None, deep)["crf"] == "18"
    assert prores.options(None, None, None, deep) == {"profile": "hq"}
    assert prores.options(None, None, None, Layout("444", 10)) == {"profile": "4444"}
    assert prores.options(None, "lt", None, Layout("444", 10)) == {"profile": "lt"}
    assert ffv1.options(None, None, None, deep)["level"] == "3"


def test_8_bit_rgb_is_rounded_from_16_bits_exactly():
    """Every 16-bit value x becomes round(x / 257): 8-bit video is converted through 16-bit RGB."""
    import av
    import numpy as np

    from jax_softsplat.video_format import to_rgb

    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    picture = av.VideoFrame.from_ndarray(np.repeat(values[..., None], 3, axis=2), format="rgb48le")
    rgb = to_rgb(picture, Colour(1, True), Layout("420", 8))
    assert rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[..., 1], np.round(values / 257).astype(np.uint8))
