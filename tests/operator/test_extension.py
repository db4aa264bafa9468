"""The compiled CPU module and the refusal to run on an older jaxlib (CUDA: test_cuda_modules.py)."""

import os
import types

import pytest

from jax_softsplat import _ffi


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


@pytest.mark.skipif(
    not os.environ.get("SOFTSPLAT_EXPECT_BUILT_WITH_JAXLIB"), reason="SOFTSPLAT_EXPECT_BUILT_WITH_JAXLIB not set"
)
def test_wheel_built_against_the_pinned_oldest_jaxlib():
    from jax_softsplat import _cpu

    assert _cpu.built_with_jaxlib == os.environ["SOFTSPLAT_EXPECT_BUILT_WITH_JAXLIB"]
