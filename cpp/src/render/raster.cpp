#include "render/raster.h"

#include "render/fp_str.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#endif

namespace glyph {

namespace {

// Splash composites anti-aliased fills (no alpha channel, no blend mode) as
// ((255 - a) * dst + a * src) / 255 in integers (Splash::pipeRun, AlphaNoBlend): a floor, not a
// rounded division. For black on white both agree; on tinted backgrounds or with coloured text
// rounding was one level off on most edge pixels. x / 255 == (x + 1 + (x >> 8)) >> 8 for
// 0 <= x <= 65025, which also fits 16-bit lanes.
constexpr int kRound = 1;
inline std::uint8_t div255_floor(int x) { return static_cast<std::uint8_t>((x + (x >> 8) + kRound) >> 8); }

// A Raster's pixels seen with their channel count fixed at compile time.
template <int C>
struct Canvas {
  std::uint8_t* data;
  int width, height;
  int stride;  // bytes per row; the gray canvas has room for a 16-byte store past the right edge
  std::uint8_t* row(int y) { return data + static_cast<std::size_t>(y) * stride; }
};

constexpr int kGrayPad = 16;

// Splash's source-over blend. Exact for a = 0 and a = 255 too (div255_floor(255 * v) == v), so the
// glyph loop needs no branches.
template <int C>
inline void put(std::uint8_t* px, int a, const std::uint8_t* c) {
  for (int k = 0; k < C; ++k) px[k] = div255_floor(a * c[k] + (255 - a) * px[k]);
}

// Fills [x0, x1) x [y0, y1) (pixels). Like Splash with stroke adjustment, the edges snap to whole
// pixels (floor(v + 0.5)) and a rectangle is at least one pixel wide and high.
template <int C>
void fill_rect(Canvas<C>& cv, double x0, double y0, double x1, double y1, const std::uint8_t* c) {
  int ix0 = static_cast<int>(std::floor(x0 + 0.5)), ix1 = static_cast<int>(std::floor(x1 + 0.5));
  int iy0 = static_cast<int>(std::floor(y0 + 0.5)), iy1 = static_cast<int>(std::floor(y1 + 0.5));
  if (ix1 <= ix0) ix1 = ix0 + 1;
  if (iy1 <= iy0) iy1 = iy0 + 1;
  ix0 = std::max(ix0, 0);
  iy0 = std::max(iy0, 0);
  ix1 = std::min(ix1, cv.width);
  iy1 = std::min(iy1, cv.height);
  // Opaque: the blend at full coverage gives exactly the colour, so rows are plain fills.
  for (int y = iy0; y < iy1 && ix0 < ix1; ++y) {
    std::uint8_t* px = cv.row(y) + C * ix0;
    if (C == 1) {
      std::memset(px, c[0], static_cast<std::size_t>(ix1 - ix0));
    } else {
      for (int x = ix0; x < ix1; ++x, px += C) std::memcpy(px, c, C);
    }
  }
}

#if defined(__SSE2__)
// 16 pixels of one channel at once: d = div255_floor(a * c + (255 - a) * d), exact in 16-bit lanes
// (the largest intermediate is 65025 + 254 + 1). Zero alpha leaves d unchanged, so the padded
// tail of a glyph row can be blended too.
// kBlack: c == 0 (black text), where the a * c term vanishes.
template <bool kBlack>
inline void blend16(std::uint8_t* dst, const std::uint8_t* alpha, std::uint8_t c) {
  const __m128i zero = _mm_setzero_si128();
  const __m128i k255 = _mm_set1_epi16(255), kr = _mm_set1_epi16(kRound);
  const __m128i cc = _mm_set1_epi16(c);
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(alpha));
  const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(dst));
  auto half = [&](__m128i a16, __m128i d16) {
    __m128i x = _mm_mullo_epi16(_mm_sub_epi16(k255, a16), d16);
    if (!kBlack) x = _mm_add_epi16(_mm_mullo_epi16(a16, cc), x);
    x = _mm_add_epi16(_mm_add_epi16(x, _mm_srli_epi16(x, 8)), kr);
    return _mm_srli_epi16(x, 8);
  };
  const __m128i lo = half(_mm_unpacklo_epi8(a, zero), _mm_unpacklo_epi8(d, zero));
  const __m128i hi = half(_mm_unpackhi_epi8(a, zero), _mm_unpackhi_epi8(d, zero));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_packus_epi16(lo, hi));
}

