"""`jax-softsplat video`: frame counts, rate, last frame, scene cuts, audio, atomic output, bad input."""

from fractions import Fraction

import numpy as np
import pytest
from media import moving_texture, read_clip, write_clip

from jax_softsplat import cli
from jax_softsplat.video_timeline import is_scene_cut, output_frames


@pytest.fixture(autouse=True)
def no_network_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("JAX_SOFTSPLAT_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def clip_with_cut_and_audio(tmp_path_factory):
    """6 frames of one moving texture, then 4 of another (a hard cut before frame 6), 1 s of sound."""
    second = moving_texture(64, 96, np.arange(4) * 0.5, motion=(-3.0, 2.0), seed=2)
    shots = moving_texture(64, 96, np.arange(6) * 0.5, motion=(4.0, 1.0), seed=1) + [1 - f for f in second]
    path = tmp_path_factory.mktemp("clips") / "cut.mp4"
    write_clip(path, shots, fps=10, audio_seconds=1.0)
    return path


def test_shared_video_frame_count_and_rate(shared_data, tmp_path, capsys):
    out = tmp_path / "car.mp4"
    argv = ["video", "--in", str(shared_data / "videos" / "car-turn.mp4"), "--out", str(out), "--max-frames", "4"]
    assert cli.main([*argv, "--factor", "4", "--quiet"]) == 0
    assert "4 -> 13 frames at 100 fps" in capsys.readouterr().out
    frames, rate, _ = read_clip(out)
    assert len(frames) == (4 - 1) * 4 + 1 and rate == 100
    source, _, _ = read_clip(shared_data / "videos" / "car-turn.mp4")
    # Input frames sit at every 4th output frame, the last one included (up to H.264's loss).
    for k in (0, 4, 8, 12):
        assert np.abs(frames[k].astype(float) - source[k // 4]).mean() < 3.0
    assert not list(tmp_path.glob(".car.mp4*"))  # no temporary file left behind


def test_cut_is_repeated_not_interpolated_and_audio_is_copied(clip_with_cut_and_audio, tmp_path, capsys):
    out = tmp_path / "out.mkv"
    assert (
        cli.main(["video", "--in", str(clip_with_cut_and_audio), "--out", str(out), "--factor", "2", "--fps", "10"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "10 -> 19 frames at 10 fps" in printed and "1 scene cut(s) at input frames [6]" in printed
    assert "audio copied" in printed
    frames, rate, has_audio = read_clip(out)
    source, _, _ = read_clip(clip_with_cut_and_audio)
    assert len(frames) == 19 and rate == 10 and has_audio

    def distance(a, b):
        return np.abs(a.astype(float) - b).mean()

    # Output 11 (between inputs 5 and 6, across the cut) repeats output 10 (input 5); output 9
    # (between inputs 4 and 5) is a new frame, unlike either. H.264 costs about 4 levels here.
    assert distance(frames[11], frames[10]) < 0.5 and distance(frames[10], source[5]) < 5.0
    assert min(distance(frames[9], source[4]), distance(frames[9], source[5])) > 2 * distance(frames[10], source[5])
    assert distance(frames[-1], source[-1]) < 5.0


def test_output_frames_in_memory():
    """The streaming core on raw arrays: N frames -> (N - 1) * factor + 1, inputs kept, a cut repeated."""
    a, b = moving_texture(32, 48, [0.0, 1.0], seed=4)
    c = moving_texture(32, 48, [0.0], seed=5)[0]
    inputs = [np.round(f * 255).astype(np.uint8) for f in (a, b, c)]
    calls = []

    def fake(one, two, times):
        calls.append(list(times))
        return [np.full_like(one, t) for t in times]

    cuts = []
    out = list(output_frames(iter(inputs), fake, Fraction(1, 4), 0.5, cuts))
    assert len(out) == 9 and cuts == [2] and calls == [[0.25, 0.5, 0.75]]
    np.testing.assert_array_equal(out[2], np.full_like(a, 128, np.uint8))
    for k in (5, 6, 7):
        np.testing.assert_array_equal(out[k], inputs[1])
    np.testing.assert_array_equal(out[8], inputs[2])


def test_scene_cut_detector():
    frames = [np.round(f * 255).astype(np.uint8) for f in moving_texture(48, 64, [0.0, 1.0], motion=(8.0, 0.0))]
    other = np.round((1 - moving_texture(48, 64, [0.0], seed=9)[0]) * 255).astype(np.uint8)
    assert not is_scene_cut(*frames) and is_scene_cut(frames[1], other)
    assert is_scene_cut(frames[0], np.zeros_like(frames[0]))


def test_bad_video_inputs(tmp_path, capsys, clip_with_cut_and_audio):
    def error(argv):
        try:
            status = cli.main(["video", *argv])
        except SystemExit as exit:
            status = exit.code
        err = capsys.readouterr().err
        assert status == 2 and "Traceback" not in err
        return err

    out = str(tmp_path / "o.mp4")
    assert "--in" in error(["--in", str(tmp_path / "missing.mp4"), "--out", out])
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    assert "--in" in error(["--in", str(junk), "--out", out])
    clip = str(clip_with_cut_and_audio)
    assert "--out" in error(["--in", clip, "--out", str(tmp_path / "o.gif")])
    assert "--out" in error(["--in", clip, "--out", str(tmp_path / "none" / "o.mp4")])
    assert "--out" in error(["--in", clip, "--out", clip])
    assert "--factor" in error(["--in", clip, "--out", out, "--factor", "1"])
    assert "--fps" in error(["--in", clip, "--out", out, "--fps", "-5"])
    assert "--max-frames" in error(["--in", clip, "--out", out, "--max-frames", "0"])
    mulaw = tmp_path / "mulaw.avi"  # audio that an .mp4 cannot hold (it is copied, not re-encoded)
    write_clip(mulaw, moving_texture(32, 32, [0.0, 0.5]), audio_seconds=0.2, audio_codec="pcm_mulaw")
    assert "--out" in error(["--in", str(mulaw), "--out", out])
    assert not (tmp_path / "o.mp4").exists()


def test_what_was_written_is_read_back_before_it_is_renamed(tmp_path):
    """A write that fails without an error (the last buffer lost) shows as frames missing on reading back."""
    from jax_softsplat.errors import OutputWriteError
    from jax_softsplat.video import _check_written

    written = tmp_path / "written.mp4"
    write_clip(written, moving_texture(32, 48, [0.0, 0.5, 1.0]))
    _check_written(written, tmp_path / "out.mp4", 3)
    with pytest.raises(OutputWriteError, match=r"out.mp4: 3 of 4 frames could be read back"):
        _check_written(written, tmp_path / "out.mp4", 4)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(written.read_bytes()[:-400])  # the index at the end of the file lost
    with pytest.raises(OutputWriteError, match="out.mp4: "):
        _check_written(cut, tmp_path / "out.mp4", 3)
