"""Quickly made networks for the network and converter tests (no Flax initialisation, which
compiles one kernel per parameter shape and is slow on a busy machine)."""

from pathlib import Path

import numpy as np

from jax_softsplat.models import NetworkConfig
from jax_softsplat.models.weights import abstract_network, network_from_parameters, parameters

# The key table of the authors' published state dict: official key -> PyTorch shape.
SPEC = Path(__file__).resolve().parent / "data" / "official_state_dict.tsv"

# A network of the official shape but a fraction of its width.
SMALL = NetworkConfig(extractor=(4, 6, 8, 8, 8, 8), decoder=(8, 8, 8, 8, 8), encoder=(4, 6, 8), softmetric=(4, 4, 6, 8))


def random_parameters(config: NetworkConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """He-scaled random kernels, small random biases, PReLU slopes near 0.25."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, spec in parameters(abstract_network(config)).items():
        if name.endswith("/kernel"):
            fan_in = int(np.prod(spec.shape[:-1]))
            values[name] = rng.normal(0.0, np.sqrt(2.0 / fan_in), spec.shape).astype(np.float32)
        elif name.endswith("/bias"):
            values[name] = rng.normal(0.0, 0.1, spec.shape).astype(np.float32)
        else:
            values[name] = rng.uniform(0.1, 0.4, spec.shape).astype(np.float32)
    return values


def random_network(config: NetworkConfig = SMALL, seed: int = 0):
    return network_from_parameters(config, random_parameters(config, seed))


def official_table() -> dict[str, tuple[int, ...]]:
    """The key table of the authors' published state dict: official key (net spelling) -> PyTorch shape."""
    table = {}
    for line in SPEC.read_text().splitlines():
        if line and not line.startswith("#"):
            key, shape = line.split("\t")
            table[key] = tuple(int(size) for size in shape.split("x"))
    return table
