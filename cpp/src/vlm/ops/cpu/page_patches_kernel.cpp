// The page-to-patch op on the CPU (any pages the CUDA kernel does not take): per page, the
// horizontal pass into a uint8 buffer (every source row, the resized width), then per patch row
// the vertical pass, the value table and the temporal copies, with the arithmetic of
// page_patches_core.h that the CUDA kernel also runs. float32 out.
#include <ATen/Parallel.h>

#include <cstring>
#include <vector>

#include "vlm/ops/page_patches.h"
#include "vlm/ops/page_patches_core.h"

namespace glyph::vlm::ops::cpu {

void page_patches_kernel(const PagePatchPlan& p) {
  const std::uint8_t* px = p.pixels.data_ptr<std::uint8_t>();
  const std::int64_t* meta = p.meta.data_ptr<std::int64_t>();
  const std::int32_t* tables = p.tables.data_ptr<std::int32_t>();
  float lut[pp::kLutSize];
  std::memcpy(lut, tables, sizeof lut);
  float* out = p.out.data_ptr<float>();
  const int ps = p.patch, m = p.merge, tps = p.temporal;
  const std::int64_t k = 3LL * tps * ps * ps;
  for (std::int64_t i = 0; i < p.pages; ++i) {
    const std::int64_t* md = meta + i * kMetaCols;
    const std::uint8_t* src = px + md[kSrcOffset];
    const std::int64_t sh = md[kSrcH], sw = md[kSrcW], dh = md[kDstH], dw = md[kDstW];
    const std::int32_t* ytab = tables + md[kYTable];
    const std::int32_t* xtab = tables + md[kXTable];
    const std::int64_t yrec = 2 + md[kYKsize], xrec = 2 + md[kXKsize];
    // Horizontal pass: [sh][dw][3] uint8.
    std::vector<std::uint8_t> hbuf(static_cast<std::size_t>(sh * dw * 3));
    at::parallel_for(0, sh, 16, [&](std::int64_t y0, std::int64_t y1) {
      for (std::int64_t y = y0; y < y1; ++y) {
        const std::uint8_t* row = src + y * sw * 3;
        std::uint8_t* dst = hbuf.data() + y * dw * 3;
        for (std::int64_t x = 0; x < dw; ++x)
          for (int c = 0; c < 3; ++c)
            dst[3 * x + c] = pp::resample(xtab + x * xrec, [&](int j) { return row[3 * j + c]; });
      }
    });
    // Vertical pass per patch row, straight into the patch matrix.
    const std::int64_t gw = dw / ps, n = (dh / ps) * gw;
    float* page_out = out + md[kPatchBegin] * k;
    at::parallel_for(0, n, 16, [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        std::int64_t y0 = 0, x0 = 0;
        pp::patch_origin(r, gw, m, ps, &y0, &x0);
        float* o = page_out + r * k;
        for (int py = 0; py < ps; ++py)
          for (int pxi = 0; pxi < ps; ++pxi)
            for (int c = 0; c < 3; ++c) {
              const std::uint8_t* col = hbuf.data() + (x0 + pxi) * 3 + c;
              const std::uint8_t v = pp::resample(
                  ytab + (y0 + py) * yrec, [&](int j) { return col[static_cast<std::int64_t>(j) * dw * 3]; });
              const float f = lut[c * 256 + v];
              for (int t = 0; t < tps; ++t) o[pp::patch_col(c, t, py, pxi, tps, ps)] = f;
            }
      }
    });
  }
}

}  // namespace glyph::vlm::ops::cpu
