// The host half of the CUDA kernel: the FFI handlers, which check the call, clear the output and
// launch the kernels of cuda_kernels.cuh on the stream XLA passes. Compiled three ways (see
// docs/gpu.md):
// - by nvcc, with the kernels in this translation unit, launched with <<<>>> (_cuda13);
// - by the host C++ compiler against the CUDA runtime's headers, launching the kernels by name from
//   the fatbin NVRTC made (kernel_image.h; _cuda12, built from PyPI packages without a CUDA 12
//   nvcc);
// - by the host C++ compiler against gpu_emulation.h (tests), launching by name too, so that the
// CPU
//   tests run the code that loads the image and looks the kernels up.
#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include "cuda_kernels.cuh"
// Kernel launch, spelled as a macro so that the by-name builds can replace the <<<>>> syntax:
// SOFTSPLAT_LAUNCH(grid, block, stream, kernel, template arguments...)(arguments...).
#define SOFTSPLAT_LAUNCH(grid, block, stream, kernel, ...) \
  kernel<__VA_ARGS__><<<grid, block, 0, stream>>>
#else
#if defined(SOFTSPLAT_GPU_EMULATION)
#include "gpu_emulation_kernels.h"
#elif defined(SOFTSPLAT_KERNELS_BY_NAME)
#include <cuda_runtime_api.h>
#else
#error \
    "cuda_ops.cu is compiled by nvcc, by a C++ compiler with SOFTSPLAT_KERNELS_BY_NAME (NVRTC's fatbin) or with SOFTSPLAT_GPU_EMULATION (tests)"
#endif
#include <map>
#include <mutex>

