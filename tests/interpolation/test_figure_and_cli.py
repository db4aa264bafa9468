"""The warping figure behaves as the paper shows, and the command line writes it."""

import numpy as np

from jax_softsplat import cli
from jax_softsplat.data import read_image
from jax_softsplat.figure import warp_modes
from jax_softsplat.synthetic import layered_scene


def test_modes_differ_as_the_paper_shows():
    """Splat frame one to t = 1 and compare with frame two inside the foreground disc, where the
    foreground passes over background: sum over-brightens, avg blends the background in, linear and
    soft keep the foreground."""
    one, two, flow = layered_scene(96, 128, seed=1, background_motion=(6.0, 0.0), foreground_motion=(-6.0, 0.0))
    out = {mode: frames[-1] for mode, frames in warp_modes(one, two, flow, times=[0.0, 1.0]).items()}
    y, x = np.mgrid[0:96, 0:128]
    # Frame two's disc (frame one's moved by the foreground motion), less a margin for its rim.
    centre = np.argwhere(np.all(flow == (-6.0, 0.0), axis=2)).mean(axis=0) + (0, -6)
    inner = (y - centre[0]) ** 2 + (x - centre[1]) ** 2 <= (0.22 * 96 - 8) ** 2
    assert inner.sum() > 200
    error = {mode: np.abs(image - two)[inner].mean() for mode, image in out.items()}
    assert out["sum"][inner].max() > 1.2  # overlaps add up
    assert error["soft"] < 0.02 and error["linear"] < 0.5 * error["avg"]
    assert error["avg"] > 2 * error["soft"]
    np.testing.assert_allclose(warp_modes(one, two, flow, times=[0.0])["avg"][0], one, atol=1e-6)


def test_figure_command_on_shared_data(shared_data, tmp_path, capsys):
    out = tmp_path / "warping.png"
    assert cli.main(["figure", "--data", str(shared_data), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    grid = read_image(out)
    assert grid.shape[0] > 4 * 160 and grid.shape[1] > 11 * 160


def test_figure_command_without_shared_data_uses_a_generated_scene(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JAX_SOFTSPLAT_DATA", str(tmp_path / "nowhere"))
    out = tmp_path / "warping.png"
    assert cli.main(["figure", "--out", str(out)]) == 0
    assert "generated scene" in capsys.readouterr().out and out.is_file()


def test_figure_command_reports_a_bad_data_folder(tmp_path, capsys):
    assert cli.main(["figure", "--data", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "--data" in err and "images/one.png" in err and "images/flow.flo" in err
    assert not (tmp_path / "x.png").exists()
