// Per-pixel arithmetic of summation splatting, shared by the CPU and the CUDA kernels so that the CPU
// test suite exercises exactly the arithmetic the GPU runs. Only the loops over pixels and the way a
// scattered value is added (plain `+=` or `atomicAdd`) differ between the two.
//
// Semantics: ../shared/spec/operator.md. A source pixel (x, y) moved by (u, v) lands on the target point
// (x + u, y + v) and is shared bilinearly between the four integer pixels around it; corners outside the
// image are dropped.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define SOFTSPLAT_HD __host__ __device__ __forceinline__
#else
#define SOFTSPLAT_HD inline
#endif

namespace softsplat {

// Where element (channel c, pixel p = y * width + x) of one image sits relative to the image's start.
// NCHW and NHWC differ only in these two strides, so the kernels never transpose.
struct Layout {
  int64_t channels;
  int64_t height;
  int64_t width;
  int64_t channel_stride;
  int64_t pixel_stride;

  SOFTSPLAT_HD int64_t pixels() const { return height * width; }
  SOFTSPLAT_HD int64_t image_size() const { return channels * height * width; }
  SOFTSPLAT_HD int64_t at(int64_t c, int64_t pixel) const {
    return c * channel_stride + pixel * pixel_stride;
  }
};

SOFTSPLAT_HD Layout make_layout(bool channels_last, int64_t channels, int64_t height, int64_t width) {
  if (channels_last) return Layout{channels, height, width, 1, channels};
  return Layout{channels, height, width, height * width, 1};
}

template <typename T>
SOFTSPLAT_HD T floor_of(T value) {
#if defined(__CUDA_ARCH__)
  return floor(value);
#else
  return std::floor(value);
#endif
}

// The four corners in the reference's order: north-west, north-east, south-west, south-east.
constexpr int kCorners = 4;
SOFTSPLAT_HD int corner_dx(int k) { return k & 1; }
SOFTSPLAT_HD int corner_dy(int k) { return k >> 1; }

// Where one source pixel lands: the north-west corner and the fractional offsets from it.
template <typename T>
struct Footprint {
  int64_t x0;
  int64_t y0;
  T ax;
  T ay;

  SOFTSPLAT_HD T weight(int k) const {
    const T wx = corner_dx(k) ? ax : T(1) - ax;
    const T wy = corner_dy(k) ? ay : T(1) - ay;
    return wx * wy;
  }
  // d weight / d u and d weight / d v: the flow moves the target point one-to-one.
  SOFTSPLAT_HD T weight_du(int k) const {
    const T wy = corner_dy(k) ? ay : T(1) - ay;
    return corner_dx(k) ? wy : -wy;
  }
  SOFTSPLAT_HD T weight_dv(int k) const {
    const T wx = corner_dx(k) ? ax : T(1) - ax;
    return corner_dy(k) ? wx : -wx;
  }
  // Target pixel index of corner k, or -1 when it lies outside the image.
  SOFTSPLAT_HD int64_t target(int k, int64_t height, int64_t width) const {
    const int64_t tx = x0 + corner_dx(k);
    const int64_t ty = y0 + corner_dy(k);
    if (tx < 0 || tx >= width || ty < 0 || ty >= height) return -1;
    return ty * width + tx;
  }
};

// Computes where source pixel (x, y) moved by (u, v) lands. Returns false when no corner can be inside
// the image, which covers NaN and infinite flow (every comparison with NaN is false) and huge finite
// flow: the range test happens in floating point, before floor() is converted to an integer, so a flow
// of 1e30 never overflows an index.
template <typename T>
SOFTSPLAT_HD bool land(int64_t x, int64_t y, T u, T v, int64_t height, int64_t width,
                       Footprint<T>* fp) {
  const T tx = T(x) + u;
  const T ty = T(y) + v;
  // x0 = floor(tx) must lie in [-1, width - 1] for one of x0, x0 + 1 to be a column of the image.
  if (!(tx >= T(-1) && tx < T(width) && ty >= T(-1) && ty < T(height))) return false;
  const T fx = floor_of(tx);
  const T fy = floor_of(ty);
  fp->x0 = static_cast<int64_t>(fx);
  fp->y0 = static_cast<int64_t>(fy);
  fp->ax = tx - fx;
  fp->ay = ty - fy;
  return true;
}

// Scatters source pixel `pixel` of `in` into `out` (same layout). `add(T* dst, T value)` accumulates;
// every in-bounds corner receives its share even when the weight is zero, as in the reference, so a
// NaN in `in` reaches each pixel it lands on.
template <typename T, typename Add>
SOFTSPLAT_HD void splat_pixel(const T* in, const Layout& layout, int64_t pixel,
                              const Footprint<T>& fp, T* out, Add add) {
  for (int k = 0; k < kCorners; ++k) {
    const int64_t t = fp.target(k, layout.height, layout.width);
    if (t < 0) continue;
    const T w = fp.weight(k);
    for (int64_t c = 0; c < layout.channels; ++c) {
      add(out + layout.at(c, t), w * in[layout.at(c, pixel)]);
    }
  }
}

// Gradients of summation splatting for one source pixel, given G = dL/dout:
//   dL/dx[c] = sum_k w_k G[c, k]                   (a bilinear gather of G)
//   dL/du    = sum_c x[c] sum_k dw_k/du G[c, k]    (floor treated as constant)
// Each source pixel owns its gradients, so the backward pass needs no atomics.
template <typename T>
SOFTSPLAT_HD void splat_pixel_grad(const T* in, const T* grad_out, const Layout& layout,
                                   int64_t pixel, const Footprint<T>& fp, T* grad_in, T* grad_u,
                                   T* grad_v) {
  int64_t targets[kCorners];
  for (int k = 0; k < kCorners; ++k) targets[k] = fp.target(k, layout.height, layout.width);
  T gu = T(0);
  T gv = T(0);
  for (int64_t c = 0; c < layout.channels; ++c) {
    T g = T(0);
    T du = T(0);
    T dv = T(0);
    for (int k = 0; k < kCorners; ++k) {
      if (targets[k] < 0) continue;
      const T go = grad_out[layout.at(c, targets[k])];
      g += fp.weight(k) * go;
      du += fp.weight_du(k) * go;
      dv += fp.weight_dv(k) * go;
    }
    const int64_t i = layout.at(c, pixel);
    grad_in[i] = g;
    gu += in[i] * du;
    gv += in[i] * dv;
  }
  *grad_u = gu;
  *grad_v = gv;
}

// A pixel whose flow is not finite (or lands nowhere) contributes nothing and receives zero gradients.
template <typename T>
SOFTSPLAT_HD void zero_pixel_grad(const Layout& layout, int64_t pixel, T* grad_in, T* grad_u,
                                  T* grad_v) {
  for (int64_t c = 0; c < layout.channels; ++c) grad_in[layout.at(c, pixel)] = T(0);
  *grad_u = T(0);
  *grad_v = T(0);
}

}  // namespace softsplat
