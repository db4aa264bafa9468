"""The threaded CPU kernel: results bit-for-bit identical for any thread count, layout and channel path."""

import jax
import numpy as np
import pytest
from helpers import OPERATOR, call, random_inputs

import jax_softsplat
import jax_softsplat._ffi

# Under JAX_SOFTSPLAT_CPU_KERNEL=gpu-emulated the CUDA kernels serve the CPU platform: the thread
# count reaches only the native kernel, and the CUDA code has no compile-time channel counts, so the
# tests below that need those would compare a computation with itself (test_gpu_emulation.py
# covers the emulation's schedules and grids instead).
NATIVE_ONLY = pytest.mark.skipif(
    jax_softsplat._ffi.CPU_KERNEL != "native",
    reason=f"needs the native CPU kernel; JAX_SOFTSPLAT_CPU_KERNEL={jax_softsplat._ffi.CPU_KERNEL}",
)


@pytest.fixture
def restore_threads():
    before = jax_softsplat.num_threads()
    yield
    jax_softsplat.set_num_threads(before)


def output_and_grads(mode, layout, x, flow, metric, cotangent):
    """The operator's output and its VJP with `cotangent`, as numpy arrays."""
    fn = lambda x, flow, metric: call(OPERATOR, x, flow, metric, mode, layout)  # noqa: E731
    out, pullback = jax.vjp(fn, x, flow, metric)
    return [np.asarray(a) for a in (out, *pullback(cotangent))]


def cosines(shape):
    return np.cos(np.arange(np.prod(shape), dtype=np.float32)).reshape(shape)


def run(mode, threads, flow_scale, layout):
    # 96 x 256 x 4 channels is above the size where the kernel starts threads.
    x, flow, metric = random_inputs(
        np.random.default_rng(40), n=1, c=4, h=96, w=256, layout=layout, flow_scale=flow_scale
    )
    jax_softsplat.set_num_threads(threads)
    return output_and_grads(mode, layout, x, flow, metric, cosines(x.shape))


@NATIVE_ONLY
@pytest.mark.summation_order
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("flow_scale", [2.0, 40.0])  # 40: few bands; far moves exercise the fallback
@pytest.mark.parametrize("mode", ["sum", "soft"])
def test_bit_identical_for_any_thread_count(restore_threads, mode, flow_scale, layout):
    results = [run(mode, threads, flow_scale, layout) for threads in (1, 2, 3, 2)]
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b, equal_nan=True)


def test_thread_count_is_settable(restore_threads):
    jax_softsplat.set_num_threads(3)
    assert jax_softsplat.num_threads() == 3
    with pytest.raises(ValueError, match="positive int"):
        jax_softsplat.set_num_threads(0)


@pytest.mark.summation_order
@pytest.mark.parametrize("channels", [3, 8])  # 8: NCHW takes the plane-by-plane path
@pytest.mark.parametrize("mode", ["sum", "linear", "soft"])
def test_layouts_give_bit_identical_results(mode, channels):
    """NCHW and NHWC add the same terms in the same order, whichever loop the kernel chooses."""
    x, flow, metric = random_inputs(np.random.default_rng(41), n=2, c=channels, h=24, w=31)
    if mode == "linear":
        metric = np.abs(metric) + 0.1
    nhwc = [np.ascontiguousarray(np.moveaxis(a, 1, -1)) for a in (x, flow, metric)]
    results = {}
    for layout, arrays in (("NCHW", (x, flow, metric)), ("NHWC", nhwc)):
        cotangent = cosines(x.shape)
        if layout == "NHWC":
            cotangent = np.ascontiguousarray(np.moveaxis(cotangent, 1, -1))
        values = output_and_grads(mode, layout, *arrays, cotangent)
        results[layout] = values if layout == "NCHW" else [np.moveaxis(a, -1, 1) for a in values]
    for a, b in zip(results["NCHW"], results["NHWC"]):
        assert np.array_equal(a, b)


@NATIVE_ONLY
@pytest.mark.summation_order
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("mode", ["sum", "avg", "linear", "soft"])
def test_compile_time_channel_counts_compute_what_the_generic_loop_computes(mode, channels):
    """The CPU kernel fixes C = 1-4 at compile time; the CUDA kernel runs the loop over any C.

    Padding with zero channels (C + 5, past the fixed counts) sends the same problem through that
    generic loop: the real channels' values and every gradient must come out bit for bit the same,
    so the CPU tests of the fixed counts vouch for the arithmetic the GPU runs.
    """
    x, flow, metric = random_inputs(np.random.default_rng(42), n=2, c=channels, h=9, w=11, layout="NHWC")
    if mode == "linear":
        metric = np.abs(metric) + 0.1
    padded = np.concatenate([x, np.zeros((*x.shape[:-1], 5), x.dtype)], axis=-1)
    cotangent = cosines(x.shape)
    padded_cotangent = np.concatenate([cotangent, np.zeros_like(padded[..., channels:])], axis=-1)
    fixed = output_and_grads(mode, "NHWC", x, flow, metric, cotangent)
    generic = output_and_grads(mode, "NHWC", padded, flow, metric, padded_cotangent)
    generic[0], generic[1] = generic[0][..., :channels], generic[1][..., :channels]
    for a, b in zip(fixed, generic):
        assert np.array_equal(a, b)
