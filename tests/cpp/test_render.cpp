// Renderer tests as data: config parsing and errors, the reference's geometry (docs/reference-
// layout.md section 10), UTF-8, PNG round trip, resampling and auto-crop.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#include <stb/stb_image.h>

#include "glyph/glyph.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {
std::string ref_dir() { return GLYPH_TEST_REFERENCE_DIR; }
bool have_reference() { return fs::exists(ref_dir() + "/config_en.json"); }
std::string read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
glyph::RenderConfig config_en() {
  auto c = glyph::RenderConfig::from_file(ref_dir() + "/config_en.json");
  c.font_path = ref_dir() + "/Verdana.ttf";
  return c;
}
}  // namespace

TEST_CASE("smart_resize matches GLM-4.1V") {
  CHECK(glyph::smart_resize(842, 595).height == 840);
  CHECK(glyph::smart_resize(842, 595).width == 588);
  CHECK(glyph::visual_tokens(842, 595) == 630);
  CHECK(glyph::visual_tokens(1123, 794) == 1120);
  CHECK(glyph::visual_tokens(1404, 992) == 1750);
  CHECK(glyph::visual_tokens(10, 10) == 9);  // sides raised to 28, then 2x84x84 >= min_pixels
  CHECK_THROWS_AS(glyph::smart_resize(10, 5000), glyph::InputError);
}

TEST_CASE("config defaults and JSON round trip") {
  glyph::RenderConfig c;
  CHECK(c.leading() == 10);
  CHECK(c.alignment == glyph::Alignment::kJustify);
  auto j = c.to_json();
  auto back = glyph::RenderConfig::from_json(j);
  CHECK(back.to_json() == j);
  auto d = glyph::RenderConfig::from_json(R"({"page-size": "612,792", "font-size": 10})");
  CHECK(d.page_width == 612);
  CHECK(d.leading() == 11);
  d.set("alignment", "\"center\"");
  CHECK(d.alignment == glyph::Alignment::kCenter);
}

