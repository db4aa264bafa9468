// The host half of the CUDA kernel for jax_softsplat._cuda12: cuda_ops.cu compiled by the host C++
// compiler against the CUDA 12 runtime's headers, launching by name the kernels of the fatbin that
// NVRTC made of cuda_kernels.cuh (cmake/nvrtc_device_code.py). A .cu source cannot be given to the
// C++ compiler without changing how every target of the build compiles it, hence this file.
#include "cuda_ops.cu"
