"""The command line a new user meets: images of any bit depth, errors that say what is expected, one
name per thing, light parsing, missing extras and a source folder that shadows the installed build."""

import argparse
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import jax_softsplat
from jax_softsplat import cli, data
from jax_softsplat.checkout import has_compiled_module
from jax_softsplat.data import read_image, shared_data_dir

REPO = Path(__file__).resolve().parents[2]
OPTIONAL_MODULES = ("PIL", "cv2", "av", "skimage", "tqdm", "flax", "optax", "orbax", "grain", "tensorboardX", "torch")


@pytest.fixture(autouse=True)
def no_network_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("JAX_SOFTSPLAT_HOME", str(tmp_path / "cache"))


def _run(capsys, argv) -> tuple[int, str]:
    """Status and stderr of `jax-softsplat argv`, whether argparse or the command answered."""
    try:
        status = cli.main(argv)
    except SystemExit as exit:
        status = exit.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


def _python(code: str, *, timeout=120) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter, from a folder where no source tree shadows the installed build."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO / "tests", capture_output=True, text=True, timeout=timeout
    )


# ------------------------------------------------------------------------------------------------
# Images of every kind are read as float32 RGB in [0, 1], scaled by their own bit depth.

GREY = np.array([[0, 64, 128], [192, 230, 255]], np.uint8)
GREY16 = np.array([[0, 1000, 20000], [40000, 60000, 65535]], np.uint16)
RGB = np.stack([GREY, GREY[::-1], 255 - GREY], axis=-1)


def _save(path: Path, mode: str) -> np.ndarray:
    """Writes a small image of `mode`; returns the RGB in [0, 1] it must read back as."""
    if mode == "L":
        Image.fromarray(GREY, "L").save(path)
        return np.repeat(GREY[..., None] / 255.0, 3, axis=-1)
    if mode == "I;16":
        Image.fromarray(GREY16).save(path)
        return np.repeat(GREY16[..., None] / 65535.0, 3, axis=-1)
    if mode == "LA":
        Image.fromarray(np.stack([GREY, 255 - GREY], axis=-1), "LA").save(path)
        return np.repeat(GREY[..., None] / 255.0, 3, axis=-1)
    if mode == "P":
        Image.fromarray(RGB).convert("P", palette=Image.Palette.ADAPTIVE, colors=8).save(path)
        return RGB / 255.0
    if mode == "RGBA":
        Image.fromarray(np.concatenate([RGB, GREY[..., None]], axis=-1), "RGBA").save(path)
        return RGB / 255.0
    if mode == "RGB16":  # Pillow cannot write 16-bit RGB; OpenCV can (BGR order)
        import cv2

        rgb16 = RGB.astype(np.uint16) * 257 + np.array([0, 100, 200], np.uint16)
        assert cv2.imwrite(str(path), np.ascontiguousarray(rgb16[..., ::-1]))
        return rgb16 / 65535.0
    raise AssertionError(mode)


@pytest.mark.parametrize("mode", ["L", "I;16", "LA", "P", "RGBA", "RGB16"])
def test_images_are_read_by_their_bit_depth(mode, tmp_path, capsys):
    path = tmp_path / f"in-{mode.replace(';', '')}.png"
    expected = _save(path, mode)
    image = read_image(path)
    assert image.dtype == np.float32 and image.shape == (2, 3, 3)
    # Pillow reads 16-bit RGB as 8-bit RGB (the high byte): within 1/255; every other mode exactly.
    np.testing.assert_allclose(image, expected, atol=1 / 255 + 1e-6 if mode == "RGB16" else 1e-6)
    # Through the command line: the average of a frame with itself is that frame (written as 8-bit).
    out = tmp_path / "out.png"
    argv = ["interpolate", "--one", str(path), "--two", str(path), "--out", str(out), "--model", "average"]
    assert cli.main(argv) == 0
    np.testing.assert_allclose(read_image(out), expected, atol=1 / 255 + 1e-6)


def test_a_16_bit_grey_frame_is_not_white(tmp_path):
    path = tmp_path / "dark.png"
    Image.fromarray(np.full((4, 4), 3000, np.uint16)).save(path)
    assert Image.open(path).mode in data.WIDE_GREY_MODES
    np.testing.assert_allclose(read_image(path), 3000 / 65535, rtol=1e-6)


