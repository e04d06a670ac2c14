// The PNG encoder (cpp/src/render/png.cpp): every image it writes decodes, with stb_image as the
// outside reference decoder, to exactly the RGB pixels it was given, in the colour type and bit
// depth expected for its colours; synthetic images of 1..257 colours and odd sizes, and rendered
// pages in gray and coloured themes.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#include <stb/stb_image.h>

#include "glyph/glyph.h"

namespace fs = std::filesystem;

namespace {

struct Image {
  int w = 0, h = 0;
  std::vector<std::uint8_t> rgb;
  void set(int x, int y, std::uint32_t c) {
    std::uint8_t* p = &rgb[(static_cast<std::size_t>(y) * w + x) * 3];
    p[0] = static_cast<std::uint8_t>(c >> 16);
    p[1] = static_cast<std::uint8_t>(c >> 8);
    p[2] = static_cast<std::uint8_t>(c);
  }
};

// An image whose pixels cycle through `colors` (0xRRGGBB), shuffled by a fixed seed so that
// neighbours differ and every colour appears when there are enough pixels.
Image make_image(int w, int h, const std::vector<std::uint32_t>& colors, unsigned seed = 1) {
  Image im{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w) * h * 3)};
  std::mt19937 rng(seed);
  std::vector<std::size_t> order(static_cast<std::size_t>(w) * h);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i % colors.size();
  std::shuffle(order.begin(), order.end(), rng);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) im.set(x, y, colors[order[static_cast<std::size_t>(y) * w + x]]);
  return im;
}

std::vector<std::uint32_t> grays(std::vector<int> levels) {
  std::vector<std::uint32_t> out;
  for (int v : levels) out.push_back(0x010101u * static_cast<std::uint32_t>(v));
  return out;
}