// Blends `rows` glyph rows (`a_stride` bytes each, a multiple of 16) onto a gray canvas.
using BlendRows = void (*)(std::uint8_t* dst, std::size_t dst_stride, const std::uint8_t* alpha,
                           int a_stride, int rows, std::uint8_t c);

template <bool kBlack>
void blend_rows_sse2(std::uint8_t* dst, std::size_t dst_stride, const std::uint8_t* alpha,
                     int a_stride, int rows, std::uint8_t c) {
  for (int y = 0; y < rows; ++y, dst += dst_stride, alpha += a_stride)
    for (int k = 0; k < a_stride; k += 16) blend16<kBlack>(dst + k, alpha + k, c);
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define GLYPH_HAVE_AVX2_PATH 1
// The same blend on 32 pixels: two glyph rows of a 16-wide bitmap (adjacent in `alpha`, one
// canvas row each) or 32 pixels of one row. Compiled for AVX2 whatever the build flags and used
// when the CPU has it; byte-identical to blend16 (same integer formula per lane).
template <bool kBlack>
__attribute__((target("avx2"))) inline __m256i blend32(__m256i a, __m256i d, std::uint8_t c) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i k255 = _mm256_set1_epi16(255), kr = _mm256_set1_epi16(kRound);
  __m256i out[2];
  for (int h = 0; h < 2; ++h) {
    const __m256i a16 = h ? _mm256_unpackhi_epi8(a, zero) : _mm256_unpacklo_epi8(a, zero);
    const __m256i d16 = h ? _mm256_unpackhi_epi8(d, zero) : _mm256_unpacklo_epi8(d, zero);
    __m256i x = _mm256_mullo_epi16(_mm256_sub_epi16(k255, a16), d16);
    if (!kBlack) x = _mm256_add_epi16(_mm256_mullo_epi16(a16, _mm256_set1_epi16(c)), x);
    x = _mm256_add_epi16(_mm256_add_epi16(x, _mm256_srli_epi16(x, 8)), kr);
    out[h] = _mm256_srli_epi16(x, 8);
  }
  return _mm256_packus_epi16(out[0], out[1]);  // per 128-bit lane, so bytes stay in order
}

template <bool kBlack>
__attribute__((target("avx2"))) void blend_rows_avx2(std::uint8_t* dst, std::size_t dst_stride,
                                                      const std::uint8_t* alpha, int a_stride,
                                                      int rows, std::uint8_t c) {
  int y = 0;
  if (a_stride == 16) {
    for (; y + 2 <= rows; y += 2, dst += 2 * dst_stride, alpha += 32) {
      __m128i* r0 = reinterpret_cast<__m128i*>(dst);
      __m128i* r1 = reinterpret_cast<__m128i*>(dst + dst_stride);
      const __m256i d = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(r0)),
                                                _mm_loadu_si128(r1), 1);
      const __m256i v =
          blend32<kBlack>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(alpha)), d, c);
      _mm_storeu_si128(r0, _mm256_castsi256_si128(v));
      _mm_storeu_si128(r1, _mm256_extracti128_si256(v, 1));
    }
  } else {
    for (; y < rows; ++y, dst += dst_stride, alpha += a_stride) {
      int k = 0;
      for (; k + 32 <= a_stride; k += 32) {
        __m256i* p = reinterpret_cast<__m256i*>(dst + k);
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(alpha + k));
        _mm256_storeu_si256(p, blend32<kBlack>(a, _mm256_loadu_si256(p), c));
      }
      if (k < a_stride) blend16<kBlack>(dst + k, alpha + k, c);
    }
  }
  blend_rows_sse2<kBlack>(dst, dst_stride, alpha, a_stride, rows - y, c);
}
#endif

BlendRows pick_blend_rows(bool black) {
#if defined(GLYPH_HAVE_AVX2_PATH)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return black ? blend_rows_avx2<true> : blend_rows_avx2<false>;
#endif
  return black ? blend_rows_sse2<true> : blend_rows_sse2<false>;
}
#endif

