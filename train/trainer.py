"""The training loop: a jit-compiled, data-parallel train step over all devices, checkpoints, resume,
validation, metric logging and weight export.

The trainer works with any NNX module that `interpolate(module, one, two, t)` turns into a
differentiable frame interpolator (RGB NHWC float32 in [0, 1] in and out): the real network through
`jax_softsplat.models.interpolate_batch`, or a small model in tests.
"""

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from .checkpoints import RunCheckpoints
from .config import TrainConfig
from .losses import colour_loss, psnr
from .metrics import MetricsLog
from .optim import learning_rate, optimizer
from .pipeline import training_batches
from .sources import make_source
from .validate import validate

log = logging.getLogger("jax_softsplat.train")


@dataclasses.dataclass
class Interpolation:
    """What the trainer needs of a model: the module, how to interpolate with it, and how to export it."""

    module: nnx.Module
    interpolate: Callable  # (module, one, two, t) -> RGB [N, H, W, 3]
    save_weights: Callable  # (module, path) -> None


def flow_labels(params: nnx.State, flow_module: str):
    """A pytree like `params`: "flow" for every parameter under the attribute `flow_module`, else "rest"."""

    def label(keypath, _):
        names = {str(getattr(key, "key", getattr(key, "name", key))) for key in keypath}
        return "flow" if flow_module in names else "rest"

    labels = jax.tree_util.tree_map_with_path(label, params)
    if "flow" not in jax.tree.leaves(labels):
        raise ValueError(f"model.flow_module={flow_module!r}: the model has no such submodule to freeze")
    return labels


def check_run_dir(run_dir, *, resume: bool) -> None:
    """--resume needs a checkpoint; a fresh run must not overwrite one (never silently start over)."""
    checkpoints = Path(run_dir) / "checkpoints"
    steps = sorted(int(p.name) for p in checkpoints.glob("*") if p.name.isdigit()) if checkpoints.is_dir() else []
    if resume and not steps:
        raise FileNotFoundError(f"--resume: no checkpoint in {checkpoints}")
    if not resume and steps:
        raise ValueError(
            f"{run_dir} already holds checkpoints (last step {steps[-1]}): "
            "pass --resume to continue that run, or choose another --run-dir"
        )


