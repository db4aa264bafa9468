"""Training the interpolation network with optax, installed as `jax_softsplat.train`."""
