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

from . import tiled
from .network import Network, normalize, pad_even
from .tiled import Tiling
from .weights import load_weights

HOME_ENV = "JAX_SOFTSPLAT_HOME"
OFFICIAL_URL = "http://content.sniklaus.com/softsplat/network-{model}.pytorch"
# Frames up to this many pixels (720p, 1024 x 1024) run whole; larger ones in tiles (`tiling="auto"`).
UNTILED_PIXELS = 1024 * 1024


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
            f"model {model!r}: expected one of {', '.join(NETWORK_MODELS)} or a weights .msgpack file "
            "or a folder holding "
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


def _tiled_flow(graphdef, state, one, two):
    network = nnx.merge(graphdef, state)
    one, two = pad_even(one[None, ..., ::-1]), pad_even(two[None, ..., ::-1])
    one, two, mu, sigma = normalize(one, two)
    return {
        "frames": jnp.concatenate([one, two], axis=0),
        "flows": network.estimate_flow(one, two),
        "mu": mu,
        "sigma": sigma,
    }


def _tiled_encode(graphdef, state, frames, tiling):
    return tiled.encode(nnx.merge(graphdef, state).synthesis, frames, tiling)


def _tiled_metrics(graphdef, state, top, flows, tiling):
    return tiled.metrics(nnx.merge(graphdef, state).synthesis, top, flows, tiling)


def _tiled_splat(graphdef, state, level, k, sources, metrics, flows, t, tiling):
    """Frame k's (0: one, moving by t; 1: two, moving by 1 - t) splatted features at one level."""
    synthesis = nnx.merge(graphdef, state).synthesis
    t = jnp.reshape(t, (1, 1, 1, 1)).astype(flows[k].dtype)
    scale = t if k == 0 else 1 - t
    return tiled.splat_level(synthesis, level, sources[k : k + 1], metrics[k : k + 1], flows[k], scale, tiling)


def _tiled_warp(graphdef, state, level, splat_one, splat_two, tiling):
    return tiled.warp_block(nnx.merge(graphdef, state).synthesis, level, splat_one, splat_two, tiling)


def _tiled_output(graphdef, state, warped, sigma, mu, height, width, tiling):
    out = tiled.grid(nnx.merge(graphdef, state).synthesis, warped, tiling) * sigma + mu
    return jnp.clip(out[0, :height, :width, ::-1], 0.0, 1.0)


def auto_tiling(height: int, width: int) -> Tiling | None:
    """No tiling up to UNTILED_PIXELS, else the default tiles."""
    return None if height * width <= UNTILED_PIXELS else Tiling()


class Interpolator:
    """`(one, two, times) -> [frame at t for t in times]` on float32 RGB [H, W, 3] in [0, 1].

    The flow and every time-independent feature are computed once per pair; each time costs only the
    splatting and the GridNet. Compiled once per frame size.

    tiling: "auto" (whole frames up to UNTILED_PIXELS, tiles above: 4K within 7.2 GiB peak, see
    docs/network_memory.md), None (always whole) or a `Tiling` (always tiles of that size). Tiled and
    whole give the same frames up to float rounding.
    """

    def __init__(self, network: Network, name: str = "network", *, tiling: "Tiling | str | None" = "auto"):
        if not (tiling is None or tiling == "auto" or isinstance(tiling, Tiling)):
            raise ValueError(f"{name}: tiling must be 'auto', None or a Tiling, got {tiling!r}")
        self.name = name
        self.config = network.config
        self.tiling = tiling
        self._graphdef, self._state = nnx.split(network)
        self._prepare = jax.jit(_prepare, static_argnums=0)
        self._render = jax.jit(_render, static_argnums=(0, 4, 5))
        self._tiled_flow = jax.jit(_tiled_flow, static_argnums=0)
        self._tiled_encode = jax.jit(_tiled_encode, static_argnums=(0, 3))
        self._tiled_metrics = jax.jit(_tiled_metrics, static_argnums=(0, 4))
        self._tiled_splat = jax.jit(_tiled_splat, static_argnums=(0, 2, 3, 8))
        self._tiled_warp = jax.jit(_tiled_warp, static_argnums=(0, 2, 5))
        self._tiled_output = jax.jit(_tiled_output, static_argnums=(0, 5, 6, 7))

    def tiling_for(self, height: int, width: int) -> Tiling | None:
        return auto_tiling(height, width) if self.tiling == "auto" else self.tiling

    def _call_tiled(self, one, two, times, tiling: Tiling) -> list[np.ndarray]:
        """The same frames in steps that each hold little: every step is its own compiled call, so
        what one step leaves behind is freed before the next starts."""
        g, s = self._graphdef, self._state
        h, w, _ = one.shape
        prepared = self._tiled_flow(g, s, jnp.asarray(one, jnp.float32), jnp.asarray(two, jnp.float32))
        frames, flows = prepared["frames"], prepared["flows"]
        top, *pyramid = self._tiled_encode(g, s, frames, tiling)
        metrics = self._tiled_metrics(g, s, top, flows, tiling)
        del top  # recomputed for each time, where it is needed one frame at a time
        outs = []
        for t in times:
            t = jnp.float32(t)
            warped = []
            for level in range(3):
                sources = frames if level == 0 else pyramid[level - 1]
                splats = [self._tiled_splat(g, s, level, k, sources, metrics, flows, t, tiling) for k in (0, 1)]
                warped.append(self._tiled_warp(g, s, level, *splats, tiling))
                del splats
            outs.append(np.asarray(self._tiled_output(g, s, warped, prepared["sigma"], prepared["mu"], h, w, tiling)))
            del warped
        return outs

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
        tiling = self.tiling_for(h + h % 2, w + w % 2)
        if tiling is not None:
            return self._call_tiled(one, two, times, tiling)
        prepared = self._prepare(
            self._graphdef, self._state, jnp.asarray(one, jnp.float32), jnp.asarray(two, jnp.float32)
        )
        outs = [self._render(self._graphdef, self._state, prepared, jnp.float32(t), h, w) for t in times]
        return [np.asarray(out) for out in outs]


def load_network(model: str, weights: str | os.PathLike | None = None, *, tiling="auto") -> Interpolator:
    """An Interpolator for "l1", "lf" (official weights, converted) or a PATH to our weights."""
    path = resolve_weights(model, weights)
    return Interpolator(load_weights(path), name=model if model in NETWORK_MODELS else str(path), tiling=tiling)
