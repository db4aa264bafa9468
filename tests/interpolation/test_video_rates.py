"""Frame-rate conversion and any integer factor in `video`: which instant each output frame shows, the
frame counts and timestamps of the written file, and bad input (an image, a one-frame video)."""

from fractions import Fraction

import av
import numpy as np
import pytest
from media import moving_texture, write_clip
from PIL import Image

from jax_softsplat import cli
from jax_softsplat.video_timeline import frame_step, output_count, output_frames, output_instant


@pytest.fixture(autouse=True)
def no_network_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("JAX_SOFTSPLAT_HOME", str(tmp_path / "cache"))


@pytest.mark.parametrize(
    "rate, factor, fps, step, out_rate",
    [
        (25, None, None, Fraction(1, 2), 50),
        (25, 3, None, Fraction(1, 3), 75),
        (25, 5, Fraction(25), Fraction(1, 5), 25),  # slow motion: 5 frames per input frame, at 25 fps
        (25, None, Fraction(60), Fraction(5, 12), 60),
        (30, None, Fraction(60), Fraction(1, 2), 60),
        (Fraction(24000, 1001), None, Fraction(60), Fraction(400, 1001), 60),
        (Fraction(24000, 1001), None, Fraction(60000, 1001), Fraction(2, 5), Fraction(60000, 1001)),
    ],
)
def test_frame_step(rate, factor, fps, step, out_rate):
    assert frame_step(Fraction(rate), factor, fps) == (step, out_rate)


def test_bad_steps_name_the_argument():
    with pytest.raises(ValueError, match="factor"):
        frame_step(Fraction(25), 1)
    with pytest.raises(ValueError, match="fps"):
        frame_step(Fraction(25), None, Fraction(-1))


def test_instants_of_25_to_60_fps():
    step = Fraction(5, 12)
    # 60 output frames per 25 input frames; output 12 is input 5 exactly, output 1 is 5/12 past input 0.
    assert output_instant(0, step) == (0, 0)
    assert output_instant(1, step) == (0, Fraction(5, 12))
    assert output_instant(3, step) == (1, Fraction(1, 4))
    assert output_instant(12, step) == (5, 0)
    assert output_count(26, step) == 61  # 1 s of input (26 frames spanning 25 intervals) -> 60 intervals
    assert output_count(25, step) == 58  # instants up to 24 input frames: 24 * 12 / 5 = 57.6
    assert output_count(1, step) == 1 and output_count(0, step) == 0
    assert output_count(9, Fraction(1, 7)) == 8 * 7 + 1


@pytest.mark.parametrize("step", [Fraction(5, 12), Fraction(400, 1001), Fraction(1, 3), Fraction(5, 2)])
def test_output_frames_follow_the_instants(step):
    """Each output frame comes from its own pair at its own t; one on an input frame IS that frame."""
    rng = np.random.default_rng(0)
    inputs = [rng.integers(0, 256, (6, 8, 3), dtype=np.uint8) for _ in range(11)]
    calls = []

    def fake(one, two, times):
        calls.append(times)
        pair = next(i for i, f in enumerate(inputs) if np.array_equal(np.round(one * 255), f))
        return [np.full_like(one, (pair + t) / 20) for t in times]

    out = list(output_frames(iter(inputs), fake, step, 2.0, []))
    assert len(out) == output_count(len(inputs), step)
    for k, frame in enumerate(out):
        index, t = output_instant(k, step)
        if t == 0:
            assert frame is inputs[index]
        else:
            np.testing.assert_allclose(frame, np.full((6, 8, 3), float(index + t) / 20 * 255), atol=0.51)
    assert all(0 < t < 1 for times in calls for t in times)  # input instants never reach the interpolator


def test_scene_cut_repeats_the_earlier_frame_at_any_rate():
    a, b = (np.round(f * 255).astype(np.uint8) for f in moving_texture(32, 48, [0.0, 1.0], seed=4))
    c = np.round((1 - moving_texture(32, 48, [0.0], seed=5)[0]) * 255).astype(np.uint8)
    cuts = []
    out = list(output_frames(iter([a, b, c]), lambda one, two, times: [one for _ in times], Fraction(5, 12), 0.3, cuts))
    assert cuts == [2] and len(out) == output_count(3, Fraction(5, 12)) == 5
    # Instants 5/12 and 10/12 lie between a and b (interpolated); 15/12 and 20/12 between b and the cut.
    assert out[3] is b and out[4] is b


