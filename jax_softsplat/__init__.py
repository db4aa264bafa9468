"""Softmax splatting (Niklaus & Liu, CVPR 2020) for JAX, as XLA FFI custom calls on CPU and CUDA."""

from jax_softsplat import reference
from jax_softsplat._ffi import HAS_CUDA, num_threads, set_num_threads
from jax_softsplat.flo import read_flo, write_flo
from jax_softsplat.flowviz import flow_to_color
from jax_softsplat.modes import LAYOUTS, MODES, NORMALIZATIONS
from jax_softsplat.splat import softsplat, softsplat_composed
from jax_softsplat.warp import backwarp

__all__ = [
    "HAS_CUDA",
    "LAYOUTS",
    "MODES",
    "NORMALIZATIONS",
    "backwarp",
    "flow_to_color",
    "num_threads",
    "read_flo",
    "reference",
    "set_num_threads",
    "softsplat",
    "softsplat_composed",
    "write_flo",
]
__version__ = "0.1.0"
