// The half-precision storage types the kernels read and write in place, shared by the CPU and CUDA
// kernels like softsplat_math.h, which includes it.
#pragma once

#include <cstdint>
#include <cstring>

#include "host_device.h"

namespace softsplat {

// Half-precision inputs are read where they lie and widened to float32, in which everything is
// computed and accumulated; their gradients, which each source pixel writes once, are rounded to
// nearest even straight into half precision. Widening is exact and the rounding is XLA's, so a
// bfloat16 or float16 call gives bit for bit what float32 inputs holding the same values would,
// rounded at the end, without float32 copies of its inputs and gradients.
struct BFloat16 {
  uint16_t bits;
};
struct Float16 {
  uint16_t bits;
};

SOFTSPLAT_HD float float_from_bits(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
#endif
}

SOFTSPLAT_HD uint32_t bits_of(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
#endif
}

SOFTSPLAT_HD float widen(float v) { return v; }
SOFTSPLAT_HD double widen(double v) { return v; }

// bfloat16 is the upper half of a float32.
SOFTSPLAT_HD float widen(BFloat16 v) { return float_from_bits(uint32_t(v.bits) << 16); }

// IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
SOFTSPLAT_HD float widen(Float16 v) {
  const uint32_t sign = uint32_t(v.bits & 0x8000u) << 16;
  const uint32_t exponent = (v.bits >> 10) & 0x1fu;
  const uint32_t mantissa = v.bits & 0x3ffu;
  if (exponent == 0x1fu) return float_from_bits(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  if (exponent != 0) return float_from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Zero and subnormals: mantissa * 2^-24, exact in float32.
  const float magnitude = float(mantissa) * 5.9604644775390625e-8f;
  return sign ? -magnitude : magnitude;
}

// Rounding float32 to half precision: to nearest, ties to even, as XLA's convert does; NaN stays
// NaN.
SOFTSPLAT_HD BFloat16 to_bfloat16(float v) {
  const uint32_t bits = bits_of(v);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return BFloat16{uint16_t((bits >> 16) | 0x40u)};  // quiet NaN
  return BFloat16{uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16)};
}

SOFTSPLAT_HD Float16 to_float16(float v) {
  const uint32_t bits = bits_of(v);
  const uint16_t sign = uint16_t((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return Float16{uint16_t(sign | 0x7e00u)};   // NaN
  if (magnitude >= 0x477ff000u) return Float16{uint16_t(sign | 0x7c00u)};  // 65520 and up: inf
  if (magnitude < 0x33000000u) return Float16{sign};                       // below 2^-25: zero
  uint32_t half, rest, tie;
  if (magnitude < 0x38800000u) {                      // below 2^-14: a subnormal, in units of 2^-24
    const uint32_t shift = 126u - (magnitude >> 23);  // 14 to 24
    const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
    half = significand >> shift;
    rest = significand & ((1u << shift) - 1u);
    tie = 1u << (shift - 1u);
  } else {  // rebias the exponent (127 -> 15) and keep 10 mantissa bits
    half = (magnitude >> 13) - (112u << 10);
    rest = magnitude & 0x1fffu;
    tie = 0x1000u;
  }
  if (rest > tie || (rest == tie && (half & 1u)))
    ++half;  // a carry may step the exponent: still right
  return Float16{uint16_t(sign | half)};
}

// Stores a computed value into its storage type.
SOFTSPLAT_HD void put(float* dst, float v) { *dst = v; }
SOFTSPLAT_HD void put(double* dst, double v) { *dst = v; }
SOFTSPLAT_HD void put(BFloat16* dst, float v) { *dst = to_bfloat16(v); }
SOFTSPLAT_HD void put(Float16* dst, float v) { *dst = to_float16(v); }

}  // namespace softsplat
