"""Softmax splatting (Niklaus & Liu, CVPR 2020) for JAX, as XLA FFI custom calls on CPU and CUDA."""

from jax_softsplat import reference
from jax_softsplat._ffi import HAS_CUDA
from jax_softsplat.flo import read_flo, write_flo
from jax_softsplat.flowviz import flow_to_color
from jax_softsplat.modes import LAYOUTS, MODES, NORMALIZATIONS
from jax_softsplat.splat import softsplat
from jax_softsplat.warp import backwarp

__all__ = [
    "HAS_CUDA",
    "LAYOUTS",
    "MODES",
    "NORMALIZATIONS",
    "backwarp",
    "flow_to_color",
    "read_flo",
    "reference",
    "softsplat",
    "write_flo",
]
__version__ = "0.1.0"
