"""Softmax splatting (Niklaus & Liu, CVPR 2020) for JAX, as XLA FFI custom calls on CPU and CUDA.

The public names are imported on first use, so that `jax_softsplat.cli` can parse a command line (and
answer a mistake in it) without loading JAX and the compiled kernels.
"""

from importlib import import_module
from typing import TYPE_CHECKING

# Public name -> the module that defines it.
_EXPORTS = {
    "HAS_CUDA": "jax_softsplat._ffi",
    "num_threads": "jax_softsplat._ffi",
    "set_num_threads": "jax_softsplat._ffi",
    "read_flo": "jax_softsplat.flo",
    "write_flo": "jax_softsplat.flo",
    "flow_to_color": "jax_softsplat.flowviz",
    "LAYOUTS": "jax_softsplat.modes",
    "MODES": "jax_softsplat.modes",
    "NORMALIZATIONS": "jax_softsplat.modes",
    "softsplat": "jax_softsplat.splat",
    "softsplat_composed": "jax_softsplat.splat",
    "backwarp": "jax_softsplat.warp",
}

__all__ = sorted([*_EXPORTS, "reference"])
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "reference":
        return import_module("jax_softsplat.reference")
    if name not in _EXPORTS:
        raise AttributeError(f"module 'jax_softsplat' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from jax_softsplat import reference
    from jax_softsplat._ffi import HAS_CUDA, num_threads, set_num_threads
    from jax_softsplat.flo import read_flo, write_flo
    from jax_softsplat.flowviz import flow_to_color
    from jax_softsplat.modes import LAYOUTS, MODES, NORMALIZATIONS
    from jax_softsplat.splat import softsplat, softsplat_composed
    from jax_softsplat.warp import backwarp
