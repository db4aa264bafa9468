// CPU loops around the shared per-pixel math, threaded, with results that do not depend on the
// number of threads (see Bands).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "handlers.h"
#include "problem.h"
#include "scratch.h"
#include "softsplat_math.h"
#include "threads.h"

namespace softsplat {
namespace {

int default_threads() {
  if (const char* env = std::getenv("JAX_SOFTSPLAT_NUM_THREADS"))
    return std::max(1, std::atoi(env));
  return std::max(1u, std::thread::hardware_concurrency());
}

std::atomic<int> g_threads{default_threads()};

}  // namespace

int num_threads() { return g_threads.load(); }
void set_num_threads(int n) { g_threads.store(std::max(1, n)); }

namespace {

// Below this many source pixel-channels per image, one thread: starting threads would cost more.
constexpr int64_t kMinParallelWork = int64_t(1) << 16;
constexpr int64_t kMaxBandsPerPhase = 16;

// The order in which source rows are splatted. The rows are cut into 2B bands: the even bands are
// splatted first, then the odd ones. When no pixel lands more than `reach` rows from its own, bands
// of at least 2 * reach rows keep two even (or two odd) bands from ever writing the same target
// row, so the bands of one phase run in parallel without atomics, and each target pixel receives
// its contributions in the same order whatever the number of threads: results are bit-for-bit
// identical for any thread count. A flow that moves pixels too far for two bands falls back to one
// band.
struct Bands {
  int64_t count;
  int64_t rows;
  int64_t begin(int64_t b) const { return b * rows / count; }
};

template <typename Row>
void run_bands(const Bands& bands, int threads, Row row) {
  if (bands.count == 1) {
    for (int64_t y = 0; y < bands.rows; ++y) row(y);
    return;
  }
  for (int64_t phase = 0; phase < 2; ++phase) {
    parallel_for(bands.count / 2, threads, [&](int64_t i) {
      const int64_t b = 2 * i + phase;
      for (int64_t y = bands.begin(b); y < bands.begin(b + 1); ++y) row(y);
    });
  }
}

// Any split of rows into chunks, for passes whose result does not depend on the order.
template <typename Row>
void run_rows(int64_t rows, int threads, Row row) {
  const int64_t chunks = std::min<int64_t>(rows, 4 * int64_t(threads));
  parallel_for(chunks, threads, [&](int64_t i) {
    for (int64_t y = i * rows / chunks; y < (i + 1) * rows / chunks; ++y) row(y);
  });
}

// Threads for one image: small ones run on the calling thread.
int threads_for(const Layout& img) {
  return img.pixels() * std::max<int64_t>(img.channels, 1) >= kMinParallelWork ? num_threads() : 1;
}

// Where source pixel (col, y) of one image lands, its flow read from `flow` (that image's).
template <typename T, typename S>
SOFTSPLAT_ALWAYS_INLINE bool land_pixel(const Problem& p, const S* flow, int64_t col, int64_t y,
                                        Footprint<T>* fp) {
  const int64_t pixel = y * p.image.width + col;
  return land<T>(col, y, widen(flow[p.flow.at(0, pixel)]), widen(flow[p.flow.at(1, pixel)]),
                 p.image.height, p.image.width, fp);
}

// Calls fn(std::integral_constant<int, C>) for the small channel counts pixel-by-pixel loops see
// most (masks, flows, RGB, RGBA), so that they unroll over channels; fn(integral_constant<int, 0>)
// otherwise.
template <typename Fn>
void with_channel_count(int64_t channels, Fn fn) {
  switch (channels) {
    case 1:
      return fn(std::integral_constant<int, 1>());
    case 2:
      return fn(std::integral_constant<int, 2>());
    case 3:
      return fn(std::integral_constant<int, 3>());
    case 4:
      return fn(std::integral_constant<int, 4>());
    default:
      return fn(std::integral_constant<int, 0>());
  }
}

// Channel planes (NCHW) with four channels or more: the kernels then work plane by plane per row.
// With fewer, pixel by pixel is as fast and takes the branch-free path for interior pixels.
bool planar(const Layout& img) { return img.pixel_stride == 1 && img.channels >= 4; }

// Rows between a source pixel and the rows it lands on: at most floor(|v|) + 1. Pixels that land
// nowhere (non-finite v, or |v| beyond the image) do not count.
template <typename T, typename S>
Bands plan_bands(const Problem& p, const S* flow, int threads) {
  const Layout& img = p.image;
  const T limit = T(img.height + 1);
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(img.height, 4 * int64_t(threads)));
  std::vector<T> largest(chunks, T(0));
  parallel_for(chunks, threads, [&](int64_t i) {
    T top = T(0);
    for (int64_t pixel = i * img.height / chunks * img.width;
         pixel < (i + 1) * img.height / chunks * img.width; ++pixel) {
      const T v = widen(flow[p.flow.at(1, pixel)]);
      const T size = v < T(0) ? -v : v;
      if (size < limit && size > top) top = size;  // NaN fails both comparisons
    }
    largest[i] = top;
  });
  const int64_t reach = static_cast<int64_t>(*std::max_element(largest.begin(), largest.end())) + 1;
  const int64_t per_phase = std::min(kMaxBandsPerPhase, img.height / (4 * reach));
  return Bands{per_phase >= 1 ? 2 * per_phase : 1, img.height};
}

// Divides a row of one channel plane by the normalizers of its weight sums, both contiguous: with
// the kind of normalizer fixed per loop, the compiler vectorises the division (pixel by pixel
// across the planes of three channels took five times as long).
template <typename T>
void normalize_row(Normalize n, const T* den, T* values, int64_t count) {
  const auto row = [&](auto kind) {
    for (int64_t i = 0; i < count; ++i) values[i] /= normalizer(den[i], decltype(kind)::value);
  };
  switch (n) {
    case Normalize::kZeroEps:
      return row(std::integral_constant<Normalize, Normalize::kZeroEps>());
    case Normalize::kClipEps:
      return row(std::integral_constant<Normalize, Normalize::kClipEps>());
    default:
      return row(std::integral_constant<Normalize, Normalize::kAddEps>());
  }
}

// T: the type computed and accumulated in (float or double); S: the type x, flow and metric are
// stored in (T, or a half-precision type with T = float).
template <typename T, typename S>
void forward(const Problem& p, const S* x, const S* flow, const S* metric, T* out, T* aux) {
  const Layout& img = p.image;
  const Options& o = p.options;
  const auto add = [](T* dst, T value) { *dst += value; };
  // Branch-free (a select and a store): which of two metrics is larger is a coin toss the branch
  // predictor loses, and the max-splat took longer than the splat itself with a branch here.
  const auto max = [](T* dst, T value) { *dst = value > *dst ? value : *dst; };
  for (int64_t n = 0; n < p.batch; ++n) {
    const S* xn = x + n * img.image_size();
    const S* fn = flow + n * p.flow.image_size();
    const S* mn = metric + n * p.metric.image_size();
    T* on = out + n * img.image_size();
    T* an = aux + n * p.aux.image_size();
    const int threads = threads_for(img);
    // Clearing 25 MB (1080p, C = 3) takes milliseconds of one core's bandwidth: spread it.
    const int64_t chunks = std::max<int64_t>(1, 4 * int64_t(threads));
    parallel_for(chunks, threads, [&](int64_t i) {
      const int64_t size = img.image_size();
      std::fill(on + i * size / chunks, on + (i + 1) * size / chunks, T(0));
      for (int64_t t = i * img.pixels() / chunks; t < (i + 1) * img.pixels() / chunks; ++t) {
        if (p.aux.channels > kDen) an[p.aux.at(kDen, t)] = T(0);
        if (p.aux.channels > kMax) an[p.aux.at(kMax, t)] = -std::numeric_limits<T>::infinity();
      }
    });
    const Bands bands = plan_bands<T>(p, fn, threads);
    // Calls visit(pixel, z, footprint) for every source pixel of row y that lands. Even columns
    // first, then odd ones: neighbouring pixels usually share target pixels, and an add that waits
    // for the store of the previous pixel's add to the same place would serialise the row.
    const auto for_each_landing = [&](int64_t y, auto visit) {
      for (int64_t first = 0; first < 2; ++first) {
        for (int64_t col = first; col < img.width; col += 2) {
          const int64_t pixel = y * img.width + col;
          Footprint<T> fp;
          if (land_pixel(p, fn, col, y, &fp)) {
            visit(pixel, o.has_metric() ? T(widen(mn[p.metric.at(0, pixel)])) : T(0), fp);
          }
        }
      }
    };
    if (o.stable) {
      run_bands(bands, threads, [&](int64_t y) {
        for_each_landing(y, [&](int64_t, T z, const Footprint<T>& fp) {
          max_splat_pixel(p.aux, z, fp, an, max);
        });
      });
    }
    if (planar(img)) {
      // One channel plane at a time per row: the loop streams through one input row and two output
      // rows, instead of touching every plane (a different page each) for every pixel. The order
      // of the additions into each output value is the same as pixel by pixel.
      run_bands(bands, threads, [&](int64_t y) {
        thread_local std::vector<std::pair<int64_t, Shares<T>>> row;
        row.clear();
        for_each_landing(y, [&](int64_t pixel, T z, const Footprint<T>& fp) {
          row.emplace_back(pixel, pixel_shares(o, img, p.aux, z, fp, an, add));
        });
        for (int64_t c = 0; c < img.channels; ++c) {
          for (const auto& [pixel, shares] : row) splat_channel(img, c, xn, pixel, shares, on, add);
        }
      });
    } else {
      with_channel_count(img.channels, [&](auto channels) {
        run_bands(bands, threads, [&](int64_t y) {
          for_each_landing(y, [&](int64_t pixel, T z, const Footprint<T>& fp) {
            splat_pixel<decltype(channels)::value>(o, img, p.aux, xn, z, pixel, fp, on, an, add);
          });
        });
      });
    }
    if (o.mode != Mode::kSum) {
      run_rows(img.height, threads, [&](int64_t y) {
        const int64_t begin = y * img.width, end = (y + 1) * img.width;
        if (img.pixel_stride == 1) {
          const T* den = an + p.aux.at(kDen, begin);
          for (int64_t c = 0; c < img.channels; ++c) {
            normalize_row(o.normalize, den, on + img.at(c, begin), img.width);
          }
        } else {
          for (int64_t t = begin; t < end; ++t) normalize_pixel(o, img, p.aux, t, on, an);
        }
      });
    }
  }
}

template <typename T, typename S>
void backward(const Problem& p, const S* x, const S* flow, const S* metric, const T* out,
              const T* aux, const S* grad_out, S* grad_x, S* grad_flow, S* grad_metric,
              TargetTerms<T>* targets) {
  const Layout& img = p.image;
  const Options& o = p.options;
  for (int64_t n = 0; n < p.batch; ++n) {
    const int64_t xo = n * img.image_size();
    const int64_t fo = n * p.flow.image_size();
    const int64_t mo = n * p.metric.image_size();
    const int64_t ao = n * p.aux.image_size();
    const int threads = threads_for(img);
    if (targets) {
      with_channel_count(img.channels, [&](auto channels) {
        run_rows(img.height, threads, [&](int64_t y) {
          for (int64_t t = y * img.width; t < (y + 1) * img.width; ++t) {
            targets[t] = target_terms<decltype(channels)::value>(o, img, p.aux, t, out + xo,
                                                                 grad_out + xo, aux + ao);
          }
        });
      });
    }
    // Gradient pointers and metric of one source pixel.
    const auto grad_u = [&](int64_t pixel) { return grad_flow + fo + p.flow.at(0, pixel); };
    const auto grad_v = [&](int64_t pixel) { return grad_flow + fo + p.flow.at(1, pixel); };
    const auto grad_z = [&](int64_t pixel) {
      thread_local S sink;  // receives the metric gradient of modes without a metric
      return o.has_metric() ? grad_metric + mo + p.metric.at(0, pixel) : &sink;
    };
    const auto metric_at = [&](int64_t pixel) {
      return o.has_metric() ? T(widen(metric[mo + p.metric.at(0, pixel)])) : T(0);
    };
    if (planar(img)) {
      // The stages of the gradient plane by plane per row (see the forward pass for why).
      run_rows(img.height, threads, [&](int64_t y) {
        struct Pixel {
          Footprint<T> fp;
          GradCorners<T> g;
          bool lands;
        };
        thread_local std::vector<Pixel> row;
        row.resize(img.width);
        for (int64_t col = 0; col < img.width; ++col) {
          Pixel& px = row[col];
          px.lands = land_pixel(p, flow + fo, col, y, &px.fp);
          if (px.lands) {
            grad_corners(o, img, p.aux, metric_at(y * img.width + col), aux + ao, out + xo,
                         grad_out + xo, px.fp, targets, &px.g);
          }
        }
        for (int64_t c = 0; c < img.channels; ++c) {
          for (int64_t col = 0; col < img.width; ++col) {
            const int64_t at = xo + img.at(c, y * img.width + col);
            put(grad_x + at, row[col].lands ? grad_channel(c * img.channel_stride, T(widen(x[at])),
                                                           grad_out + xo, &row[col].g)
                                            : T(0));
          }
        }
        for (int64_t col = 0; col < img.width; ++col) {
          const int64_t pixel = y * img.width + col;
          if (row[col].lands) {
            grad_flow_metric(o, row[col].fp, row[col].g, grad_u(pixel), grad_v(pixel),
                             grad_z(pixel));
          } else {
            for (S* grad : {grad_u(pixel), grad_v(pixel), grad_z(pixel)}) put(grad, T(0));
          }
        }
      });
      continue;
    }
    with_channel_count(img.channels, [&](auto channels) {
      run_rows(img.height, threads, [&](int64_t y) {
        for (int64_t col = 0; col < img.width; ++col) {
          const int64_t pixel = y * img.width + col;
          Footprint<T> fp;
          if (land_pixel(p, flow + fo, col, y, &fp)) {
            splat_pixel_grad<decltype(channels)::value>(
                o, img, p.aux, x + xo, metric_at(pixel), out + xo, aux + ao, grad_out + xo, targets,
                pixel, fp, grad_x + xo, grad_u(pixel), grad_v(pixel), grad_z(pixel));
          } else {
            zero_pixel_grad(o, img, pixel, grad_x + xo, grad_u(pixel), grad_v(pixel),
                            grad_z(pixel));
          }
        }
      });
    });
  }
}

template <typename T, typename S>
ffi::Error forward_typed(const Problem& p, ffi::AnyBuffer x, ffi::AnyBuffer flow,
                         ffi::AnyBuffer metric, ffi::AnyBuffer out, ffi::AnyBuffer aux) {
  forward(p, data<S>(x), data<S>(flow), data<S>(metric), data<T>(out), data<T>(aux));
  return ffi::Error::Success();
}

template <typename T, typename S>
ffi::Error backward_typed(const Problem& p, ffi::AnyBuffer x, ffi::AnyBuffer flow,
                          ffi::AnyBuffer metric, ffi::AnyBuffer out, ffi::AnyBuffer aux,
                          ffi::AnyBuffer grad_out, ffi::AnyBuffer grad_x, ffi::AnyBuffer grad_flow,
                          ffi::AnyBuffer grad_metric) {
  // The normalisation's terms of each target pixel, computed once before the source pixels that
  // land there use them (up to four times each, and in the planar path once per channel pass).
  Scratch<TargetTerms<T>> targets;
  if (p.options.mode != Mode::kSum) {
    targets = make_scratch<TargetTerms<T>>(p.image.pixels());
    if (!targets) {
      return ffi::Error(ffi::ErrorCode::kResourceExhausted,
                        "softsplat backward: no memory for the " +
                            std::to_string(p.image.pixels() * sizeof(TargetTerms<T>)) +
                            "-byte plane of per-target terms");
    }
  }
  backward(p, data<S>(x), data<S>(flow), data<S>(metric), data<T>(out), data<T>(aux),
           data<S>(grad_out), data<S>(grad_x), data<S>(grad_flow), data<S>(grad_metric),
           targets.get());
  return ffi::Error::Success();
}

ffi::Error forward_impl(ffi::AnyBuffer x, ffi::AnyBuffer flow, ffi::AnyBuffer metric,
                        ffi::Result<ffi::AnyBuffer> out, ffi::Result<ffi::AnyBuffer> aux,
                        bool channels_last, int32_t mode, int32_t normalize, bool stable) {
  Problem p;
  const Attrs attrs{channels_last, mode, normalize, stable};
  if (ffi::Error e = describe_forward(x, flow, metric, *out, *aux, attrs, &p); e.failure())
    return e;
  switch (x.element_type()) {
    case ffi::F32:
      return forward_typed<float, float>(p, x, flow, metric, *out, *aux);
    case ffi::F64:
      return forward_typed<double, double>(p, x, flow, metric, *out, *aux);
    case ffi::BF16:
      return forward_typed<float, BFloat16>(p, x, flow, metric, *out, *aux);
    case ffi::F16:
      return forward_typed<float, Float16>(p, x, flow, metric, *out, *aux);
    default:
      return unsupported_dtype();
  }
}

ffi::Error backward_impl(ffi::AnyBuffer x, ffi::AnyBuffer flow, ffi::AnyBuffer metric,
                         ffi::AnyBuffer out, ffi::AnyBuffer aux, ffi::AnyBuffer grad_out,
                         ffi::Result<ffi::AnyBuffer> grad_x, ffi::Result<ffi::AnyBuffer> grad_flow,
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
      return backward_typed<float, float>(p, x, flow, metric, out, aux, grad_out, *grad_x,
                                          *grad_flow, *grad_metric);
    case ffi::F64:
      return backward_typed<double, double>(p, x, flow, metric, out, aux, grad_out, *grad_x,
                                            *grad_flow, *grad_metric);
    case ffi::BF16:
      return backward_typed<float, BFloat16>(p, x, flow, metric, out, aux, grad_out, *grad_x,
                                             *grad_flow, *grad_metric);
    case ffi::F16:
      return backward_typed<float, Float16>(p, x, flow, metric, out, aux, grad_out, *grad_x,
                                            *grad_flow, *grad_metric);
    default:
      return unsupported_dtype();
  }
}

}  // namespace
}  // namespace softsplat

namespace ffi = xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(SoftsplatForwardCpu, softsplat::forward_impl,
                              SOFTSPLAT_FORWARD_BINDING(ffi::Ffi::Bind()));
XLA_FFI_DEFINE_HANDLER_SYMBOL(SoftsplatBackwardCpu, softsplat::backward_impl,
                              SOFTSPLAT_BACKWARD_BINDING(ffi::Ffi::Bind()));
