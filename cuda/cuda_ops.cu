// CUDA loops around the shared per-pixel math: one thread per source pixel (grid-stride), the scatter
// through atomicAdd, everything on the stream XLA passes. Compiled and linked in CI; never executed
// there (no GPU), see docs/gpu.md.
#include <cuda_runtime.h>

#include <algorithm>
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

__device__ __forceinline__ PixelIndex pixel_index(const Problem& p, int64_t i) {
  const int64_t pixels = p.image.pixels();
  const int64_t pixel = i % pixels;
  return PixelIndex{i / pixels, pixel / p.image.width, pixel % p.image.width, pixel};
}

template <typename T>
__global__ void forward_kernel(Problem p, const T* x, const T* flow, T* out) {
  const int64_t total = p.batch * p.image.pixels();
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const PixelIndex at = pixel_index(p, i);
    const T* fn = flow + at.n * p.flow.image_size();
    Footprint<T> fp;
    if (!land(at.x, at.y, fn[p.flow.at(0, at.pixel)], fn[p.flow.at(1, at.pixel)], p.image.height,
              p.image.width, &fp)) {
      continue;
    }
    const int64_t offset = at.n * p.image.image_size();
    splat_pixel(x + offset, p.image, at.pixel, fp, out + offset,
                [](T* dst, T value) { atomicAdd(dst, value); });
  }
}

template <typename T>
__global__ void backward_kernel(Problem p, const T* x, const T* flow, const T* grad_out, T* grad_x,
                                T* grad_flow) {
  const int64_t total = p.batch * p.image.pixels();
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const PixelIndex at = pixel_index(p, i);
    const int64_t xo = at.n * p.image.image_size();
    const int64_t fo = at.n * p.flow.image_size();
    T* gu = grad_flow + fo + p.flow.at(0, at.pixel);
    T* gv = grad_flow + fo + p.flow.at(1, at.pixel);
    Footprint<T> fp;
    if (land(at.x, at.y, flow[fo + p.flow.at(0, at.pixel)], flow[fo + p.flow.at(1, at.pixel)],
             p.image.height, p.image.width, &fp)) {
      splat_pixel_grad(x + xo, grad_out + xo, p.image, at.pixel, fp, grad_x + xo, gu, gv);
    } else {
      zero_pixel_grad(p.image, at.pixel, grad_x + xo, gu, gv);
    }
  }
}

int blocks_for(int64_t work) {
  // Grid-stride loops make any grid correct; cap it so huge batches do not overflow gridDim.x.
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((work + kThreads - 1) / kThreads,
                                                                 int64_t(1) << 20)));
}

ffi::Error last_cuda_error(const char* what) {
  const cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess) return ffi::Error::Success();
  return ffi::Error::Internal(std::string("softsplat: ") + what + ": " +
                              cudaGetErrorString(status));
}

template <typename T>
ffi::Error forward_typed(cudaStream_t stream, const Problem& p, ffi::AnyBuffer x,
                         ffi::AnyBuffer flow, ffi::Result<ffi::AnyBuffer> out) {
  if (cudaMemsetAsync(out->untyped_data(), 0, out->size_bytes(), stream) != cudaSuccess) {
    return last_cuda_error("clearing the output");
  }
  const int64_t work = p.batch * p.image.pixels();
  if (work > 0) {
    forward_kernel<T><<<blocks_for(work), kThreads, 0, stream>>>(
        p, x.typed_data<T>(), flow.typed_data<T>(), out->typed_data<T>());
  }
  return last_cuda_error("forward launch");
}

template <typename T>
ffi::Error backward_typed(cudaStream_t stream, const Problem& p, ffi::AnyBuffer x,
                          ffi::AnyBuffer flow, ffi::AnyBuffer grad_out,
                          ffi::Result<ffi::AnyBuffer> grad_x,
                          ffi::Result<ffi::AnyBuffer> grad_flow) {
  const int64_t work = p.batch * p.image.pixels();
  if (work > 0) {
    backward_kernel<T><<<blocks_for(work), kThreads, 0, stream>>>(
        p, x.typed_data<T>(), flow.typed_data<T>(), grad_out.typed_data<T>(),
        grad_x->typed_data<T>(), grad_flow->typed_data<T>());
  }
  return last_cuda_error("backward launch");
}

ffi::Error forward_impl(cudaStream_t stream, ffi::AnyBuffer x, ffi::AnyBuffer flow,
                        ffi::Result<ffi::AnyBuffer> out, bool channels_last) {
  Problem p;
  if (ffi::Error e = describe(x, flow, channels_last, &p); e.failure()) return e;
  if (ffi::Error e = check_like(x, *out, "out"); e.failure()) return e;
  switch (x.element_type()) {
    case ffi::F32:
      return forward_typed<float>(stream, p, x, flow, out);
    case ffi::F64:
      return forward_typed<double>(stream, p, x, flow, out);
    default:
      return unsupported_dtype();
  }
}

ffi::Error backward_impl(cudaStream_t stream, ffi::AnyBuffer x, ffi::AnyBuffer flow,
                         ffi::AnyBuffer grad_out, ffi::Result<ffi::AnyBuffer> grad_x,
                         ffi::Result<ffi::AnyBuffer> grad_flow, bool channels_last) {
  Problem p;
  if (ffi::Error e = describe(x, flow, channels_last, &p); e.failure()) return e;
  if (ffi::Error e = check_like(x, grad_out, "grad_out"); e.failure()) return e;
  if (ffi::Error e = check_like(x, *grad_x, "grad_x"); e.failure()) return e;
  if (ffi::Error e = check_like(flow, *grad_flow, "grad_flow"); e.failure()) return e;
  switch (x.element_type()) {
    case ffi::F32:
      return backward_typed<float>(stream, p, x, flow, grad_out, grad_x, grad_flow);
    case ffi::F64:
      return backward_typed<double>(stream, p, x, flow, grad_out, grad_x, grad_flow);
    default:
      return unsupported_dtype();
  }
}

}  // namespace
}  // namespace softsplat

namespace ffi = xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(SoftsplatForwardCuda, softsplat::forward_impl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<bool>("channels_last"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(SoftsplatBackwardCuda, softsplat::backward_impl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<bool>("channels_last"));