# ------------------------------------------------------------------------------------------------
# An unknown suffix is answered with the suffixes the option takes.


def test_unknown_suffixes_list_what_the_option_takes(tmp_path, capsys):
    frame = tmp_path / "frame.png"
    _save(frame, "L")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not decoded: the output is checked first")
    status, err = _run(capsys, ["video", "--in", str(clip), "--out", str(tmp_path / "x.avi")])
    assert status == 2 and "--out" in err and ".avi" in err and all(s in err for s in (".mp4", ".mkv", ".mov"))
    assert "use e.g." not in err
    status, err = _run(capsys, ["quality", "middlebury", "--json", str(tmp_path / "scores.txt")])
    assert status == 2 and "--json" in err and "expected .json" in err
    status, err = _run(
        capsys, ["interpolate", "--one", str(frame), "--two", str(frame), "--out", str(tmp_path / "x.xyz")]
    )
    assert status == 2 and "--out" in err and ".png" in err and ".jpg" in err and ".tif" in err
    status, err = _run(capsys, ["speed", "operator", "--json", str(tmp_path / "timings.csv")])
    assert status == 2 and "--json" in err and "expected .json" in err


# ------------------------------------------------------------------------------------------------
# convert says what is wrong with the file, exits 2, and never suggests unpickling.


def _convert_error(capsys, tmp_path, src: Path) -> str:
    status, err = _run(capsys, ["convert", str(src), str(tmp_path / "out.msgpack")])
    assert status == 2, err
    assert "allow_pickle" not in err and "weights_only" not in err and "unpickl" not in err
    assert not (tmp_path / "out.msgpack").exists()
    return err


def test_convert_names_what_is_wrong_with_the_file(tmp_path, capsys):
    err = _convert_error(capsys, tmp_path, tmp_path / "network-l1.pytorch")
    assert "SRC" in err and "no such file" in err and "give DST" not in err
    text = tmp_path / "notes.pytorch"
    text.write_text("these are not weights\n")
    err = _convert_error(capsys, tmp_path, text)
    assert "not a PyTorch state dict or .npz of one" in err and "needs PyTorch" not in err
    fake_npz = tmp_path / "notes.npz"
    fake_npz.write_text("these are not weights either\n")
    assert "not a PyTorch state dict or .npz of one" in _convert_error(capsys, tmp_path, fake_npz)
    objects = tmp_path / "objects.npz"
    np.savez(objects, weight=np.array([{"a": 1}], dtype=object))
    assert "holds Python objects" in _convert_error(capsys, tmp_path, objects)


def test_convert_of_an_unknown_archive(tmp_path, capsys):
    archive = tmp_path / "network-l1.pytorch"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "a zip that is neither an .npz nor a torch archive")
    err = _convert_error(capsys, tmp_path, archive)
    try:
        import torch  # noqa: F401
    except ImportError:  # reading a torch archive needs the [convert] extra: its pip line
        assert "pip install 'jax_softsplat[convert]'" in err
    else:
        assert "not a PyTorch state dict of plain tensors" in err


def test_convert_without_a_default_place_asks_for_dst(tmp_path, capsys):
    weights = tmp_path / "my-weights.npz"
    np.savez(weights, a=np.zeros(2, np.float32))
    status, err = _run(capsys, ["convert", str(weights)])
    assert status == 2 and "give DST" in err


# ------------------------------------------------------------------------------------------------
# The shared data is found without the user's help, or the error says where it looked.


def test_shared_data_found_from_another_folder(shared_data, tmp_path, monkeypatch):
    monkeypatch.delenv("JAX_SOFTSPLAT_DATA", raising=False)
    monkeypatch.chdir(tmp_path)  # no ../shared/data from here
    installed_in_checkout = Path(jax_softsplat.__file__).resolve().is_relative_to(REPO)
    if installed_in_checkout:  # found beside the source checkout whose venv holds the build
        assert shared_data_dir().resolve() == (REPO.parent / "shared" / "data").resolve()
    else:
        with pytest.raises(FileNotFoundError, match="JAX_SOFTSPLAT_DATA"):
            shared_data_dir()
    monkeypatch.setenv("JAX_SOFTSPLAT_DATA", str(shared_data))
    assert shared_data_dir() == shared_data


