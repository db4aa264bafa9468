// The XLA FFI handlers this project exports, one pair per platform, and their bindings.
// Registration (the pybind11 modules) only needs these symbols; the math lives in softsplat_math.h
// and the loops in cpu_ops.cc / cuda_ops.cu.
#pragma once

#include "xla/ffi/api/ffi.h"

// Forward: (x, flow, metric) -> (out, aux). Backward: (x, flow, metric, out, aux, grad_out) ->
// (grad_x, grad_flow, grad_metric). Attributes of both: channels_last (bool), mode (int32: sum,
// avg, linear, soft), normalize (int32: addeps, zeroeps, clipeps), stable (bool). The CUDA bindings
// put the stream context in front of these.
#define SOFTSPLAT_ATTRS(binding)   \
  (binding)                        \
      .Attr<bool>("channels_last") \
      .Attr<int32_t>("mode")       \
      .Attr<int32_t>("normalize")  \
      .Attr<bool>("stable")
#define SOFTSPLAT_FORWARD_BINDING(bind)             \
  SOFTSPLAT_ATTRS((bind)                            \
                      .Arg<::xla::ffi::AnyBuffer>() \
                      .Arg<::xla::ffi::AnyBuffer>() \
                      .Arg<::xla::ffi::AnyBuffer>() \
                      .Ret<::xla::ffi::AnyBuffer>() \
                      .Ret<::xla::ffi::AnyBuffer>())
#define SOFTSPLAT_BACKWARD_BINDING(bind)            \
  SOFTSPLAT_ATTRS((bind)                            \
                      .Arg<::xla::ffi::AnyBuffer>() \
                      .Arg<::xla::ffi::AnyBuffer>() \
                      .Arg<::xla::ffi::AnyBuffer>() \
                      .Arg<::xla::ffi::AnyBuffer>() \
                      .Arg<::xla::ffi::AnyBuffer>() \
                      .Arg<::xla::ffi::AnyBuffer>() \
                      .Ret<::xla::ffi::AnyBuffer>() \
                      .Ret<::xla::ffi::AnyBuffer>() \
                      .Ret<::xla::ffi::AnyBuffer>())

XLA_FFI_DECLARE_HANDLER_SYMBOL(SoftsplatForwardCpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(SoftsplatBackwardCpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(SoftsplatForwardCuda);
XLA_FFI_DECLARE_HANDLER_SYMBOL(SoftsplatBackwardCuda);
