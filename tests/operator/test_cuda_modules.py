"""The CUDA modules (_cuda12, _cuda13): which one is registered, what code they carry, what they link.

No GPU here: the modules are imported, their cubins listed with cuobjdump, their dynamic dependencies
read with readelf, and their handlers lowered for platform cuda. Which modules the build under test
must carry is given by SOFTSPLAT_EXPECT_CUDA_MODULES (e.g. "13" or "12,13"; empty: none). The choice
(installed plugin, or $JAX_SOFTSPLAT_CUDA_MODULE) is tested with faked metadata and imports.
"""

import importlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from jax_softsplat import _ffi

EXPECTED = sorted(int(m) for m in os.environ.get("SOFTSPLAT_EXPECT_CUDA_MODULES", "").replace(",", " ").split())
ALL_MAJORS = (12, 13)


def _fake_metadata(installed):
    def version(distribution):
        if distribution not in installed:
            raise importlib.metadata.PackageNotFoundError(distribution)
        return "0.10.2"

    return version


def _fake_import(built):
    def import_module(name):
        if name.rsplit(".", 1)[-1] not in built:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return name

    return import_module


@pytest.mark.parametrize(
    "installed, expected",
    [
        ((), []),
        (("jax-cuda12-plugin",), [12]),
        (("jax-cuda13-plugin",), [13]),
        (("jax-cuda12-plugin", "jax-cuda13-plugin"), [13, 12]),
        (("jax-cuda11-plugin", "jaxlib"), []),
    ],
)
def test_installed_plugins_are_read_from_distribution_metadata(installed, expected):
    assert _ffi.installed_cuda_plugins(_fake_metadata(installed)) == expected


@pytest.mark.parametrize(
    "plugins, built, chosen",
    [
        ([12], ("_cuda12", "_cuda13"), "jax_softsplat._cuda12"),
        ([13], ("_cuda12", "_cuda13"), "jax_softsplat._cuda13"),
        ([13, 12], ("_cuda12", "_cuda13"), "jax_softsplat._cuda13"),
        ([13, 12], ("_cuda12",), "jax_softsplat._cuda12"),
    ],
)
def test_the_module_of_the_plugins_cuda_version_is_chosen(plugins, built, chosen):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _ffi.choose_cuda_module(plugins, _fake_import(built)) == chosen


def test_no_plugin_means_cpu_only_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _ffi.choose_cuda_module([], _fake_import(("_cuda12", "_cuda13"))) is None


def test_a_plugin_without_its_module_registers_nothing_at_import_silently():
    # The warning comes when softsplat is lowered for cuda (test_platforms.py), naming what is missing.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _ffi.choose_cuda_module([12], _fake_import(("_cuda13",))) is None


@pytest.mark.parametrize(
    "plugins, built, expected",
    [
        ([12], [13], ["jax-cuda12-plugin is installed", "has _cuda13, not _cuda12", "JAX_SOFTSPLAT_CUDA_MODULE=13"]),
        ([13, 12], [], ["jax-cuda13-plugin and jax-cuda12-plugin", "has no CUDA module", "built with CUDA 13"]),
        ([], [13], ["no JAX CUDA plugin is installed", "this build has _cuda13", "JAX_SOFTSPLAT_CUDA_MODULE=13"]),
        ([], [], ["no JAX CUDA plugin is installed", "has no CUDA module", "jax_softsplat[cuda12]"]),
    ],
)
def test_the_hint_for_a_cuda_lowering_names_what_is_missing(plugins, built, expected):
    hint = _ffi.missing_cuda_kernel_hint(plugins, built)
    for part in expected:
        assert part in hint, hint
    if not built:
        assert _ffi.CUDA_MODULE_ENV not in hint  # no module it could name


def test_the_modules_listed_in_messages_are_those_that_import():
    def one_broken(name):
        if name.endswith("_cuda12"):
            raise ImportError("libfoo.so: cannot open shared object file")
        return name

    assert _ffi.built_cuda_modules(one_broken) == [13]
    assert _ffi.built_cuda_modules(_fake_import(("_cuda12", "_cuda13"))) == [13, 12]
    assert _ffi.built_cuda_modules(_fake_import(())) == []


def test_a_module_that_fails_to_load_is_an_error_not_a_fallback():
    def broken(name):
        raise ImportError("libfoo.so: cannot open shared object file")

    with pytest.raises(ImportError, match="libfoo"):
        _ffi.choose_cuda_module([13], broken)


@pytest.mark.parametrize("forced", ["", "13"])
def test_a_module_missing_one_of_its_own_imports_is_an_error_not_a_build_without_it(forced):
    def missing_dependency(name):
        raise ModuleNotFoundError("No module named 'some_dependency'", name="some_dependency")

    with pytest.raises(ModuleNotFoundError, match="some_dependency"):
        _ffi.choose_cuda_module([13], missing_dependency, forced=forced)


