// Python module exposing the FFI handlers as capsules for jax.ffi.register_ffi_target. Compiled as
// jax_softsplat._cpu, and as jax_softsplat._cuda12 / _cuda13 with each CUDA toolkit found
// (SOFTSPLAT_WITH_CUDA), so that the CPU module never depends on the CUDA runtime.
#include <pybind11/pybind11.h>

#include "handlers.h"
#if !defined(SOFTSPLAT_WITH_CUDA)
#include "threads.h"
#endif

namespace py = pybind11;

namespace {

template <typename Fn>
py::capsule capsule(Fn* fn) {
  static_assert(std::is_invocable_r_v<XLA_FFI_Error*, Fn, XLA_FFI_CallFrame*>,
                "an XLA FFI handler has the signature XLA_FFI_Error*(XLA_FFI_CallFrame*)");
  return py::capsule(reinterpret_cast<void*>(fn));
}

}  // namespace

PYBIND11_MODULE(SOFTSPLAT_MODULE_NAME, m) {
  m.doc() = "XLA FFI handlers of jax_softsplat";
  // The jaxlib whose FFI headers this module was compiled against; jax_softsplat refuses to
  // register the handlers into an older jaxlib, whose runtime may not understand them.
  m.attr("built_with_jaxlib") = SOFTSPLAT_JAXLIB_VERSION;
  m.def("registrations", []() {
    py::dict targets;
#if defined(SOFTSPLAT_WITH_CUDA)
    targets["jax_softsplat_forward"] = capsule(SoftsplatForwardCuda);
    targets["jax_softsplat_backward"] = capsule(SoftsplatBackwardCuda);
#else
    targets["jax_softsplat_forward"] = capsule(SoftsplatForwardCpu);
    targets["jax_softsplat_backward"] = capsule(SoftsplatBackwardCpu);
#endif
    return targets;
  });
#if !defined(SOFTSPLAT_WITH_CUDA)
  m.def("num_threads", &softsplat::num_threads, "Threads the CPU kernel uses for large images.");
  m.def("set_num_threads", &softsplat::set_num_threads, py::arg("n"),
        "Sets the threads the CPU kernel may use (default: the machine's cores, or "
        "$JAX_SOFTSPLAT_NUM_THREADS).");
#endif
}
