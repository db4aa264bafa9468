// CUDA loops around the shared per-pixel math: one thread per pixel (grid-stride), the scatter
// through atomics, everything on the stream XLA passes. Compiled and linked in CI; executed there
// only on the host, through the test-only emulation of gpu_emulation.h (see docs/gpu.md).
#if defined(__CUDACC__)
#include <cuda_runtime.h>
// Kernel launch, spelled as a macro so that the host emulation can replace the <<<>>> syntax.
#define SOFTSPLAT_LAUNCH(grid, block, stream, ...) __VA_ARGS__<<<grid, block, 0, stream>>>
#elif defined(SOFTSPLAT_GPU_EMULATION)
#include "gpu_emulation.h"
#define SOFTSPLAT_LAUNCH(grid, block, stream, ...) \
  ::softsplat::emulation::launch(grid, block, 0, stream, __VA_ARGS__)
#else
#error "cuda_ops.cu is compiled by nvcc, or by a C++ compiler with SOFTSPLAT_GPU_EMULATION (tests)"
#endif

#include <algorithm>
#include <limits>
#include <string>

#include "handlers.h"
#include "problem.h"
#include "softsplat_math.h"

namespace softsplat {
namespace {

constexpr int kThreads = 256;

struct PixelIndex {
  int64_t n, y, x, pixel;
};

__device__ __forceinline__ PixelIndex pixel_index(const Layout& img, int64_t i) {
  const int64_t pixel = i % img.pixels();
  return PixelIndex{i / img.pixels(), pixel / img.width, pixel % img.width, pixel};
}

#define SOFTSPLAT_GRID_STRIDE(i, total)                                         \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (total); \
       i += int64_t(blockDim.x) * gridDim.x)

#if defined(__CUDACC__)
// The first read of a word other threads update with atomics: a volatile load, which the PTX memory
// model treats as a relaxed one, so it is not a data race with them.
template <typename T>
__device__ __forceinline__ T atomic_load_relaxed(const T* address) {
  return *static_cast<const volatile T*>(address);
}
#endif

// float and double atomic max by compare-and-swap; NaN never wins, as on the CPU.
__device__ __forceinline__ void atomic_max(float* dst, float value) {
  int* bits = reinterpret_cast<int*>(dst);
  int old = atomic_load_relaxed(bits);
  while (value > __int_as_float(old)) {
    const int seen = atomicCAS(bits, old, __float_as_int(value));
    if (seen == old) break;
    old = seen;
  }
}

__device__ __forceinline__ void atomic_max(double* dst, double value) {
  auto* bits = reinterpret_cast<unsigned long long*>(dst);
  unsigned long long old = atomic_load_relaxed(bits);
  while (value > __longlong_as_double(old)) {
    const unsigned long long seen = atomicCAS(bits, old, __double_as_longlong(value));
    if (seen == old) break;
    old = seen;
  }
}

template <typename T>
__global__ void init_aux_kernel(Problem p, T* aux) {
  SOFTSPLAT_GRID_STRIDE(i, p.batch * p.image.pixels()) {
    const PixelIndex at = pixel_index(p.image, i);
    T* an = aux + at.n * p.aux.image_size();
    if (p.aux.channels > kDen) an[p.aux.at(kDen, at.pixel)] = T(0);
    if (p.aux.channels > kMax) an[p.aux.at(kMax, at.pixel)] = -INFINITY;
  }
}

// Pass 1 (stable soft) when max_pass, else pass 2: the same walk over source pixels. T is the type
// computed in, S the type x, flow and metric are stored in (see softsplat_math.h).
template <typename T, typename S>
__global__ void splat_kernel(Problem p, bool max_pass, const S* x, const S* flow, const S* metric,
                             T* out, T* aux) {
  SOFTSPLAT_GRID_STRIDE(i, p.batch * p.image.pixels()) {
    const PixelIndex at = pixel_index(p.image, i);
    const S* fn = flow + at.n * p.flow.image_size();
    Footprint<T> fp;
    if (!land<T>(at.x, at.y, widen(fn[p.flow.at(0, at.pixel)]), widen(fn[p.flow.at(1, at.pixel)]),
                 p.image.height, p.image.width, &fp)) {
      continue;
    }
    const T z = p.options.has_metric()
                    ? T(widen(metric[at.n * p.metric.image_size() + p.metric.at(0, at.pixel)]))
                    : T(0);
    T* an = aux + at.n * p.aux.image_size();
    if (max_pass) {
      max_splat_pixel(p.aux, z, fp, an, [](T* dst, T value) { atomic_max(dst, value); });
    } else {
      const int64_t offset = at.n * p.image.image_size();
      splat_pixel(p.options, p.image, p.aux, x + offset, z, at.pixel, fp, out + offset, an,
                  [](T* dst, T value) { atomicAdd(dst, value); });
    }
  }
}

template <typename T>
__global__ void normalize_kernel(Problem p, T* out, const T* aux) {
  SOFTSPLAT_GRID_STRIDE(i, p.batch * p.image.pixels()) {
    const PixelIndex at = pixel_index(p.image, i);
    normalize_pixel(p.options, p.image, p.aux, at.pixel, out + at.n * p.image.image_size(),
                    aux + at.n * p.aux.image_size());
  }
}

template <typename T, typename S>
__global__ void backward_kernel(Problem p, const S* x, const S* flow, const S* metric, const T* out,
                                const T* aux, const S* grad_out, S* grad_x, S* grad_flow,
                                S* grad_metric) {
  SOFTSPLAT_GRID_STRIDE(i, p.batch * p.image.pixels()) {
    const PixelIndex at = pixel_index(p.image, i);
    const int64_t xo = at.n * p.image.image_size();
    const int64_t fo = at.n * p.flow.image_size();
    const int64_t mo = at.n * p.metric.image_size();
    const int64_t ao = at.n * p.aux.image_size();
    S unused_z;
    S* gu = grad_flow + fo + p.flow.at(0, at.pixel);
    S* gv = grad_flow + fo + p.flow.at(1, at.pixel);
    S* gz = p.options.has_metric() ? grad_metric + mo + p.metric.at(0, at.pixel) : &unused_z;
    const T z = p.options.has_metric() ? T(widen(metric[mo + p.metric.at(0, at.pixel)])) : T(0);
    Footprint<T> fp;
    if (land<T>(at.x, at.y, widen(flow[fo + p.flow.at(0, at.pixel)]),
                widen(flow[fo + p.flow.at(1, at.pixel)]), p.image.height, p.image.width, &fp)) {
      // One thread per source pixel: the target terms are computed per corner (no targets plane).
      splat_pixel_grad(p.options, p.image, p.aux, x + xo, z, out + xo, aux + ao, grad_out + xo,
                       static_cast<const TargetTerms<T>*>(nullptr), at.pixel, fp, grad_x + xo, gu,
                       gv, gz);
    } else {
      zero_pixel_grad(p.options, p.image, at.pixel, grad_x + xo, gu, gv, gz);
    }
  }
}

int blocks_for(int64_t work) {
  // Grid-stride loops make any grid correct; cap it so huge batches do not overflow gridDim.x.
  return static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>((work + kThreads - 1) / kThreads, int64_t(1) << 20)));
}