@pytest.mark.parametrize(
    "forced, plugins, chosen",
    [
        ("12", [13], "jax_softsplat._cuda12"),  # the CUDA 12 module on a CUDA 13 machine
        ("13", [12], "jax_softsplat._cuda13"),
        ("12", [], "jax_softsplat._cuda12"),  # no plugin: registered all the same
        (" 13 ", [13, 12], "jax_softsplat._cuda13"),
    ],
)
def test_the_environment_variable_forces_the_module(forced, plugins, chosen):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _ffi.choose_cuda_module(plugins, _fake_import(("_cuda12", "_cuda13")), forced=forced) == chosen


@pytest.mark.parametrize(
    "built, listed",
    [(("_cuda13",), "CUDA modules it carries: _cuda13"), ((), "CUDA modules it carries: none")],
)
def test_forcing_a_module_the_build_lacks_names_the_variable_and_the_modules_it_has(built, listed):
    with pytest.raises(ImportError) as raised:
        _ffi.choose_cuda_module([12], _fake_import(built), forced="12")
    message = str(raised.value)
    assert "JAX_SOFTSPLAT_CUDA_MODULE=12" in message and "no _cuda12 module" in message, message
    assert listed in message, message


@pytest.mark.parametrize("forced", ["11", "cuda12", "_cuda13", "yes"])
def test_an_invalid_value_of_the_variable_names_the_accepted_values(forced):
    with pytest.raises(ImportError, match=r"JAX_SOFTSPLAT_CUDA_MODULE must be 12 or 13 .*got " + repr(forced)):
        _ffi.choose_cuda_module([13], _fake_import(("_cuda12", "_cuda13")), forced=forced)


def test_registration_follows_the_installed_plugin():
    forced = os.environ.get(_ffi.CUDA_MODULE_ENV, "").strip()
    plugins = [int(forced)] if forced else _ffi.installed_cuda_plugins()
    built = [m for m in plugins if m in EXPECTED]
    assert _ffi.HAS_CUDA == bool(built)
    assert _ffi.CUDA_MODULE == (f"jax_softsplat._cuda{built[0]}" if built else None)
    assert _ffi.KERNEL_PLATFORMS == ({"cpu", "cuda"} if built else {"cpu"})


@pytest.mark.parametrize("major", ALL_MAJORS)
def test_the_build_carries_exactly_the_expected_cuda_modules(major):
    try:
        importlib.import_module(f"jax_softsplat._cuda{major}")
        present = True
    except ModuleNotFoundError:
        present = False
    assert present == (major in EXPECTED), f"SOFTSPLAT_EXPECT_CUDA_MODULES={EXPECTED}"


def _module_path(major) -> str:
    if major not in EXPECTED:
        pytest.skip(f"_cuda{major} is not expected in this build (SOFTSPLAT_EXPECT_CUDA_MODULES={EXPECTED})")
    return importlib.import_module(f"jax_softsplat._cuda{major}").__file__


def _cuobjdump() -> str:
    # From a CUDA toolkit or from PyPI (nvidia-cuda-cuobjdump, which reads CUDA 12 fatbins as well).
    found = [shutil.which("cuobjdump"), *Path(sys.prefix).glob("lib/python*/site-packages/nvidia/*/bin/cuobjdump")]
    found = [str(p) for p in found if p]
    assert found, "cuobjdump not found: pip install nvidia-cuda-cuobjdump"
    return found[0]


@pytest.mark.parametrize("major", ALL_MAJORS)
def test_cuda_module_carries_sass_for_a100_and_h100_and_ptx(major):
    path = _module_path(major)

    def run(flag):
        return subprocess.run([_cuobjdump(), flag, path], capture_output=True, text=True, check=True).stdout

    elf, ptx = run("--list-elf"), run("--list-ptx")
    assert "sm_80" in elf and "sm_90" in elf, elf
    assert "sm_90" in ptx, ptx


# The newest PTX ISA that every driver of a CUDA major version JIT-compiles: that of its x.0 release.
MAX_PTX_ISA = {12: (8, 0), 13: (9, 0)}


@pytest.mark.parametrize("major", ALL_MAJORS)
def test_cuda_module_ptx_is_jit_compilable_by_every_driver_of_its_major_version(major):
    path = _module_path(major)
    ptx = subprocess.run([_cuobjdump(), "--dump-ptx", path], capture_output=True, text=True, check=True).stdout
    versions = {tuple(int(n) for n in v) for v in re.findall(r"^\.version (\d+)\.(\d+)", ptx, re.MULTILINE)}
    assert versions, ptx[:2000]
    assert max(versions) <= MAX_PTX_ISA[major], f"PTX ISA {sorted(versions)} in _cuda{major}"