TEST_CASE("config errors name the key and the value") {
  CHECK_THROWS_WITH(glyph::RenderConfig::from_json(R"({"font-size": "x"})"),
                    Contains("font-size") && Contains("expected a number"));
  CHECK_THROWS_WITH(glyph::RenderConfig::from_json(R"({"font-color": "#ggg000"})"),
                    Contains("font-color") && Contains("#ggg000"));
  CHECK_THROWS_WITH(glyph::RenderConfig::from_json(R"({"alignment": "MIDDLE"})"),
                    Contains("alignment") && Contains("MIDDLE"));
  CHECK_THROWS_WITH(glyph::RenderConfig::from_json(R"({"fontsize": 9})"),
                    Contains("unknown config key 'fontsize'"));
  CHECK_THROWS_WITH(glyph::RenderConfig::from_json("[1, 2]"), Contains("JSON object"));
  glyph::RenderConfig c;
  c.margin_x = 300;
  CHECK_THROWS_WITH(c.validate(), Contains("margin-x") && Contains("300"));
  c = glyph::RenderConfig();
  c.dpi = 2;
  CHECK_THROWS_WITH(c.validate(), Contains("dpi"));
  c = glyph::RenderConfig();  // each key in range, the page too big to draw (240000 px a side)
  c.dpi = 1200;
  c.page_width = c.page_height = 14400;
  CHECK_THROWS_WITH(c.validate(), Contains("'page-size' and 'dpi'") && Contains("lower the dpi"));
  c = glyph::RenderConfig();
  c.newline_markup = "<p/>";
  CHECK_THROWS_WITH(c.validate(), Contains("newline-markup"));
  c = glyph::RenderConfig();
  c.font_path = "/nonexistent/font.ttf";
  CHECK_THROWS_AS(glyph::Renderer(c), glyph::FontError);
}

TEST_CASE("paragraph-lines and tab-nbsp: extensions saved only when not default, checked") {
  glyph::RenderConfig c;
  CHECK(c.paragraph_lines == 30);
  CHECK(c.tab_nbsp == 0);
  CHECK(c.to_json().find("paragraph-lines") == std::string::npos);
  CHECK(c.to_json().find("tab-nbsp") == std::string::npos);
  const glyph::RenderConfig e = c.evaluation_layout();
  CHECK(e.paragraph_lines == 0);
  CHECK(e.tab_nbsp == 4);
  CHECK(e.is_evaluation_layout());
  CHECK(!c.is_evaluation_layout());
  const auto back = glyph::RenderConfig::from_json(e.to_json());
  CHECK(back.paragraph_lines == 0);
  CHECK(back.tab_nbsp == 4);
  CHECK(back.to_json() == e.to_json());
  CHECK_THROWS_WITH(glyph::RenderConfig::from_json(R"({"paragraph-lines": 1.5})"),
                    Contains("paragraph-lines") && Contains("whole number"));
  CHECK_THROWS_WITH(glyph::RenderConfig::from_json(R"({"paragraph-lines": 1e300})"),
                    Contains("paragraph-lines") && Contains("1e+300"));
  CHECK_THROWS_WITH(glyph::RenderConfig::from_json(R"({"tab-nbsp": "4"})"),
                    Contains("tab-nbsp") && Contains("whole number"));
  c.paragraph_lines = -2;
  CHECK_THROWS_WITH(c.validate(), Contains("paragraph-lines") && Contains("-2"));
  c = glyph::RenderConfig();
  c.tab_nbsp = 65;
  CHECK_THROWS_WITH(c.validate(), Contains("tab-nbsp") && Contains("64"));
}

TEST_CASE("paragraph-lines cuts paragraphs, tab-nbsp draws tabs as no-break spaces") {
  glyph::RenderConfig cfg = glyph::RenderConfig::glyph_default();
  cfg.first_line_indent = 15;  // marks each paragraph's first line
  std::string text;
  for (int i = 0; i < 70; ++i) text += (i ? "\n" : "") + ("l" + std::to_string(i)) + "\tx";
  // The indices of the lines that start a paragraph (x: 10 pt margin + 6 pt padding + 15).
  auto first_lines = [&](const glyph::RenderConfig& c) {
    std::vector<std::size_t> out;
    std::size_t n = 0;
    for (const auto& page : glyph::Renderer(c).layout(text))
      for (const auto& line : page.lines) {
        if (line.x == 31) out.push_back(n);
        ++n;
      }
    return out;
  };
  CHECK(first_lines(cfg) == std::vector<std::size_t>{0, 30, 60});
  cfg.paragraph_lines = 7;
  CHECK(first_lines(cfg) == std::vector<std::size_t>{0, 7, 14, 21, 28, 35, 42, 49, 56, 63});
  cfg.paragraph_lines = 0;
  CHECK(first_lines(cfg) == std::vector<std::size_t>{0});
  auto line0 = [&](const glyph::RenderConfig& c) { return glyph::Renderer(c).layout(text)[0].lines[0].text; };
  CHECK(line0(cfg) == "l0 x");
  cfg.tab_nbsp = 4;
  CHECK(line0(cfg) == "l0\u00A0\u00A0\u00A0\u00A0x");
  cfg.tab_nbsp = 1;
  CHECK(line0(cfg) == "l0\u00A0x");
}

TEST_CASE("UTF-8 decoding replaces and counts invalid sequences like Python") {
  auto d = glyph::decode_utf8("a\xff" "b\xe2\x82" "c\xf0\x9f\x98\x80");
  CHECK(d.invalid_sequences == 2);
  CHECK(d.codepoints == std::u32string(U"a\uFFFDb\uFFFDc\U0001F600"));
  CHECK(glyph::encode_utf8(d.codepoints) == "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xf0\x9f\x98\x80");
}

TEST_CASE("geometry of config_en matches the reference (docs/reference-layout.md 10)") {
  if (!have_reference()) return;
  glyph::Renderer r(config_en());
  std::string text = read_file(ref_dir() + "/input.txt");
  auto pages = r.layout(text);
  REQUIRE(pages.size() == 1);
  REQUIRE(pages[0].lines.size() == 54);
  CHECK(pages[0].lines[0].text == "Little Red Riding Hood");
  CHECK(pages[0].lines[0].width == Approx(100.52490234375).epsilon(1e-12));
  CHECK(pages[0].lines[0].x == 16);
  CHECK(pages[0].lines[0].baseline == 25);  // 842 - 817 pt
  CHECK(pages[0].lines[1].baseline == 35);
  CHECK(pages[0].lines[1].width == Approx(559.99072265625).epsilon(1e-12));
  auto result = r.render(text);
  REQUIRE(result.pages.size() == 1);
  CHECK(result.pages[0].width == 589);
  CHECK(result.pages[0].height == 566);
}

TEST_CASE("reference defaults: A4 at 72 dpi is 596x842 with 78 lines per page") {
  if (!have_reference()) return;
  glyph::RenderConfig c;
  c.font_path = ref_dir() + "/Verdana.ttf";
  glyph::Renderer r(c);
  std::string text;
  for (int i = 0; i < 200; ++i) text += "line " + std::to_string(i) + "\n";
  auto pages = r.layout(text);
  REQUIRE(pages.size() >= 2);
  CHECK(pages[0].lines.size() == 78);
  auto res = r.render("x");
  CHECK(res.pages[0].width == 596);
  CHECK(res.pages[0].height == 842);
}

TEST_CASE("PNG round trip is lossless at every compression level") {
  glyph::Renderer r;  // default config, shipped font
  auto res = r.render("PNG round trip 0123456789");
  const glyph::Page& p = res.pages.at(0);
  for (int level : {0, 1, 6, 9}) {
    auto bytes = glyph::encode_png(p, level);
    int w, h, n;
    unsigned char* data = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w,
                                                &h, &n, 3);
    REQUIRE(data != nullptr);
    CHECK(w == p.width);
    CHECK(h == p.height);
    CHECK(std::equal(p.pixels.begin(), p.pixels.end(), data));
    stbi_image_free(data);
  }
  CHECK_THROWS_AS(glyph::write_png(p, "/nonexistent-dir/x/page.png"), glyph::IoError);
}