template <int C>
void draw_glyph(Canvas<C>& cv, const GlyphBitmap& bm, int ox, int oy, const std::uint8_t* c) {
  const int x_start = ox + bm.left, y_start = oy - bm.top;
  const int gx0 = std::max(0, -x_start), gy0 = std::max(0, -y_start);
  const int gx1 = std::min(bm.width, cv.width - x_start);
  const int gy1 = std::min(bm.rows, cv.height - y_start);
#if defined(__SSE2__)
  if (C == 1 && gx0 == 0 && x_start + bm.stride <= cv.width + kGrayPad) {
    if (gy1 > gy0) {
      static const BlendRows black = pick_blend_rows(true), other = pick_blend_rows(false);
      (c[0] == 0 ? black : other)(cv.row(y_start + gy0) + x_start, static_cast<std::size_t>(cv.stride),
                                  bm.alpha.data() + static_cast<std::size_t>(gy0) * bm.stride,
                                  bm.stride, gy1 - gy0, c[0]);
    }
    return;
  }
#endif
  for (int gy = gy0; gy < gy1; ++gy) {
    const std::uint8_t* a_row = bm.alpha.data() + static_cast<std::size_t>(gy) * bm.stride;
    std::uint8_t* px = cv.row(y_start + gy) + C * (x_start + gx0);
    for (int gx = gx0; gx < gx1; ++gx, px += C) put<C>(px, a_row[gx], c);
  }
}

bool is_blank(char32_t c) {
  return c == 0x20 || c == 0xA0 || c == 0x09 || (c >= 0x0A && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) ||
         c == 0x85 || c == 0x1680 || (c >= 0x2000 && c <= 0x200B) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F;
}

// gray -> RGB, 8 pixels per 3 64-bit stores (a byte loop here cost a third of the raster time).
void expand_gray_portable(const std::uint8_t* g, std::uint8_t* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8, out += 24) {
    std::uint64_t p[8];
    for (int k = 0; k < 8; ++k) p[k] = g[i + k];
    const std::uint64_t w0 = p[0] | p[0] << 8 | p[0] << 16 | p[1] << 24 | p[1] << 32 |
                             p[1] << 40 | p[2] << 48 | p[2] << 56;
    const std::uint64_t w1 = p[2] | p[3] << 8 | p[3] << 16 | p[3] << 24 | p[4] << 32 |
                             p[4] << 40 | p[4] << 48 | p[5] << 56;
    const std::uint64_t w2 = p[5] | p[5] << 8 | p[6] << 16 | p[6] << 24 | p[6] << 32 |
                             p[7] << 40 | p[7] << 48 | p[7] << 56;
    std::memcpy(out, &w0, 8);  // little-endian byte order, as on every target we build for
    std::memcpy(out + 8, &w1, 8);
    std::memcpy(out + 16, &w2, 8);
  }
  for (; i < n; ++i, out += 3) out[0] = out[1] = out[2] = g[i];
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define GLYPH_HAVE_SSSE3_PATH 1
// 16 pixels per three byte shuffles: 3-4x the portable version (the copy is most of a page's
// memory traffic). Compiled for SSSE3 whatever the build flags and used when the CPU has it.
__attribute__((target("ssse3"))) void expand_gray_ssse3(const std::uint8_t* g, std::uint8_t* out,
                                                         std::size_t n) {
  const __m128i m0 = _mm_setr_epi8(0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5);
  const __m128i m1 = _mm_setr_epi8(5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10);
  const __m128i m2 = _mm_setr_epi8(10, 11, 11, 11, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15, 15);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16, out += 48) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(g + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_shuffle_epi8(v, m0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), _mm_shuffle_epi8(v, m1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 32), _mm_shuffle_epi8(v, m2));
  }
  expand_gray_portable(g + i, out, n - i);
}
#endif

void expand_gray(const std::uint8_t* g, std::uint8_t* out, std::size_t n) {
#if defined(GLYPH_HAVE_SSSE3_PATH)
  static const bool ssse3 = __builtin_cpu_supports("ssse3");
  if (ssse3) return expand_gray_ssse3(g, out, n);
#endif
  expand_gray_portable(g, out, n);
}

