// The shape of one splatting call, read from the FFI buffers and checked. The Python wrapper validates
// user input with friendly messages first; these checks are the last line of defence, so a malformed
// call from elsewhere (another wrapper, a hand-written custom call) gets an FFI error, never an
// out-of-bounds access.
#pragma once

#include <cstdint>
#include <string>

#include "softsplat_math.h"
#include "xla/ffi/api/ffi.h"

namespace softsplat {

namespace ffi = xla::ffi;

// Every dimension before the last three (C, H, W in some order) is a batch dimension: that is how
// `vmap_method="broadcast_all"` hands batched calls to the kernel.
struct Problem {
  int64_t batch;
  Layout image;  // x, out, grad_out, grad_x
  Layout flow;   // flow and grad_flow: two channels, u then v
};

inline std::string dims_string(ffi::Span<const int64_t> dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

inline ffi::Error describe(ffi::AnyBuffer x, ffi::AnyBuffer flow, bool channels_last,
                           Problem* problem) {
  const auto xd = x.dimensions();
  const auto fd = flow.dimensions();
  if (xd.size() < 3 || fd.size() != xd.size()) {
    return ffi::Error::InvalidArgument("softsplat: x " + dims_string(xd) + " and flow " +
                                       dims_string(fd) + " must have the same rank >= 3");
  }
  if (x.element_type() != flow.element_type()) {
    return ffi::Error::InvalidArgument("softsplat: x and flow must have the same dtype");
  }
  const size_t r = xd.size();
  const int64_t c = channels_last ? xd[r - 1] : xd[r - 3];
  const int64_t h = channels_last ? xd[r - 3] : xd[r - 2];
  const int64_t w = channels_last ? xd[r - 2] : xd[r - 1];
  const int64_t fc = channels_last ? fd[r - 1] : fd[r - 3];
  const int64_t fh = channels_last ? fd[r - 3] : fd[r - 2];
  const int64_t fw = channels_last ? fd[r - 2] : fd[r - 1];
  bool batch_matches = true;
  int64_t batch = 1;
  for (size_t i = 0; i + 3 < r; ++i) {
    batch *= xd[i];
    batch_matches = batch_matches && xd[i] == fd[i];
  }
  if (!batch_matches || fc != 2 || fh != h || fw != w) {
    return ffi::Error::InvalidArgument("softsplat: flow " + dims_string(fd) +
                                       " does not match x " + dims_string(xd) +
                                       " (expected 2 flow channels and the same N, H, W)");
  }
  *problem = Problem{batch, make_layout(channels_last, c, h, w), make_layout(channels_last, 2, h, w)};
  return ffi::Error::Success();
}

// The backward pass also reads grad_out, which must look exactly like x.
inline ffi::Error check_like(ffi::AnyBuffer x, ffi::AnyBuffer other, const char* name) {
  if (other.element_type() != x.element_type() || !(other.dimensions() == x.dimensions())) {
    return ffi::Error::InvalidArgument(std::string("softsplat: ") + name + " " +
                                       dims_string(other.dimensions()) +
                                       " must have the dtype and shape of x " +
                                       dims_string(x.dimensions()));
  }
  return ffi::Error::Success();
}

inline ffi::Error unsupported_dtype() {
  return ffi::Error::InvalidArgument("softsplat: the kernel takes float32 or float64");
}

}  // namespace softsplat
