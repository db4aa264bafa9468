"""Registers the compiled XLA FFI handlers with JAX: CPU always, CUDA when JAX's CUDA plugin is installed.

A wheel may carry one CUDA module per CUDA major version (`_cuda12`, `_cuda13`), each compiled by that
toolkit with its runtime linked statically. The one registered for platform CUDA is the one matching the
installed JAX CUDA plugin (distribution jax-cuda12-plugin or jax-cuda13-plugin), or the one named by
$JAX_SOFTSPLAT_CUDA_MODULE (12 or 13) whatever plugin is installed. No plugin, or a plugin whose module
this build lacks, registers nothing for CUDA, silently at import: `softsplat` then lowers to the pure-jnp
implementation on that platform and warns when it does (`jax_softsplat.splat`), as on every platform
without a kernel. `KERNEL_PLATFORMS` holds the lowering platforms that have the kernels.
"""

import importlib
import importlib.metadata
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

FORWARD = "jax_softsplat_forward"
BACKWARD = "jax_softsplat_backward"
CUDA_MAJORS = (13, 12)  # newest first: if both plugins are installed, the newer one wins
# Forces the CUDA module to register, e.g. a CUDA 12 module on a CUDA 13 driver (which runs it) where
# the jax-cuda13-plugin would otherwise pick _cuda13.
CUDA_MODULE_ENV = "JAX_SOFTSPLAT_CUDA_MODULE"

# Lowering platforms ("cpu", "cuda") for which `register` has put the kernels in place; `softsplat`
# reads it when it is traced, and lowers to the pure-jnp implementation for any other platform.
KERNEL_PLATFORMS: set[str] = set()

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


def _import_if_built(name: str, import_module):
    """The module, or None when it does not exist. A module that exists but fails to import (one of its
    own imports missing, a library it links) is an error, not a build without it."""
    try:
        return import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        return None


def built_cuda_modules(import_module=importlib.import_module) -> list[int]:
    """CUDA major versions of the modules this build carries and that import, newest first (for messages:
    a module that fails to import is left out rather than turning the message into another error)."""
    found = []
    for major in CUDA_MAJORS:
        try:
            import_module(f"jax_softsplat._cuda{major}")
        except ImportError:
            continue
        found.append(major)
    return found


def choose_cuda_module(plugins: list[int], import_module=importlib.import_module, forced: str = ""):
    """The CUDA module to register, or None.

    `forced` (the value of $JAX_SOFTSPLAT_CUDA_MODULE) names the major version to use whatever plugin
    is installed; empty, the module matching the first of `plugins` that this build carries is chosen.
    An installed plugin whose module is missing gives None without a warning here: JAX still runs on
    the GPU, where `softsplat` lowers to the pure-jnp implementation and warns, naming the module.
    """
    forced = forced.strip()
    if forced:
        accepted = [str(major) for major in sorted(CUDA_MAJORS)]
        if forced not in accepted:
            raise ImportError(
                f"{CUDA_MODULE_ENV} must be {' or '.join(accepted)} (the CUDA module to register), or unset "
                f"(the module matching the installed JAX CUDA plugin); got {forced!r}"
            )
        module = _import_if_built(f"jax_softsplat._cuda{forced}", import_module)
        if module is None:
            built = ", ".join(f"_cuda{major}" for major in built_cuda_modules(import_module)) or "none"
            raise ImportError(
                f"{CUDA_MODULE_ENV}={forced} but this jax_softsplat build has no _cuda{forced} module "
                f"(CUDA modules it carries: {built}); unset it or set it to one of those"
            )
        return module
    for major in plugins:
        module = _import_if_built(f"jax_softsplat._cuda{major}", import_module)
        if module is not None:
            return module
    return None


def missing_cuda_kernel_hint(plugins: list[int], built: list[int]) -> str:
    """Why no CUDA module is registered and what registers one, for the warning of a CUDA lowering."""
    have = " and ".join(f"_cuda{major}" for major in built) or "no CUDA module"
    if plugins:
        names = " and ".join(f"jax-cuda{major}-plugin" for major in plugins)
        wanted = " or ".join(f"_cuda{major}" for major in plugins)
        hint = (
            f"{names} is installed but this jax_softsplat build has {have}, not {wanted}; install a "
            f"jax_softsplat wheel built with CUDA {plugins[0]} (docs/install.md)"
        )
        if built:
            hint += f", or set {CUDA_MODULE_ENV}={built[-1]} if your driver runs that CUDA version"
        return hint
    hint = (
        f"no JAX CUDA plugin is installed, so no CUDA module was registered (this build has {have}); "
        "with jax[cuda12] or jax[cuda13] installed, the matching _cuda12 or _cuda13 module registers "
        "(pip install 'jax_softsplat[cuda12]' or 'jax_softsplat[cuda13]')"
    )
    if built:
        hint += f", or {CUDA_MODULE_ENV}={built[0]} registers _cuda{built[0]} without a plugin"
    return hint


def register(module, platform: str) -> None:
    _check_headers(module)
    for name, capsule in module.registrations().items():
        jax.ffi.register_ffi_target(name, capsule, platform=platform)
    KERNEL_PLATFORMS.add(platform.lower())  # XLA's "CUDA" is JAX's lowering platform "cuda"


register(_cpu_handlers, "cpu")
CUDA_PLUGINS = installed_cuda_plugins()
_cuda = choose_cuda_module(CUDA_PLUGINS, forced=os.environ.get(CUDA_MODULE_ENV, ""))
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