TEST_CASE("bicubic resize: identity, constant images and sizes") {
  std::vector<std::uint8_t> img(7 * 5 * 3);
  for (std::size_t i = 0; i < img.size(); ++i) img[i] = static_cast<std::uint8_t>(i * 37 % 251);
  auto same = glyph::resize_bicubic(img.data(), 7, 5, 7, 5);
  CHECK(same == img);
  std::vector<std::uint8_t> flat(40 * 30 * 3, 200);
  auto small = glyph::resize_bicubic(flat.data(), 40, 30, 13, 11);
  CHECK(small.size() == 13 * 11 * 3);
  CHECK(std::all_of(small.begin(), small.end(), [](std::uint8_t v) { return v == 200; }));
}

TEST_CASE("bicubic weight tables: what resize_bicubic runs, exposed for the VLM's page op") {
  // Each output's weights sum to 1.0 in 22-bit fixed point (up to the per-weight rounding) and
  // read inside the input; downscaling widens the support.
  for (auto [in, out] : {std::pair{595, 588}, std::pair{842, 840}, std::pair{300, 112},
                         std::pair{26, 112}, std::pair{1000, 250}}) {
    const glyph::BicubicCoeffs c = glyph::bicubic_coeffs(in, out);
    REQUIRE(c.bounds.size() == 2u * out);
    REQUIRE(c.k.size() == static_cast<std::size_t>(out) * c.ksize);
    for (int o = 0; o < out; ++o) {
      const int first = c.bounds[2 * o], n = c.bounds[2 * o + 1];
      CHECK(first >= 0);
      CHECK(n >= 1);
      CHECK(n <= c.ksize);
      CHECK(first + n <= in);
      long sum = 0;
      for (int j = 0; j < n; ++j) sum += c.k[static_cast<std::size_t>(o) * c.ksize + j];
      CHECK(std::abs(sum - (1L << glyph::kResizePrecisionBits)) <= c.ksize);
    }
    if (in > out) CHECK(c.ksize > 5);
  }
  // One horizontal pass by hand from the table equals resize_bicubic's (height unchanged).
  std::vector<std::uint8_t> img(37 * 3 * 3);
  for (std::size_t i = 0; i < img.size(); ++i) img[i] = static_cast<std::uint8_t>(i * 91 % 256);
  const auto resized = glyph::resize_bicubic(img.data(), 37, 3, 16, 3);
  const glyph::BicubicCoeffs c = glyph::bicubic_coeffs(37, 16);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 16; ++x)
      for (int ch = 0; ch < 3; ++ch) {
        int s = 1 << (glyph::kResizePrecisionBits - 1);
        for (int j = 0; j < c.bounds[2 * x + 1]; ++j)
          s += img[(y * 37 + c.bounds[2 * x] + j) * 3 + ch] * c.k[x * c.ksize + j];
        const int v = std::clamp(s >> glyph::kResizePrecisionBits, 0, 255);
        CHECK(resized[(y * 16 + x) * 3 + ch] == (s < 0 ? 0 : v));
      }
  CHECK_THROWS_AS(glyph::bicubic_coeffs(0, 5), glyph::InputError);
}

