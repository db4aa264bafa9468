// The emulation's kernel image (tests only): the kernels of cuda_kernels.cuh compiled for the host,
// in a table cudaLibraryLoadData and cudaLibraryGetKernel of gpu_emulation.h read, under the same
// keys as NVRTC's fatbin (SOFTSPLAT_KERNEL_INSTANCES), so that the host half of cuda_ops.cu loads
// and launches them by name exactly as jax_softsplat._cuda12 does on a GPU.
#pragma once

#include <cstddef>
#include <cstring>
#include <utility>

#include "gpu_emulation.h"
// Included after the emulation, which defines what the kernels take from CUDA.
#include "cuda_kernels.cuh"
#include "kernel_image.h"

namespace softsplat {
namespace emulation {

// Calls `Function` with the arguments `args` points to, as cudaLaunchKernel hands them over.
template <auto Function, typename... Params, size_t... I>
void call_with(void** args, void (*)(Params...), std::index_sequence<I...>) {
  Function(*static_cast<Params*>(args[I])...);
}

template <typename... Params>
constexpr size_t arity(void (*)(Params...)) {
  return sizeof...(Params);
}

template <auto Function>
void run_kernel(void** args) {
  call_with<Function>(args, Function, std::make_index_sequence<arity(Function)>{});
}

// The symbol of each kernel is its key: the emulation has no name mangling to undo.
#define SOFTSPLAT_EMULATED_KERNEL(kernel, ...) \
  Kernel{#kernel "<" #__VA_ARGS__ ">", &run_kernel<&::softsplat::kernel<__VA_ARGS__>>},
inline constexpr Kernel kKernels[] = {SOFTSPLAT_KERNEL_INSTANCES(SOFTSPLAT_EMULATED_KERNEL)};
#undef SOFTSPLAT_EMULATED_KERNEL
inline constexpr Image kImage{kKernels, sizeof(kKernels) / sizeof(kKernels[0])};

}  // namespace emulation

const void* kernel_image() { return &emulation::kImage; }

const char* kernel_symbol(const char* key) {
  for (const emulation::Kernel& k : emulation::kKernels) {
    if (std::strcmp(k.symbol, key) == 0) return k.symbol;
  }
  return nullptr;
}

}  // namespace softsplat
