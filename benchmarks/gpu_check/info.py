"""Part a: the devices, driver and versions, and which of jax_softsplat's compiled modules registered."""

import importlib.metadata
import importlib.util
import shutil
import subprocess

import common


def version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def main() -> None:
    args = common.parser(__doc__).parse_args()
    results = common.Results(args)
    import jax
    import jaxlib

    from jax_softsplat import _ffi

    info = common.check_backend(args.dry_run)
    info["devices"] = [f"{d.id}: {d.platform} {d.device_kind}" for d in jax.devices()]
    info["platform_version"] = jax.devices()[0].client.platform_version
    info["jax"], info["jaxlib"] = jax.__version__, jaxlib.__version__
    distributions = ("jax-cuda13-plugin", "jax-cuda13-pjrt", "jax-cuda12-plugin", "jax-cuda12-pjrt", "torch", "cupy")
    info["distributions"] = {name: version(name) for name in distributions}
    info["distributions"]["cupy-cuda13x"] = version("cupy-cuda13x")
    # Older builds of _ffi lack CUDA_PLUGINS and built_cuda_modules: asked another way, same answer.
    plugins = getattr(_ffi, "CUDA_PLUGINS", None)
    info["cuda_plugins"] = plugins if plugins is not None else _ffi.installed_cuda_plugins()
    modules = [f"jax_softsplat._cuda{major}" for major in (13, 12)]
    info["built_cuda_modules"] = [name for name in modules if importlib.util.find_spec(name)]
    info["kernel_platforms"] = sorted(getattr(_ffi, "KERNEL_PLATFORMS", []))
    # The driver version and the card's name as the driver reports them (not JAX's view of the device).
    if shutil.which("nvidia-smi"):
        query = "--query-gpu=name,driver_version,memory.total,clocks.max.memory"
        smi = subprocess.run(["nvidia-smi", query, "--format=csv,noheader"], capture_output=True, text=True)
        info["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
    else:
        info["nvidia_smi"] = "nvidia-smi not on PATH"
    results.data["info"] = info
    results.save()
    for key, value in info.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
