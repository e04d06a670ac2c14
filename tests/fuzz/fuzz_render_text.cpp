// Arbitrary bytes as text through the whole renderer (UTF-8 decoding, text preparation, markup,
// line breaking, pagination, raster) under four small-page configs: Latin justified, CJK with a
// fallback font, the inline newline marker, and right/centre alignment with indents and borders.
// The first input byte picks the config; the rest is the text.
#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "glyph/render/renderer.h"

namespace {

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
  const glyph::Renderer& r = *renderers[in.byte() % renderers.size()];
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
  return 0;
}
