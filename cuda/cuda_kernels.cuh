// The device half of the CUDA kernel: one thread per pixel (grid-stride loops) around the shared
// per-pixel math, the scatter through atomics. Compiled three ways: by nvcc inside cuda_ops.cu
// (_cuda13), alone by NVRTC into the fatbin that _cuda12's host code launches by name
// (cmake/nvrtc_device_code.py), and for the host through gpu_emulation.h (tests). So it includes
// nothing of the standard library beyond what softsplat_math.h does (<cmath>, <cstdint>, <cstring>,
// which cuda/nvrtc/ supplies to NVRTC).
#pragma once

#include <cmath>

#include "problem_shape.h"
#include "softsplat_math.h"

namespace softsplat {

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

}  // namespace softsplat

// Every instantiation the host launches, as X(kernel, template arguments): the one list from which
// NVRTC's name expressions (cmake/nvrtc_device_code.py reads these lines), the emulation's table of
// kernels and the host's lookup keys ("splat_kernel<float, BFloat16>") are made. One entry a line,
// written exactly so: the keys are the entries' spelling.
#define SOFTSPLAT_KERNEL_INSTANCES(X) \
  X(init_aux_kernel, float)           \
  X(init_aux_kernel, double)          \
  X(splat_kernel, float, float)       \
  X(splat_kernel, double, double)     \
  X(splat_kernel, float, BFloat16)    \
  X(splat_kernel, float, Float16)     \
  X(normalize_kernel, float)          \
  X(normalize_kernel, double)         \
  X(backward_kernel, float, float)    \
  X(backward_kernel, double, double)  \
  X(backward_kernel, float, BFloat16) \
  X(backward_kernel, float, Float16)
