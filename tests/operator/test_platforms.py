"""Which implementation `softsplat` lowers to on each platform, and the pure-jnp path's equality to the kernel.

The kernels serve the platforms they are registered for (`_ffi.KERNEL_PLATFORMS`: cpu, and cuda when a
CUDA module is); any other platform gets `jax_softsplat.reference` with one warning. The lowerings here
are ahead of time (`lower(lowering_platforms=...)`), so no device of those platforms is needed. Forcing
the jnp path on the CPU (an empty `KERNEL_PLATFORMS`) runs it against the kernel in one process.
"""

import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import random_inputs

from jax_softsplat import _ffi, splat

CUSTOM_CALLS = (f"custom_call @{_ffi.FORWARD}", f"custom_call @{_ffi.BACKWARD}")
# (mode, stable): every path of the operator, the stable softmax included.
VARIANTS = [("sum", False), ("avg", False), ("linear", False), ("soft", False), ("soft", True)]
VARIANT_IDS = ["sum", "avg", "linear", "soft", "soft-stable"]


@pytest.fixture
def fresh_warnings(monkeypatch):
    """An empty record of the platforms warned about, so that this test sees its own first warning."""
    monkeypatch.setattr(splat, "_warned_platforms", set())


@pytest.fixture
def jnp_path_everywhere(monkeypatch, fresh_warnings):
    """No platform has the kernels: softsplat takes the pure-jnp path on the CPU too."""
    monkeypatch.setattr(_ffi, "KERNEL_PLATFORMS", set())


def inputs(mode, layout="NCHW", seed=0, **shape):
    x, flow, metric = random_inputs(np.random.default_rng(seed), layout=layout, dtype=np.float64, **shape)
    if mode == "linear":
        metric = np.abs(metric) + 0.1
    return x, flow, metric if mode in ("linear", "soft") else None


def grad_of_loss(mode, stable=False, layout="NCHW"):
    """A fresh jit(grad) each call: a new trace and lowering, so that every test lowers (and warns) anew."""

    def loss(x, flow, metric):
        out = splat.softsplat(x, flow, metric, mode, layout=layout, stable=stable)
        return jnp.sum(jnp.sin(out))

    argnums = (0, 1, 2) if mode in ("linear", "soft") else (0, 1)
    return jax.jit(jax.grad(loss, argnums=argnums))


def lowered_text(platforms, mode="soft", stable=False):
    x, flow, metric = inputs(mode)
    return grad_of_loss(mode, stable).trace(x, flow, metric).lower(lowering_platforms=platforms).as_text()


def assert_kernel_path(text):
    assert all(call in text for call in CUSTOM_CALLS), "the kernels' custom calls are missing"
    assert "scatter" not in text, "the pure-jnp path was lowered beside the kernels"


def assert_jnp_path(text):
    assert not any(call in text for call in CUSTOM_CALLS), "a custom call was lowered"
    assert "scatter" in text, "the pure-jnp path (a scatter-add) is missing"


@pytest.mark.parametrize(("mode", "stable"), VARIANTS, ids=VARIANT_IDS)
def test_cpu_lowers_to_the_kernels_without_a_warning(mode, stable, fresh_warnings):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_kernel_path(lowered_text(("cpu",), mode, stable))


@pytest.mark.parametrize("platform", ["cuda", "rocm", "tpu"])
def test_a_platform_without_a_registered_kernel_lowers_to_the_jnp_path(platform, fresh_warnings):
    if platform in _ffi.KERNEL_PLATFORMS:  # cuda where a CUDA plugin and its module are installed
        assert platform == "cuda" and _ffi.HAS_CUDA
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert_kernel_path(lowered_text((platform,)))
        return
    with pytest.warns(splat.NoKernelWarning):
        assert_jnp_path(lowered_text((platform,)))


@pytest.mark.parametrize(
    ("platform", "hint"),
    [("cuda", "_cuda1"), ("rocm", "kernels for CPU and CUDA only"), ("tpu", "kernels for CPU and CUDA only")],
)
def test_the_warning_names_the_platform_and_comes_once(platform, hint, monkeypatch, fresh_warnings):
    monkeypatch.setattr(_ffi, "KERNEL_PLATFORMS", {"cpu"})  # also where a CUDA module is registered
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lowered_text((platform,))
        lowered_text((platform,), "avg")  # another program, lowered again: no second warning
        lowered_text(("cpu",))
    messages = [str(w.message) for w in caught if issubclass(w.category, splat.NoKernelWarning)]
    assert len(messages) == 1, messages
    assert f"platform {platform!r}" in messages[0] and hint in messages[0]
    assert "jax_softsplat.reference" in messages[0]


def test_each_platform_warns_once_in_a_lowering_for_several(fresh_warnings):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = lowered_text(("cpu", "rocm", "tpu"))
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, splat.NoKernelWarning))
    assert len(messages) == 2 and "'rocm'" in messages[0] and "'tpu'" in messages[1], messages
    # Both paths are in the program; which runs is chosen when it is compiled for one of them.
    assert all(call in text for call in CUSTOM_CALLS) and "scatter" in text