TEST_CASE("auto-crop keeps last ink + margin (width +1, height without +1)") {
  glyph::Page p;
  p.width = 50;
  p.height = 40;
  p.pixels.assign(50 * 40 * 3, 255);
  p.row(20)[3 * 30] = 0;  // one ink pixel at (x=30, y=20)
  glyph::auto_crop(p, true, true, 5, 4);
  CHECK(p.width == 36);   // 30 + 1 + 5
  CHECK(p.height == 24);  // 20 + 4
}

TEST_CASE("render_batch is identical for any thread count") {
  glyph::Renderer r;
  std::vector<std::string> texts;
  for (int i = 0; i < 6; ++i) texts.push_back(std::string(300 * (i + 1), 'a') + " end " + std::to_string(i));
  auto one = r.render_batch(texts, 1);
  auto two = r.render_batch(texts, 2);
  REQUIRE(one.size() == two.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    REQUIRE(one[i].pages.size() == two[i].pages.size());
    for (std::size_t k = 0; k < one[i].pages.size(); ++k)
      CHECK(one[i].pages[k].pixels == two[i].pages[k].pixels);
  }
}

TEST_CASE("page buffers: freed large buffers are reused at the same size, small ones are not pooled") {
  const std::size_t big = 1u << 20;
  const void* first = nullptr;
  {
    glyph::PixelBuffer a;
    a.resize(big);
    a[0] = 1;
    a[big - 1] = 2;  // the whole buffer is writable memory
    first = a.data();
  }
  {
    glyph::PixelBuffer b;
    b.resize(big);
    CHECK(static_cast<const void*>(b.data()) == first);  // came back from the pool
    glyph::PixelBuffer c;
    c.resize(big);
    CHECK(static_cast<const void*>(c.data()) != first);  // the pooled one is taken
    glyph::PixelBuffer d;
    d.resize(big + 3);  // another size: a fresh buffer
    CHECK(static_cast<const void*>(d.data()) != first);
  }
  // Value semantics are those of std::vector: copies are deep, assign fills.
  glyph::PixelBuffer e(300000, 7);
  glyph::PixelBuffer f = e;
  f[0] = 9;
  CHECK(e[0] == 7);
  CHECK(f.size() == 300000);
}

// ---- streaming text input -----------------------------------------------------------------------

namespace {

// Serves a text in pieces of the given sizes (cycled), so cuts fall inside UTF-8 sequences and
// between '\r' and '\n'.
class PiecesSource : public glyph::TextSource {
 public:
  PiecesSource(std::string text, std::vector<std::size_t> sizes)
      : text_(std::move(text)), sizes_(std::move(sizes)) {}
  std::size_t read(char* buf, std::size_t n) override {
    const std::size_t want = std::min({n, sizes_[k_++ % sizes_.size()], text_.size() - pos_});
    std::memcpy(buf, text_.data() + pos_, want);
    pos_ += want;
    return want;
  }
  void rewind() override {
    pos_ = 0;
    k_ = 0;
    ++rewinds;
  }
  int rewinds = 0;

