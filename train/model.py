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
        if config.network or config.width != 1.0:
            raise ValueError(f"--init {config.init} brings its own architecture: drop model.width/model.network")
        module = load_weights(config.init)
    else:
        network_config = NetworkConfig.scaled(config.width) if config.width != 1.0 else NetworkConfig()
        if config.network:
            network_config = NetworkConfig.from_dict({**network_config.to_dict(), **config.network})
        module = Network(network_config, rngs=nnx.Rngs(seed))
    return Interpolation(module, interpolate_batch, save_weights)
