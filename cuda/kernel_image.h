// The device code that the host half of cuda_ops.cu launches by name when it is not compiled by
// nvcc: for jax_softsplat._cuda12 the fatbin NVRTC made of cuda_kernels.cuh
// (cmake/nvrtc_device_code.py generates the definitions), for the emulation the table of
// host-compiled kernels in gpu_emulation_kernels.h.
#pragma once

namespace softsplat {

// What cudaLibraryLoadData takes: the fatbin (or, emulated, the table of kernels).
const void* kernel_image();

// The symbol cudaLibraryGetKernel finds a kernel by, from its key: the entry of
// SOFTSPLAT_KERNEL_INSTANCES that names it, spelled "kernel<T, S>" (e.g. "splat_kernel<float,
// BFloat16>"); nullptr for a key the image lacks.
const char* kernel_symbol(const char* key);

}  // namespace softsplat
