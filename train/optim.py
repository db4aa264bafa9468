"""The optimizer: AdamW with a warm-up + cosine or step schedule, gradient clipping, and an optional
period during which the flow estimator gets no updates."""

import jax
import jax.numpy as jnp
import optax

from .config import OptimConfig


def learning_rate(config: OptimConfig, total_steps: int) -> optax.Schedule:
    if config.schedule == "constant":
        main = optax.constant_schedule(config.lr)
    elif config.schedule == "cosine":
        main = optax.cosine_decay_schedule(
            config.lr, max(1, total_steps - config.warmup_steps), alpha=config.final_lr_fraction
        )
    elif config.schedule == "step":
        main = optax.exponential_decay(
            config.lr, transition_steps=config.step_every, decay_rate=config.step_factor, staircase=True
        )
    else:
        raise ValueError(f"unknown optim.schedule {config.schedule!r}: expected 'cosine', 'step' or 'constant'")
    if config.warmup_steps <= 0:
        return main
    warmup = optax.linear_schedule(config.lr / config.warmup_steps, config.lr, config.warmup_steps)
    return optax.join_schedules([warmup, main], [config.warmup_steps])


def frozen_until(steps: int) -> optax.GradientTransformation:
    """Zeroes the updates for the first `steps` steps (the parameters stay exactly as they were)."""

    def init(params):
        del params
        return jnp.zeros([], jnp.int32)

    def update(updates, count, params=None):
        del params
        gate = (count >= steps).astype(jnp.float32)
        return jax.tree.map(lambda u: u * gate.astype(u.dtype), updates), count + 1

    return optax.GradientTransformation(init, update)


def optimizer(config: OptimConfig, total_steps: int, *, flow_labels=None, freeze_flow_steps: int = 0):
    """AdamW (+ clipping). With `flow_labels` (a pytree of "flow"/"rest" matching the parameters) and
    `freeze_flow_steps` > 0, the flow parameters are held fixed for that many steps, then trained."""
    adamw = optax.adamw(
        learning_rate(config, total_steps), b1=config.b1, b2=config.b2, weight_decay=config.weight_decay
    )
    chain = [optax.clip_by_global_norm(config.clip_norm)] if config.clip_norm > 0 else []
    if freeze_flow_steps > 0:
        if flow_labels is None:
            raise ValueError("freezing the flow estimator needs labels saying which parameters are the flow's")
        adamw = optax.multi_transform(
            {"flow": optax.chain(adamw, frozen_until(freeze_flow_steps)), "rest": adamw}, flow_labels
        )
    return optax.chain(*chain, adamw)