std::vector<std::uint32_t> distinct_colors(int n, unsigned seed = 7) {
  std::mt19937 rng(seed);
  std::vector<std::uint32_t> out;
  while (static_cast<int>(out.size()) < n) {
    std::uint32_t c = rng() & 0xFFFFFF;
    const bool gray = (c >> 16 & 0xFF) == (c >> 8 & 0xFF) && (c >> 8 & 0xFF) == (c & 0xFF);
    if (!gray && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  return out;
}

struct Header {
  std::uint32_t width = 0, height = 0;
  int depth = 0, color_type = -1;
  std::size_t palette_entries = 0;
};

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

// IHDR and PLTE as the file has them; checks the chunk sequence and the CRCs on the way.
Header read_header(const std::vector<unsigned char>& png) {
  static const unsigned char kSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  REQUIRE(png.size() > 8 + 25 + 12);
  REQUIRE(std::equal(kSig, kSig + 8, png.begin()));
  Header h;
  std::size_t pos = 8;
  std::vector<std::string> chunks;
  while (pos + 12 <= png.size()) {
    const std::uint32_t len = be32(&png[pos]);
    const std::string type(reinterpret_cast<const char*>(&png[pos + 4]), 4);
    REQUIRE(pos + 12 + len <= png.size());
    // CRC-32 over type and data, computed bit by bit here (independent of the encoder's).
    std::uint32_t crc = 0xFFFFFFFFu;
    for (std::size_t i = pos + 4; i < pos + 8 + len; ++i) {
      crc ^= png[i];
      for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    CHECK((crc ^ 0xFFFFFFFFu) == be32(&png[pos + 8 + len]));
    if (type == "IHDR") {
      h.width = be32(&png[pos + 8]);
      h.height = be32(&png[pos + 12]);
      h.depth = png[pos + 16];
      h.color_type = png[pos + 17];
    }
    if (type == "PLTE") h.palette_entries = len / 3;
    chunks.push_back(type);
    pos += 12 + len;
  }
  CHECK(pos == png.size());
  REQUIRE(chunks.size() >= 3);
  CHECK(chunks.front() == "IHDR");
  CHECK(chunks.back() == "IEND");
  return h;
}

// Decodes with stb_image and compares every pixel with the source.
void check_decodes_to(const std::vector<unsigned char>& png, const std::uint8_t* rgb, int w, int h) {
  int dw = 0, dh = 0, n = 0;
  unsigned char* data =
      stbi_load_from_memory(png.data(), static_cast<int>(png.size()), &dw, &dh, &n, 3);
  REQUIRE(data != nullptr);
  CHECK(dw == w);
  CHECK(dh == h);
  const std::size_t bytes = static_cast<std::size_t>(w) * h * 3;
  const bool same = dw == w && dh == h && std::equal(rgb, rgb + bytes, data);
  stbi_image_free(data);
  CHECK(same);
}

struct Expect {
  int color_type, depth;
  std::size_t palette_entries;
};

void check_image(const Image& im, Expect e) {
  INFO(im.w << "x" << im.h);
  const auto png = glyph::encode_png(im.rgb.data(), im.w, im.h);
  const Header h = read_header(png);
  CHECK(h.width == static_cast<std::uint32_t>(im.w));
  CHECK(h.height == static_cast<std::uint32_t>(im.h));
  CHECK(h.color_type == e.color_type);
  CHECK(h.depth == e.depth);
  CHECK(h.palette_entries == e.palette_entries);
  check_decodes_to(png, im.rgb.data(), im.w, im.h);
  // rgb mode: always colour type 2, 8 bits, the same pixels
  const auto rgb = glyph::encode_png(im.rgb.data(), im.w, im.h, glyph::kPngDefaultCompression,
                                     glyph::PngColor::kRgb);
  const Header hr = read_header(rgb);
  CHECK(hr.color_type == 2);
  CHECK(hr.depth == 8);
  CHECK(hr.palette_entries == 0);
  check_decodes_to(rgb, im.rgb.data(), im.w, im.h);
}

const std::vector<std::pair<int, int>> kSizes = {{1, 1},  {3, 7},  {7, 3},   {8, 1},  {15, 2},
                                                 {16, 16}, {17, 5}, {33, 9}, {100, 37}, {1000, 3}};

}  // namespace

TEST_CASE("PNG colour types: gray at the depth the levels allow") {
  for (auto [w, h] : kSizes) {
    const int n = w * h;
    check_image(make_image(w, h, grays({255})), {0, 1, 0});         // one colour: white
    check_image(make_image(w, h, grays({0})), {0, 1, 0});           // black
    check_image(make_image(w, h, grays({0, 255})), {0, 1, 0});      // 1-bit gray
    if (n >= 4) check_image(make_image(w, h, grays({0, 85, 170, 255})), {0, 2, 0});
    check_image(make_image(w, h, grays({85, 170})), {0, 2, 0});
    if (n >= 16)
      check_image(make_image(w, h, grays({0, 17, 34, 51, 68, 85, 102, 119, 136, 153, 170, 187,
                                           204, 221, 238, 255})),
                  {0, 4, 0});
    check_image(make_image(w, h, grays({119})), {0, 4, 0});
  }
}

TEST_CASE("PNG colour types: palettes of 1, 2, 4 and 8 bits, RGB beyond 256 colours") {
  for (auto [w, h] : kSizes) {
    const int n = w * h;
    check_image(make_image(w, h, grays({128})), {3, 1, 1});     // one gray no gray depth has
    check_image(make_image(w, h, {0xFF0000}), {3, 1, 1});        // one colour
    if (n >= 2) check_image(make_image(w, h, {0xFF0000, 0x0000FF}), {3, 1, 2});
    if (n >= 2) check_image(make_image(w, h, grays({1, 254})), {3, 1, 2});
    if (n >= 3) check_image(make_image(w, h, distinct_colors(3)), {3, 2, 3});
    if (n >= 16) check_image(make_image(w, h, distinct_colors(16)), {3, 4, 16});
    if (n >= 16) check_image(make_image(w, h, grays({0, 3, 7, 9, 11, 13, 15, 19, 21, 23, 25, 27,
                                                      29, 31, 33, 35})),
                             {3, 4, 16});
    if (n >= 17) check_image(make_image(w, h, distinct_colors(17)), {3, 8, 17});
    if (n >= 256) check_image(make_image(w, h, distinct_colors(256)), {3, 8, 256});
    if (n >= 257) check_image(make_image(w, h, distinct_colors(257)), {2, 8, 0});
  }
  // more than 16 gray levels: 8-bit gray (also all 256)
  std::vector<int> all(256);
  for (int i = 0; i < 256; ++i) all[i] = i;
  check_image(make_image(100, 37, grays(all)), {0, 8, 0});
  check_image(make_image(33, 9, grays({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})),
              {0, 8, 0});
}

TEST_CASE("PNG: the first colour pixel anywhere turns a gray image into a palette") {
  // Gray images (many levels, long white runs like a page) with one coloured pixel at positions
  // that fall at the start, inside and at the end of the 8- and 16-pixel steps and of rows.
  std::vector<int> levels;
  for (int i = 0; i < 40; ++i) levels.push_back(i * 6);
  for (auto [w, h] : std::vector<std::pair<int, int>>{{37, 11}, {64, 4}, {5, 5}, {1, 9}}) {
    Image base = make_image(w, h, grays(levels), 3);
    for (int y = 0; y < h; y += 2)  // white rows, repeated (the row-copy shortcut)
      for (int x = 0; x < w; ++x) base.set(x, y, 0xFFFFFF);
    for (int y : {0, 1, h / 2, h - 1}) {
      for (int x : {0, 1, 7, 8, 15, 16, 17, w / 2, w - 1}) {
        if (x >= w) continue;
        Image im = base;
        im.set(x, y, 0xC00000);
        INFO("colour pixel at " << x << "," << y);
        const auto png = glyph::encode_png(im.rgb.data(), im.w, im.h);
        const Header hd = read_header(png);
        CHECK(hd.color_type == 3);
        check_decodes_to(png, im.rgb.data(), im.w, im.h);
      }
    }
    // the same with more than 256 colours after the first colour pixel: RGB
    Image many = base;
    const auto cols = distinct_colors(300);
    for (int i = 0; i < w * h && i < 300; ++i) many.set(i % w, i / w, cols[i]);
    if (w * h >= 300) {
      const auto png = glyph::encode_png(many.rgb.data(), many.w, many.h);
      CHECK(read_header(png).color_type == 2);
      check_decodes_to(png, many.rgb.data(), many.w, many.h);
    }
  }
}

TEST_CASE("PNG: every compression level round-trips; bad levels and empty images are errors") {
  const Image im = make_image(33, 9, distinct_colors(20));
  for (int level = -1; level <= 9; ++level) {
    INFO("level " << level);
    check_decodes_to(glyph::encode_png(im.rgb.data(), im.w, im.h, level), im.rgb.data(), im.w,
                     im.h);
  }
  CHECK_THROWS_AS(glyph::encode_png(im.rgb.data(), im.w, im.h, 10), glyph::InputError);
  CHECK_THROWS_AS(glyph::encode_png(im.rgb.data(), im.w, im.h, -2), glyph::InputError);
  CHECK_THROWS_AS(glyph::encode_png(im.rgb.data(), 0, 5), glyph::InputError);
  CHECK_THROWS_AS(glyph::encode_png(glyph::Page{}), glyph::InputError);
  glyph::Page short_page;
  short_page.width = short_page.height = 10;
  short_page.pixels.assign(10 * 9 * 3, 255);  // a row short
  CHECK_THROWS_AS(glyph::encode_png(short_page), glyph::InputError);
  CHECK_THROWS_AS(glyph::write_png(short_page, "unused.png"), glyph::InputError);
}

TEST_CASE("PNG of rendered pages: gray, palette or RGB as the theme needs, pixels identical") {
  struct Theme {
    const char* name;
    const char* json;
    int color_type;  // expected on the first page
  };
  const Theme themes[] = {
      {"black on white", R"({"font-size": 9})", 0},
      {"gray on dark gray", R"({"font-color": "#DDDDDD", "page-bg-color": "#222222",
                               "para-bg-color": "#222222"})", 0},
      {"navy on cream", R"({"font-color": "#000080", "page-bg-color": "#FFF8E7",
                           "para-bg-color": "#FFF8E7"})", 3},
      {"red newline marker", R"({"newline-markup": "<font color=\"#FF0000\"> \\n </font>"})", -1},
  };
  std::string text;
  for (int i = 0; i < 120; ++i)
    text += "Line " + std::to_string(i) + ": The quick brown fox jumps over the lazy dog.\n";
  for (const Theme& t : themes) {
    INFO(t.name);
    glyph::RenderConfig c = glyph::RenderConfig::glyph_default();
    const glyph::RenderConfig patch = glyph::RenderConfig::from_json(t.json);
    c.font_color = patch.font_color;
    c.page_bg_color = patch.page_bg_color;
    c.para_bg_color = patch.para_bg_color;
    c.newline_markup = patch.newline_markup;
    glyph::Renderer r(c);
    const auto res = r.render(text);
    REQUIRE(!res.pages.empty());
    for (const glyph::Page& p : res.pages) {
      const auto png = glyph::encode_png(p);
      const auto rgb = glyph::encode_png(p, glyph::kPngDefaultCompression, glyph::PngColor::kRgb);
      const Header h = read_header(png);
      if (t.color_type >= 0) CHECK(h.color_type == t.color_type);
      CHECK(read_header(rgb).color_type == 2);
      check_decodes_to(png, p.pixels.data(), p.width, p.height);
      check_decodes_to(rgb, p.pixels.data(), p.width, p.height);
      CHECK(png.size() <= rgb.size());  // never larger than the RGB file of the same page
    }
  }
}