@pytest.mark.parametrize("major", ALL_MAJORS)
def test_cuda_module_links_the_cuda_runtime_statically(major):
    path = _module_path(major)
    readelf = shutil.which("readelf")
    assert readelf, "readelf (binutils) not found"
    dynamic = subprocess.run([readelf, "-d", path], capture_output=True, text=True, check=True).stdout
    needed = [line for line in dynamic.splitlines() if "(NEEDED)" in line]
    assert needed, dynamic
    assert not any("libcudart" in line or "libcuda.so" in line for line in needed), needed


_LOWER = """
import importlib, sys
import jax, numpy as np
import jax_softsplat
from jax_softsplat import _ffi
_ffi.register(importlib.import_module(sys.argv[1]), "CUDA")
x, flow = np.zeros((1, 3, 4, 4), np.float32), np.zeros((1, 2, 4, 4), np.float32)
loss = lambda x, flow: jax_softsplat.softsplat(x, flow, None, "avg").sum()
lowered = jax.jit(jax.grad(loss, argnums=(0, 1))).trace(x, flow).lower(lowering_platforms=("cuda",))
print(lowered.as_text())
"""


def _python(code, *args, cwd, env=None) -> subprocess.CompletedProcess:
    # Run outside the repository, whose jax_softsplat/ (no compiled modules) would shadow the installed one.
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("major", ALL_MAJORS)
def test_cuda_module_registers_and_lowers_under_jit_of_grad(tmp_path, major):
    _module_path(major)
    # One process per module: both register the same target names for the one CUDA platform.
    text = _python(_LOWER, f"jax_softsplat._cuda{major}", cwd=tmp_path).stdout
    assert f"custom_call @{_ffi.FORWARD}" in text and f"custom_call @{_ffi.BACKWARD}" in text


_IMPORT = """
import warnings
warnings.simplefilter("always")
import jax, numpy as np
import jax_softsplat
from jax_softsplat import _ffi
print(_ffi.CUDA_MODULE)
print("lowered", file=__import__("sys").stderr)  # what follows in stderr comes from the lowering
x, flow = np.zeros((1, 3, 4, 4), np.float32), np.zeros((1, 2, 4, 4), np.float32)
lowered = jax.jit(lambda x, flow: jax_softsplat.softsplat(x, flow, None, "avg")).trace(x, flow)
print(lowered.lower(lowering_platforms=("cuda",)).as_text())
"""


def _with_plugin(tmp_path, major, **extra) -> dict:
    # A distribution's metadata alone (no jax_plugins entry point, so JAX itself loads nothing).
    info = tmp_path / f"jax_cuda{major}_plugin-0.10.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: jax-cuda{major}-plugin\nVersion: 0.10.2\n")
    environ = {k: v for k, v in os.environ.items() if k != _ffi.CUDA_MODULE_ENV}
    return {
        **environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
        **extra,
    }


@pytest.mark.parametrize("major", ALL_MAJORS)
def test_import_registers_the_module_of_an_installed_plugin(tmp_path, major):
    result = _python(_IMPORT, cwd=tmp_path, env=_with_plugin(tmp_path, major))
    module, text = result.stdout.split("\n", 1)
    at_import, at_lowering = result.stderr.split("lowered\n", 1)
    assert "Warning" not in at_import, at_import
    if major in EXPECTED:
        assert module == f"jax_softsplat._cuda{major}"
        assert f"custom_call @{_ffi.FORWARD}" in text
        assert "Warning" not in at_lowering, at_lowering
    else:
        assert module == "None"
        assert f"custom_call @{_ffi.FORWARD}" not in text
        assert "NoKernelWarning" in at_lowering and f"jax-cuda{major}-plugin is installed but" in at_lowering


@pytest.mark.parametrize("major", ALL_MAJORS)
def test_the_environment_variable_overrides_the_plugin_at_import(tmp_path, major):
    other = ({*ALL_MAJORS} - {major}).pop()
    env = _with_plugin(tmp_path, other, **{_ffi.CUDA_MODULE_ENV: str(major)})
    if major in EXPECTED:
        result = _python(_IMPORT, cwd=tmp_path, env=env)
        assert result.stdout.split("\n", 1)[0] == f"jax_softsplat._cuda{major}"
        assert f"custom_call @{_ffi.FORWARD}" in result.stdout
    else:
        result = subprocess.run([sys.executable, "-c", _IMPORT], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode != 0
        assert f"ImportError: {_ffi.CUDA_MODULE_ENV}={major} but this jax_softsplat build has no _cuda{major}" in (
            result.stderr
        )