ffi::Error last_cuda_error(const char* what) {
  const cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess) return ffi::Error::Success();
  return ffi::Error::Internal(std::string("softsplat: ") + what + ": " +
                              cudaGetErrorString(status));
}

template <typename T, typename S>
ffi::Error forward_typed(cudaStream_t stream, const Problem& p, ffi::AnyBuffer x,
                         ffi::AnyBuffer flow, ffi::AnyBuffer metric, ffi::AnyBuffer out,
                         ffi::AnyBuffer aux) {
  if (cudaMemsetAsync(out.untyped_data(), 0, out.size_bytes(), stream) != cudaSuccess) {
    return last_cuda_error("clearing the output");
  }
  const int64_t work = p.batch * p.image.pixels();
  if (work == 0) return ffi::Error::Success();
  const int blocks = blocks_for(work);
  T* out_data = data<T>(out);
  T* aux_data = data<T>(aux);
  SOFTSPLAT_LAUNCH(blocks, kThreads, stream, init_aux_kernel<T>)(p, aux_data);
  for (const bool max_pass : {true, false}) {
    if (max_pass && !p.options.stable) continue;
    SOFTSPLAT_LAUNCH(blocks, kThreads, stream, splat_kernel<T, S>)(
        p, max_pass, data<S>(x), data<S>(flow), data<S>(metric), out_data, aux_data);
  }
  if (p.options.mode != Mode::kSum) {
    SOFTSPLAT_LAUNCH(blocks, kThreads, stream, normalize_kernel<T>)(p, out_data, aux_data);
  }
  return last_cuda_error("forward launch");
}

