"""The CUDA kernels executed on the host (jax_softsplat._gpu_emulated, docs/gpu.md) against the CPU kernel.

The module exists only in builds with SOFTSPLAT_GPU_EMULATION=ON (`make test-gpu-emulation`, which
sets SOFTSPLAT_EXPECT_GPU_EMULATION=1 so that a missing module fails instead of skipping). Both kernels
are registered here under names of their own, so the comparison holds whichever of them
JAX_SOFTSPLAT_CPU_KERNEL puts behind the operator.
"""

import importlib
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import random_inputs

from jax_softsplat import _cpu, modes, splat

if os.environ.get("SOFTSPLAT_EXPECT_GPU_EMULATION") == "1":
    emulated = importlib.import_module("jax_softsplat._gpu_emulated")
else:
    emulated = pytest.importorskip("jax_softsplat._gpu_emulated", reason="built without SOFTSPLAT_GPU_EMULATION")

KERNELS = {"cpu": _cpu, "gpu_emulated": emulated}
for _kernel, _module in KERNELS.items():
    for _name, _capsule in _module.registrations().items():
        jax.ffi.register_ffi_target(f"{_name}_{_kernel}", _capsule, platform="cpu")

# (mode, stable): every pass of the forward kernel, the max-splat included.
VARIANTS = [("sum", False), ("avg", False), ("linear", False), ("soft", False), ("soft", True)]
VARIANT_IDS = ["sum", "avg", "linear", "soft", "soft-stable"]
DTYPES = [jnp.float32, jnp.float64, jnp.bfloat16, jnp.float16]
LAYOUTS = ["NCHW", "NHWC"]
SCHEDULES = ["sequential", "concurrent"]


@pytest.fixture
def schedule(request):
    """Runs the test under the given block schedule, and restores the emulator's settings after."""
    before = emulated.schedule()
    emulated.set_schedule(request.param, 4)
    yield request.param
    emulated.set_schedule(*before)
    emulated.set_max_blocks(0)


def inputs(dtype, mode, layout, n=2, c=3, h=23, w=29, seed=0):
    x, flow, metric = random_inputs(np.random.default_rng(seed), n=n, c=c, h=h, w=w, layout=layout)
    if mode == "linear":
        metric = np.abs(metric) + 0.1
    if mode in ("sum", "avg"):
        metric = np.zeros(modes.with_channels(x.shape, 0, layout), np.float32)
    return [jnp.asarray(a, dtype) for a in (x, flow, metric)]


def forward(kernel, x, flow, metric, mode, stable, layout):
    channels_last = layout == "NHWC"
    aux_shape = modes.with_channels(x.shape, splat._aux_channels(mode, stable), layout)
    dtype = modes.compute_dtype(x)
    call = jax.ffi.ffi_call(
        f"{splat._ffi.FORWARD}_{kernel}",
        (jax.ShapeDtypeStruct(x.shape, dtype), jax.ShapeDtypeStruct(aux_shape, dtype)),
    )
    out, aux = call(x, flow, metric, **splat._attrs(mode, "addeps", stable, channels_last))
    return np.asarray(out), np.asarray(aux)


def backward(kernel, x, flow, metric, out, aux, grad_out, mode, stable, layout):
    call = jax.ffi.ffi_call(
        f"{splat._ffi.BACKWARD}_{kernel}",
        tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in (x, flow, metric)),
    )
    attrs = splat._attrs(mode, "addeps", stable, layout == "NHWC")
    return [np.asarray(g) for g in call(x, flow, metric, out, aux, grad_out, **attrs)]


def assert_sums_close(emulated_values, cpu_values):
    """Equal up to the order of the additions: the atomics add the same terms in another order."""
    tolerance = 1e-12 if cpu_values.dtype == np.float64 else 1e-5
    scale = max(1.0, float(np.max(np.abs(cpu_values), initial=0.0)))
    np.testing.assert_allclose(emulated_values, cpu_values, rtol=tolerance, atol=tolerance * scale)


