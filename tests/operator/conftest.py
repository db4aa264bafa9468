"""The operator's tests run with float64 enabled, so that gradients can be checked tightly; every test
names its dtypes explicitly. The other folders run as production does, in JAX's default float32."""

import jax
import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    jax.config.update("jax_enable_x64", True)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    try:
        return (yield)
    finally:
        jax.config.update("jax_enable_x64", False)