TEST_CASE("render_to_dir writes what the config's png-color says") {
  const fs::path dir = fs::temp_directory_path() / ("glyph_png_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  glyph::RenderConfig c = glyph::RenderConfig::glyph_default();
  for (auto [mode, type] : {std::pair{glyph::PngColor::kAuto, 0}, {glyph::PngColor::kRgb, 2}}) {
    c.png_color = mode;
    glyph::Renderer r(c);
    const auto paths = r.render_to_dir("Hello, PNG.\nA second line.", dir.string(),
                                       glyph::png_color_name(mode));
    REQUIRE(paths.size() == 1);
    std::string bytes = [&] {
      std::FILE* f = std::fopen(paths[0].c_str(), "rb");
      REQUIRE(f != nullptr);
      std::string s;
      char buf[4096];
      for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
      std::fclose(f);
      return s;
    }();
    const Header h = read_header(std::vector<unsigned char>(bytes.begin(), bytes.end()));
    CHECK(h.color_type == type);
  }
  CHECK(glyph::parse_png_color("RGB") == glyph::PngColor::kRgb);
  CHECK_THROWS_AS(glyph::parse_png_color("gray"), glyph::ConfigError);
  fs::remove_all(dir);
}

TEST_CASE("render_to_dir removes the pages an earlier, longer render left, and nothing else") {
  const fs::path dir = fs::temp_directory_path() / ("glyph_stale_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  glyph::Renderer r(glyph::RenderConfig::glyph_default());
  std::string longer;
  for (int i = 0; i < 400; ++i) longer += "A line of text that fills the page, line after line.\n";
  REQUIRE(r.render_to_dir(longer, dir.string(), "doc").size() >= 3);
  for (const char* other : {"notes.txt", "page_1.png", "page_0002.png", "page_abc.png"})
    std::ofstream(dir / "doc" / other) << "not a page of ours";
  CHECK(r.render_to_dir("One short page.", dir.string(), "doc").size() == 1);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir / "doc")) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<std::string>{"notes.txt", "page_0002.png", "page_001.png", "page_1.png",
                                         "page_abc.png"});
  CHECK(glyph::remove_stale_pages((dir / "doc").string(), 0) == 1);  // page_001.png
  CHECK(glyph::remove_stale_pages((dir / "missing").string(), 0) == 0);
  fs::remove_all(dir);
}

