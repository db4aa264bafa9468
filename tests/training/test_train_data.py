"""The training data: triplet sources, bad input, augmentation and the grain pipeline's determinism."""

import logging

import numpy as np
import pytest
from media import make_vimeo
from PIL import Image

from jax_softsplat.train.config import DataConfig
from jax_softsplat.train.pipeline import augment, training_batches
from jax_softsplat.train.sources import FrameTriplets, SyntheticTriplets, VimeoTriplets, make_source


def test_vimeo_layout_reads_triplets(tmp_path):
    source = VimeoTriplets(make_vimeo(tmp_path))
    assert len(source) == 5 and len(VimeoTriplets(tmp_path, "test")) == 1
    triplet = source[2]
    assert set(triplet) == {"one", "mid", "two"}
    assert all(frame.shape == (24, 32, 3) and frame.dtype == np.uint8 for frame in triplet.values())


def test_missing_or_empty_dataset_paths_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VimeoTriplets(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="tri_trainlist.txt"):
        VimeoTriplets(tmp_path)
    (tmp_path / "tri_trainlist.txt").write_text("\n")
    with pytest.raises(ValueError, match="lists no triplets"):
        VimeoTriplets(tmp_path)
    with pytest.raises(ValueError, match="no triplets found"):
        FrameTriplets(tmp_path)
    with pytest.raises(ValueError, match="needs a path"):
        make_source("vimeo", "", config=DataConfig())
    with pytest.raises(ValueError, match="unknown data kind"):
        make_source("imagenet", str(tmp_path), config=DataConfig())


def test_corrupt_and_mixed_size_triplets_are_reported_and_skipped(tmp_path, caplog):
    source = VimeoTriplets(make_vimeo(tmp_path))
    (tmp_path / "sequences/00001/0001/im2.png").write_bytes(b"not a png")
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "sequences/00001/0003/im3.png")
    with caplog.at_level(logging.WARNING, logger="jax_softsplat.train"):
        assert source[1] is None and source[3] is None and source[0] is not None
    assert "unreadable image" in caplog.text and "different sizes" in caplog.text

    # Mid-epoch, the pipeline steps over them: every batch is full, and only good triplets appear.
    config = DataConfig(crop=16, batch_size=3, flip=False, reverse=False)
    batches = iter(training_batches(source, config, seed=0))
    seen = np.concatenate([next(batches) for _ in range(4)])
    assert seen.shape == (12, 3, 16, 16, 3)


def test_frame_folders_skip_scene_cuts(tmp_path):
    clip = tmp_path / "clip"
    clip.mkdir()
    # Two unrelated scenes back to back in one folder: 3 + 3 frames, a cut between frames 2 and 3.
    frames = []
    for seed in (1, 2):
        source = SyntheticTriplets(1, 24, 32, seed=seed, max_motion=1.0)
        frames += [source[0][name] for name in ("one", "mid", "two")]
    frames[3:] = [np.full_like(frame, 255) - frame for frame in frames[3:]]  # make the second scene unlike
    for number, frame in enumerate(frames):
        Image.fromarray(frame).save(clip / f"{number:04d}.png")
    source = FrameTriplets(tmp_path)
    assert [tuple(p.name for p in triplet) for triplet in source.triplets] == [
        ("0000.png", "0001.png", "0002.png"),
        ("0003.png", "0004.png", "0005.png"),
    ]
    assert source[1]["mid"].shape == (24, 32, 3)


def test_videos_become_frame_triplets(tmp_path):
    av = pytest.importorskip("av")  # the optional "video" extra
    data = tmp_path / "videos"
    data.mkdir()
    source = SyntheticTriplets(1, 32, 48, seed=4, max_motion=1.0)
    frames = [source[0][name] for name in ("one", "mid", "two")] * 2
    with av.open(str(data / "clip.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    with pytest.raises(ValueError, match="cache folder"):
        FrameTriplets(data)
    triplets = FrameTriplets(data, cache=tmp_path / "cache", scene_cut=1.0)
    assert len(triplets) == 4 and triplets[0]["one"].shape == (32, 48, 3)
    assert (tmp_path / "cache" / "clip" / ".done").is_file()


def test_augment_crops_flips_and_reverses():
    triplet = {name: np.full((8, 10, 3), value, np.uint8) for name, value in (("one", 1), ("mid", 2), ("two", 3))}
    triplet["one"][0, 0] = 100
    outputs = [augment(triplet, np.random.default_rng(seed), crop=8, flip=True, reverse=True) for seed in range(40)]
    assert all(out.shape == (3, 8, 8, 3) for out in outputs)
    assert {int(out[1, 4, 4, 0]) for out in outputs} == {2}  # the middle frame stays in the middle
    assert {int(out[0, 4, 4, 0]) for out in outputs} == {1, 3}  # reversal swaps one and two
    corners = {tuple(np.argwhere(out[0, :, :, 0] == 100)[0]) for out in outputs if (out[0] == 100).any()}
    assert len(corners) > 1  # flips move the marked pixel
    assert augment(triplet, np.random.default_rng(0), crop=9, flip=False, reverse=False) is None


def test_pipeline_is_deterministic_and_resumable():
    source = SyntheticTriplets(6, 24, 24, seed=0)
    config = DataConfig(crop=16, batch_size=2)
    first = iter(training_batches(source, config, seed=3))
    batches = [next(first) for _ in range(5)]
    again = iter(training_batches(source, config, seed=3))
    assert all(np.array_equal(a, next(again)) for a in batches)
    other = iter(training_batches(source, config, seed=4))
    assert not np.array_equal(batches[0], next(other))

    # The iterator's state after two batches continues with the third, exactly.
    replay = iter(training_batches(source, config, seed=3))
    next(replay), next(replay)
    state = replay.get_state()
    resumed = iter(training_batches(source, config, seed=3))
    resumed.set_state(state)
    assert all(np.array_equal(a, next(resumed)) for a in batches[2:])


def test_pipeline_rejects_crops_larger_than_the_frames():
    with pytest.raises(ValueError, match="smaller than the crop"):
        training_batches(SyntheticTriplets(2, 24, 24), DataConfig(crop=32), seed=0)


def test_processes_read_disjoint_slices():
    source = SyntheticTriplets(8, 16, 16, seed=0)
    config = DataConfig(crop=16, batch_size=4, flip=False, reverse=False)
    halves = [next(iter(training_batches(source, config, seed=0, process_index=i, process_count=2))) for i in (0, 1)]
    assert halves[0].shape == (2, 3, 16, 16, 3)
    assert not np.array_equal(halves[0], halves[1])
