// The page-to-patch op's work for one patch row, shared word for word by its CPU kernel
// (ops/cpu/page_patches_kernel.cpp) and its CUDA kernel (ops/cuda/page_patches_kernel.cu): the
// CUDA kernel runs it with one block per patch row and a thread per element, the CPU kernel runs
// the same functions in loops, in the same two phases (stage, then pixels). So the CPU tests,
// which hold the CPU kernel bit-identical to ImageProcessor::process, also run every index and
// tap of the CUDA kernel; what only the device runs is the thread mapping, the barrier, the
// shared-memory declarations and the final rounding to the output type.
//
// Arithmetic: Pillow's bicubic taps in 22-bit fixed point with the uint8 clamp after each pass
// (glyph::resize_bicubic's), the horizontal pass staged for the source rows a patch row needs.
// No torch header (nvcc compiles it alone).
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
// Bytes of horizontally resampled rows one patch row stages; beyond (a downscale by more than
// about 20x) the vertical taps recompute the horizontal ones instead (the same bytes).
constexpr int kStageBytes = 24 * 1024;

// The plan's per-page columns (ops::PagePatchPlan::meta).
enum MetaCol : int {
  kSrcOffset = 0, kSrcH, kSrcW, kDstH, kDstW, kPatchBegin, kYTable, kYKsize, kXTable, kXKsize,
  kMetaCols
};

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

// The page holding global patch row r: the last page starting at or before it.
GLYPH_PP_HD std::int64_t find_page(const std::int64_t* meta, std::int64_t pages, std::int64_t r) {
  std::int64_t lo = 0, hi = pages - 1;
  while (lo < hi) {
    const std::int64_t mid = (lo + hi + 1) / 2;
    if (meta[mid * kMetaCols + kPatchBegin] <= r) lo = mid; else hi = mid - 1;
  }
  return lo;
}

// One patch row of one page, ready for the two phases.
struct Row {
  const std::uint8_t* src;  // the page's bytes
  std::int64_t sw;          // source width
  const std::int32_t* yrec; // the vertical record of the patch's first pixel row
  const std::int32_t* xrec; // the horizontal record of its first pixel column
  int ystride, xstride;     // ints per record
  int ylo, rows;            // source rows the vertical taps read: [ylo, ylo + rows)
  bool staged;              // rows * patch * 3 <= kStageBytes
};

// md: the page's meta row; tables: the plan's int32 tables; r: the global patch row.
GLYPH_PP_HD Row make_row(const std::int64_t* md, const std::uint8_t* pixels,
                         const std::int32_t* tables, std::int64_t r, int ps, int m) {
  Row w;
  w.src = pixels + md[kSrcOffset];
  w.sw = md[kSrcW];
  w.ystride = 2 + static_cast<int>(md[kYKsize]);
  w.xstride = 2 + static_cast<int>(md[kXKsize]);
  // Transformers' order: merge windows of m x m patches row-major, row-major inside a window.
  const std::int64_t local = r - md[kPatchBegin];
  const std::int64_t window = local / (m * m), inner = local % (m * m);
  const std::int64_t wpr = md[kDstW] / ps / m;  // windows per row
  const std::int64_t y0 = ((window / wpr) * m + inner / m) * ps;
  const std::int64_t x0 = ((window % wpr) * m + inner % m) * ps;
  w.yrec = tables + md[kYTable] + y0 * w.ystride;
  w.xrec = tables + md[kXTable] + x0 * w.xstride;
  // First input and count both grow with the output row, so the union is one range.
  const std::int32_t* last = w.yrec + static_cast<std::int64_t>(ps - 1) * w.ystride;
  w.ylo = w.yrec[0];
  w.rows = last[0] + last[1] - w.ylo;
  w.staged = w.rows * ps * 3 <= kStageBytes;
  return w;
}

// Phase 1 (staged rows only): element i of the stage, i in [0, rows * ps * 3): the horizontal
// pass at source row ylo + i / (3 ps), patch column (i / 3) % ps, channel i % 3.
GLYPH_PP_HD std::uint8_t stage_value(const Row& w, int ps, int i) {
  const int width3 = ps * 3;
  const int row = i / width3, rem = i % width3, xo = rem / 3, c = rem % 3;
  const std::uint8_t* line = w.src + (w.ylo + row) * w.sw * 3;
  return resample(w.xrec + static_cast<std::int64_t>(xo) * w.xstride,
                  [&](int j) { return line[3 * j + c]; });
}

// Phase 2: the resized byte of patch pixel t (t in [0, ps * ps), row-major) in channel c.
GLYPH_PP_HD std::uint8_t pixel_value(const Row& w, const std::uint8_t* stage, int ps, int t, int c) {
  const int py = t / ps, px = t % ps;
  const std::int32_t* yr = w.yrec + static_cast<std::int64_t>(py) * w.ystride;
  if (w.staged)
    return resample(yr, [&](int j) { return stage[(j - w.ylo) * ps * 3 + px * 3 + c]; });
  const std::int32_t* xr = w.xrec + static_cast<std::int64_t>(px) * w.xstride;
  return resample(yr, [&](int j) {
    const std::uint8_t* line = w.src + j * w.sw * 3;
    return resample(xr, [&](int i) { return line[3 * i + c]; });
  });
}

// Column of value (channel c, time t, patch pixel p) in a patch row.
GLYPH_PP_HD std::int64_t patch_col(int c, int t, int p, int tps, int ps) {
  return (static_cast<std::int64_t>(c) * tps + t) * ps * ps + p;
}

}  // namespace glyph::vlm::ops::pp
