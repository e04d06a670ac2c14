#include "render/font.h"

#include <algorithm>
#include <cmath>
#include <deque>

#include FT_TRUETYPE_TABLES_H
#include <hb-ft.h>
#include <hb-ot.h>

#include "common/check.h"
#include "glyph/common/file.h"
#include "render/fp_str.h"

namespace glyph {

namespace {
struct FtLibraryDeleter {
  void operator()(FT_Library l) const { FT_Done_FreeType(l); }
};
struct FtFaceDeleter {
  void operator()(FT_Face f) const { FT_Done_Face(f); }
};
struct HbFontDeleter {
  void operator()(hb_font_t* f) const { hb_font_destroy(f); }
};
using FtFacePtr = std::unique_ptr<FT_FaceRec_, FtFaceDeleter>;
using HbFontPtr = std::unique_ptr<hb_font_t, HbFontDeleter>;

const char* ft_error_string(FT_Error err) {
#undef FTERRORS_H_
#define FT_ERRORDEF(e, v, s) \
  case e:                    \
    return s;
#define FT_ERROR_START_LIST switch (err) {
#define FT_ERROR_END_LIST }
#include FT_ERRORS_H
  return "unknown FreeType error";
}

HbFontPtr make_hb_font(const std::shared_ptr<const std::vector<unsigned char>>& bytes, int index) {
  // The blob aliases the shared bytes; the FontSet keeps them alive for the font's lifetime.
  hb_blob_t* blob = hb_blob_create(reinterpret_cast<const char*>(bytes->data()),
                                   static_cast<unsigned>(bytes->size()),
                                   HB_MEMORY_MODE_READONLY, nullptr, nullptr);
  hb_face_t* face = hb_face_create(blob, static_cast<unsigned>(index));
  hb_blob_destroy(blob);
  hb_font_t* font = hb_font_create(face);
  hb_face_destroy(face);
  hb_ot_font_set_funcs(font);
  hb_font_set_scale(font, static_cast<int>(hb_face_get_upem(hb_font_get_face(font))),
                    static_cast<int>(hb_face_get_upem(hb_font_get_face(font))));
  return HbFontPtr(font);
}
}  // namespace

FontData load_font_data(const std::string& path, const std::string& config_key, int face_index) {
  GLYPH_CHECK(!path.empty(), FontError,
              "config key '{}': no font given (set it to a .ttf/.otf/.ttc file; a config built from "
              "the reference defaults, as a partial dict or file is, names no font: start from "
              "RenderConfig::glyph_default(), glyph.RenderConfig.glyph_default() in Python)",
              config_key);
  std::string data;
  try {
    data = read_file(path, "font file");
  } catch (const IoError& e) {
    GLYPH_THROW(FontError, "config key '{}': {}", config_key, e.what());
  }
  auto bytes = std::make_shared<std::vector<unsigned char>>(data.begin(), data.end());
  GLYPH_CHECK(!bytes->empty(), FontError, "config key '{}': font file '{}' is empty", config_key,
              path);
  FT_Library lib = nullptr;
  GLYPH_CHECK(FT_Init_FreeType(&lib) == 0, FontError, "FreeType failed to initialise");
  std::unique_ptr<FT_LibraryRec_, FtLibraryDeleter> lib_owner(lib);
  FT_Face face = nullptr;
  FT_Error err = FT_New_Memory_Face(lib, bytes->data(), static_cast<FT_Long>(bytes->size()),
                                    face_index, &face);
  GLYPH_CHECK(err == 0, FontError,
              "config key '{}': '{}' is not a font FreeType can read ({}; FreeType error 0x{:02X})",
              config_key, path, ft_error_string(err), err);
  FtFacePtr face_owner(face);
  GLYPH_CHECK(FT_IS_SCALABLE(face), FontError,
              "config key '{}': '{}' is a bitmap-only font; a scalable (TrueType/OpenType) font "
              "is needed",
              config_key, path);
  GLYPH_CHECK(face->charmap != nullptr && face->num_glyphs > 1, FontError,
              "config key '{}': font '{}' has no Unicode character map", config_key, path);
  // Load one glyph to catch truncated or corrupt outline data now rather than mid-render.
  FT_UInt probe = FT_Get_Char_Index(face, 'a');
  if (probe == 0) probe = FT_Get_Char_Index(face, 0x4E00);
  if (probe != 0) {
    FT_Set_Char_Size(face, 0, 12 * 64, 72, 72);
    err = FT_Load_Glyph(face, probe, FT_LOAD_NO_HINTING);
    GLYPH_CHECK(err == 0, FontError, "config key '{}': font '{}' is corrupt ({})", config_key, path,
                ft_error_string(err));
  }
  return FontData{path, config_key, bytes, face_index};
}

struct FontSet::Face {
  std::shared_ptr<const std::vector<unsigned char>> bytes;
  FtFacePtr ft;
  HbFontPtr hb;
  double scale1000 = 1;  // font units -> 1/1000 em
  double notdef_width1000 = 0;
  FT_Matrix matrix{0x10000, 0, 0, 0x10000};  // what the whole-pixel size leaves to scale
  // glyph * 4 + frac -> index into bitmaps (-1: not rendered yet)
  std::vector<std::int32_t> slots;
  std::deque<GlyphBitmap> bitmaps;  // deque: references stay valid
};

FontSet::FontSet(const std::vector<FontData>& fonts, double font_size, double pixel_per_point)
    : bmp_(0x10000), bmp_known_(0x10000, 0), font_size_(font_size) {
  GLYPH_CHECK(!fonts.empty(), FontError, "no font given");
  GLYPH_CHECK(FT_Init_FreeType(&library_) == 0, FontError, "FreeType failed to initialise");
  const double pixel_size = font_size * pixel_per_point;
  for (const auto& fd : fonts) {
    auto f = std::make_unique<Face>();
    f->bytes = fd.bytes;
    FT_Face face = nullptr;
    FT_Error err = FT_New_Memory_Face(library_, fd.bytes->data(),
                                      static_cast<FT_Long>(fd.bytes->size()), fd.face_index, &face);
    GLYPH_CHECK(err == 0, FontError, "config key '{}': cannot open font '{}' ({})", fd.config_key,
                fd.path, ft_error_string(err));
    f->ft.reset(face);
    // As poppler's SplashFTFont: the face is set to a whole number of pixels and the rest of
    // the scale goes into FreeType's transform (16.16, truncated), so glyphs at 100 dpi (12.5 px
    // for 9 pt) are 13 px outlines scaled by 12.5/13, not 12.5 px outlines. Unhinted, as pdftoppm.
    const int whole_px = std::max(1, static_cast<int>(std::floor(pixel_size + 0.5)));
    err = FT_Set_Pixel_Sizes(face, 0, static_cast<FT_UInt>(whole_px));
    GLYPH_CHECK(err == 0, FontError, "config key '{}': font '{}' cannot be sized to {} px ({})",
                fd.config_key, fd.path, pixel_size, ft_error_string(err));
    const auto fixed = static_cast<FT_Fixed>(pixel_size / whole_px * 65536);
    f->matrix = FT_Matrix{fixed, 0, 0, fixed};
    f->hb = make_hb_font(fd.bytes, fd.face_index);
    const double upem = face->units_per_EM ? face->units_per_EM : 1000;
    f->scale1000 = 1000.0 / upem;
    f->notdef_width1000 = hb_font_get_glyph_h_advance(f->hb.get(), 0) * f->scale1000;
    f->slots.assign(static_cast<std::size_t>(face->num_glyphs) * 4, -1);
    faces_.push_back(std::move(f));
  }
  // reportlab's TTF ascent/descent come from the hhea table (scaled to 1000 units).
  FT_Face primary = faces_[0]->ft.get();
  auto* hhea = static_cast<TT_HoriHeader*>(FT_Get_Sfnt_Table(primary, FT_SFNT_HHEA));
  if (hhea) {
    ascent1000_ = hhea->Ascender * faces_[0]->scale1000;
    descent1000_ = hhea->Descender * faces_[0]->scale1000;
  } else {
    ascent1000_ = primary->ascender * faces_[0]->scale1000;
    descent1000_ = primary->descender * faces_[0]->scale1000;
  }
}

FontSet::~FontSet() {
  faces_.clear();  // faces before the library
  if (library_) FT_Done_FreeType(library_);
}

CharInfo FontSet::compute(char32_t cp) {
  // reportlab draws U+00A0 with the space glyph and width (ttfonts.py charToGlyph[0xa0]).
  if (cp == 0xA0) {
    CharInfo space = compute(0x20);
    if (!space.missing) return space;
  }
  CharInfo info;
  for (std::size_t i = 0; i < faces_.size(); ++i) {
    hb_codepoint_t gid = 0;
    if (hb_font_get_nominal_glyph(faces_[i]->hb.get(), cp, &gid) && gid != 0) {
      info.font = static_cast<std::uint16_t>(i);
      info.glyph = gid;
      info.width1000 = hb_font_get_glyph_h_advance(faces_[i]->hb.get(), gid) * faces_[i]->scale1000;
      return info;
    }
  }
  // No font has it: draw the primary font's .notdef box at its width, and report it.
  info.missing = true;
  info.width1000 = faces_[0]->notdef_width1000;
  return info;
}


CharInfo FontSet::compute_with_advance(char32_t cp) {
  CharInfo info = compute(cp);
  // poppler advances glyphs by the PDF /Widths entry (written with fp_str), read as W * 0.001
  // and multiplied by the Tf size.
  info.pdf_advance = fp_str(info.width1000) * 0.001 * fp_str(font_size_);
  return info;
}

const CharInfo& FontSet::lookup_slow(char32_t cp) {
  if (cp < 0x10000) {
    bmp_[cp] = compute_with_advance(cp);
    bmp_known_[cp] = 1;
    return bmp_[cp];
  }
  auto it = astral_.find(cp);
  if (it == astral_.end()) it = astral_.emplace(cp, compute_with_advance(cp)).first;
  return it->second;
}

const GlyphBitmap& FontSet::bitmap(std::uint16_t font, std::uint32_t glyph, int frac) {
  Face& f = *faces_[font];
  std::size_t slot = static_cast<std::size_t>(glyph) * 4 + static_cast<std::size_t>(frac);
  if (slot < f.slots.size() && f.slots[slot] >= 0) return f.bitmaps[f.slots[slot]];
  GlyphBitmap bm;
  FT_Face face = f.ft.get();
  FT_Vector delta{static_cast<FT_Pos>(frac * 16), 0};  // frac/4 px in 26.6
  FT_Set_Transform(face, &f.matrix, &delta);
  if (FT_Load_Glyph(face, glyph, FT_LOAD_NO_HINTING | FT_LOAD_NO_BITMAP) == 0 &&
      FT_Render_Glyph(face->glyph, FT_RENDER_MODE_NORMAL) == 0) {
    const FT_Bitmap& b = face->glyph->bitmap;
    bm.left = face->glyph->bitmap_left;
    bm.top = face->glyph->bitmap_top;
    bm.width = static_cast<int>(b.width);
    bm.rows = static_cast<int>(b.rows);
    bm.stride = (bm.width + 15) / 16 * 16;
    bm.alpha.assign(static_cast<std::size_t>(bm.stride) * bm.rows, 0);
    for (int y = 0; y < bm.rows; ++y)
      for (int x = 0; x < bm.width; ++x)
        bm.alpha[static_cast<std::size_t>(y) * bm.stride + x] = b.buffer[y * b.pitch + x];
  }
  FT_Set_Transform(face, nullptr, nullptr);
  if (slot >= f.slots.size()) f.slots.resize(slot + 1, -1);
  f.slots[slot] = static_cast<std::int32_t>(f.bitmaps.size());
  f.bitmaps.push_back(std::move(bm));
  return f.bitmaps.back();
}

}  // namespace glyph
