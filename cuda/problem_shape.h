// The shape of one splatting call as the kernels see it: plain data, passed to every CUDA kernel by
// value, so that it compiles for NVRTC (no standard library beyond <cstdint>) as for nvcc and the
// host.
#pragma once

#include <cstdint>

#include "softsplat_math.h"

namespace softsplat {

// Every dimension before the last three (C, H, W in some order) is a batch dimension: that is how
// `vmap_method="broadcast_all"` hands batched calls to the kernel.
struct Problem {
  int64_t batch;
  Options options;
  Layout image;   // x, out, grad_out, grad_x
  Layout flow;    // flow and grad_flow: two channels, u then v
  Layout metric;  // metric and grad_metric: one channel, or none in sum and avg modes
  Layout aux;     // the forward's auxiliary output: Options::aux_channels() channels
};

}  // namespace softsplat