#include "kernel_image.h"
#define SOFTSPLAT_LAUNCH(grid, block, stream, kernel, ...) \
  ::softsplat::KernelByName { grid, block, stream, ::softsplat::kernel_key<__VA_ARGS__>(#kernel) }
#endif

#include <algorithm>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "handlers.h"
#include "problem.h"
#include "softsplat_math.h"

namespace softsplat {
namespace {

constexpr int kThreads = 256;

#if !defined(__CUDACC__)
// ---- Launching by name --------------------------------------------------------------------------
// The image is loaded into the process once, at the first launch, with cudaLibraryLoadData (CUDA
// 12.0's context-independent loading: one library for every device), and each kernel is looked up
// once by the symbol kernel_symbol() gives for its key.

// The key of a kernel instance: its SOFTSPLAT_KERNEL_INSTANCES entry, e.g. "splat_kernel<float,
// BFloat16>".
template <typename T>
constexpr const char* type_key() {
  if constexpr (std::is_same_v<T, float>) return "float";
  if constexpr (std::is_same_v<T, double>) return "double";
  if constexpr (std::is_same_v<T, BFloat16>) return "BFloat16";
  if constexpr (std::is_same_v<T, Float16>) return "Float16";
}

template <typename... Types>
std::string kernel_key(const char* kernel) {
  std::string key = std::string(kernel) + "<";
  const char* separator = "";
  for (const char* type : {type_key<Types>()...}) {
    key = key + separator + type;
    separator = ", ";
  }
  return key + ">";
}

// Why the last launch by name on this thread failed before reaching the runtime (empty: it did
// not); last_cuda_error() reports it with the runtime's own errors.
thread_local std::string by_name_failure;

class KernelLibrary {
 public:
  static KernelLibrary& instance() {
    static KernelLibrary library;
    return library;
  }

  // The kernel of `key`, or nullptr with by_name_failure set.
  cudaKernel_t kernel(const std::string& key) {
    if (load_status_ != cudaSuccess) {
      by_name_failure =
          std::string("loading the kernels' fatbin: ") + cudaGetErrorString(load_status_);
      return nullptr;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (const auto found = kernels_.find(key); found != kernels_.end()) return found->second;
    const char* symbol = kernel_symbol(key.c_str());
    if (symbol == nullptr) {
      by_name_failure = "no kernel " + key + " in the fatbin";
      return nullptr;
    }
    cudaKernel_t kernel = nullptr;
    if (const cudaError_t e = cudaLibraryGetKernel(&kernel, library_, symbol); e != cudaSuccess) {
      by_name_failure = "finding kernel " + key + ": " + cudaGetErrorString(e);
      return nullptr;
    }
    kernels_.emplace(key, kernel);
    return kernel;
  }

 private:
  KernelLibrary() {
    load_status_ =
        cudaLibraryLoadData(&library_, kernel_image(), nullptr, nullptr, 0, nullptr, nullptr, 0);
  }

  cudaLibrary_t library_ = nullptr;
  cudaError_t load_status_ = cudaSuccess;
  std::mutex mutex_;
  std::map<std::string, cudaKernel_t> kernels_;
};

// SOFTSPLAT_LAUNCH(...)(arguments...) in the by-name builds: cudaLaunchKernel with a pointer to
// each argument. The arguments must have the kernel's parameter types up to const (the host cannot
// see the kernel's declaration here); the emulation, which can, checks that they do.
struct KernelByName {
  int64_t grid;
  int64_t block;
  cudaStream_t stream;
  std::string key;

  template <typename... Args>
  void operator()(Args... args) const {
    const cudaKernel_t kernel = KernelLibrary::instance().kernel(key);
    if (kernel == nullptr) return;
    void* pointers[] = {static_cast<void*>(&args)...};
    dim3 grid_dim, block_dim;
    grid_dim.x = static_cast<unsigned int>(grid);
    block_dim.x = static_cast<unsigned int>(block);
    if (const cudaError_t e = cudaLaunchKernel(reinterpret_cast<const void*>(kernel), grid_dim,
                                               block_dim, pointers, 0, stream);
        e != cudaSuccess) {
      by_name_failure = key + ": " + cudaGetErrorString(e);
    }
  }
};
#endif  // !defined(__CUDACC__)

int blocks_for(int64_t work) {
  // Grid-stride loops make any grid correct; cap it so huge batches do not overflow gridDim.x.
  return static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>((work + kThreads - 1) / kThreads, int64_t(1) << 20)));
}

ffi::Error last_cuda_error(const char* what) {
  const cudaError_t status = cudaGetLastError();
#if !defined(__CUDACC__)
  if (!by_name_failure.empty()) {
    const std::string failure = std::move(by_name_failure);
    by_name_failure.clear();
    return ffi::Error::Internal(std::string("softsplat: ") + what + ": " + failure);
  }
#endif
  if (status == cudaSuccess) return ffi::Error::Success();
  return ffi::Error::Internal(std::string("softsplat: ") + what + ": " +
                              cudaGetErrorString(status));
}

template <typename T, typename S>
ffi::Error forward_typed(cudaStream_t stream, const Problem& p, ffi::AnyBuffer x,
                         ffi::AnyBuffer flow, ffi::AnyBuffer metric, ffi::AnyBuffer out,
                         ffi::AnyBuffer aux) {
  if (cudaMemsetAsync(out.untyped_data(), 0, out.size_bytes(), stream) != cudaSuccess) {
    return last_cuda_error("clearing the output");
  }
  const int64_t work = p.batch * p.image.pixels();
  if (work == 0) return ffi::Error::Success();
  const int blocks = blocks_for(work);
  T* out_data = data<T>(out);
  T* aux_data = data<T>(aux);
  SOFTSPLAT_LAUNCH(blocks, kThreads, stream, init_aux_kernel, T)(p, aux_data);
  for (const bool max_pass : {true, false}) {
    if (max_pass && !p.options.stable) continue;
    SOFTSPLAT_LAUNCH(blocks, kThreads, stream, splat_kernel, T, S)(
        p, max_pass, data<S>(x), data<S>(flow), data<S>(metric), out_data, aux_data);
  }
  if (p.options.mode != Mode::kSum) {
    SOFTSPLAT_LAUNCH(blocks, kThreads, stream, normalize_kernel, T)(p, out_data, aux_data);
  }
  return last_cuda_error("forward launch");
}

template <typename T, typename S>
ffi::Error backward_typed(cudaStream_t stream, const Problem& p, ffi::AnyBuffer x,
                          ffi::AnyBuffer flow, ffi::AnyBuffer metric, ffi::AnyBuffer out,
                          ffi::AnyBuffer aux, ffi::AnyBuffer grad_out, ffi::AnyBuffer grad_x,
                          ffi::AnyBuffer grad_flow, ffi::AnyBuffer grad_metric) {
  const int64_t work = p.batch * p.image.pixels();
  if (work == 0) return ffi::Error::Success();
  SOFTSPLAT_LAUNCH(blocks_for(work), kThreads, stream, backward_kernel, T, S)(
      p, data<S>(x), data<S>(flow), data<S>(metric), data<T>(out), data<T>(aux), data<S>(grad_out),
      data<S>(grad_x), data<S>(grad_flow), data<S>(grad_metric));
  return last_cuda_error("backward launch");
}

ffi::Error forward_impl(cudaStream_t stream, ffi::AnyBuffer x, ffi::AnyBuffer flow,
                        ffi::AnyBuffer metric, ffi::Result<ffi::AnyBuffer> out,
                        ffi::Result<ffi::AnyBuffer> aux, bool channels_last, int32_t mode,
                        int32_t normalize, bool stable) {
  Problem p;
  const Attrs attrs{channels_last, mode, normalize, stable};
  if (ffi::Error e = describe_forward(x, flow, metric, *out, *aux, attrs, &p); e.failure())
    return e;
  switch (x.element_type()) {
    case ffi::F32:
      return forward_typed<float, float>(stream, p, x, flow, metric, *out, *aux);
    case ffi::F64:
      return forward_typed<double, double>(stream, p, x, flow, metric, *out, *aux);
    case ffi::BF16:
      return forward_typed<float, BFloat16>(stream, p, x, flow, metric, *out, *aux);
    case ffi::F16:
      return forward_typed<float, Float16>(stream, p, x, flow, metric, *out, *aux);
    default:
      return unsupported_dtype();
  }
}

ffi::Error backward_impl(cudaStream_t stream, ffi::AnyBuffer x, ffi::AnyBuffer flow,
                         ffi::AnyBuffer metric, ffi::AnyBuffer out, ffi::AnyBuffer aux,
                         ffi::AnyBuffer grad_out, ffi::Result<ffi::AnyBuffer> grad_x,
                         ffi::Result<ffi::AnyBuffer> grad_flow,
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
      return backward_typed<float, float>(stream, p, x, flow, metric, out, aux, grad_out, *grad_x,
                                          *grad_flow, *grad_metric);
    case ffi::F64:
      return backward_typed<double, double>(stream, p, x, flow, metric, out, aux, grad_out, *grad_x,
                                            *grad_flow, *grad_metric);
    case ffi::BF16:
      return backward_typed<float, BFloat16>(stream, p, x, flow, metric, out, aux, grad_out,
                                             *grad_x, *grad_flow, *grad_metric);
    case ffi::F16:
      return backward_typed<float, Float16>(stream, p, x, flow, metric, out, aux, grad_out, *grad_x,
                                            *grad_flow, *grad_metric);
    default:
      return unsupported_dtype();
  }
}

}  // namespace
}  // namespace softsplat

