"""`jax-softsplat interpolate` and `demo` end to end, and every bad input as a clear error."""

import numpy as np
import pytest
from media import moving_texture

from jax_softsplat import cli
from jax_softsplat.data import read_image, write_image
from jax_softsplat.metrics import psnr


@pytest.fixture(autouse=True)
def no_network_weights(tmp_path, monkeypatch):
    """The default model is classic: no l1 weights in the (empty) cache folder."""
    monkeypatch.setenv("JAX_SOFTSPLAT_HOME", str(tmp_path / "cache"))


@pytest.fixture
def pair(tmp_path):
    one, middle, two = moving_texture(41, 67, [0.0, 0.5, 1.0], motion=(4.0, 2.0))  # odd size on purpose
    paths = tmp_path / "one.png", tmp_path / "two.png"
    for path, image in zip(paths, (one, two)):
        write_image(path, image)
    return paths, middle


def test_interpolates_the_shared_frames(shared_data, tmp_path, capsys):
    out = tmp_path / "middle.png"
    images = shared_data / "images"
    assert (
        cli.main(["interpolate", "--one", str(images / "one.png"), "--two", str(images / "two.png"), "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert str(out) in printed and "model classic" in printed  # the default without network weights
    one, two, middle = (read_image(p) for p in (images / "one.png", images / "two.png", out))
    assert middle.shape == one.shape
    # Between the frames: closer to each of them than they are to each other.
    assert psnr(one, middle) > psnr(one, two) and psnr(two, middle) > psnr(one, two)


def test_odd_size_and_time(pair, tmp_path):
    (one, two), middle = pair
    out = tmp_path / "out.png"
    assert cli.main(["interpolate", "--one", str(one), "--two", str(two), "--out", str(out), "--model", "classic"]) == 0
    result = read_image(out)
    assert result.shape == (41, 67, 3)
    assert psnr(middle[6:-6, 6:-6], result[6:-6, 6:-6]) > 35.0
    assert cli.main(["interpolate", "--one", str(one), "--two", str(two), "--out", str(out), "--time", "0.1"]) == 0
    assert psnr(read_image(one)[6:-6, 6:-6], read_image(out)[6:-6, 6:-6]) > psnr(
        middle[6:-6, 6:-6], read_image(out)[6:-6, 6:-6]
    )


def _error(capsys, argv, code=2) -> str:
    """Runs the command, expects failure with exit status `code`, returns stderr (never a traceback)."""
    try:
        status = cli.main(argv)
    except SystemExit as exit:  # argparse's own errors
        status = exit.code
    err = capsys.readouterr().err
    assert status == code and "Traceback" not in err
    return err


def test_bad_inputs_are_named(pair, tmp_path, capsys):
    (one, two), _ = pair
    out = str(tmp_path / "out.png")
    base = ["interpolate", "--one", str(one), "--two", str(two)]
    assert "--one" in _error(
        capsys, ["interpolate", "--one", str(tmp_path / "nope.png"), "--two", str(two), "--out", out]
    )
    text = tmp_path / "text.png"
    text.write_text("not an image")
    assert "--two" in _error(capsys, ["interpolate", "--one", str(one), "--two", str(text), "--out", out])
    small = tmp_path / "small.png"
    write_image(small, np.zeros((10, 12, 3), np.float32))
    err = _error(capsys, ["interpolate", "--one", str(one), "--two", str(small), "--out", out])
    assert "same size" in err and "67x41" in err and "12x10" in err
    for t in ("0", "1", "1.5", "-0.2", "half"):
        assert "--time" in _error(capsys, [*base, "--out", out, "--time", t])
    assert "--out" in _error(capsys, [*base, "--out", str(tmp_path / "no" / "such" / "folder.png")])
    assert "--out" in _error(capsys, [*base, "--out", str(tmp_path)])
    assert "--out" in _error(capsys, [*base, "--out", str(one / "below-a-file.png")])
    assert "--out" in _error(capsys, [*base, "--out", str(tmp_path / "out.unknownformat")])
    assert "--model" in _error(capsys, [*base, "--out", out, "--model", "nonsense"])
    assert not (tmp_path / "out.png").exists()


def test_refuses_to_overwrite_an_input(pair, capsys):
    (one, two), _ = pair
    before = one.read_bytes()
    assert "inputs" in _error(capsys, ["interpolate", "--one", str(one), "--two", str(two), "--out", str(one)])
    assert one.read_bytes() == before


def test_missing_arguments_and_help(capsys):
    assert "--one" in _error(capsys, ["interpolate", "--two", "b.png", "--out", "c.png"])
    for command in (
        ["interpolate"],
        ["video"],
        ["quality"],
        ["quality", "middlebury"],
        ["quality", "xiph"],
        ["speed", "operator"],
        ["figure"],
        ["convert"],
        ["train"],
        ["demo"],
    ):
        with pytest.raises(SystemExit) as exit:
            cli.main([*command, "--help"])
        assert exit.value.code == 0 and "usage" in capsys.readouterr().out


def test_demo_on_shared_data(shared_data, tmp_path, capsys):
    assert cli.main(["demo", "--data", str(shared_data), "--out", str(tmp_path / "demo")]) == 0
    printed = capsys.readouterr().out
    middle, strip = tmp_path / "demo" / "middle.png", tmp_path / "demo" / "strip.png"
    assert str(middle) in printed and str(strip) in printed
    one = read_image(shared_data / "images" / "one.png")
    assert read_image(middle).shape == one.shape
    h, w = one.shape[:2]
    assert read_image(strip).shape == (h, 3 * w + 2 * 8, 3)
    np.testing.assert_array_equal(read_image(strip)[:, :w], one)


def test_demo_without_shared_data_uses_a_generated_pair(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JAX_SOFTSPLAT_DATA", str(tmp_path / "nowhere"))
    assert cli.main(["demo", "--out", str(tmp_path / "demo")]) == 0
    assert "generated scene" in capsys.readouterr().out
    assert (tmp_path / "demo" / "strip.png").is_file()