def assert_forward_matches(x, flow, metric, mode, stable, layout):
    out, aux = forward("gpu_emulated", x, flow, metric, mode, stable, layout)
    cpu_out, cpu_aux = forward("cpu", x, flow, metric, mode, stable, layout)
    assert out.dtype == cpu_out.dtype and aux.shape == cpu_aux.shape
    assert_sums_close(out, cpu_out)
    axis = modes.channel_axis(layout)
    if aux.shape[axis] > 0:
        assert_sums_close(np.take(aux, 0, axis), np.take(cpu_aux, 0, axis))
    if stable:  # a maximum does not depend on the order: bit for bit
        np.testing.assert_array_equal(np.take(aux, 1, axis), np.take(cpu_aux, 1, axis))


@pytest.mark.parametrize("schedule", SCHEDULES, indirect=True)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("mode", "stable"), VARIANTS, ids=VARIANT_IDS)
def test_forward_equals_the_cpu_kernel_up_to_the_order_of_additions(schedule, mode, stable, layout, dtype):
    assert_forward_matches(*inputs(dtype, mode, layout), mode, stable, layout)


@pytest.mark.parametrize("schedule", SCHEDULES, indirect=True)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("mode", "stable"), VARIANTS, ids=VARIANT_IDS)
def test_gradients_equal_the_cpu_kernel_bit_for_bit(schedule, mode, stable, layout, dtype):
    """The backward pass is a gather (no atomics): given the same residuals, it must compute the CPU
    kernel's gradients exactly, whatever the schedule."""
    x, flow, metric = inputs(dtype, mode, layout, seed=1)
    out, aux = forward("cpu", x, flow, metric, mode, stable, layout)
    grad_out = jnp.asarray(np.cos(np.arange(out.size)).reshape(out.shape), x.dtype)
    got = backward("gpu_emulated", x, flow, metric, out, aux, grad_out, mode, stable, layout)
    want = backward("cpu", x, flow, metric, out, aux, grad_out, mode, stable, layout)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype == x.dtype and g.shape == w.shape
        assert np.array_equal(np.asarray(g, np.float64), np.asarray(w, np.float64), equal_nan=True)


