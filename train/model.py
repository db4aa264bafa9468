"""The network to train, built from the config: from scratch or from saved (e.g. converted official)
weights, with its differentiable batch interpolation and its weight export."""

from flax import nnx

from .config import ModelConfig
from .trainer import Interpolation


def network_interpolation(config: ModelConfig, *, seed: int = 0) -> Interpolation:
    try:
        from jax_softsplat.models import Network, NetworkConfig, interpolate_batch, load_weights, save_weights
    except ImportError as error:
        raise ValueError(f"the interpolation network is not available in this install ({error})") from error
    if config.init:
        if config.network:
            raise ValueError(
                f"--init {config.init} brings its own architecture: drop the model.network settings {config.network}"
            )
        module = load_weights(config.init)
    else:
        try:
            network_config = NetworkConfig(**config.network)
        except TypeError as error:
            raise ValueError(f"model.network: {error} (NetworkConfig fields only)") from error
        module = Network(network_config, rngs=nnx.Rngs(seed))
    return Interpolation(module, interpolate_batch, save_weights)