class Trainer:
    def __init__(self, config: TrainConfig, run_dir, interpolation: Interpolation, *, source=None, val_source=None):
        self.config, self.run_dir, self.interpolation = config, Path(run_dir), interpolation
        self.process_index, self.process_count = jax.process_index(), jax.process_count()
        self.is_main = self.process_index == 0

        devices = np.array(jax.devices())
        if config.data.batch_size % devices.size:
            raise ValueError(f"data.batch_size={config.data.batch_size} is not divisible by the {devices.size} devices")
        self.mesh = Mesh(devices, ("data",))
        self.replicated = NamedSharding(self.mesh, P())
        self.batch_sharding = NamedSharding(self.mesh, P("data"))

        if source is None:
            source = make_source(
                config.data.kind, config.data.path, cache=self.run_dir / "frames", config=config.data, seed=config.seed
            )
        if val_source is None and config.data.val_path:
            val_source = make_source(config.data.val_kind, config.data.val_path, split="test", config=config.data)
        self.source, self.val_source = source, val_source
        self.dataset = training_batches(
            source, config.data, seed=config.seed, process_index=self.process_index, process_count=self.process_count
        )

        module = interpolation.module
        self.graphdef, params, self.rest = nnx.split(module, nnx.Param, ...)
        labels = None
        if config.model.freeze_flow_steps > 0:
            labels = flow_labels(params, config.model.flow_module)
        self.schedule = learning_rate(config.optim, config.steps)
        self.tx = optimizer(
            config.optim, config.steps, flow_labels=labels, freeze_flow_steps=config.model.freeze_flow_steps
        )
        state = {"step": jnp.zeros([], jnp.int32), "params": params, "opt": self.tx.init(params)}
        if config.optim.ema_decay > 0:
            state["ema"] = jax.tree.map(jnp.copy, params)
        self.state = jax.device_put(state, self.replicated)
        self.rest = jax.device_put(self.rest, self.replicated)
        self.loss = colour_loss(config.loss.kind, config.loss.levels)
        self._step = jax.jit(self._train_step, donate_argnums=0)

    def _train_step(self, state, rest, batch):
        frames = batch.astype(jnp.float32) / 255.0
        one, mid, two = frames[:, 0], frames[:, 1], frames[:, 2]

        def loss_fn(params):
            module = nnx.merge(self.graphdef, params, rest)
            prediction = self.interpolation.interpolate(module, one, two, 0.5)
            return self.loss(prediction, mid), prediction

        (loss, prediction), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
        updates, opt = self.tx.update(grads, state["opt"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        new_state = {"step": state["step"] + 1, "params": params, "opt": opt}
        if "ema" in state:
            decay = self.config.optim.ema_decay
            new_state["ema"] = jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, state["ema"], params)
        metrics = {"loss": loss, "psnr": psnr(prediction, mid), "grad_norm": optax.tree.norm(grads)}
        return new_state, metrics

    def module(self, *, ema: bool = True) -> nnx.Module:
        """The model with the current weights (the EMA ones when kept), as a local copy on this host."""
        params = self.state["ema" if ema and "ema" in self.state else "params"]
        local = jax.tree.map(lambda a: np.asarray(a.addressable_data(0)), (params, self.rest))
        return nnx.merge(self.graphdef, *local)

    def export_weights(self) -> Path:
        path = self.run_dir / "weights.msgpack"
        if self.is_main:
            self.interpolation.save_weights(self.module(), path)
        return path

    def train(self, *, resume: bool = False, progress: bool = True) -> dict:
        """Runs (or continues) to config.steps; returns the last logged metrics."""
        from tqdm import tqdm

        config = self.config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        check_run_dir(self.run_dir, resume=resume)
        checkpoints = RunCheckpoints(self.run_dir, keep=config.keep_checkpoints)
        iterator = iter(self.dataset)
        start = 0
        if resume:
            start, self.state = checkpoints.restore(self.state, iterator)
            log.info("resumed %s at step %d", self.run_dir, start)
        if self.is_main:
            config.save(self.run_dir / "config.json")
        metrics_log = (
            MetricsLog(self.run_dir / "metrics.jsonl", self.run_dir / "tensorboard", resume_step=start)
            if self.is_main
            else None
        )
        bar = tqdm(total=config.steps, initial=start, disable=not (progress and self.is_main), unit="step")
        last, window_start, window_steps = {}, time.perf_counter(), 0
        try:
            for step in range(start + 1, config.steps + 1):
                local = next(iterator)
                batch = jax.make_array_from_process_local_data(self.batch_sharding, local)
                self.state, metrics = self._step(self.state, self.rest, batch)
                window_steps += 1
                bar.update(1)
                if step % config.log_every == 0 or step == config.steps:
                    values = {k: float(v) for k, v in jax.device_get(metrics).items()}
                    now = time.perf_counter()
                    values["steps_per_second"] = window_steps / (now - window_start)
                    values["lr"] = float(self.schedule(step - 1))
                    window_start, window_steps = now, 0
                    bar.set_postfix(loss=f"{values['loss']:.4f}", psnr=f"{values['psnr']:.2f}")
                    if metrics_log:
                        metrics_log.write(step, **values)
                    last = values
                validating = self.val_source is not None and (
                    (config.val_every and step % config.val_every == 0) or step == config.steps
                )
                if validating and self.is_main:
                    scores = validate(
                        self.module(), self.interpolation.interpolate, self.val_source, limit=config.data.val_limit
                    )
                    metrics_log.write(step, **scores)
                    psnr_db, ssim = scores["val_psnr"], scores["val_ssim"]
                    bar.write(f"step {step}: validation PSNR {psnr_db:.2f} dB, SSIM {ssim:.4f}")
                    last.update(scores)
                if step % config.checkpoint_every == 0 or step == config.steps:
                    checkpoints.save(step, self.state, iterator)
                    self.export_weights()
        finally:
            bar.close()
            if metrics_log:
                metrics_log.close()
            checkpoints.close()
        return last
