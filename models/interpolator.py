"""`load_network`: a jit-compiled callable that interpolates frames with the official weights
(converted once with `jax-softsplat convert`) or with a trained network."""

import os
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jax_softsplat.interpolation import NETWORK_MODELS

from .network import Network, normalize, pad_even
from .weights import load_weights

HOME_ENV = "JAX_SOFTSPLAT_HOME"
OFFICIAL_URL = "http://content.sniklaus.com/softsplat/network-{model}.pytorch"


def weights_home() -> Path:
    """Where converted official weights are looked up: $JAX_SOFTSPLAT_HOME, else ~/.cache/jax_softsplat."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".cache" / "jax_softsplat")


def official_weights_path(model: str) -> Path:
    return weights_home() / f"network-{model}.msgpack"


def how_to_obtain(model: str, path: Path) -> str:
    return (
        f"weights for model {model!r} not found at {path}. Download the authors' PyTorch weights from "
        f"{OFFICIAL_URL.format(model=model)} and convert them (needs `pip install 'jax_softsplat[convert]'`):\n"
        f"  jax-softsplat convert network-{model}.pytorch {path}"
    )


def resolve_weights(model: str, weights: str | os.PathLike | None = None) -> Path:
    """The weights file for `model`: "l1"/"lf" (at `weights`, else in `weights_home()`), or a path
    to a .msgpack file or to a folder holding `weights.msgpack` (e.g. a training run)."""
    if model in NETWORK_MODELS:
        path = Path(weights) if weights is not None else official_weights_path(model)
        if not path.is_file():
            raise FileNotFoundError(how_to_obtain(model, path))
        return path
    if weights is not None:
        raise ValueError(
            f"weights {weights}: only the models {', '.join(NETWORK_MODELS)} take it; model {model!r} is a path already"
        )
    path = Path(model)
    if path.is_dir():
        path = path / "weights.msgpack"
    if not path.is_file():
        raise FileNotFoundError(
            f"model {model!r}: expected one of {', '.join(NETWORK_MODELS)} or a weights .msgpack file or a folder holding "
            f"weights.msgpack; nothing found at {path}"
        )
    return path


def _prepare(graphdef, state, one, two):
    """RGB [H, W, 3] x2 -> everything the frames at any t need: flows, pyramids and metrics."""
    network = nnx.merge(graphdef, state)
    one, two = pad_even(one[None, ..., ::-1]), pad_even(two[None, ..., ::-1])
    one, two, mu, sigma = normalize(one, two)
    flows = network.estimate_flow(one, two)
    pyramids, metrics = network.synthesis.features(one, two, flows)
    return {"flows": flows, "pyramids": pyramids, "metrics": metrics, "mu": mu, "sigma": sigma}


def _render(graphdef, state, prepared, t, height, width):
    network = nnx.merge(graphdef, state)
    out = network.synthesis.render(prepared["pyramids"], prepared["metrics"], prepared["flows"], t)
    out = out * prepared["sigma"] + prepared["mu"]
    return jnp.clip(out[0, :height, :width, ::-1], 0.0, 1.0)


class Interpolator:
    """`(one, two, times) -> [frame at t for t in times]` on float32 RGB [H, W, 3] in [0, 1].

    The flow and every time-independent feature are computed once per pair; each time costs only the
    splatting and the GridNet. Compiled once per frame size.
    """

    def __init__(self, network: Network, name: str = "network"):
        self.name = name
        self.config = network.config
        self._graphdef, self._state = nnx.split(network)
        self._prepare = jax.jit(_prepare, static_argnums=0)
        self._render = jax.jit(_render, static_argnums=(0, 4, 5))

    def __call__(self, one: np.ndarray, two: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        one, two = np.asarray(one), np.asarray(two)
        if one.ndim != 3 or one.shape[-1] != 3 or one.shape != two.shape:
            raise ValueError(f"{self.name}: one and two must both be RGB [H, W, 3], got {one.shape} and {two.shape}")
        if not (np.issubdtype(one.dtype, np.floating) and np.issubdtype(two.dtype, np.floating)):
            raise ValueError(
                f"{self.name}: one and two must be float RGB in [0, 1], got {one.dtype} and {two.dtype} "
                "(divide uint8 frames by 255)"
            )
        times = [float(t) for t in times]
        if not all(0.0 <= t <= 1.0 for t in times):
            raise ValueError(f"{self.name}: times must lie in [0, 1], got {times}")
        h, w, _ = one.shape
        prepared = self._prepare(self._graphdef, self._state, jnp.asarray(one, jnp.float32), jnp.asarray(two, jnp.float32))
        outs = [self._render(self._graphdef, self._state, prepared, jnp.float32(t), h, w) for t in times]
        return [np.asarray(out) for out in outs]


def load_network(model: str, weights: str | os.PathLike | None = None) -> Interpolator:
    """An Interpolator for "l1", "lf" (official weights, converted) or a PATH to our weights."""
    path = resolve_weights(model, weights)
    return Interpolator(load_weights(path), name=model if model in NETWORK_MODELS else str(path))
