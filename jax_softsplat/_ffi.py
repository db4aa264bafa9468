"""Registers the compiled XLA FFI handlers (CPU always, CUDA when it was built) with JAX."""

import os

import jax
import jaxlib.version

try:
    from jax_softsplat import _cpu
except ImportError:
    from jax_softsplat.checkout import missing_build_message

    _message = missing_build_message()
    if _message is None:
        raise
    # Without this, Python's own message blames a circular import.
    raise ImportError(_message, name="jax_softsplat._cpu") from None

try:  # Built only where nvcc was found.
    from jax_softsplat import _cuda
except ImportError:
    _cuda = None

FORWARD = "jax_softsplat_forward"
BACKWARD = "jax_softsplat_backward"
HAS_CUDA = _cuda is not None

# Tests only: JAX_SOFTSPLAT_CPU_KERNEL=gpu-emulated serves the CPU platform with the CUDA kernels' code
# run on the host (a module built only with SOFTSPLAT_GPU_EMULATION=ON; docs/gpu.md).
CPU_KERNEL = os.environ.get("JAX_SOFTSPLAT_CPU_KERNEL", "native")
if CPU_KERNEL == "native":
    _cpu_handlers = _cpu
elif CPU_KERNEL == "gpu-emulated":
    try:
        from jax_softsplat import _gpu_emulated as _cpu_handlers
    except ImportError as e:
        raise ImportError(
            "JAX_SOFTSPLAT_CPU_KERNEL=gpu-emulated needs jax_softsplat built with "
            "-C cmake.define.SOFTSPLAT_GPU_EMULATION=ON (make test-gpu-emulation)"
        ) from e
else:
    raise ImportError(f"JAX_SOFTSPLAT_CPU_KERNEL must be 'native' or 'gpu-emulated', got {CPU_KERNEL!r}")


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


for _module, _platform in ((_cpu_handlers, "cpu"), (_cuda, "CUDA")):
    if _module is None:
        continue
    _check_headers(_module)
    for _name, _capsule in _module.registrations().items():
        jax.ffi.register_ffi_target(_name, _capsule, platform=_platform)


def num_threads() -> int:
    """Threads the CPU kernel uses for large images."""
    return _cpu.num_threads()


def set_num_threads(n: int) -> None:
    """Sets the threads the CPU kernel may use (default: all cores, or $JAX_SOFTSPLAT_NUM_THREADS).

    Results are bit-for-bit identical for any number of threads.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    _cpu.set_num_threads(n)
