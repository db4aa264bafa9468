"""A small but real interpolation model for the trainer's tests: a few convolutions estimate both flows
and an importance metric from the two frames, softmax splatting warps each frame to t, and a residual
convolution refines the blend. It trains through the same operator (and gradients) as the network."""

import jax.numpy as jnp
from flax import nnx

import jax_softsplat


class TinyInterpolator(nnx.Module):
    def __init__(self, features: int = 16, *, rngs: nnx.Rngs):
        conv = lambda i, o: nnx.Conv(i, o, (3, 3), rngs=rngs)  # noqa: E731
        self.flow = nnx.Sequential(conv(6, features), nnx.relu, conv(features, features), nnx.relu, conv(features, 4))
        self.metric = conv(6, 2)
        self.refine = nnx.Sequential(
            conv(12, features), nnx.relu, conv(features, features), nnx.relu, conv(features, 3)
        )


def interpolate(module: TinyInterpolator, one, two, t):
    t = jnp.reshape(jnp.asarray(t, one.dtype), (-1, 1, 1, 1))
    pair = jnp.concatenate([one, two], axis=-1)
    flows, metric = module.flow(pair), module.metric(pair)
    splat = lambda x, f, m: jax_softsplat.softsplat(x, f, m, mode="soft", layout="NHWC")  # noqa: E731
    from_one = splat(one, flows[..., :2] * t, metric[..., :1])
    from_two = splat(two, flows[..., 2:] * (1 - t), metric[..., 1:])
    blend = (1 - t) * from_one + t * from_two
    return blend + module.refine(jnp.concatenate([from_one, from_two, one, two], axis=-1))


def save_weights(module, path) -> None:
    """Exports like the network's save_weights: one msgpack file, written atomically."""
    from flax import serialization

    from jax_softsplat.files import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_bytes(serialization.msgpack_serialize(nnx.to_pure_dict(nnx.state(module, nnx.Param))))