template <typename T, typename S>
ffi::Error backward_typed(cudaStream_t stream, const Problem& p, ffi::AnyBuffer x,
                          ffi::AnyBuffer flow, ffi::AnyBuffer metric, ffi::AnyBuffer out,
                          ffi::AnyBuffer aux, ffi::AnyBuffer grad_out, ffi::AnyBuffer grad_x,
                          ffi::AnyBuffer grad_flow, ffi::AnyBuffer grad_metric) {
  const int64_t work = p.batch * p.image.pixels();
  if (work == 0) return ffi::Error::Success();
  SOFTSPLAT_LAUNCH(blocks_for(work), kThreads, stream, backward_kernel<T, S>)(
      p, data<S>(x), data<S>(flow), data<S>(metric), data<T>(out), data<T>(aux), data<S>(grad_out),
      data<S>(grad_x), data<S>(grad_flow), data<S>(grad_metric));
  return last_cuda_error("backward launch");
}

ffi::Error forward_impl(cudaStream_t stream, ffi::AnyBuffer x, ffi::AnyBuffer flow,
                        ffi::AnyBuffer metric, ffi::Result<ffi::AnyBuffer> out,
                        ffi::Result<ffi::AnyBuffer> aux, bool channels_last, int32_t mode,
                        int32_t normalize, bool stable) {
  Problem p;
  const Attrs attrs{channels_last, mode, normalize, stable};
  if (ffi::Error e = describe_forward(x, flow, metric, *out, *aux, attrs, &p); e.failure())
    return e;
  switch (x.element_type()) {
    case ffi::F32:
      return forward_typed<float, float>(stream, p, x, flow, metric, *out, *aux);
    case ffi::F64:
      return forward_typed<double, double>(stream, p, x, flow, metric, *out, *aux);
    case ffi::BF16:
      return forward_typed<float, BFloat16>(stream, p, x, flow, metric, *out, *aux);
    case ffi::F16:
      return forward_typed<float, Float16>(stream, p, x, flow, metric, *out, *aux);
    default:
      return unsupported_dtype();
  }
}

ffi::Error backward_impl(cudaStream_t stream, ffi::AnyBuffer x, ffi::AnyBuffer flow,
                         ffi::AnyBuffer metric, ffi::AnyBuffer out, ffi::AnyBuffer aux,
                         ffi::AnyBuffer grad_out, ffi::Result<ffi::AnyBuffer> grad_x,
                         ffi::Result<ffi::AnyBuffer> grad_flow,
                         ffi::Result<ffi::AnyBuffer> grad_metric, bool channels_last, int32_t mode,
                         int32_t normalize, bool stable) {
  Problem p;
  const Attrs attrs{channels_last, mode, normalize, stable};
  if (ffi::Error e = describe_backward(x, flow, metric, out, aux, grad_out, *grad_x, *grad_flow,
                                       *grad_metric, attrs, &p);
      e.failure()) {
    return e;
  }
  switch (x.element_type()) {
    case ffi::F32:
      return backward_typed<float, float>(stream, p, x, flow, metric, out, aux, grad_out, *grad_x,
                                          *grad_flow, *grad_metric);
    case ffi::F64:
      return backward_typed<double, double>(stream, p, x, flow, metric, out, aux, grad_out, *grad_x,
                                            *grad_flow, *grad_metric);
    case ffi::BF16:
      return backward_typed<float, BFloat16>(stream, p, x, flow, metric, out, aux, grad_out,
                                             *grad_x, *grad_flow, *grad_metric);
    case ffi::F16:
      return backward_typed<float, Float16>(stream, p, x, flow, metric, out, aux, grad_out, *grad_x,
                                            *grad_flow, *grad_metric);
    default:
      return unsupported_dtype();
  }
}

}  // namespace
}  // namespace softsplat

namespace ffi = xla::ffi;

#if defined(__CUDACC__)
XLA_FFI_DEFINE_HANDLER_SYMBOL(
    SoftsplatForwardCuda, softsplat::forward_impl,
    SOFTSPLAT_FORWARD_BINDING(ffi::Ffi::Bind().Ctx<ffi::PlatformStream<cudaStream_t>>()));
XLA_FFI_DEFINE_HANDLER_SYMBOL(
    SoftsplatBackwardCuda, softsplat::backward_impl,
    SOFTSPLAT_BACKWARD_BINDING(ffi::Ffi::Bind().Ctx<ffi::PlatformStream<cudaStream_t>>()));
#else
// The emulated handlers run on a CPU device, which has no stream to bind.
XLA_FFI_DEFINE_HANDLER_SYMBOL(SoftsplatForwardCuda,
                              softsplat::emulation::without_stream(softsplat::forward_impl),
                              SOFTSPLAT_FORWARD_BINDING(ffi::Ffi::Bind()));
XLA_FFI_DEFINE_HANDLER_SYMBOL(SoftsplatBackwardCuda,
                              softsplat::emulation::without_stream(softsplat::backward_impl),
                              SOFTSPLAT_BACKWARD_BINDING(ffi::Ffi::Bind()));
#endif