@pytest.mark.parametrize("schedule", SCHEDULES, indirect=True)
@pytest.mark.parametrize("max_blocks", [1, 3])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("mode", "stable"), [("sum", False), ("soft", True)], ids=["sum", "soft-stable"])
def test_a_grid_smaller_than_the_image_still_covers_every_pixel(schedule, mode, stable, layout, max_blocks):
    """With the grid capped far below one thread per pixel, each thread's grid-stride loop must visit
    many pixels; a pixel left out would show as a wrong output or gradient."""
    x, flow, metric = inputs(jnp.float32, mode, layout, n=2, c=4, h=41, w=53, seed=2)
    pixels = 2 * 41 * 53  # 4346: 17 blocks of 256 threads uncapped
    emulated.set_max_blocks(max_blocks)
    emulated.reset_stats()
    assert_forward_matches(x, flow, metric, mode, stable, layout)
    stats = emulated.stats()
    passes = 4 if stable else 2  # init, max-splat, splat, normalize; sum mode: init and splat
    assert stats["launches"] == passes
    assert stats["largest_grid"] == stats["smallest_grid"] == max_blocks
    assert stats["threads"] == passes * max_blocks * emulated.threads_per_block < pixels

    out, aux = forward("cpu", x, flow, metric, mode, stable, layout)
    grad_out = jnp.asarray(np.sin(np.arange(out.size)).reshape(out.shape), jnp.float32)
    emulated.reset_stats()
    got = backward("gpu_emulated", x, flow, metric, out, aux, grad_out, mode, stable, layout)
    assert emulated.stats()["blocks"] == max_blocks
    want = backward("cpu", x, flow, metric, out, aux, grad_out, mode, stable, layout)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_an_uncapped_launch_has_one_thread_per_pixel_rounded_up_to_whole_blocks():
    x, flow, metric = inputs(jnp.float32, "avg", "NCHW", n=3, c=2, h=17, w=19)
    emulated.set_max_blocks(0)
    emulated.reset_stats()
    forward("gpu_emulated", x, flow, metric, "avg", False, "NCHW")
    blocks = -(-3 * 17 * 19 // emulated.threads_per_block)  # 969 pixels: 4 blocks
    assert emulated.stats() == {
        "launches": 3,
        "blocks": 3 * blocks,
        "threads": 3 * blocks * emulated.threads_per_block,
        "largest_grid": blocks,
        "smallest_grid": blocks,
    }


def test_schedule_arguments_are_checked():
    with pytest.raises(ValueError, match="'sequential' or 'concurrent'"):
        emulated.set_schedule("parallel")
    with pytest.raises(ValueError, match="workers must be >= 2"):
        emulated.set_schedule("concurrent", 1)
    with pytest.raises(ValueError, match="blocks must be >= 0"):
        emulated.set_max_blocks(-1)


def run_python(code, **environment):
    """Runs `code` in a fresh interpreter, away from the source tree so that it imports the build."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", **environment}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=os.path.dirname(splat.__file__) + "/..",
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_environment_variable_puts_the_emulated_kernels_behind_the_operator():
    code = (
        "import numpy as np, jax_softsplat\n"
        "from jax_softsplat import _gpu_emulated as e\n"
        "x = np.ones((1, 3, 20, 30), np.float32)\n"
        "e.reset_stats()\n"
        "out = np.asarray(jax_softsplat.softsplat(x, np.zeros((1, 2, 20, 30), np.float32), None, 'avg'))\n"
        "print(e.stats()['launches'], e.schedule()[0], bool(np.allclose(out, 1)))\n"
    )
    result = run_python(
        code, JAX_SOFTSPLAT_CPU_KERNEL="gpu-emulated", JAX_SOFTSPLAT_GPU_EMULATION_SCHEDULE="concurrent:3"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "concurrent", "True"]
    result = run_python(code, JAX_SOFTSPLAT_CPU_KERNEL="native", JAX_SOFTSPLAT_GPU_EMULATION_SCHEDULE="sequential")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "sequential", "True"]


def test_an_unknown_kernel_name_is_refused():
    # The package imports its modules on first use; _ffi is where the kernels are registered.
    result = run_python("import jax_softsplat._ffi", JAX_SOFTSPLAT_CPU_KERNEL="gpu")
    assert result.returncode != 0
    assert "JAX_SOFTSPLAT_CPU_KERNEL must be 'native' or 'gpu-emulated', got 'gpu'" in result.stderr


def test_an_unknown_schedule_is_refused():
    result = run_python(
        "import jax_softsplat._ffi",
        JAX_SOFTSPLAT_CPU_KERNEL="gpu-emulated",
        JAX_SOFTSPLAT_GPU_EMULATION_SCHEDULE="concurrent:1",
    )
    assert result.returncode != 0
    assert "JAX_SOFTSPLAT_GPU_EMULATION_SCHEDULE must be 'sequential', 'concurrent' or" in result.stderr


def test_the_host_code_loads_the_image_once_and_finds_every_kernel_by_name():
    # The emulated module launches as _cuda12 does on a GPU: the image is loaded once
    # (cudaLibraryLoadData), each kernel looked up once by its key (cudaLibraryGetKernel). Every
    # dtype, the stable softmax and the backward pass reach all twelve instances.
    for dtype in DTYPES:
        x, flow, metric = inputs(dtype, "soft", "NCHW", n=1, c=2, h=5, w=6)
        out, aux = forward("gpu_emulated", x, flow, metric, "soft", True, "NCHW")
        backward("gpu_emulated", x, flow, metric, out, aux, jnp.ones_like(out).astype(x.dtype), "soft", True, "NCHW")
    stats = emulated.library_stats()
    assert stats["loads"] == 1
    assert stats["lookups"] == len(emulated.kernel_keys()) == 12
    assert "splat_kernel<float, BFloat16>" in emulated.kernel_keys()
