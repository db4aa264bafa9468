// CPU loops around the shared per-pixel math. Single source pixel order (batch, row, column), so the
// result is the same from run to run.
#include <algorithm>

#include "handlers.h"
#include "problem.h"
#include "softsplat_math.h"

namespace softsplat {
namespace {

template <typename T>
void forward(const Problem& p, const T* x, const T* flow, T* out) {
  const Layout& img = p.image;
  const Layout& fl = p.flow;
  std::fill(out, out + p.batch * img.image_size(), T(0));
  const auto add = [](T* dst, T value) { *dst += value; };
  for (int64_t n = 0; n < p.batch; ++n) {
    const T* xn = x + n * img.image_size();
    const T* fn = flow + n * fl.image_size();
    T* on = out + n * img.image_size();
    for (int64_t y = 0; y < img.height; ++y) {
      for (int64_t col = 0; col < img.width; ++col) {
        const int64_t pixel = y * img.width + col;
        Footprint<T> fp;
        if (land(col, y, fn[fl.at(0, pixel)], fn[fl.at(1, pixel)], img.height, img.width, &fp)) {
          splat_pixel(xn, img, pixel, fp, on, add);
        }
      }
    }
  }
}

template <typename T>
void backward(const Problem& p, const T* x, const T* flow, const T* grad_out, T* grad_x,
              T* grad_flow) {
  const Layout& img = p.image;
  const Layout& fl = p.flow;
  for (int64_t n = 0; n < p.batch; ++n) {
    const int64_t xo = n * img.image_size();
    const int64_t fo = n * fl.image_size();
    for (int64_t y = 0; y < img.height; ++y) {
      for (int64_t col = 0; col < img.width; ++col) {
        const int64_t pixel = y * img.width + col;
        T* gu = grad_flow + fo + fl.at(0, pixel);
        T* gv = grad_flow + fo + fl.at(1, pixel);
        Footprint<T> fp;
        if (land(col, y, flow[fo + fl.at(0, pixel)], flow[fo + fl.at(1, pixel)], img.height,
                 img.width, &fp)) {
          splat_pixel_grad(x + xo, grad_out + xo, img, pixel, fp, grad_x + xo, gu, gv);
        } else {
          zero_pixel_grad(img, pixel, grad_x + xo, gu, gv);
        }
      }
    }
  }
}

ffi::Error forward_impl(ffi::AnyBuffer x, ffi::AnyBuffer flow, ffi::Result<ffi::AnyBuffer> out,
                        bool channels_last) {
  Problem p;
  if (ffi::Error e = describe(x, flow, channels_last, &p); e.failure()) return e;
  if (ffi::Error e = check_like(x, *out, "out"); e.failure()) return e;
  switch (x.element_type()) {
    case ffi::F32:
      forward(p, x.typed_data<float>(), flow.typed_data<float>(), out->typed_data<float>());
      return ffi::Error::Success();
    case ffi::F64:
      forward(p, x.typed_data<double>(), flow.typed_data<double>(), out->typed_data<double>());
      return ffi::Error::Success();
    default:
      return unsupported_dtype();
  }
}

ffi::Error backward_impl(ffi::AnyBuffer x, ffi::AnyBuffer flow, ffi::AnyBuffer grad_out,
                         ffi::Result<ffi::AnyBuffer> grad_x, ffi::Result<ffi::AnyBuffer> grad_flow,
                         bool channels_last) {
  Problem p;
  if (ffi::Error e = describe(x, flow, channels_last, &p); e.failure()) return e;
  if (ffi::Error e = check_like(x, grad_out, "grad_out"); e.failure()) return e;
  if (ffi::Error e = check_like(x, *grad_x, "grad_x"); e.failure()) return e;
  if (ffi::Error e = check_like(flow, *grad_flow, "grad_flow"); e.failure()) return e;
  switch (x.element_type()) {
    case ffi::F32:
      backward(p, x.typed_data<float>(), flow.typed_data<float>(), grad_out.typed_data<float>(),
               grad_x->typed_data<float>(), grad_flow->typed_data<float>());
      return ffi::Error::Success();
    case ffi::F64:
      backward(p, x.typed_data<double>(), flow.typed_data<double>(),
               grad_out.typed_data<double>(), grad_x->typed_data<double>(),
               grad_flow->typed_data<double>());
      return ffi::Error::Success();
    default:
      return unsupported_dtype();
  }
}

}  // namespace
}  // namespace softsplat

namespace ffi = xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(SoftsplatForwardCpu, softsplat::forward_impl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<bool>("channels_last"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(SoftsplatBackwardCpu, softsplat::backward_impl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<bool>("channels_last"));