namespace ffi = xla::ffi;

#if !defined(SOFTSPLAT_GPU_EMULATION)
XLA_FFI_DEFINE_HANDLER_SYMBOL(
    SoftsplatForwardCuda, softsplat::forward_impl,
    SOFTSPLAT_FORWARD_BINDING(ffi::Ffi::Bind().Ctx<ffi::PlatformStream<cudaStream_t>>()));
XLA_FFI_DEFINE_HANDLER_SYMBOL(
    SoftsplatBackwardCuda, softsplat::backward_impl,
    SOFTSPLAT_BACKWARD_BINDING(ffi::Ffi::Bind().Ctx<ffi::PlatformStream<cudaStream_t>>()));
#else
// The emulated handlers run on a CPU device, which has no stream to bind.
XLA_FFI_DEFINE_HANDLER_SYMBOL(SoftsplatForwardCuda,
                              softsplat::emulation::without_stream(softsplat::forward_impl),
                              SOFTSPLAT_FORWARD_BINDING(ffi::Ffi::Bind()));
XLA_FFI_DEFINE_HANDLER_SYMBOL(SoftsplatBackwardCuda,
                              softsplat::emulation::without_stream(softsplat::backward_impl),
                              SOFTSPLAT_BACKWARD_BINDING(ffi::Ffi::Bind()));
#endif