template <int C>
void draw_page(Canvas<C>& cv, const LaidPage& laid, const RenderConfig& cfg, FontSet& fonts,
               const Rgb* colors) {
  const double scale = cfg.dpi / 72.0;
  auto bytes = [](Rgb c) { return std::array<std::uint8_t, 3>{c.r, c.g, c.b}; };
  const std::array<std::uint8_t, 3> text_colors[2] = {bytes(colors[0]), bytes(colors[1])};
  // x as poppler computes it: the `cm` x (the frame's left edge) enters the CTM as e*s; the
  // text x starts where the layout put the line (Tm's x plus its Td moves) and adds the advances.
  const double ctm4 = fp_str(cfg.frame().left) * scale;
  const double page_top = scale * fp_str(cfg.page_height);  // the page CTM's f (MediaBox top)
  auto draw_line = [&](const LaidLine& line) {
    double x = line.text_x;
    // poppler: the page CTM [s 0 0 -s 0 s*PH] concatenated with the piece's `cm`, then applied
    // to the text position, in this order of operations; Splash snaps glyph rows with floor.
    const double ctm5 = line.pdf_origin_y * -scale + page_top;
    const int oy = static_cast<int>(std::floor(-scale * line.pdf_text_y + ctm5));
    const double word_space = fp_str(line.word_space);
    for (const LChar& ch : line.chars) {
      const CharInfo& ci = fonts.lookup(ch.cp);
      if (!is_blank(ch.cp)) {
        const double px = scale * x + ctm4;
        const double fx = std::floor(px);
        const int frac = std::min(3, static_cast<int>((px - fx) * 4));
        const GlyphBitmap& bm = fonts.bitmap(ci, frac);
        if (bm.width > 0)
          draw_glyph(cv, bm, static_cast<int>(fx), oy, text_colors[ch.color ? 1 : 0].data());
      }
      // Gfx::doShowText: dx = w * fontSize + charSpace (+ wordSpace for code 32; U+00A0 is
      // code 32 too), one sum added to the current point.
      double dx = ci.pdf_advance;
      if (ch.cp == U' ' || ch.cp == 0xA0) dx += word_space;
      x += dx;
    }
  };
  std::size_t drawn = 0;
  for (const Rect& r : laid.rects) {
    for (; drawn < r.lines_before && drawn < laid.lines.size(); ++drawn) draw_line(laid.lines[drawn]);
    const double x0 = r.x * scale, y0 = r.y * scale, x1 = (r.x + r.w) * scale,
                 y1 = (r.y + r.h) * scale;
    if (r.fill) fill_rect(cv, x0, y0, x1, y1, bytes(r.fill_color).data());
    if (r.stroke) {
      const auto sc = bytes(r.stroke_color);
      const double h = 0.5 * r.line_width * scale;
      fill_rect(cv, x0 - h, y0 - h, x1 + h, y0 + h, sc.data());  // top
      fill_rect(cv, x0 - h, y1 - h, x1 + h, y1 + h, sc.data());  // bottom
      fill_rect(cv, x0 - h, y0 - h, x0 + h, y1 + h, sc.data());  // left
      fill_rect(cv, x1 - h, y0 - h, x1 + h, y1 + h, sc.data());  // right
    }
  }
  for (; drawn < laid.lines.size(); ++drawn) draw_line(laid.lines[drawn]);
}

}  // namespace

void rasterize(const LaidPage& laid, const RenderConfig& cfg, FontSet& fonts, Rgb markup_color,
               Raster& out) {
  const double scale = cfg.dpi / 72.0;
  out.width = static_cast<int>(std::ceil(cfg.page_width * scale));
  out.height = static_cast<int>(std::ceil(cfg.page_height * scale));
  const Rgb colors[2] = {cfg.font_color, markup_color};
  bool all_gray = cfg.page_bg_color.is_gray() && colors[0].is_gray() && colors[1].is_gray();
  for (const Rect& r : laid.rects)
    all_gray = all_gray && (!r.fill || r.fill_color.is_gray()) && (!r.stroke || r.stroke_color.is_gray());
  if (all_gray) {
    out.channels = 1;
    out.stride = static_cast<std::size_t>(out.width) + kGrayPad;
    out.data.assign(out.stride * out.height, cfg.page_bg_color.r);
    Canvas<1> cv{out.data.data(), out.width, out.height, static_cast<int>(out.stride)};
    draw_page(cv, laid, cfg, fonts, colors);
  } else {
    out.channels = 3;
    out.stride = static_cast<std::size_t>(out.width) * 3;
    const std::size_t n = static_cast<std::size_t>(out.width) * out.height;
    out.data.resize(n * 3);
    std::uint8_t* p = out.data.data();
    for (std::size_t i = 0; i < n; ++i) {
      p[3 * i] = cfg.page_bg_color.r;
      p[3 * i + 1] = cfg.page_bg_color.g;
      p[3 * i + 2] = cfg.page_bg_color.b;
    }
    Canvas<3> cv{p, out.width, out.height, static_cast<int>(out.stride)};
    draw_page(cv, laid, cfg, fonts, colors);
  }
}

void copy_to_page(const Raster& r, int width, int height, Page& page) {
  page.width = width;
  page.height = height;
  page.pixels.resize(static_cast<std::size_t>(width) * height * 3);  // no zero fill: all written
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* src = r.row(y);
    if (r.channels == 1)
      expand_gray(src, page.row(y), static_cast<std::size_t>(width));
    else
      std::memcpy(page.row(y), src, static_cast<std::size_t>(width) * 3);
  }
}

}  // namespace glyph
