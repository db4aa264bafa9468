"""The reference interpolation network (models `lf` and `l1`) in Flax NNX, installed as
`jax_softsplat.models`."""
