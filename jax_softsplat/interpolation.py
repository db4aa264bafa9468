"""Frame interpolators behind one protocol, and `load_interpolator` to pick one by name.

`classic` (no learned weights) lives in `classic.py`; the networks (`l1`, `lf`, or a weights file or run
folder) live in `jax_softsplat.models`, imported only when asked for, so everything here works without it.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

NETWORK_MODELS = ("l1", "lf")
# `classic` at its presets (classic.PRESETS), and FFmpeg's minterpolate filter as a baseline.
CLASSIC_MODELS = {"classic": "standard", "classic-fast": "fast", "classic-full": "full"}
BASELINES = ("average", "minterpolate")


class Interpolator(Protocol):
    """Takes two float32 RGB [H, W, 3] frames in [0, 1] and times in (0, 1); returns one frame per time
    (float32 RGB [H, W, 3] in [0, 1]). Flow is computed once per pair, whatever the number of times."""

    def __call__(self, one: np.ndarray, two: np.ndarray, times: Sequence[float]) -> list[np.ndarray]: ...


def default_model() -> str:
    """`l1` when its converted weights are in the weights folder, else `classic` (which needs none)."""
    from jax_softsplat.models.interpolator import official_weights_path

    return "l1" if official_weights_path("l1").is_file() else "classic"


def frame_average(one: np.ndarray, two: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
    """The baseline that does not move anything: (1 - t) * one + t * two."""
    one, two = np.asarray(one, np.float32), np.asarray(two, np.float32)
    return [(1.0 - t) * one + t * two for t in times]


def load_interpolator(model: str = "classic", weights: str | None = None) -> Interpolator:
    """An Interpolator by name: "classic" (or its presets "classic-fast", "classic-full"), "average"
    (the frame-blending baseline), "minterpolate" (FFmpeg's filter, a baseline), "l1", "lf", or the
    PATH of a weights .msgpack file or of a folder holding `weights.msgpack` (e.g. a training run).
    `weights` overrides where l1/lf weights are read."""
    if model in CLASSIC_MODELS or model in BASELINES:
        if weights is not None:
            raise ValueError(f"weights {weights}: the {model} model has no weights; leave weights out")
        if model == "average":
            return frame_average
        if model == "minterpolate":
            from jax_softsplat.minterpolate import MinterpolateInterpolator

            return MinterpolateInterpolator()
        from jax_softsplat.classic import ClassicInterpolator

        return ClassicInterpolator(CLASSIC_MODELS[model])
    if model not in NETWORK_MODELS and not Path(model).exists():
        names = ", ".join(repr(m) for m in (*CLASSIC_MODELS, *BASELINES, *NETWORK_MODELS))
        raise ValueError(f"model {model!r}: expected {names} or the path of a weights file or run folder")
    try:
        from jax_softsplat.models import load_network
    except ImportError as error:
        from jax_softsplat.extras import missing_extra

        if missing_extra(error) is not None:
            raise  # an extra is missing (flax): the command line answers with its pip line
        raise ValueError(
            f"model {model!r}: the interpolation network (jax_softsplat.models) is not available in this "
            f"installation ({error}); use model 'classic'"
        ) from error
    return load_network(model, weights)
