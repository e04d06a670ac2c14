// The page-to-patch op on the CPU (any pages the CUDA kernel does not take). Each patch row runs
// the CUDA kernel's two phases from page_patches_core.h in loops: stage the horizontal pass of
// the source rows the row needs, then each pixel's vertical pass, value table and temporal
// copies. float32 out (the entry rounds to the dtype).
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
  at::parallel_for(0, p.patches, 64, [&](std::int64_t r0, std::int64_t r1) {
    std::vector<std::uint8_t> stage(pp::kStageBytes);
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t* md = meta + pp::find_page(meta, p.pages, r) * pp::kMetaCols;
      const pp::Row w = pp::make_row(md, px, tables, r, ps, m);
      if (w.staged)
        for (int i = 0; i < w.rows * ps * 3; ++i) stage[i] = pp::stage_value(w, ps, i);
      float* o = out + r * k;
      for (int t = 0; t < ps * ps; ++t)
        for (int c = 0; c < 3; ++c) {
          const float f = lut[c * 256 + pp::pixel_value(w, stage.data(), ps, t, c)];
          for (int f_t = 0; f_t < tps; ++f_t) o[pp::patch_col(c, f_t, t, tps, ps)] = f;
        }
    }
  });
}

}  // namespace glyph::vlm::ops::cpu
