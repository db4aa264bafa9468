// Per-pixel arithmetic of summation splatting, shared by the CPU and the CUDA kernels so that the
// CPU test suite exercises exactly the arithmetic the GPU runs. Only the loops over pixels and the
// way a scattered value is added (plain `+=` or `atomicAdd`) differ between the two.
//
// Semantics: docs/operator.md. A source pixel (x, y) moved by (u, v) lands on the target
// point (x + u, y + v) and is shared bilinearly between the four integer pixels around it; corners
// outside the image are dropped.
#pragma once

#include <cmath>
#include <cstdint>

#include "half_precision.h"
#include "host_device.h"

namespace softsplat {

// Where element (channel c, pixel p = y * width + x) of one image sits relative to the image's
// start. NCHW and NHWC differ only in these two strides, so the kernels never transpose.
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

SOFTSPLAT_HD Layout make_layout(bool channels_last, int64_t channels, int64_t height,
                                int64_t width) {
  if (channels_last) return Layout{channels, height, width, 1, channels};
  return Layout{channels, height, width, height * width, 1};
}

// floor(value) as an integer, for values already known to lie in [-1, 2^62): the conversion
// truncates toward zero, so negative non-integers step down by one. Cheaper than std::floor, which
// is a library call on x86-64 without SSE4.1.
template <typename T>
SOFTSPLAT_HD int64_t floor_index(T value) {
  const int64_t truncated = static_cast<int64_t>(value);
  return T(truncated) > value ? truncated - 1 : truncated;
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
  SOFTSPLAT_HD bool interior(int64_t height, int64_t width) const {
    return x0 >= 0 && x0 + 1 < width && y0 >= 0 && y0 + 1 < height;
  }
  // Target pixel index of corner k, or -1 when it lies outside the image.
  SOFTSPLAT_HD int64_t target(int k, int64_t height, int64_t width) const {
    const int64_t tx = x0 + corner_dx(k);
    const int64_t ty = y0 + corner_dy(k);
    if (tx < 0 || tx >= width || ty < 0 || ty >= height) return -1;
    return ty * width + tx;
  }
};

// Computes where source pixel (x, y) moved by (u, v) lands. Returns false when no corner can be
// inside the image, which covers NaN and infinite flow (every comparison with NaN is false) and
// huge finite flow: the range test happens in floating point, before floor() is converted to an
// integer, so a flow of 1e30 never overflows an index.
template <typename T>
SOFTSPLAT_HD bool land(int64_t x, int64_t y, T u, T v, int64_t height, int64_t width,
                       Footprint<T>* fp) {
  const T tx = T(x) + u;
  const T ty = T(y) + v;
  // x0 = floor(tx) must lie in [-1, width - 1] for one of x0, x0 + 1 to be a column of the image.
  if (!(tx >= T(-1) && tx < T(width) && ty >= T(-1) && ty < T(height))) return false;
  fp->x0 = floor_index(tx);
  fp->y0 = floor_index(ty);
  fp->ax = tx - T(fp->x0);
  fp->ay = ty - T(fp->y0);
  return true;
}

// ---------------------------------------------------------------------------------------------------
// The modes, fused: instead of splatting concat([x * w, w]) and dividing afterwards, the kernels
// splat x with weight a_k * s (a_k bilinear, s the source pixel's importance) into `out`,
// accumulate the weights into an auxiliary plane `den`, and divide in place. The stable softmax
// subtracts, per target pixel, the largest metric that lands there (a max-splat pass first), so s
// <= 1 and nothing overflows.

enum class Mode : int32_t { kSum = 0, kAvg = 1, kLinear = 2, kSoft = 3 };
enum class Normalize : int32_t { kAddEps = 0, kZeroEps = 1, kClipEps = 2 };

struct Options {
  Mode mode;
  Normalize normalize;
  bool stable;  // soft mode only

