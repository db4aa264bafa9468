"""`Network` (flow + synthesis) and `interpolate_batch`, the differentiable entry point on RGB frames."""

import jax
import jax.numpy as jnp
from flax import nnx

from .config import NetworkConfig
from .flow import FlowNet
from .synthesis import Synthesis


class Network(nnx.Module):
    """The softmax-splatting interpolation network on normalised BGR frames [N, H, W, 3], H, W even."""

    def __init__(self, config: NetworkConfig = NetworkConfig(), *, rngs: nnx.Rngs):
        self.config = config
        self.flow = FlowNet(config, rngs=rngs)
        self.synthesis = Synthesis(config, rngs=rngs)

    def estimate_flow(self, one: jax.Array, two: jax.Array) -> tuple[jax.Array, jax.Array]:
        """-> (flow one->two, flow two->one), each [N, H, W, 2] in pixels."""
        _check_frames(one, two)
        return self.flow(one, two)

    def synthesize(self, one: jax.Array, two: jax.Array, flows, t) -> jax.Array:
        """The normalised BGR frame at time t (a scalar or [N]) between one (t = 0) and two (t = 1)."""
        _check_frames(one, two)
        return self.synthesis(one, two, flows, t)

    def __call__(self, one: jax.Array, two: jax.Array, t) -> jax.Array:
        return self.synthesize(one, two, self.estimate_flow(one, two), t)


def _check_frames(one, two) -> None:
    if one.ndim != 4 or one.shape[-1] != 3 or one.shape != two.shape:
        raise ValueError(f"Network: one and two must both be [N, H, W, 3], got {one.shape} and {two.shape}")
    if one.shape[1] % 2 or one.shape[2] % 2:
        raise ValueError(f"Network: H and W must be even (pad first), got {one.shape}")


def pad_even(x: jax.Array) -> jax.Array:
    """Replicate-pads the bottom row and right column of [N, H, W, C] to even H and W."""
    _, h, w, _ = x.shape
    return jnp.pad(x, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def normalize(one: jax.Array, two: jax.Array):
    """The reference's input normalisation, per pair: mu is the mean of the two frames' means and
    sigma^2 the mean over the frames of (variance_i + (mu - mean_i)^2), i.e. the pooled moments.

    Returns (one', two', mu, sigma) with x' = (x - mu) / (sigma + 1e-7); mu, sigma are [N, 1, 1, 1].
    The statistics are constants to gradients, as in the reference (this also keeps a constant
    frame pair from giving the infinite gradient of sqrt at 0).
    """
    axes = (1, 2, 3)
    means = [x.mean(axis=axes, keepdims=True) for x in (one, two)]
    mu = (means[0] + means[1]) / 2
    var = sum(x.var(axis=axes, keepdims=True) + (mu - m) ** 2 for x, m in zip((one, two), means)) / 2
    mu, sigma = jax.lax.stop_gradient(mu), jax.lax.stop_gradient(jnp.sqrt(var))
    return (one - mu) / (sigma + 1e-7), (two - mu) / (sigma + 1e-7), mu, sigma


def interpolate_batch(network: Network, one: jax.Array, two: jax.Array, t) -> jax.Array:
    """RGB [N, H, W, 3] float32 in [0, 1] (any H, W) and t (scalar or [N]) -> RGB [N, H, W, 3], not
    clipped. Differentiable: the entry point for training."""
    one, two = jnp.asarray(one), jnp.asarray(two)
    if one.ndim != 4 or one.shape[-1] != 3 or one.shape != two.shape:
        raise ValueError(
            f"interpolate_batch: one and two must both be RGB [N, H, W, 3], got {one.shape} and {two.shape}"
        )
    n, h, w, _ = one.shape
    t = jnp.asarray(t, jnp.float32)
    if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != n):
        raise ValueError(f"interpolate_batch: t must be a scalar or [N] = [{n}], got shape {t.shape}")
    # The reference works in BGR (it flips PIL's RGB), so its weights expect BGR.
    one, two = pad_even(one[..., ::-1]), pad_even(two[..., ::-1])
    one, two, mu, sigma = normalize(one, two)
    out = network(one, two, t) * sigma + mu
    return out[:, :h, :w, ::-1]