 private:
  std::string text_;
  std::vector<std::size_t> sizes_;
  std::size_t pos_ = 0, k_ = 0;
};

std::string streaming_text(int lines, bool cjk) {
  std::string t;
  for (int i = 0; i < lines; ++i) {
    t += "line " + std::to_string(i) + (cjk && i % 3 == 0 ? " 中文段落，标点。" : " some words");
    if (i % 11 == 0) t += "  two\xc2\xa0spaces \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80";
    if (i % 17 == 0) t += " bad\xff\xe4\xb8 cut";  // invalid UTF-8: replaced and counted
    t += (i % 5 == 0) ? "\r\n" : "\n";
    if (i % 29 == 0) t += "\n";  // blank lines move the 30-line boundaries
  }
  return t;
}

void check_same(const glyph::Renderer& r, const std::string& text,
                const std::vector<std::size_t>& sizes) {
  glyph::RenderResult whole = r.render(text);
  PiecesSource src(text, sizes);
  std::vector<glyph::Page> pages;
  glyph::RenderStats st = r.render_each(src, [&](glyph::Page&& p) { pages.push_back(std::move(p)); });
  REQUIRE(pages.size() == whole.pages.size());
  for (std::size_t i = 0; i < pages.size(); ++i) {
    CHECK(pages[i].width == whole.pages[i].width);
    CHECK(pages[i].height == whole.pages[i].height);
    CHECK(pages[i].char_begin == whole.pages[i].char_begin);
    CHECK(pages[i].char_end == whole.pages[i].char_end);
    CHECK(pages[i].pixels == whole.pages[i].pixels);
  }
  CHECK(st.characters == whole.stats.characters);
  CHECK(st.invalid_utf8 == whole.stats.invalid_utf8);
  CHECK(st.removed == whole.stats.removed);
  CHECK(st.missing_glyphs == whole.stats.missing_glyphs);
  CHECK(st.visual_tokens == whole.stats.visual_tokens);
  // And the layout (line texts and spans).
  PiecesSource src2(text, sizes);
  auto a = r.layout(text);
  auto b = r.layout(src2);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].lines.size() == b[i].lines.size());
    CHECK(a[i].char_begin == b[i].char_begin);
    CHECK(a[i].char_end == b[i].char_end);
    for (std::size_t j = 0; j < a[i].lines.size(); ++j) {
      CHECK(a[i].lines[j].text == b[i].lines[j].text);
      CHECK(a[i].lines[j].char_begin == b[i].lines[j].char_begin);
      CHECK(a[i].lines[j].char_end == b[i].lines[j].char_end);
      CHECK(a[i].lines[j].x == b[i].lines[j].x);
    }
  }
}

}  // namespace

TEST_CASE("Utf8Decoder gives decode_utf8's code points for any cut of the bytes") {
  const std::string bytes =
      "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\xff\xe4\xb8 \xf0\x9f\x98\xed\xa0\x80\xc0\xaf\xe0\x80"
      "\xf4\x90\x80\x80z\xe4";
  const glyph::DecodedText whole = glyph::decode_utf8(bytes);
  for (std::size_t a = 0; a <= bytes.size(); ++a) {
    for (std::size_t b = a; b <= bytes.size(); ++b) {
      glyph::Utf8Decoder d;
      std::u32string out;
      d.decode(std::string_view(bytes).substr(0, a), out);
      d.decode(std::string_view(bytes).substr(a, b - a), out);
      d.decode(std::string_view(bytes).substr(b), out);
      d.finish(out);
      REQUIRE(out == whole.codepoints);
      REQUIRE(d.invalid_sequences() == whole.invalid_sequences);
    }
  }
  // One byte at a time.
  glyph::Utf8Decoder d;
  std::u32string out;
  for (char c : bytes) d.decode(std::string_view(&c, 1), out);
  d.finish(out);
  CHECK(out == whole.codepoints);
}