def test_missing_shared_data_says_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("JAX_SOFTSPLAT_DATA", raising=False)
    monkeypatch.setattr(data, "source_checkout", lambda: tmp_path / "checkout")
    monkeypatch.chdir(tmp_path)
    status, err = _run(capsys, ["quality", "middlebury", "--model", "average"])
    assert status == 2 and "--data" not in err
    assert str((tmp_path.parent / "shared" / "data").resolve()) in err  # ../shared/data from here
    assert str(tmp_path / "shared" / "data") in err  # beside the checkout
    assert "set $JAX_SOFTSPLAT_DATA" in err
    monkeypatch.setenv("JAX_SOFTSPLAT_DATA", str(tmp_path / "nowhere"))
    status, err = _run(capsys, ["quality", "middlebury", "--model", "average"])
    assert status == 2 and "$JAX_SOFTSPLAT_DATA" in err and "nowhere" in err and "--data" not in err


# ------------------------------------------------------------------------------------------------
# One name per thing.


def test_every_subcommand_lives_in_commands_with_add_arguments_and_run():
    modules = {path.stem for path in (REPO / "jax_softsplat" / "commands").glob("*.py")} - {"__init__", "options"}
    assert {name for name, _, _ in cli.COMMANDS} == modules
    for name, module, summary in cli.COMMANDS:
        assert module == f"jax_softsplat.commands.{name}" and summary
        imported = __import__(module, fromlist=["run"])
        assert callable(imported.add_arguments) and callable(imported.run)


def test_one_load_interpolator_and_one_list_of_network_models():
    import jax_softsplat.interpolation as interpolation
    import jax_softsplat.models as models
    import jax_softsplat.models.interpolator as network_interpolator

    assert not hasattr(models, "load_interpolator") and callable(models.load_network)
    assert network_interpolator.NETWORK_MODELS is interpolation.NETWORK_MODELS
    assert not hasattr(network_interpolator, "OFFICIAL_MODELS")


def _subparsers(parser: argparse.ArgumentParser, prefix=()):
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, (*prefix, name))


def test_every_help_has_a_description_and_shows_defaults():
    seen = set()
    for path, parser in _subparsers(cli.build_parser()):
        seen.add(path)
        assert parser.description, path
        text = parser.format_help()
        for action in parser._actions:
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
                assert action.help and "default" in parser._get_formatter()._get_help_string(action), (
                    path,
                    action.dest,
                )
        assert "usage: jax-softsplat" in text
    assert {("quality", "middlebury"), ("quality", "xiph"), ("speed", "operator"), ("train",)} <= seen
    assert not {("bench",), ("benchmark",)} & seen


def test_library_errors_name_arguments_and_the_command_line_names_options(tmp_path, capsys):
    from jax_softsplat.interpolation import load_interpolator

    with pytest.raises(ValueError, match="^model 'nonsense'"):
        load_interpolator("nonsense")
    frame = tmp_path / "frame.png"
    _save(frame, "RGBA")
    base = ["interpolate", "--one", str(frame), "--two", str(frame), "--out", str(tmp_path / "o.png")]
    status, err = _run(capsys, [*base, "--model", "nonsense"])
    assert status == 2 and "--model 'nonsense'" in err
    status, err = _run(capsys, [*base, "--model", "classic", "--weights", "w.msgpack"])
    assert status == 2 and "--weights w.msgpack" in err


# ------------------------------------------------------------------------------------------------
# Parsing is light: no JAX, no optional module, until the command runs.

_PARSE_ONLY = """
import sys
from jax_softsplat import cli
try:
    cli.main({argv!r})
except SystemExit as exit:
    assert exit.code == 2, exit.code
else:
    raise AssertionError("no argument error")
print(" ".join(sorted(m for m in ("jax", "jaxlib", "numpy", *{optional!r}) if m in sys.modules)))
"""


