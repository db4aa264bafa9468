"""`jax-softsplat train`: trains the interpolation network. Its options and loop live with the trainer
in `jax_softsplat.train.cli`, which imports JAX, Flax and the [train] extra only once it runs."""

from jax_softsplat.train.cli import add_arguments, run

__all__ = ["add_arguments", "run"]