  SOFTSPLAT_HD bool has_metric() const { return mode == Mode::kLinear || mode == Mode::kSoft; }
  // Channels of the auxiliary output: the weight sum, and for the stable softmax the per-target
  // max.
  SOFTSPLAT_HD int64_t aux_channels() const { return mode == Mode::kSum ? 0 : (stable ? 2 : 1); }
};

constexpr int kDen = 0;  // aux channel of the weight sum
constexpr int kMax = 1;  // aux channel of the largest metric landing on a pixel (stable soft)

template <typename T>
SOFTSPLAT_HD T exp_of(T value) {
#if defined(__CUDA_ARCH__)
  return exp(value);
#else
  return std::exp(value);
#endif
}

// The reference's three ways to keep the division finite. NaN stays NaN in all three, as in the
// composed jnp version.
template <typename T>
SOFTSPLAT_HD T normalizer(T den, Normalize n) {
  const T eps = T(1e-7);
  switch (n) {
    case Normalize::kZeroEps:
      return den == T(0) ? T(1) : den;
    case Normalize::kClipEps:
      return den < eps ? eps : den;
    default:
      return den + eps;
  }
}

template <typename T>
SOFTSPLAT_HD T normalizer_grad(T den, Normalize n) {
  switch (n) {
    case Normalize::kZeroEps:
      return den == T(0) ? T(0) : T(1);
    case Normalize::kClipEps:
      return den < T(1e-7) ? T(0) : T(1);
    default:
      return T(1);
  }
}

// Importance of a source pixel with metric z, before any per-target shift.
template <typename T>
SOFTSPLAT_HD T source_weight(const Options& o, T z) {
  switch (o.mode) {
    case Mode::kLinear:
      return z;
    case Mode::kSoft:
      return exp_of(z);
    default:
      return T(1);
  }
}

// Importance s of a source pixel at one corner. The stable softmax shifts by the corner's max; a
// corner with zero bilinear weight took no part in that max, so it gets s = 0 rather than a
// possible overflow (its contribution a * s is zero either way).
template <typename T>
SOFTSPLAT_HD T corner_weight(const Options& o, T w, T z, T a, const T* aux, int64_t max_index) {
  if (!o.stable) return w;
  return a > T(0) ? exp_of(z - aux[max_index]) : T(0);
}

// Max-splat (stable softmax, pass 1): every corner with positive weight raises its target's max.
template <typename T, typename Max>
SOFTSPLAT_HD void max_splat_pixel(const Layout& aux_layout, T z, const Footprint<T>& fp, T* aux,
                                  Max max) {
  for (int k = 0; k < kCorners; ++k) {
    const int64_t t = fp.target(k, aux_layout.height, aux_layout.width);
    if (t >= 0 && fp.weight(k) > T(0)) max(aux + aux_layout.at(kMax, t), z);
  }
}

// Where one source pixel's value goes: the target pixel of each corner (-1 when outside the image)
// and the share a_k * s_k of the value it receives.
template <typename T>
struct Shares {
  int64_t target[kCorners];
  T share[kCorners];
};

// Scatter (pass 2), first half: the shares of one source pixel, whose weights are added to the
// weight sum of their targets. `add(T* dst, T value)` accumulates. Every in-bounds corner receives
// its share even when the weight is zero, as in the reference, so a NaN in `x` reaches each pixel
// it lands on.
template <typename T, typename Add>
SOFTSPLAT_HD Shares<T> pixel_shares(const Options& o, const Layout& img, const Layout& aux_layout,
                                    T z, const Footprint<T>& fp, T* aux, Add add) {
  const T w = source_weight(o, z);
  Shares<T> s;
  for (int k = 0; k < kCorners; ++k) {
    const int64_t t = s.target[k] = fp.target(k, img.height, img.width);
    s.share[k] = T(0);
    if (t < 0) continue;
    const T a = fp.weight(k);
    s.share[k] = a * corner_weight(o, w, z, a, aux, aux_layout.at(kMax, t));
    if (o.mode != Mode::kSum) add(aux + aux_layout.at(kDen, t), s.share[k]);
  }
  return s;
}

// Scatter, second half: channel c of the source pixel into its targets.
template <typename T, typename S, typename Add>
SOFTSPLAT_HD void splat_channel(const Layout& img, int64_t c, const S* x, int64_t pixel,
                                const Shares<T>& s, T* out, Add add) {
  const T value = widen(x[img.at(c, pixel)]);
  for (int k = 0; k < kCorners; ++k) {
    if (s.target[k] >= 0) add(out + img.at(c, s.target[k]), s.share[k] * value);
  }
}

// kChannels: the number of channels when the caller knows it at compile time, else 0. Knowing it
// lets the compiler read all of the pixel's values before the first add (it cannot move a read of x
// past a write to out, which might alias) and unroll the channels: a fifth less time at C = 3 on
// the CPU.
template <int kChannels = 0, typename T, typename S, typename Add>
SOFTSPLAT_HD void splat_pixel(const Options& o, const Layout& img, const Layout& aux_layout,
                              const S* x, T z, int64_t pixel, const Footprint<T>& fp, T* out,
                              T* aux, Add add) {
  if (fp.interior(img.height, img.width)) {
    // All four corners inside, the common case: the same products as below, without the per-corner
    // bounds tests and index arithmetic.
    const int64_t t = fp.y0 * img.width + fp.x0;
    T s[kCorners];
    if (o.stable) {
      for (int k = 0; k < kCorners; ++k) {
        const T a = fp.weight(k);
        const int64_t corner = t + corner_dy(k) * img.width + corner_dx(k);
        s[k] = a * corner_weight(o, T(0), z, a, aux, aux_layout.at(kMax, corner));
      }
    } else {
      const T w = source_weight(o, z);
      for (int k = 0; k < kCorners; ++k) s[k] = fp.weight(k) * w;
    }
    if (o.mode != Mode::kSum) {
      T* den = aux + aux_layout.at(kDen, t);
      const int64_t right = aux_layout.pixel_stride;
      const int64_t down = img.width * right;
      add(den, s[0]);
      add(den + right, s[1]);
      add(den + down, s[2]);
      add(den + down + right, s[3]);
    }
    const int64_t right = img.pixel_stride;
    const int64_t down = img.width * right;
    // Named copies: with the array filled in a loop, GCC kept it in memory and stopped vectorising
    // the loop over many contiguous channels (NHWC, C = 64: a fifth slower, measured).
    const T s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
    const auto splat = [&](int64_t c, T value) {
      T* dst = out + img.at(c, t);
      add(dst, s0 * value);
      add(dst + right, s1 * value);
      add(dst + down, s2 * value);
      add(dst + down + right, s3 * value);
    };
    if (kChannels > 0) {
      T values[kChannels > 0 ? kChannels : 1];
      for (int c = 0; c < kChannels; ++c) values[c] = widen(x[img.at(c, pixel)]);
      for (int c = 0; c < kChannels; ++c) splat(c, values[c]);
    } else {
      for (int64_t c = 0; c < img.channels; ++c) splat(c, widen(x[img.at(c, pixel)]));
    }
    return;
  }
  const Shares<T> s = pixel_shares(o, img, aux_layout, z, fp, aux, add);
  for (int64_t c = 0; c < img.channels; ++c) splat_channel(img, c, x, pixel, s, out, add);
}

// Normalisation (pass 3): one output value of target pixel t.
template <typename T>
SOFTSPLAT_HD void normalize_value(const Options& o, const Layout& aux_layout, int64_t t,
                                  const T* aux, T* value) {
  *value /= normalizer(aux[aux_layout.at(kDen, t)], o.normalize);
}

// Normalisation, every channel of target pixel t.
template <typename T>
SOFTSPLAT_HD void normalize_pixel(const Options& o, const Layout& img, const Layout& aux_layout,
                                  int64_t t, T* out, const T* aux) {
  if (o.mode == Mode::kSum) return;
  for (int64_t c = 0; c < img.channels; ++c)
    normalize_value(o, aux_layout, t, aux, out + img.at(c, t));
}

// Gradients for one source pixel, given G = dL/dout and the forward's out and aux. Per corner k on
// target q, with s_k the corner weight, N = normalizer(den[q]) and N' its derivative:
//   Gn[q, c] = G[q, c] / N                          (sum mode: G)
//   Gd[q]    = -N' * sum_c G[q, c] * out[q, c] / N  (sum mode: 0)
//   T_k      = sum_c x[c] * Gn[q, c] + Gd[q]
//   dL/dx[c] = sum_k a_k s_k Gn[q_k, c]
//   dL/du    = sum_k (d a_k / du) s_k T_k     (likewise v; floor treated as constant)
//   dL/dz    = sum_k a_k T_k (linear),  sum_k a_k s_k T_k (soft; the stable max is held constant)
// Each source pixel owns its gradients, so the backward pass needs no atomics.
// The backward pass in stages, so that the CPU kernel can run the per-channel stages plane by plane
// in the planar layout; `splat_pixel_grad` runs them all for one pixel.
template <typename T>
struct GradCorners {
  int64_t base[kCorners];  // offset of the target's channel 0, or -1 when the corner is outside
  T a[kCorners];           // bilinear weight a_k
  T s[kCorners];           // importance s_k
  T as[kCorners];          // a_k s_k
  T inv[kCorners];         // 1 / N
  T tk[kCorners];          // T_k, accumulated
};

// What the normalisation contributes at target pixel q, whichever source pixels land there (not sum
// mode): 1 / N and Gd = -N' * sum_c G[q, c] * out[q, c] / N. A caller that can hold a plane of
// these computes them once per target pixel; otherwise stage 1 computes them for each corner.
template <typename T>
struct TargetTerms {
  T inv;
  T gd;
};

template <int kChannels = 0, typename T, typename S>
SOFTSPLAT_HD TargetTerms<T> target_terms(const Options& o, const Layout& img,
                                         const Layout& aux_layout, int64_t t, const T* out,
                                         const S* grad_out, const T* aux) {
  const T den = aux[aux_layout.at(kDen, t)];
  const T inv = T(1) / normalizer(den, o.normalize);
  T dot = T(0);
  for (int64_t c = 0; c < (kChannels > 0 ? kChannels : img.channels); ++c) {
    dot += T(widen(grad_out[img.at(c, t)])) * out[img.at(c, t)];
  }
  return TargetTerms<T>{inv, -normalizer_grad(den, o.normalize) * dot * inv};
}

// Stage 1: per corner, everything but the sums over the source pixel's channels; T_k starts from
// the target's Gd, read from `targets` (a plane of target_terms) when the caller has one.
template <bool kAllInside = false, typename T, typename S>
SOFTSPLAT_HD void grad_corners(const Options& o, const Layout& img, const Layout& aux_layout, T z,
                               const T* aux, const T* out, const S* grad_out,
                               const Footprint<T>& fp, const TargetTerms<T>* targets,
                               GradCorners<T>* g) {
  const T w = source_weight(o, z);
  for (int k = 0; k < kCorners; ++k) {
    const int64_t t = kAllInside ? (fp.y0 + corner_dy(k)) * img.width + fp.x0 + corner_dx(k)
                                 : fp.target(k, img.height, img.width);
    g->base[k] = t < 0 ? -1 : img.at(0, t);
    g->a[k] = fp.weight(k);
    g->s[k] = g->as[k] = g->inv[k] = g->tk[k] = T(0);
    if (!kAllInside && t < 0) continue;
    g->s[k] = corner_weight(o, w, z, g->a[k], aux, aux_layout.at(kMax, t));
    g->as[k] = g->a[k] * g->s[k];
    if (o.mode == Mode::kSum) {
      g->inv[k] = T(1);
    } else {
      const TargetTerms<T> terms =
          targets != nullptr ? targets[t] : target_terms(o, img, aux_layout, t, out, grad_out, aux);
      g->inv[k] = terms.inv;
      g->tk[k] = terms.gd;
    }
  }
}

// kAllInside in the stages below: the caller knows all four corners are inside, so the tests vanish
// and the compiler keeps the per-corner sums in registers.

// Stage 2, per channel at `offset` (c * channel_stride): dL/dx[c], and T_k += x[c] * Gn.
template <bool kAllInside = false, typename T, typename S>
SOFTSPLAT_HD T grad_channel(int64_t offset, T xc, const S* grad_out, GradCorners<T>* g) {
  T grad = T(0);
  for (int k = 0; k < kCorners; ++k) {
    if (!kAllInside && g->base[k] < 0) continue;
    const T gn = T(widen(grad_out[g->base[k] + offset])) * g->inv[k];
    grad += g->as[k] * gn;
    g->tk[k] += xc * gn;
  }
  return grad;
}

// Stage 3: the flow's and the metric's gradients from the T_k.
template <bool kAllInside = false, typename T, typename S>
SOFTSPLAT_HD void grad_flow_metric(const Options& o, const Footprint<T>& fp,
                                   const GradCorners<T>& g, S* grad_u, S* grad_v, S* grad_z) {
  T du = T(0), dv = T(0), dz = T(0);
  for (int k = 0; k < kCorners; ++k) {
    if (!kAllInside && g.base[k] < 0) continue;
    du += fp.weight_du(k) * g.s[k] * g.tk[k];
    dv += fp.weight_dv(k) * g.s[k] * g.tk[k];
    dz += o.mode == Mode::kLinear ? g.a[k] * g.tk[k] : g.as[k] * g.tk[k];
  }
  put(grad_u, du);
  put(grad_v, dv);
  if (o.has_metric()) put(grad_z, dz);
}

template <bool kAllInside, int kChannels, typename T, typename S>
SOFTSPLAT_HD_FLATTEN void pixel_grad(const Options& o, const Layout& img, const Layout& aux_layout,
                                     const S* x, T z, const T* out, const T* aux, const S* grad_out,
                                     const TargetTerms<T>* targets, int64_t pixel,
                                     const Footprint<T>& fp, S* grad_x, S* grad_u, S* grad_v,
                                     S* grad_z) {
  GradCorners<T> g;
  grad_corners<kAllInside>(o, img, aux_layout, z, aux, out, grad_out, fp, targets, &g);
  for (int64_t c = 0; c < (kChannels > 0 ? kChannels : img.channels); ++c) {
    const int64_t offset = c * img.channel_stride;
    const int64_t at = pixel * img.pixel_stride + offset;
    put(grad_x + at, grad_channel<kAllInside>(offset, T(widen(x[at])), grad_out, &g));
  }
  grad_flow_metric<kAllInside>(o, fp, g, grad_u, grad_v, grad_z);
}

template <int kChannels = 0, typename T, typename S>
SOFTSPLAT_HD void splat_pixel_grad(const Options& o, const Layout& img, const Layout& aux_layout,
                                   const S* x, T z, const T* out, const T* aux, const S* grad_out,
                                   const TargetTerms<T>* targets, int64_t pixel,
                                   const Footprint<T>& fp, S* grad_x, S* grad_u, S* grad_v,
                                   S* grad_z) {
  if (fp.interior(img.height, img.width)) {
    pixel_grad<true, kChannels>(o, img, aux_layout, x, z, out, aux, grad_out, targets, pixel, fp,
                                grad_x, grad_u, grad_v, grad_z);
  } else {
    pixel_grad<false, kChannels>(o, img, aux_layout, x, z, out, aux, grad_out, targets, pixel, fp,
                                 grad_x, grad_u, grad_v, grad_z);
  }
}

// A pixel whose flow is not finite (or lands nowhere) contributes nothing and receives zero
// gradients.
template <typename S>
SOFTSPLAT_HD void zero_pixel_grad(const Options& o, const Layout& img, int64_t pixel, S* grad_x,
                                  S* grad_u, S* grad_v, S* grad_z) {
  for (int64_t c = 0; c < img.channels; ++c) put(grad_x + img.at(c, pixel), 0.0f);
  put(grad_u, 0.0f);
  put(grad_v, 0.0f);
  if (o.has_metric()) put(grad_z, 0.0f);
}

}  // namespace softsplat