TEST_CASE("render_to_dir's files are encode_png's bytes of the rendered pages") {
  // Gray pages are written from the canvas (render_to_dir), others through the Page: either way
  // the file must be what encode_png gives for the page render() returns.
  const fs::path dir =
      fs::temp_directory_path() / ("glyph_png_same_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::string text;
  for (int i = 0; i < 90; ++i) text += "Row " + std::to_string(i) + " of a page of text.\n";
  const std::pair<const char*, const char*> variants[] = {
      {"gray", R"({})"},
      {"blank", R"({})"},  // no ink: one level, 1-bit gray
      {"dark gray", R"({"font-color": "#D0D0D0", "page-bg-color": "#303030",
                       "para-bg-color": "#303030"})"},
      {"colour", R"({"font-color": "#804000"})"},
      {"scaled", R"({"horizontal-scale": 0.7})"},
  };
  for (const auto& [name, json] : variants) {
    INFO(name);
    glyph::RenderConfig c = glyph::RenderConfig::glyph_default();
    const glyph::RenderConfig patch = glyph::RenderConfig::from_json(json);
    c.font_color = patch.font_color;
    c.page_bg_color = patch.page_bg_color;
    c.para_bg_color = patch.para_bg_color;
    c.horizontal_scale = patch.horizontal_scale;
    glyph::Renderer r(c);
    const std::string t = std::string(name) == "blank" ? std::string(" ") : text;
    for (int level : {-1, 0, 6}) {
      const auto paths = r.render_to_dir(t, dir.string(), name, level);
      const auto pages = r.render(t).pages;
      REQUIRE(paths.size() == pages.size());
      for (std::size_t i = 0; i < pages.size(); ++i) {
        std::FILE* f = std::fopen(paths[i].c_str(), "rb");
        REQUIRE(f != nullptr);
        std::vector<unsigned char> bytes;
        unsigned char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
          bytes.insert(bytes.end(), buf, buf + n);
        std::fclose(f);
        CHECK(bytes == glyph::encode_png(pages[i], level));
        check_decodes_to(bytes, pages[i].pixels.data(), pages[i].width, pages[i].height);
        if (std::string(name) == "blank") CHECK(read_header(bytes).depth == 1);
      }
    }
  }
  fs::remove_all(dir);
}
