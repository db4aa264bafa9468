"""Registers the compiled XLA FFI handlers with JAX: CPU always, CUDA when JAX's CUDA plugin is installed.

A wheel may carry one CUDA module per CUDA major version (`_cuda12`, `_cuda13`), each compiled by that
toolkit with its runtime linked statically. The one registered is the one matching the installed JAX
CUDA plugin (distribution jax-cuda12-plugin or jax-cuda13-plugin): no plugin means CPU only, silently;
a plugin whose module this build lacks gives a RuntimeWarning and CPU only.
"""

import importlib
import importlib.metadata
import os
import warnings

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

FORWARD = "jax_softsplat_forward"
BACKWARD = "jax_softsplat_backward"
CUDA_MAJORS = (13, 12)  # newest first: if both plugins are installed, the newer one wins

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


def installed_cuda_plugins(version=importlib.metadata.version) -> list[int]:
    """CUDA major versions of the installed JAX CUDA plugins, newest first."""
    found = []
    for major in CUDA_MAJORS:
        try:
            version(f"jax-cuda{major}-plugin")
        except importlib.metadata.PackageNotFoundError:
            continue
        found.append(major)
    return found


def choose_cuda_module(plugins: list[int], import_module=importlib.import_module):
    """The CUDA module matching the first of `plugins` that this build carries, or None.

    Warns when a plugin is installed but no module of its CUDA version was built: JAX then runs on the
    GPU while softsplat has no GPU kernel, and jit fails at compile time with an unregistered target.
    """
    for major in plugins:
        try:
            return import_module(f"jax_softsplat._cuda{major}")
        except ModuleNotFoundError:
            continue
    if plugins:
        names = ", ".join(f"jax-cuda{major}-plugin" for major in plugins)
        wanted = " or ".join(f"_cuda{major}" for major in plugins)
        warnings.warn(
            f"{names} is installed but this jax_softsplat build has no {wanted} module, so softsplat "
            "runs on CPU only; install a wheel built with that CUDA version (see docs/install.md)",
            RuntimeWarning,
            stacklevel=2,
        )
    return None


def register(module, platform: str) -> None:
    _check_headers(module)
    for name, capsule in module.registrations().items():
        jax.ffi.register_ffi_target(name, capsule, platform=platform)


register(_cpu_handlers, "cpu")
_cuda = choose_cuda_module(installed_cuda_plugins())
if _cuda is not None:
    register(_cuda, "CUDA")
HAS_CUDA = _cuda is not None
CUDA_MODULE = _cuda.__name__ if _cuda is not None else None


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