TEST_CASE("render from a TextSource equals the whole-text render, for any chunking") {
  glyph::RenderConfig cfg = glyph::RenderConfig::glyph_default();
  cfg.page_height = 300;  // many pages, paragraphs split across them
  const glyph::Renderer latin(cfg);
  const std::string text = streaming_text(200, false);
  for (const auto& sizes : std::vector<std::vector<std::size_t>>{{1}, {3, 7}, {4096}, {1 << 20}})
    check_same(latin, text, sizes);

  SECTION("CJK wrapping (decided by an ideograph late in the text)") {
    std::string t = streaming_text(150, false) + "末尾的中文\n";
    check_same(latin, t, {5, 2, 11});
    check_same(latin, streaming_text(120, true), {13});
  }
  SECTION("inline newline markup and paragraph spacing") {
    glyph::RenderConfig c2 = cfg;
    c2.newline_markup = "<font color=\"#FF0000\"> \\n </font>";
    c2.space_before = 3;
    c2.space_after = 5;
    c2.first_line_indent = 12;
    check_same(glyph::Renderer(c2), streaming_text(130, false), {2, 9});
    check_same(glyph::Renderer(c2), streaming_text(130, true), {7});
  }
  SECTION("the evaluation layout: the whole text one paragraph, tabs as no-break spaces") {
    const glyph::Renderer one(cfg.evaluation_layout());
    check_same(one, streaming_text(150, false), {1, 5, 3});
    check_same(one, streaming_text(120, true), {7, 4096});
    check_same(one, "", {3});
    check_same(one, std::string(90, '\n'), {1, 4});
  }
  SECTION("edge texts: empty, only newlines, exactly 30k + 1 parts") {
    check_same(latin, "", {3});
    check_same(latin, std::string(90, '\n'), {1, 4});
    std::string t;
    for (int i = 0; i < 60; ++i) t += "x" + std::to_string(i) + "\n";
    check_same(latin, t, {6});
  }
}

TEST_CASE("a FileTextSource streams a file; errors name it") {
  const fs::path dir = fs::temp_directory_path() / "glyph_stream_test";
  fs::create_directories(dir);
  const std::string text = streaming_text(90, true);
  { std::ofstream(dir / "t.txt", std::ios::binary) << text; }
  const glyph::Renderer r;
  glyph::FileTextSource src((dir / "t.txt").string());
  glyph::RenderStats st;
  auto paths = r.render_to_dir(src, (dir / "out").string(), "doc", 1, &st);
  auto whole = r.render(text);
  CHECK(paths.size() == whole.pages.size());
  CHECK(st.invalid_utf8 == whole.stats.invalid_utf8);
  CHECK(st.invalid_utf8 > 0);
  CHECK_THROWS_WITH(glyph::FileTextSource((dir / "nope.txt").string()),
                    Contains("nope.txt") && Contains("cannot read text file"));
  fs::remove_all(dir);
}

namespace glyph {
bool has_cjk_ideograph(TextSource& source);  // render/layout.h (private)
}

TEST_CASE("the CJK switch read from bytes equals a search of the decoded text") {
  std::uint32_t seed = 12345;
  auto next = [&]() { return seed = seed * 1664525u + 1013904223u; };
  const unsigned char alphabet[] = {'a', ' ', '\n', 0x80, 0x8F, 0xB7, 0xB8, 0xBF, 0xC0, 0xC3,
                                    0xE0, 0xE3, 0xE4, 0xE5, 0xE9, 0xEA, 0xED, 0xF0, 0xFF};
  int both = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    std::string s;
    const std::size_t n = 1 + next() % 12;
    for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(alphabet[(next() >> 8) % sizeof alphabet]));
    const auto cps = glyph::decode_utf8(s).codepoints;
    const bool expected = std::any_of(cps.begin(), cps.end(), [](char32_t c) { return c >= 0x4E00 && c <= 0x9FFF; });
    PiecesSource src(s, {1 + next() % 3});
    REQUIRE(glyph::has_cjk_ideograph(src) == expected);
    both += expected;
  }
  CHECK(both > 50);  // the trials did exercise ideographs
}
