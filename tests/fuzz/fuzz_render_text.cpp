// Arbitrary bytes as text through the whole renderer (UTF-8 decoding, text preparation, markup,
// line breaking, pagination, raster) under four small-page configs: Latin justified, CJK with a
// fallback font, the inline newline marker, and right/centre alignment with indents and borders.
// The first input byte picks the config; the rest is the text.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "glyph/common/utf8.h"
#include "glyph/render/renderer.h"

namespace {

// What config 2's newline marker draws for a source '\n' (its markup's text).
constexpr std::u32string_view kMarkerText = U"\\n";
constexpr std::size_t kMarkerConfig = 2;

// Characters a page may leave undrawn, written here from the documented rules rather than taken
// from the renderer: whitespace (reportlab collapses it and drops it at line ends; runs of spaces
// become U+00A0, which a one-fragment CJK line strips), and what Glyph's text preparation
// removes (U+00AD, U+200B, control characters other than whitespace).
bool undrawn(char32_t c) {
  if (c <= 0x20 || c == 0x7F || (c >= 0x80 && c <= 0xA0) || c == 0xAD) return true;
  return c == 0x1680 || (c >= 0x2000 && c <= 0x200B) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

std::u32string drawn(std::u32string_view s) {
  std::u32string out;
  for (char32_t c : s)
    if (!undrawn(c)) out.push_back(c);
  return out;
}

// The source text as it should appear on the pages, undrawn characters left out. With the
// marker, every '\n' shows as the marker's text except each 30th, which ends a paragraph.
std::u32string expected_drawn(std::u32string_view text, bool marker) {
  std::u32string out;
  int newlines = 0;
  for (char32_t c : text) {
    if (c == U'\n' && marker && ++newlines % 30 != 0)
      out += drawn(kMarkerText);
    else if (!undrawn(c))
      out.push_back(c);
  }
  return out;
}

std::u32string without_marker(std::u32string s) {
  std::u32string out;
  for (char32_t c : s)
    if (kMarkerText.find(c) == std::u32string_view::npos) out.push_back(c);
  return out;
}

glyph::RenderConfig small(glyph::RenderConfig c) {
  c.page_width = 150;
  c.page_height = 120;
  c.margin_x = 6;
  c.margin_y = 6;
  return c;
}

std::vector<std::unique_ptr<glyph::Renderer>> make_renderers() {
  std::vector<std::unique_ptr<glyph::Renderer>> out;
  const std::string font = glyph::default_font_path();
  glyph::RenderConfig latin = small(glyph::RenderConfig());
  latin.font_path = font;
  out.push_back(std::make_unique<glyph::Renderer>(latin));

  glyph::RenderConfig cjk = small(glyph::RenderConfig());
  cjk.font_path = font;
  if (std::string f = glyph::find_cjk_font(); !f.empty()) cjk.fallback_font_paths = {f};
  cjk.alignment = glyph::Alignment::kLeft;
  cjk.auto_crop_width = true;
  cjk.auto_crop_last_page = true;
  out.push_back(std::make_unique<glyph::Renderer>(cjk));

  glyph::RenderConfig marker = small(glyph::RenderConfig());
  marker.font_path = font;
  marker.newline_markup = "<font color=\"#FF0000\">\\n</font>";
  marker.dpi = 96;
  marker.font_size = 7;
  out.push_back(std::make_unique<glyph::Renderer>(marker));

  glyph::RenderConfig fancy = small(glyph::RenderConfig());
  fancy.font_path = font;
  fancy.alignment = glyph::Alignment::kRight;
  fancy.first_line_indent = 9;
  fancy.left_indent = 4;
  fancy.right_indent = 3;
  fancy.space_before = 2;
  fancy.space_after = 3;
  fancy.border_width = 1;
  fancy.border_padding = 2;
  fancy.para_border_color = glyph::Rgb{0, 0, 255};
  fancy.para_bg_color = glyph::Rgb{240, 240, 200};
  fancy.horizontal_scale = 0.8;
  fancy.line_height = 8.5;
  out.push_back(std::make_unique<glyph::Renderer>(fancy));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto renderers = make_renderers();
  glyph_fuzz::Input in{data, size};
  const std::size_t which = in.byte() % renderers.size();
  const glyph::Renderer& r = *renderers[which];
  const bool marker = which == kMarkerConfig;
  const std::string_view text = in.rest();

  glyph::RenderResult res;
  if (!glyph_fuzz::accepts([&] { res = r.render(text); })) return 0;
  const auto& st = res.stats;
  FUZZ_EXPECT(st.pages == res.pages.size(), "stats say %zu pages, got %zu", st.pages,
              res.pages.size());
  FUZZ_EXPECT(!res.pages.empty(), "no page for a text the renderer accepted");
  FUZZ_EXPECT(st.invalid_utf8 <= text.size() && st.characters <= text.size(), "counts too large");
  std::size_t prev_end = 0;
  std::int64_t tokens = 0;
  for (std::size_t i = 0; i < res.pages.size(); ++i) {
    const glyph::Page& p = res.pages[i];
    FUZZ_EXPECT(p.index == i, "page %zu has index %zu", i, p.index);
    FUZZ_EXPECT(p.width > 0 && p.height > 0, "page %zu is %dx%d", i, p.width, p.height);
    FUZZ_EXPECT(p.pixels.size() == static_cast<std::size_t>(p.width) * p.height * 3,
                "page %zu buffer", i);
    FUZZ_EXPECT(p.char_begin <= p.char_end && p.char_end <= st.characters,
                "page %zu spans [%zu, %zu) of %zu", i, p.char_begin, p.char_end, st.characters);
    // Pages' spans are in order and never overlap (docs/reliability.md, finding 5, fixed: the
    // CJK continuation re-wrap's added spaces count in no span).
    FUZZ_EXPECT(p.char_begin >= prev_end || i == 0,
                "page %zu starts %zu code points before the previous ends", i,
                prev_end - p.char_begin);
    prev_end = p.char_end;
    FUZZ_EXPECT(p.visual_tokens > 0, "page %zu has %d visual tokens", i, p.visual_tokens);
    tokens += p.visual_tokens;
  }
  FUZZ_EXPECT(tokens == st.visual_tokens, "visual tokens %lld vs %lld",
              static_cast<long long>(tokens), static_cast<long long>(st.visual_tokens));
  // The layout as data agrees with the pages.
  std::vector<glyph::PageLayout> lay;
  FUZZ_EXPECT(glyph_fuzz::accepts([&] { lay = r.layout(text); }), "layout refused what render took");
  FUZZ_EXPECT(lay.size() == res.pages.size(), "layout %zu pages, render %zu", lay.size(),
              res.pages.size());
  for (std::size_t i = 0; i < lay.size(); ++i)
    FUZZ_EXPECT(lay[i].char_begin == res.pages[i].char_begin &&
                    lay[i].char_end == res.pages[i].char_end,
                "page %zu span differs between layout and render", i);

  // The spans say exactly which source text each line and page shows (the SFT OCR targets are
  // text[char_begin:char_end]). Lines with a span are in order and never overlap; what lies
  // between two of them, or before the first and after the last, is undrawn; a line shows the
  // drawn characters of its span (with the marker, where a marker can be cut between two lines,
  // the marker's characters are left out of that comparison); a line with an empty span shows
  // nothing (or only marker characters); a page's span is its lines' hull, or, when none has a
  // span, empty where the previous page ended; and all lines together show the whole text.
  const std::u32string cps = glyph::decode_utf8(text).codepoints;
  FUZZ_EXPECT(cps.size() == st.characters, "decoded %zu code points, stats say %zu", cps.size(),
              st.characters);
  std::size_t line_end = 0;  // where the last line with a span ended
  std::u32string all_drawn;
  for (std::size_t i = 0; i < lay.size(); ++i) {
    const glyph::PageLayout& pl = lay[i];
    bool any = false;
    std::size_t lo = 0, hi = 0;
    for (std::size_t li = 0; li < pl.lines.size(); ++li) {
      const glyph::LineInfo& ln = pl.lines[li];
      const std::u32string shown = drawn(glyph::decode_utf8(ln.text).codepoints);
      all_drawn += shown;
      if (ln.char_begin == ln.char_end) {
        FUZZ_EXPECT((marker ? without_marker(shown) : shown).empty(),
                    "page %zu line %zu shows text but has an empty span", i, li);
        continue;
      }
      FUZZ_EXPECT(ln.char_begin < ln.char_end && ln.char_end <= cps.size(),
                  "page %zu line %zu spans [%zu, %zu) of %zu", i, li, ln.char_begin, ln.char_end,
                  cps.size());
      FUZZ_EXPECT(ln.char_begin >= line_end,
                  "page %zu line %zu starts at %zu, before the previous line ends (%zu)", i, li,
                  ln.char_begin, line_end);
      const std::u32string_view src(cps.data() + ln.char_begin, ln.char_end - ln.char_begin);
      FUZZ_EXPECT(drawn(std::u32string_view(cps).substr(line_end, ln.char_begin - line_end))
                      .empty(),
                  "source text [%zu, %zu) before page %zu line %zu is on no line", line_end,
                  ln.char_begin, i, li);
      if (marker)
        FUZZ_EXPECT(without_marker(shown) == without_marker(drawn(src)),
                    "page %zu line %zu does not show its span [%zu, %zu)", i, li, ln.char_begin,
                    ln.char_end);
      else
        FUZZ_EXPECT(shown == drawn(src), "page %zu line %zu does not show its span [%zu, %zu)",
                    i, li, ln.char_begin, ln.char_end);
      lo = any ? std::min(lo, ln.char_begin) : ln.char_begin;
      hi = any ? std::max(hi, ln.char_end) : ln.char_end;
      any = true;
      line_end = ln.char_end;
    }
    if (any)
      FUZZ_EXPECT(pl.char_begin == lo && pl.char_end == hi,
                  "page %zu spans [%zu, %zu), its lines [%zu, %zu)", i, pl.char_begin,
                  pl.char_end, lo, hi);
    else
      FUZZ_EXPECT(pl.char_begin == line_end && pl.char_end == line_end,
                  "page %zu shows no source text but spans [%zu, %zu), not empty at %zu", i,
                  pl.char_begin, pl.char_end, line_end);
  }
  FUZZ_EXPECT(drawn(std::u32string_view(cps).substr(line_end)).empty(),
              "source text from %zu on is on no line", line_end);
  FUZZ_EXPECT(all_drawn == expected_drawn(cps, marker),
              "the pages show %zu characters, the text has %zu to show", all_drawn.size(),
              expected_drawn(cps, marker).size());
  return 0;
}
