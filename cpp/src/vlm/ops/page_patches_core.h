// The per-element arithmetic of the page-to-patch op, shared word for word by its CPU kernel
// (ops/cpu/page_patches_kernel.cpp) and its CUDA kernel (ops/cuda/page_patches_kernel.cu), so the
// two cannot drift: integer resampling taps in Pillow's 22-bit fixed point with the uint8 clamp,
// and where a patch row's pixels are. No torch header (nvcc compiles it alone).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define GLYPH_PP_HD __host__ __device__ __forceinline__
#else
#define GLYPH_PP_HD inline
#endif

namespace glyph::vlm::ops::pp {

constexpr int kBits = 22;  // == glyph::kResizePrecisionBits (checked in page_patches.cpp)
constexpr int kLutSize = 3 * 256;

// Pillow's clip8: the sum of one pass -> uint8.
GLYPH_PP_HD std::uint8_t clip8(int s) {
  if (s >= (1 << kBits << 8)) return 255;
  if (s <= 0) return 0;
  return static_cast<std::uint8_t>(s >> kBits);
}

// One output sample of a pass: rec = (first input, count, weights...); get(i) reads input i.
template <class Get>
GLYPH_PP_HD std::uint8_t resample(const std::int32_t* rec, Get get) {
  int s = 1 << (kBits - 1);
  const int first = rec[0], n = rec[1];
  for (int j = 0; j < n; ++j) s += static_cast<int>(get(first + j)) * rec[2 + j];
  return clip8(s);
}

// Patch row r of a page of gw patch columns (merge windows of m x m patches, row-major windows,
// row-major inside a window: transformers' order) -> its top-left pixel (y0, x0).
GLYPH_PP_HD void patch_origin(std::int64_t r, std::int64_t gw, int m, int ps, std::int64_t* y0,
                              std::int64_t* x0) {
  const std::int64_t window = r / (m * m), inner = r % (m * m);
  const std::int64_t wpr = gw / m;  // windows per row
  *y0 = ((window / wpr) * m + inner / m) * ps;
  *x0 = ((window % wpr) * m + inner % m) * ps;
}

// Column of value (channel c, time t, pixel (py, px)) in a patch row.
GLYPH_PP_HD std::int64_t patch_col(int c, int t, int py, int px, int tps, int ps) {
  return ((static_cast<std::int64_t>(c) * tps + t) * ps + py) * ps + px;
}

}  // namespace glyph::vlm::ops::pp
