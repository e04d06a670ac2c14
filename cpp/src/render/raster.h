// Raster: a laid-out page -> pixels, drawn like poppler's Splash backend draws the reference
// PDF (unhinted anti-aliased glyphs at quarter-pixel horizontal positions, source-over blending).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "glyph/render/config.h"
#include "glyph/render/page.h"
#include "render/font.h"
#include "render/layout.h"

namespace glyph {

// A drawn page before it becomes a Page. One channel when every colour involved is a gray (black
// text on white, the common case): Splash blends per channel, so one gray channel copied to R, G
// and B gives the same pixels for a third of the work. Otherwise RGB. Reusable across pages.
struct Raster {
  std::vector<std::uint8_t> data;
  int width = 0, height = 0;
  int channels = 1;
  std::size_t stride = 0;  // bytes per row (the gray canvas has SIMD padding past the right edge)
  const std::uint8_t* row(int y) const { return data.data() + static_cast<std::size_t>(y) * stride; }
};

// `markup_color` colours characters that came from an inline newline markup.
void rasterize(const LaidPage& laid, const RenderConfig& cfg, FontSet& fonts, Rgb markup_color,
               Raster& out);

// Copies the top-left width x height pixels of `r` into `page` as RGB.
void copy_to_page(const Raster& r, int width, int height, Page& page);

}  // namespace glyph
