// How the shared headers mark functions compiled for both the CPU and the GPU.
#pragma once

#if defined(__CUDACC__)
#define SOFTSPLAT_HD __host__ __device__ __forceinline__
#define SOFTSPLAT_HD_FLATTEN SOFTSPLAT_HD
#define SOFTSPLAT_ALWAYS_INLINE __forceinline__
#else
#define SOFTSPLAT_HD inline
// For the backward pass's per-pixel function: left to itself, GCC stops inlining its stages into it
// once it grows, which costs 10 % of the sum-mode backward (measured); forcing it everywhere would
// slow the forward pass instead.
#define SOFTSPLAT_HD_FLATTEN inline __attribute__((flatten))
// For the few small functions called once per pixel that GCC would otherwise leave as calls.
#define SOFTSPLAT_ALWAYS_INLINE inline __attribute__((always_inline))
#endif
