"""Registers the compiled XLA FFI handlers (CPU always, CUDA when it was built) with JAX."""

import jax
import jaxlib.version

from jax_softsplat import _cpu

try:  # Built only where nvcc was found.
    from jax_softsplat import _cuda
except ImportError:
    _cuda = None

FORWARD = "jax_softsplat_forward"
BACKWARD = "jax_softsplat_backward"
HAS_CUDA = _cuda is not None


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())


def _check_headers(module) -> None:
    # XLA's FFI is backward compatible (a newer jaxlib runs handlers built against older headers) but
    # not forward: handlers built against newer headers corrupt an older runtime, so refuse early.
    built, running = module.built_with_jaxlib, jaxlib.version.__version__
    if _release(built) > _release(running):
        raise ImportError(
            f"{module.__name__} was compiled against jaxlib {built} but jaxlib {running} is running; "
            "rebuild it against the running jaxlib: pip install --no-build-isolation --force-reinstall ."
        )


for _module, _platform in ((_cpu, "cpu"), (_cuda, "CUDA")):
    if _module is None:
        continue
    _check_headers(_module)
    for _name, _capsule in _module.registrations().items():
        jax.ffi.register_ffi_target(_name, _capsule, platform=_platform)
