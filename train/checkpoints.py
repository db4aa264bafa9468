"""Orbax checkpoints of a run: the train state (step, weights, optimizer state, EMA) and the grain
iterator's position, saved together every N steps, atomically (orbax writes a temporary folder and
renames it when complete), keeping the last K."""

from pathlib import Path

import grain
import jax
import orbax.checkpoint as ocp


class RunCheckpoints:
    def __init__(self, run_dir, *, keep: int):
        self.directory = Path(run_dir).absolute() / "checkpoints"
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=False),
            item_handlers={"state": ocp.StandardCheckpointHandler(), "data": grain.checkpoint.CheckpointHandler()},
        )

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state, iterator) -> None:
        self.manager.save(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardSave(state), data=grain.checkpoint.CheckpointSave(iterator)),
            force=True,
        )
        self.manager.wait_until_finished()

    def restore(self, state_like, iterator):
        """Restores the latest checkpoint into the structure, shapes and shardings of `state_like`, and
        moves `iterator` to the saved position. A checkpoint that does not fit is a clear error."""
        step = self.manager.latest_step()
        if step is None:
            raise FileNotFoundError(f"--resume: no checkpoint in {self.directory}")
        target = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_like)
        try:
            restored = self.manager.restore(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(target), data=grain.checkpoint.CheckpointRestore(iterator)
                ),
            )
        except Exception as error:  # orbax raises many kinds (ValueError, KeyError, OSError, tensorstore...)
            raise ValueError(
                f"cannot resume from {self.directory / str(step)}: the checkpoint is corrupt or was written by "
                f"a different model/optimizer configuration ({type(error).__name__}: {str(error)[:300]})"
            ) from error
        return step, restored["state"]

    def close(self) -> None:
        self.manager.close()
