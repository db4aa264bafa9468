// The XLA FFI handlers this project exports, one pair per platform. Registration (the pybind11
// modules) only needs these symbols; the math lives in softsplat_math.h and the loops in
// cpu_ops.cc / cuda_ops.cu.
#pragma once

#include "xla/ffi/api/ffi.h"

// Forward: (x, flow) -> out, summation splatting. Attribute: bool channels_last.
// Backward: (x, flow, grad_out) -> (grad_x, grad_flow). Attribute: bool channels_last.
XLA_FFI_DECLARE_HANDLER_SYMBOL(SoftsplatForwardCpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(SoftsplatBackwardCpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(SoftsplatForwardCuda);
XLA_FFI_DECLARE_HANDLER_SYMBOL(SoftsplatBackwardCuda);
