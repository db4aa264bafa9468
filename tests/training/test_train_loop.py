"""The training loop end to end on a small softsplat model (quick to compile): it resumes after SIGKILL
to the same weights, runs data-parallel on two devices, freezes the flow estimator on request, and
refuses bad checkpoints and runs clearly. (Learning itself is tested on the real network in
test_train_overfit.py.)"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from flax import serialization
from tiny_training import tiny_trainer

from jax_softsplat.train.metrics import read_metrics

RUNNER = Path(__file__).parents[1] / "tiny_training.py"
# A few steps on tiny crops: enough to cross checkpoints, quick in CI.
SMALL = [
    "data.synthetic_size=6",
    "data.synthetic_height=24",
    "data.synthetic_width=24",
    "data.crop=16",
    "data.batch_size=2",
    "data.synthetic_motion=2.0",
    "optim.warmup_steps=2",
    "log_every=1",
]


def run_tiny(run_dir, *overrides, resume=False, env=None, wait=True):
    command = [sys.executable, str(RUNNER), str(run_dir), *SMALL, *overrides] + (["--resume"] if resume else [])
    env = {**os.environ, **(env or {})}
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def weights(run_dir) -> dict:
    return serialization.msgpack_restore((Path(run_dir) / "weights.msgpack").read_bytes())


def flat(tree, prefix=""):
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in flat(sub, f"{prefix}/{key}").items()}
    return {prefix: np.asarray(tree)}


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_weights(tmp_path):
    steps = ["steps=24", "checkpoint_every=8", "optim.ema_decay=0.9"]
    run_tiny(tmp_path / "straight", *steps)

    interrupted = tmp_path / "interrupted"
    process = run_tiny(interrupted, *steps, wait=False)
    deadline = time.time() + 240
    while not (interrupted / "checkpoints" / "8").is_dir():  # orbax renames the folder when complete
        assert process.poll() is None, process.stdout.read()
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (interrupted / "checkpoints" / "24").exists()

    run_tiny(interrupted, *steps, resume=True)
    a, b = flat(weights(tmp_path / "straight")), flat(weights(interrupted))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    # The metrics file reads as one run: each step once.
    assert [r["step"] for r in read_metrics(interrupted / "metrics.jsonl")] == list(range(1, 25))


def assert_trained_alike(one, two):
    """The runs in folders `one` and `two` trained the same model on the same batches."""
    # The first step sees the same weights and data: the same loss up to summation order.
    losses = [read_metrics(run / "metrics.jsonl")[0]["loss"] for run in (one, two)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
    # Adam steps by about lr per weight whatever the gradient's size, so where a gradient is nearly 0 its
    # rounding can move a weight by a fraction of lr (1e-4): weights agree to a fifth of one step.
    a, b = flat(weights(one)), flat(weights(two))
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=2e-5, err_msg=key)


@pytest.mark.slow
def test_data_parallel_on_two_devices_matches_one(tmp_path):
    one = run_tiny(tmp_path / "one", "steps=4", "checkpoint_every=4", "data.batch_size=4")
    two = run_tiny(
        tmp_path / "two", "steps=4", "checkpoint_every=4", "data.batch_size=4",
        env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
    )  # fmt: skip
    assert "devices 1," in one and "devices 2," in two
    assert_trained_alike(tmp_path / "one", tmp_path / "two")


@pytest.mark.slow
def test_two_processes_through_jax_distributed_match_one(tmp_path):
    """Two processes on this host stand in for two hosts: each reads its half of every batch, gradients
    are summed across processes, process 0 writes metrics and weights, both write the checkpoint."""
    with socket.socket() as probe:  # a free port for the coordinator
        probe.bind(("localhost", 0))
        port = probe.getsockname()[1]
    settings = ["steps=4", "checkpoint_every=2", "data.batch_size=4"]
    workers = [
        run_tiny(
            tmp_path / "two",
            *settings,
            wait=False,
            env={"TINY_COORDINATOR": f"localhost:{port}", "TINY_PROCESSES": "2", "TINY_PROCESS_ID": str(index)},
        )  # fmt: skip
        for index in range(2)
    ]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert all("devices 2, processes 2" in output for output in outputs), outputs
    run_tiny(tmp_path / "one", *settings)
    assert_trained_alike(tmp_path / "one", tmp_path / "two")
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoints").iterdir() if p.name.isdigit()) == ["2", "4"]


def test_batch_must_split_over_devices(tmp_path):
    process = run_tiny(
        tmp_path, "steps=1", "data.batch_size=3", env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
        wait=False,
    )  # fmt: skip
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0 and "not divisible by the 2 devices" in output


def test_flow_estimator_stays_frozen_for_the_first_steps(tmp_path):
    trainer = tiny_trainer(tmp_path, SMALL + ["steps=3", "checkpoint_every=3", "model.freeze_flow_steps=3"])
    before = flat(weights_of(trainer))
    trainer.train(progress=False)
    after = flat(weights_of(trainer))
    for key in before:
        if key.startswith("/flow/"):
            np.testing.assert_array_equal(before[key], after[key], err_msg=key)
        else:
            assert not np.array_equal(before[key], after[key]), key

    unfrozen = tiny_trainer(tmp_path / "later", SMALL + ["steps=3", "checkpoint_every=3", "model.freeze_flow_steps=1"])
    start = flat(weights_of(unfrozen))
    unfrozen.train(progress=False)
    assert not np.array_equal(start["/flow/layers/0/kernel"], flat(weights_of(unfrozen))["/flow/layers/0/kernel"])

    with pytest.raises(ValueError, match="no such submodule"):
        tiny_trainer(tmp_path / "x", SMALL + ["model.freeze_flow_steps=3", "model.flow_module=nope"])


def weights_of(trainer) -> dict:
    from flax import nnx

    return nnx.to_pure_dict(nnx.state(trainer.module(ema=False), nnx.Param))


def test_resume_needs_a_checkpoint_and_a_finished_run_needs_resume(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        tiny_trainer(tmp_path, SMALL + ["steps=2"]).train(resume=True, progress=False)
    tiny_trainer(tmp_path, SMALL + ["steps=2", "checkpoint_every=2"]).train(progress=False)
    with pytest.raises(ValueError, match="already holds checkpoints"):
        tiny_trainer(tmp_path, SMALL + ["steps=4"]).train(progress=False)
    # Continuing a finished run to more steps is a resume.
    tiny_trainer(tmp_path, SMALL + ["steps=4", "checkpoint_every=2"]).train(resume=True, progress=False)
    assert (tmp_path / "checkpoints" / "4").is_dir()


# Orbax, failing to read garbage on purpose here, leaves asyncio work behind that reports itself.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_foreign_or_corrupt_checkpoints_are_clear_errors(tmp_path):
    tiny_trainer(tmp_path, SMALL + ["steps=2", "checkpoint_every=2"]).train(progress=False)
    narrower = tiny_trainer(tmp_path, SMALL + ["steps=4"], features=4)  # another model's checkpoint
    with pytest.raises(ValueError, match="corrupt or was written by a different"):
        narrower.train(resume=True, progress=False)

    for path in (tmp_path / "checkpoints" / "2" / "state").rglob("*"):
        if path.is_file():
            path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt or was written by a different"):
        tiny_trainer(tmp_path, SMALL + ["steps=4"]).train(resume=True, progress=False)


def test_validation_scores_a_folder_of_triplets_of_any_sizes(tmp_path):
    from media import make_vimeo
    from PIL import Image

    val = make_vimeo(tmp_path / "val", count=3)
    small = val / "sequences" / "00001" / "0002"  # one triplet of another size: validated at its own size
    for name in ("im1.png", "im2.png", "im3.png"):
        Image.open(small / name).crop((0, 0, 20, 16)).save(small / name)
    (val / "tri_testlist.txt").write_text("00001/0000\n00001/0001\n00001/0002\n")
    overrides = SMALL + ["steps=2", "checkpoint_every=2", "val_every=1", f"data.val_path={val}"]
    last = tiny_trainer(tmp_path / "run", overrides).train(progress=False)
    assert last["val_count"] == 3 and 0 < last["val_ssim"] <= 1 and 5 < last["val_psnr"] < 60
    scores = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "val_psnr" in r]
    assert [r["step"] for r in scores] == [1, 2]


def tensorboard_events(run_dir) -> list:
    """Every Event in the run's TensorBoard files, in file order (TFRecord framing: length, its CRC,
    the serialized Event, its CRC)."""
    from tensorboardX.proto.event_pb2 import Event

    events = []
    for path in sorted((Path(run_dir) / "tensorboard").glob("events.out.tfevents.*")):
        data, offset = path.read_bytes(), 0
        while offset < len(data):
            length = int.from_bytes(data[offset : offset + 8], "little")
            events.append(Event.FromString(data[offset + 12 : offset + 12 + length]))
            offset += 12 + length + 4
    return events


def test_metrics_reach_tensorboard_and_a_resume_purges_the_steps_it_redoes(tmp_path):
    import shutil

    tiny_trainer(tmp_path, SMALL + ["steps=4", "checkpoint_every=2"]).train(progress=False)
    scalars = [(e.step, v.tag) for e in tensorboard_events(tmp_path) for v in e.summary.value]
    assert [step for step, tag in scalars if tag == "loss"] == [1, 2, 3, 4]
    assert {tag for _, tag in scalars} >= {"loss", "psnr", "lr", "grad_norm", "steps_per_second"}

    # As if killed after step 4 but before its checkpoint: the resumed run redoes steps 3 and 4, and
    # both logs drop what the lost steps wrote (TensorBoard through a purge at step 3).
    shutil.rmtree(tmp_path / "checkpoints" / "4")
    tiny_trainer(tmp_path, SMALL + ["steps=4", "checkpoint_every=2"]).train(resume=True, progress=False)
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2, 3, 4]
    purges = [e.step for e in tensorboard_events(tmp_path) if e.session_log.status == e.session_log.START]
    assert purges == [3]
