"""`jax-softsplat quality`: the Middlebury table and the Xiph protocols."""

import json

import numpy as np
import pytest
from media import moving_texture

from jax_softsplat import benchmarks, cli
from jax_softsplat.data import write_image
from jax_softsplat.interpolation import frame_average


@pytest.fixture(autouse=True)
def no_network_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("JAX_SOFTSPLAT_HOME", str(tmp_path / "cache"))


def test_frame_average_scores_as_published(shared_data):
    """A sanity check of the benchmark itself: averaging the two inputs scores 28.01 dB on the 12 sequences."""
    scores = list(benchmarks.middlebury(frame_average, shared_data / "middlebury"))
    assert benchmarks.mean(scores).psnr == pytest.approx(28.01, abs=0.02)


def test_middlebury_command_table_and_json(shared_data, tmp_path, capsys):
    data = tmp_path / "middlebury"
    for name in ("RubberWhale", "Urban3"):  # two sequences keep this quick
        (data / name).mkdir(parents=True)
        for f in benchmarks.MIDDLEBURY_FILES:
            (data / name / f).symlink_to(shared_data / "middlebury" / name / f)
    report = tmp_path / "scores.json"
    assert cli.main(["quality", "middlebury", "--data", str(data), "--model", "classic", "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "| RubberWhale |" in printed and "| Urban3 |" in printed and "| mean |" in printed
    scores = json.loads(report.read_text())
    assert scores["model"] == "classic"
    rows = {row["name"]: row for row in scores["middlebury"]["sequences"]}
    assert rows["RubberWhale"]["psnr"] > 40 and 0.9 < rows["Urban3"]["ssim"] <= 1
    assert scores["middlebury"]["mean"]["psnr"] == pytest.approx(np.mean([r["psnr"] for r in rows.values()]))


def test_xiph_protocols_at_full_size():
    frame = np.zeros((2160, 4096, 3), np.uint8)
    frame[540:-540, 1024:-1024] = 200
    assert benchmarks.xiph_2k(frame).shape == (1080, 2048, 3)
    crop = benchmarks.xiph_4k(frame)
    assert crop.shape == (1080, 2048, 3) and (crop == 200).all()
    # Area interpolation: each output pixel is the mean of a 2x2 block.
    block = np.arange(16, dtype=np.uint8).reshape(4, 4, 1).repeat(3, axis=2) * 10
    np.testing.assert_array_equal(benchmarks.xiph_2k(block)[..., 0], [[25, 45], [105, 125]])


def test_xiph_triplets():
    full = benchmarks.xiph_triplets(150)
    assert len(full) == 49 and full[0] == (1, 3, 2) and full[-1] == (97, 99, 98)
    assert benchmarks.xiph_triplets(9) == [(1, 3, 2), (3, 5, 4), (5, 7, 6)]
    assert benchmarks.xiph_triplets(3) == []


def test_xiph_command_on_generated_clips(tmp_path, capsys):
    for clip, motion in (("pan", (4.0, 0.0)), ("tilt", (0.0, 3.0))):
        folder = tmp_path / "xiph" / clip
        folder.mkdir(parents=True)
        for i, frame in enumerate(moving_texture(96, 160, np.arange(7) * 0.5, motion=motion)):
            write_image(folder / f"{i:03d}.png", frame)
    report = tmp_path / "xiph.json"
    assert cli.main(["quality", "xiph", "--data", str(tmp_path / "xiph"), "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "xiph-2k" in printed and "xiph-4k" in printed and "| pan |" in printed
    scores = json.loads(report.read_text())
    for protocol in ("xiph-2k", "xiph-4k"):
        assert [s["name"] for s in scores[protocol]["sequences"]] == ["pan", "tilt"]
        assert scores[protocol]["mean"]["psnr"] > 30


def test_benchmark_bad_folders(tmp_path, capsys):
    for argv in (
        ["quality", "middlebury", "--data", str(tmp_path / "missing")],
        ["quality", "middlebury", "--data", str(tmp_path)],
        ["quality", "xiph", "--data", str(tmp_path)],
        ["quality", "xiph", "--data", str(tmp_path), "--json", str(tmp_path / "no" / "x.json")],
    ):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert "--data" in err or "--json" in err