def test_cuda_lowers_to_the_kernels_once_registered(monkeypatch, fresh_warnings):
    monkeypatch.setattr(_ffi, "KERNEL_PLATFORMS", {"cpu", "cuda"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_kernel_path(lowered_text(("cuda",)))


_REGISTER_FOR_CUDA = """
import warnings
import jax, numpy as np
from jax_softsplat import _cpu, _ffi, splat
warnings.simplefilter("error", splat.NoKernelWarning)
x, flow = np.zeros((1, 3, 4, 4), np.float32), np.zeros((1, 2, 4, 4), np.float32)
loss = lambda x, flow: splat.softsplat(x, flow, None, "avg").sum()
grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
print(grad.trace(x, flow).lower(lowering_platforms=("cuda",)).as_text() if _ffi.HAS_CUDA else "")
# Registered by the same function as a CUDA module, under the names the lowering refers to (the CPU
# handlers stand in for a CUDA module this build may lack; nothing is compiled for CUDA here).
_ffi.register(_cpu, "CUDA")
print("=====")
print(grad.trace(x, flow).lower(lowering_platforms=("cuda",)).as_text())
"""


def test_registering_a_module_for_cuda_switches_cuda_to_the_kernels(tmp_path):
    # A process of its own: the registration for platform CUDA cannot be undone.
    result = subprocess.run(
        [sys.executable, "-c", _REGISTER_FOR_CUDA], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    before, after = result.stdout.split("=====")
    if not _ffi.HAS_CUDA:
        assert before.strip() == ""
    assert_kernel_path(after)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize(("mode", "stable"), VARIANTS, ids=VARIANT_IDS)
def test_jnp_path_on_cpu_equals_the_kernel_in_values_and_gradients(mode, stable, layout, monkeypatch):
    x, flow, metric = inputs(mode, layout, seed=1, c=2, h=6, w=7)
    args = (x, flow) if metric is None else (x, flow, metric)

    def value_and_grads():
        def loss(*args):
            return jnp.sum(jnp.sin(splat.softsplat(*args, mode=mode, layout=layout, stable=stable)))

        def value(*args):
            return splat.softsplat(*args, mode=mode, layout=layout, stable=stable)

        grads = jax.jit(jax.grad(loss, argnums=tuple(range(len(args)))))
        return jax.jit(value)(*args), grads(*args), grads.trace(*args).lower().as_text()

    kernel_value, kernel_grads, kernel_text = value_and_grads()
    with monkeypatch.context() as patch:
        patch.setattr(_ffi, "KERNEL_PLATFORMS", set())
        patch.setattr(splat, "_warned_platforms", set())
        with pytest.warns(splat.NoKernelWarning, match="'cpu'"):
            jnp_value, jnp_grads, jnp_text = value_and_grads()
    assert_kernel_path(kernel_text)
    assert_jnp_path(jnp_text)
    np.testing.assert_allclose(jnp_value, kernel_value, rtol=1e-10, atol=1e-12)
    for got, want in zip(jnp_grads, kernel_grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_jnp_path_under_vmap_and_outside_jit(jnp_path_everywhere):
    x, flow, metric = inputs("soft", seed=2, n=3, c=2, h=5, w=6)
    with pytest.warns(splat.NoKernelWarning, match="'cpu'"):
        eager = splat.softsplat(x, flow, metric)  # one operation at a time: the branch of the device
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", splat.NoKernelWarning)
        mapped = jax.jit(jax.vmap(lambda x, flow, metric: splat.softsplat(x, flow, metric)))(
            x[:, None], flow[:, None], metric[:, None]
        )
        grads = jax.jit(jax.vmap(jax.grad(lambda flow, x, metric: jnp.sum(splat.softsplat(x, flow, metric) ** 2))))(
            flow[:, None], x[:, None], metric[:, None]
        )
    want_value = splat.reference.softsplat(x, flow, metric)
    np.testing.assert_allclose(eager, want_value, rtol=1e-12)
    np.testing.assert_allclose(mapped[:, 0], want_value, rtol=1e-12)
    want = jax.grad(lambda flow: jnp.sum(splat.reference.softsplat(x, flow, metric) ** 2))(flow)
    np.testing.assert_allclose(grads[:, 0], want, rtol=1e-10, atol=1e-12)


def test_composed_operator_takes_the_jnp_path_too(jnp_path_everywhere):
    x, flow, metric = inputs("soft", seed=3)
    f = jax.jit(lambda x, flow, metric: splat.softsplat_composed(x, flow, metric, "soft"))
    with pytest.warns(splat.NoKernelWarning):
        text = f.trace(x, flow, metric).lower().as_text()
        got = f(x, flow, metric)
    assert_jnp_path(text)
    np.testing.assert_allclose(got, splat.reference.softsplat(x, flow, metric, "soft"), rtol=1e-10, atol=1e-12)


def test_half_precision_keeps_its_dtype_on_the_jnp_path(jnp_path_everywhere):
    x, flow, metric = (jnp.asarray(a, jnp.bfloat16) for a in inputs("soft", seed=4))
    with pytest.warns(splat.NoKernelWarning):
        out = jax.jit(lambda x, flow, metric: splat.softsplat(x, flow, metric))(x, flow, metric)
    assert out.dtype == jnp.bfloat16
    want = splat.reference.softsplat(x, flow, metric)
    np.testing.assert_allclose(np.asarray(out, np.float32), np.asarray(want, np.float32), rtol=1e-2, atol=1e-2)
