// Fonts: FreeType faces and HarfBuzz fonts built from the same bytes, a per-character lookup
// (which font in the fallback chain draws it, its glyph and reportlab-style advance), and a cache
// of anti-aliased glyph bitmaps at quarter-pixel horizontal offsets.
//
// A FontSet is confined to one thread (FreeType handles are not thread-safe); font bytes are shared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <ft2build.h>
#include FT_FREETYPE_H
#include <hb.h>

namespace glyph {

// The bytes of one font file, read and checked once (the Renderer shares them across threads).
struct FontData {
  std::string path;
  std::string config_key;  // which config key named it, for error messages
  std::shared_ptr<const std::vector<unsigned char>> bytes;
  int face_index = 0;
};

// Reads and verifies a font file (FreeType must open it and it must map characters).
// Throws FontError naming `config_key` and the path.
FontData load_font_data(const std::string& path, const std::string& config_key, int face_index = 0);

struct GlyphBitmap {
  int left = 0;   // x offset from the pen position to the bitmap's left column
  int top = 0;    // rows from the bitmap's top row up to the baseline
  int width = 0;
  int rows = 0;
  int stride = 0;  // bytes per row of `alpha`: width rounded up to 16, zero padded (SIMD blends)
  std::vector<std::uint8_t> alpha;  // rows x stride coverage
};

struct CharInfo {
  std::uint16_t font = 0;     // index in the FontSet
  std::uint32_t glyph = 0;    // glyph id in that font (0 = .notdef)
  double width1000 = 0;       // advance in 1/1000 em (reportlab's TTFont widths)
  double pdf_advance = 0;     // points: the PDF /Widths entry (fp_str-rounded) x size / 1000
  bool missing = false;       // no font in the chain has this character
  // Drawn bitmaps at the four quarter-pixel offsets, filled on first use by FontSet::bitmap.
  mutable const GlyphBitmap* bitmaps[4] = {nullptr, nullptr, nullptr, nullptr};
};

class FontSet {
 public:
  // `pixel_per_point` = dpi / 72; `font_size` in points.
  FontSet(const std::vector<FontData>& fonts, double font_size, double pixel_per_point);
  ~FontSet();
  FontSet(const FontSet&) = delete;
  FontSet& operator=(const FontSet&) = delete;

  // Which font draws `cp`, its glyph and advance. Inline for the common case (a BMP character
  // seen before): layout and raster call it once or twice per character.
  const CharInfo& lookup(char32_t cp) {
    if (cp < 0x10000 && bmp_known_[cp]) return bmp_[cp];
    return lookup_slow(cp);
  }
  // Anti-aliased bitmap of `ci`'s glyph with its origin shifted right by frac/4 px (0..3).
  const GlyphBitmap& bitmap(const CharInfo& ci, int frac) {
    const GlyphBitmap* b = ci.bitmaps[frac];
    if (!b) b = ci.bitmaps[frac] = &bitmap(ci.font, ci.glyph, frac);
    return *b;
  }
  const GlyphBitmap& bitmap(std::uint16_t font, std::uint32_t glyph, int frac);

  // reportlab's getAscentDescent for the primary font, in 1/1000 em.
  double ascent1000() const { return ascent1000_; }
  double descent1000() const { return descent1000_; }
  double font_size() const { return font_size_; }
  std::size_t size() const { return faces_.size(); }

 private:
  struct Face;
  const CharInfo& lookup_slow(char32_t cp);
  CharInfo compute(char32_t cp);
  CharInfo compute_with_advance(char32_t cp);

  FT_Library library_ = nullptr;
  std::vector<std::unique_ptr<Face>> faces_;
  std::vector<CharInfo> bmp_;             // U+0000..U+FFFF, filled lazily
  std::vector<std::uint8_t> bmp_known_;
  std::unordered_map<char32_t, CharInfo> astral_;
  double ascent1000_ = 0, descent1000_ = 0;
  double font_size_ = 0;
};

}  // namespace glyph
