"""Runs the trainer on TinyInterpolator in its own process (for the kill/resume and multi-device tests):
    python tiny_training.py RUN_DIR [--resume] [KEY=VALUE ...]
then prints the number of devices it trained on. The final weights are in RUN_DIR/weights.msgpack.
With TINY_COORDINATOR=host:port, TINY_PROCESSES=N and TINY_PROCESS_ID=I it is one of N processes of a
multi-host run, joined through jax.distributed as `jax-softsplat train --coordinator ...` joins them."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import jax  # noqa: E402
import tiny_interpolator  # noqa: E402
from flax import nnx  # noqa: E402

from jax_softsplat.train.config import TrainConfig, apply_overrides  # noqa: E402
from jax_softsplat.train.trainer import Interpolation, Trainer  # noqa: E402


def tiny_trainer(run_dir, overrides, features: int = 8) -> Trainer:
    config = apply_overrides(TrainConfig(), list(overrides))
    module = tiny_interpolator.TinyInterpolator(features, rngs=nnx.Rngs(config.seed))
    interpolation = Interpolation(module, tiny_interpolator.interpolate, tiny_interpolator.save_weights)
    return Trainer(config, run_dir, interpolation)


if __name__ == "__main__":
    if os.environ.get("TINY_COORDINATOR"):
        jax.distributed.initialize(
            coordinator_address=os.environ["TINY_COORDINATOR"],
            num_processes=int(os.environ["TINY_PROCESSES"]),
            process_id=int(os.environ["TINY_PROCESS_ID"]),
        )
    run_dir, *rest = sys.argv[1:]
    resume = "--resume" in rest
    trainer = tiny_trainer(run_dir, [item for item in rest if item != "--resume"])
    trainer.train(resume=resume, progress=False)
    print(f"devices {jax.device_count()}, processes {jax.process_count()}")