@pytest.mark.parametrize("name", [name for name, _, _ in cli.COMMANDS])
def test_an_argument_error_imports_neither_jax_nor_extras(name):
    result = _python(_PARSE_ONLY.format(argv=[name, "--no-such-option"], optional=OPTIONAL_MODULES))
    assert result.returncode == 0, result.stderr
    assert "jax-softsplat" in result.stderr and "error:" in result.stderr
    imported = set(result.stdout.split())
    if name in ("video", "quality"):  # their options' choices come from library modules that use numpy
        imported.discard("numpy")
    assert not imported


def test_a_bad_time_is_answered_at_once():
    code = _PARSE_ONLY.format(
        argv=["interpolate", "--one", "a.png", "--two", "b.png", "--out", "c.png", "--time", "2"],
        optional=OPTIONAL_MODULES,
    )
    start = time.perf_counter()
    result = _python(code)
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    assert "--time" in result.stderr and result.stdout.strip() == ""
    assert elapsed < 2.0  # importing JAX alone takes longer than this on the 2-core VM (numpy: 0.5 s)


def test_importing_the_cli_and_building_its_parser_is_light():
    code = (
        "import sys\nfrom jax_softsplat import cli\ncli.build_parser('interpolate')\ncli.build_parser('-h')\n"
        f"print(' '.join(m for m in ('jax', *{OPTIONAL_MODULES!r}) if m in sys.modules))"
    )
    result = _python(code)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stderr + result.stdout


# ------------------------------------------------------------------------------------------------
# A missing extra ends with status 2 and the pip line that brings it.

_WITHOUT = """
import sys
sys.modules[{module!r}] = None  # as if the extra were not installed
from jax_softsplat import cli
sys.exit(cli.main({argv!r}))
"""


@pytest.mark.parametrize(
    "module, extra, command",
    [
        ("cv2", "interpolate", ["--model", "classic"]),
        ("PIL", "interpolate", ["--model", "average"]),
        ("flax", "models", ["--model", "l1", "--weights", "w.msgpack"]),
    ],
)
def test_a_missing_extra_names_its_pip_line(module, extra, command, tmp_path):
    frame = tmp_path / "frame.png"
    _save(frame, "RGB16" if module != "cv2" else "L")
    argv = ["interpolate", "--one", str(frame), "--two", str(frame), "--out", str(tmp_path / "o.png"), *command]
    result = _python(_WITHOUT.format(module=module, argv=argv))
    assert result.returncode == 2, result.stderr
    assert f"pip install 'jax_softsplat[{extra}]'" in result.stderr and "Traceback" not in result.stderr


def test_convert_without_flax_names_the_models_extra(tmp_path):
    src = tmp_path / "network-l1.npz"
    np.savez(src, a=np.zeros(2, np.float32))
    result = _python(_WITHOUT.format(module="flax", argv=["convert", str(src), str(tmp_path / "w.msgpack")]))
    assert result.returncode == 2 and "pip install 'jax_softsplat[models]'" in result.stderr, result.stderr


# ------------------------------------------------------------------------------------------------
# Run from the repository root, the source folder shadows the installed build.


def test_the_source_folder_shadowing_the_build_is_explained(tmp_path):
    frame = tmp_path / "frame.png"
    _save(frame, "L")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    direct = subprocess.run(
        [sys.executable, "-c", "import jax_softsplat; jax_softsplat.softsplat"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    argv = [
        "interpolate",
        "--one",
        str(frame),
        "--two",
        str(frame),
        "--out",
        str(tmp_path / "o.png"),
        "--model",
        "classic",
    ]
    module = subprocess.run(
        [sys.executable, "-m", "jax_softsplat.cli", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    for result in (direct, module):
        assert "circular import" not in result.stderr
    if has_compiled_module(REPO / "jax_softsplat"):  # built in place: the source folder works as it is
        assert direct.returncode == 0 and module.returncode == 0, direct.stderr + module.stderr
        return
    assert direct.returncode != 0 and "shadows the installed build" in direct.stderr
    assert "Run from another folder" in direct.stderr
    assert module.returncode == 2 and "Traceback" not in module.stderr
    assert "shadows the installed build" in module.stderr and str(REPO / "jax_softsplat") in module.stderr
