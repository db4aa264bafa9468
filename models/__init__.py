"""The reference interpolation network (models `lf` and `l1`) in Flax NNX, installed as
`jax_softsplat.models`."""

from .config import NetworkConfig
from .interpolator import Interpolator, load_network, weights_home
from .network import Network, interpolate_batch
from .tiled import Tiling
from .weights import convert, from_official, load_weights, save_weights

__all__ = [
    "Interpolator",
    "Network",
    "NetworkConfig",
    "Tiling",
    "convert",
    "from_official",
    "interpolate_batch",
    "load_network",
    "load_weights",
    "save_weights",
    "weights_home",
]
