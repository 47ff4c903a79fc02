// Host stand-in for kernels/cuda_include/gpubench/types.cuh (the real one converts with PTX).
#pragma once
#include <cstdint>
#include <cstring>

struct f16 { uint16_t bits; };
struct bf16 { uint16_t bits; };

inline float to_float(float v) { return v; }
inline float to_float(f16 v) { _Float16 h; std::memcpy(&h, &v.bits, 2); return (float)h; }
inline float to_float(bf16 v) { uint32_t u = (uint32_t)v.bits << 16; float f; std::memcpy(&f, &u, 4); return f; }

template <class T> inline T from_float(float f);
template <> inline float from_float<float>(float f) { return f; }
template <> inline f16 from_float<f16>(float f) { _Float16 h = (_Float16)f; f16 r; std::memcpy(&r.bits, &h, 2); return r; }
template <> inline bf16 from_float<bf16>(float f) {
  uint32_t u; std::memcpy(&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1);  // round to nearest even
  return bf16{(uint16_t)(u >> 16)};
}
