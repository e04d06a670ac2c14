#include "render/raster.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace glyph {

namespace {

inline std::uint8_t div255(int x) { return static_cast<std::uint8_t>((x + (x >> 8) + 0x80) >> 8); }

// Allocates the page filled with the background in one pass (no zero-fill first).
void fill_background(Page& page, Rgb c) {
  const std::size_t n = static_cast<std::size_t>(page.width) * page.height;
  if (c.r == c.g && c.g == c.b) {
    page.pixels.assign(n * 3, c.r);
    return;
  }
  page.pixels.resize(n * 3);
  std::uint8_t* p = page.pixels.data();
  for (std::size_t i = 0; i < n; ++i) {
    p[3 * i] = c.r;
    p[3 * i + 1] = c.g;
    p[3 * i + 2] = c.b;
  }
}

// Fills the rectangle [x0, x1) x [y0, y1) (pixels). Like Splash with stroke adjustment, the edges
// snap to whole pixels (floor(v + 0.5)) and a rectangle is at least one pixel wide and high.
void fill_rect(Page& page, double x0, double y0, double x1, double y1, Rgb c) {
  int ix0 = static_cast<int>(std::floor(x0 + 0.5)), ix1 = static_cast<int>(std::floor(x1 + 0.5));
  int iy0 = static_cast<int>(std::floor(y0 + 0.5)), iy1 = static_cast<int>(std::floor(y1 + 0.5));
  if (ix1 <= ix0) ix1 = ix0 + 1;
  if (iy1 <= iy0) iy1 = iy0 + 1;
  ix0 = std::max(ix0, 0);
  iy0 = std::max(iy0, 0);
  ix1 = std::min(ix1, page.width);
  iy1 = std::min(iy1, page.height);
  for (int y = iy0; y < iy1; ++y) {
    std::uint8_t* px = page.row(y) + 3 * ix0;
    for (int x = ix0; x < ix1; ++x, px += 3) {
      px[0] = c.r;
      px[1] = c.g;
      px[2] = c.b;
    }
  }
}

void draw_glyph(Page& page, const GlyphBitmap& bm, int ox, int oy, Rgb c) {
  const int x_start = ox + bm.left, y_start = oy - bm.top;
  const int gx0 = std::max(0, -x_start), gy0 = std::max(0, -y_start);
  const int gx1 = std::min(bm.width, page.width - x_start);
  const int gy1 = std::min(bm.rows, page.height - y_start);
  for (int gy = gy0; gy < gy1; ++gy) {
    const std::uint8_t* a_row = bm.alpha.data() + static_cast<std::size_t>(gy) * bm.width;
    std::uint8_t* px = page.row(y_start + gy) + 3 * (x_start + gx0);
    for (int gx = gx0; gx < gx1; ++gx, px += 3) {
      const int a = a_row[gx];
      if (a == 0) continue;
      if (a == 255) {
        px[0] = c.r;
        px[1] = c.g;
        px[2] = c.b;
      } else {
        const int ia = 255 - a;
        px[0] = div255(a * c.r + ia * px[0]);
        px[1] = div255(a * c.g + ia * px[1]);
        px[2] = div255(a * c.b + ia * px[2]);
      }
    }
  }
}

// reportlab's fp_str: how numbers are written into the PDF that poppler then reads back.
double fp_str(double x) {
  const double ax = std::fabs(x);
  if (ax <= 1e-7) return 0;
  int d = 6;
  if (ax > 1) d = std::min(std::max(0, 6 - static_cast<int>(std::log10(ax))), 6);
  const double p = std::pow(10.0, d);
  return std::round(x * p) / p;
}

bool is_blank(char32_t c) {
  return c == 0x20 || c == 0xA0 || c == 0x09 || (c >= 0x0A && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) ||
         c == 0x85 || c == 0x1680 || (c >= 0x2000 && c <= 0x200B) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F;
}

}  // namespace

void rasterize(const LaidPage& laid, const RenderConfig& cfg, FontSet& fonts, Rgb markup_color,
               Page& page) {
  const double scale = cfg.dpi / 72.0;
  page.width = static_cast<int>(std::ceil(cfg.page_width * scale));
  page.height = static_cast<int>(std::ceil(cfg.page_height * scale));
  fill_background(page, cfg.page_bg_color);

  for (const Rect& r : laid.rects) {
    const double x0 = r.x * scale, y0 = r.y * scale, x1 = (r.x + r.w) * scale,
                 y1 = (r.y + r.h) * scale;
    if (r.fill) fill_rect(page, x0, y0, x1, y1, r.fill_color);
    if (r.stroke) {
      const double h = 0.5 * r.line_width * scale;
      fill_rect(page, x0 - h, y0 - h, x1 + h, y0 + h, r.stroke_color);  // top
      fill_rect(page, x0 - h, y1 - h, x1 + h, y1 + h, r.stroke_color);  // bottom
      fill_rect(page, x0 - h, y0 - h, x0 + h, y1 + h, r.stroke_color);  // left
      fill_rect(page, x1 - h, y0 - h, x1 + h, y1 + h, r.stroke_color);  // right
    }
  }

  const double frame_left = cfg.margin_x + 6.0;
  const Rgb colors[2] = {cfg.font_color, markup_color};
  for (const LaidLine& line : laid.lines) {
    // The PDF holds the paragraph origin and the line offset as separate fp_str numbers.
    double x = fp_str(frame_left) + fp_str(line.x);
    const double baseline_px = line.baseline * scale;
    const int oy = static_cast<int>(std::floor(baseline_px));
    const double word_space = fp_str(line.word_space);
    for (const LChar& ch : line.chars) {
      const CharInfo& ci = fonts.lookup(ch.cp);
      const double adv = ci.pdf_advance;
      if (!is_blank(ch.cp)) {
        const double px = x * scale;
        const double fx = std::floor(px);
        const int frac = std::min(3, static_cast<int>((px - fx) * 4));
        const GlyphBitmap& bm = fonts.bitmap(ci.font, ci.glyph, frac);
        if (bm.width > 0) draw_glyph(page, bm, static_cast<int>(fx), oy, colors[ch.color ? 1 : 0]);
      }
      x += adv;
      if (ch.cp == U' ' || ch.cp == 0xA0) x += word_space;  // both are code 32 in the PDF
    }
  }
}

}  // namespace glyph
