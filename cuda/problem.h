// The shape of one splatting call, read from the FFI buffers and checked. The Python wrapper
// validates user input with friendly messages first; these checks are the last line of defence, so
// a malformed call from elsewhere (another wrapper, a hand-written custom call) gets an FFI error,
// never an out-of-bounds access.
#pragma once

#include <cstdint>
#include <string>

#include "problem_shape.h"
#include "softsplat_math.h"
#include "xla/ffi/api/ffi.h"

namespace softsplat {

namespace ffi = xla::ffi;

inline std::string dims_string(ffi::Span<const int64_t> dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// Reads the attributes shared by every handler; rejects values the enums do not know.
inline ffi::Error read_options(int32_t mode, int32_t normalize, bool stable, Options* options) {
  if (mode < 0 || mode > 3 || normalize < 0 || normalize > 2) {
    return ffi::Error::InvalidArgument("softsplat: unknown mode " + std::to_string(mode) +
                                       " or normalize " + std::to_string(normalize));
  }
  if (stable && mode != static_cast<int32_t>(Mode::kSoft)) {
    return ffi::Error::InvalidArgument("softsplat: stable applies to soft mode only");
  }
  *options = Options{static_cast<Mode>(mode), static_cast<Normalize>(normalize), stable};
  return ffi::Error::Success();
}

// The dtypes of a call: x, flow and metric, and their gradients, are stored in one of float32,
// float64, bfloat16 and float16, and so is grad_out (the cotangent of an output in x's dtype); out
// and aux are in the type the kernels compute and accumulate in: float64 for float64 inputs, else
// float32.
inline bool supported_input(ffi::DataType t) {
  return t == ffi::F32 || t == ffi::F64 || t == ffi::BF16 || t == ffi::F16;
}
inline ffi::DataType compute_type(ffi::DataType input) {
  return input == ffi::F64 ? ffi::F64 : ffi::F32;
}

inline ffi::Error unsupported_dtype() {
  return ffi::Error::InvalidArgument(
      "softsplat: the kernel takes x, flow and metric in float32, float64, bfloat16 or float16");
}

inline std::string dtype_name(ffi::DataType t) {
  switch (t) {
    case ffi::F32:
      return "float32";
    case ffi::F64:
      return "float64";
    case ffi::BF16:
      return "bfloat16";
    case ffi::F16:
      return "float16";
    default:
      return "other";
  }
}

template <typename T>
T* data(ffi::AnyBuffer buffer) {
  return static_cast<T*>(buffer.untyped_data());
}

// Checks that `buffer` is an image of the batch of `x` with `channels` channels, of dtype `dtype`.
inline ffi::Error check_image(ffi::AnyBuffer x, ffi::AnyBuffer buffer, int64_t channels,
                              bool channels_last, const char* name, ffi::DataType dtype) {
  const auto xd = x.dimensions();
  const auto bd = buffer.dimensions();
  bool ok = bd.size() == xd.size() && buffer.element_type() == dtype;
  const size_t r = xd.size();
  for (size_t i = 0; ok && i < r; ++i) {
    const bool channel_axis = i == (channels_last ? r - 1 : r - 3);
    ok = bd[i] == (channel_axis ? channels : xd[i]);
  }
  if (ok) return ffi::Error::Success();
  return ffi::Error::InvalidArgument(
      std::string("softsplat: ") + name + " " + dims_string(bd) + " does not match x " +
      dims_string(xd) + " (expected " + std::to_string(channels) +
      " channels, the same N, H, W, dtype " + dtype_name(dtype) + ")");
}

inline ffi::Error describe(ffi::AnyBuffer x, ffi::AnyBuffer flow, ffi::AnyBuffer metric,
                           const Options& options, bool channels_last, Problem* problem) {
  const auto xd = x.dimensions();
  if (!supported_input(x.element_type())) return unsupported_dtype();
  if (xd.size() < 3) {
    return ffi::Error::InvalidArgument("softsplat: x " + dims_string(xd) + " must have rank >= 3");
  }
  const ffi::DataType input = x.element_type();
  if (ffi::Error e = check_image(x, flow, 2, channels_last, "flow", input); e.failure()) return e;
  const int64_t metric_channels = options.has_metric() ? 1 : 0;
  if (ffi::Error e = check_image(x, metric, metric_channels, channels_last, "metric", input);
      e.failure()) {
    return e;
  }
  const size_t r = xd.size();
  const int64_t c = channels_last ? xd[r - 1] : xd[r - 3];
  const int64_t h = channels_last ? xd[r - 3] : xd[r - 2];
  const int64_t w = channels_last ? xd[r - 2] : xd[r - 1];
  int64_t batch = 1;
  for (size_t i = 0; i + 3 < r; ++i) batch *= xd[i];
  *problem = Problem{batch,
                     options,
                     make_layout(channels_last, c, h, w),
                     make_layout(channels_last, 2, h, w),
                     make_layout(channels_last, metric_channels, h, w),
                     make_layout(channels_last, options.aux_channels(), h, w)};
  return ffi::Error::Success();
}

// The attributes every handler takes, in the order the bindings declare them.
struct Attrs {
  bool channels_last;
  int32_t mode;
  int32_t normalize;
  bool stable;
};

// Forward call: (x, flow, metric) -> (out, aux).
inline ffi::Error describe_forward(ffi::AnyBuffer x, ffi::AnyBuffer flow, ffi::AnyBuffer metric,
                                   ffi::AnyBuffer out, ffi::AnyBuffer aux, const Attrs& attrs,
                                   Problem* p) {
  Options options;
  if (ffi::Error e = read_options(attrs.mode, attrs.normalize, attrs.stable, &options);
      e.failure()) {
    return e;
  }
  if (ffi::Error e = describe(x, flow, metric, options, attrs.channels_last, p); e.failure())
    return e;
  const ffi::DataType compute = compute_type(x.element_type());
  if (ffi::Error e = check_image(x, out, p->image.channels, attrs.channels_last, "out", compute);
      e.failure()) {
    return e;
  }
  return check_image(x, aux, p->aux.channels, attrs.channels_last, "aux", compute);
}

// Backward call: (x, flow, metric, out, aux, grad_out) -> (grad_x, grad_flow, grad_metric).
inline ffi::Error describe_backward(ffi::AnyBuffer x, ffi::AnyBuffer flow, ffi::AnyBuffer metric,
                                    ffi::AnyBuffer out, ffi::AnyBuffer aux, ffi::AnyBuffer grad_out,
                                    ffi::AnyBuffer grad_x, ffi::AnyBuffer grad_flow,
                                    ffi::AnyBuffer grad_metric, const Attrs& attrs, Problem* p) {
  if (ffi::Error e = describe_forward(x, flow, metric, out, aux, attrs, p); e.failure()) return e;
  const bool cl = attrs.channels_last;
  const struct {
    ffi::AnyBuffer buffer;
    int64_t channels;
    const char* name;
    ffi::DataType dtype;
  } checks[] = {{grad_out, p->image.channels, "grad_out", x.element_type()},
                {grad_x, p->image.channels, "grad_x", x.element_type()},
                {grad_flow, 2, "grad_flow", x.element_type()},
                {grad_metric, p->metric.channels, "grad_metric", x.element_type()}};
  for (const auto& check : checks) {
    if (ffi::Error e = check_image(x, check.buffer, check.channels, cl, check.name, check.dtype);
        e.failure()) {
      return e;
    }
  }
  return ffi::Error::Success();
}

}  // namespace softsplat
