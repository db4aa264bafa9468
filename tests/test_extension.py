"""The compiled modules: what was built, and the refusal to run on an older jaxlib."""

import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import jax
import numpy as np
import pytest

import jax_softsplat
from jax_softsplat import _ffi

EXPECT_CUDA = os.environ.get("SOFTSPLAT_EXPECT_CUDA") == "1"


def test_cpu_module_exports_both_handlers():
    from jax_softsplat import _cpu

    assert set(_cpu.registrations()) == {_ffi.FORWARD, _ffi.BACKWARD}


def test_extension_built_with_a_jaxlib_no_newer_than_the_running_one():
    import jaxlib.version

    from jax_softsplat import _cpu

    assert _ffi._release(_cpu.built_with_jaxlib) <= _ffi._release(jaxlib.version.__version__)


def test_newer_headers_than_the_running_jaxlib_are_refused():
    fake = types.SimpleNamespace(__name__="jax_softsplat._cpu", built_with_jaxlib="99.0.0")
    with pytest.raises(ImportError, match="rebuild it against the running jaxlib"):
        _ffi._check_headers(fake)


@pytest.mark.skipif(not EXPECT_CUDA, reason="CPU-only build (SOFTSPLAT_EXPECT_CUDA is not 1)")
def test_cuda_module_is_built_registered_and_lowers():
    from jax_softsplat import _cuda

    assert jax_softsplat.HAS_CUDA
    assert set(_cuda.registrations()) == {_ffi.FORWARD, _ffi.BACKWARD}
    x, flow = np.zeros((1, 3, 4, 4), np.float32), np.zeros((1, 2, 4, 4), np.float32)

    def loss(x, flow):
        return jax_softsplat.softsplat(x, flow, None, "avg").sum()

    lowered = jax.jit(jax.grad(loss, argnums=(0, 1))).trace(x, flow).lower(lowering_platforms=("cuda",))
    text = lowered.as_text()
    assert f"custom_call @{_ffi.FORWARD}" in text and f"custom_call @{_ffi.BACKWARD}" in text


@pytest.mark.skipif(not EXPECT_CUDA, reason="CPU-only build (SOFTSPLAT_EXPECT_CUDA is not 1)")
def test_cuda_module_carries_code_for_a100_and_h100():
    from jax_softsplat import _cuda

    # cuobjdump comes with a full CUDA toolkit or from PyPI (the test extra nvidia-cuda-cuobjdump).
    found = [shutil.which("cuobjdump"), *Path(sys.prefix).glob("lib/python*/site-packages/nvidia/*/bin/cuobjdump")]
    cuobjdump = next(str(p) for p in found if p)
    listing = subprocess.run(
        [cuobjdump, "--list-elf", "--list-ptx", _cuda.__file__], capture_output=True, text=True, check=True
    ).stdout
    assert "sm_80" in listing and "sm_90" in listing


@pytest.mark.skipif(EXPECT_CUDA, reason="CUDA build")
def test_cpu_only_build_has_no_cuda_module():
    assert not jax_softsplat.HAS_CUDA
