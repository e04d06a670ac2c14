// Raster: a laid-out page -> RGB pixels, drawn like poppler's Splash backend draws the reference
// PDF (unhinted anti-aliased glyphs at quarter-pixel horizontal positions, source-over blending).
#pragma once

#include "glyph/render/config.h"
#include "glyph/render/page.h"
#include "render/font.h"
#include "render/layout.h"

namespace glyph {

// `markup_color` colours characters that came from an inline newline markup.
void rasterize(const LaidPage& laid, const RenderConfig& cfg, FontSet& fonts, Rgb markup_color,
               Page& page);

}  // namespace glyph