@pytest.fixture(scope="module")
def clip_25fps(tmp_path_factory):
    path = tmp_path_factory.mktemp("clips") / "pan.mp4"
    write_clip(path, moving_texture(48, 64, np.arange(6) * 0.4, motion=(5.0, 0.0), seed=7), fps=25)
    return path


def test_video_fps_conversion_writes_frames_at_their_instants(clip_25fps, tmp_path, capsys):
    out = tmp_path / "pan60.mp4"
    assert (
        cli.main(["video", "--in", str(clip_25fps), "--out", str(out), "--fps", "60", "--model", "average", "--quiet"])
        == 0
    )
    # 6 frames at 25 fps span 5/25 s: instants k / 60 s up to 12/60, 13 frames.
    assert "6 -> 13 frames at 60 fps" in capsys.readouterr().out
    with av.open(str(out)) as clip:
        stream = clip.streams.video[0]
        assert stream.average_rate == 60
        frames = list(clip.decode(video=0))
    assert len(frames) == 13
    assert [round(float(f.time) * 60) for f in frames] == list(range(13))
    with av.open(str(clip_25fps)) as clip:
        source = [f.to_ndarray(format="rgb24").astype(float) for f in clip.decode(video=0)]
    pictures = [f.to_ndarray(format="rgb24").astype(float) for f in frames]

    def distance(a, b):
        return np.abs(a - b).mean()

    # Output 12 is input 5 (instant 12 * 25 / 60 = 5); output 1 is the 5/12 blend of inputs 0 and 1.
    # H.264 (crf 16) costs about 5 levels on this texture; the neighbours are 3 times further.
    blend = (7 / 12) * source[0] + (5 / 12) * source[1]
    assert 3 * distance(pictures[12], source[5]) < distance(pictures[12], source[4])
    assert 2 * distance(pictures[1], blend) < min(distance(pictures[1], source[0]), distance(pictures[1], source[1]))


def test_video_any_integer_factor(clip_25fps, tmp_path, capsys):
    out = tmp_path / "x3.mkv"
    assert (
        cli.main(
            ["video", "--in", str(clip_25fps), "--out", str(out), "--factor", "3", "--model", "average", "--quiet"]
        )
        == 0
    )
    assert "6 -> 16 frames at 75 fps" in capsys.readouterr().out


def _error(argv, capsys):
    try:
        status = cli.main(["video", *argv])
    except SystemExit as exit:
        status = exit.code
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    return err


def test_an_image_or_a_single_frame_is_not_a_video(tmp_path, capsys):
    image = tmp_path / "still.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(image)
    single = tmp_path / "single.mp4"
    write_clip(single, moving_texture(32, 32, [0.0]))
    for source in (image, single):
        out = tmp_path / "out.mp4"
        err = _error(["--in", str(source), "--out", str(out), "--model", "average", "--quiet"], capsys)
        assert f"--in {source}" in err and "at least 2 frames" in err and "nothing was written" in err
        assert not out.exists() and not list(tmp_path.glob(".out.mp4*"))


class Staged:
    """An interpolator in two stages that records the order of its calls."""

    def __init__(self):
        self.calls = []

    def prepare(self, one, two):  # video hands over the uint8 frames
        self.calls.append("prepare")
        return tuple(np.asarray(f, np.float32) / 255 if f.dtype == np.uint8 else f for f in (one, two))

    def render(self, state, times):
        self.calls.append("render")
        one, two = state
        return [(1 - t) * one + t * two for t in times]

    def __call__(self, one, two, times):
        return self.render(self.prepare(one, two), times)


def test_staged_interpolator_gives_the_same_frames_one_pair_ahead():
    frames = [np.round(f * 255).astype(np.uint8) for f in moving_texture(24, 32, np.arange(6) * 0.5, seed=2)]
    staged = Staged()
    plain = list(output_frames(iter(frames), staged.__call__, Fraction(5, 12), 2.0, []))
    staged.calls.clear()
    ahead = list(output_frames(iter(frames), staged, Fraction(5, 12), 2.0, []))
    assert len(ahead) == len(plain) == output_count(6, Fraction(5, 12))
    for a, b in zip(ahead, plain):
        np.testing.assert_array_equal(a, b)
    assert staged.calls.count("prepare") == staged.calls.count("render") == 5
