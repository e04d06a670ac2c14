// Font bytes: the font check (load_font_data), face creation (FreeType + HarfBuzz from the same
// bytes), the character lookup and the glyph-bitmap cache at every quarter-pixel offset, then a
// short text through a Renderer that uses the font, with DejaVu Sans as its fallback.
// FreeType and HarfBuzz themselves are Debian's (not sanitizer-built): a fault inside them shows
// as a crash in their frames (docs/reliability.md says what the project guards against).
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fuzz_common.h"
#include "glyph/render/renderer.h"
#include "render/font.h"

namespace {

// The input as a file (the font loader takes paths): an anonymous memory file, rewritten per input.
const std::string& font_file(const std::uint8_t* data, std::size_t size) {
  static int fd = memfd_create("glyph-fuzz-font", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0 || ftruncate(fd, 0) != 0) FUZZ_FAIL("memfd");
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) FUZZ_FAIL("pwrite");
    done += static_cast<std::size_t>(n);
  }
  return path;
}

const char32_t kProbe[] = {0x20, 'A', 'a', 'g', 'W', '0', '.', 0xA0, 0xE9, 0x3A9, 0x416, 0x5D0,
                           0x627, 0x2014, 0x20AC, 0x4E00, 0x6587, 0xAC00, 0xFFFD, 0x1F600, 0x10FFFF};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = font_file(data, size);
  glyph::FontData font;
  if (!glyph_fuzz::accepts([&] { font = glyph::load_font_data(path, "font-path"); })) return 0;
  for (double px_per_pt : {1.0, 96.0 / 72.0}) {
    try {
      glyph::FontSet set({font}, 9.0, px_per_pt);
      for (char32_t cp : kProbe) {
        const glyph::CharInfo& ci = set.lookup(cp);
        FUZZ_EXPECT(ci.font == 0, "one-font set gave font %u", ci.font);
        for (int frac = 0; frac < 4; ++frac) {
          const glyph::GlyphBitmap& b = set.bitmap(ci, frac);
          FUZZ_EXPECT(b.width >= 0 && b.rows >= 0 && b.stride >= b.width &&
                          b.alpha.size() == static_cast<std::size_t>(b.stride) * b.rows,
                      "bitmap %dx%d stride %d, %zu bytes", b.width, b.rows, b.stride,
                      b.alpha.size());
        }
      }
    } catch (const glyph::Error&) {
      return 0;
    } catch (const std::exception& e) {
      FUZZ_FAIL("non-glyph exception escaped: %s", e.what());
    }
  }
  glyph::RenderConfig cfg;
  cfg.page_width = 120;
  cfg.page_height = 90;
  cfg.margin_x = cfg.margin_y = 4;
  cfg.font_path = path;
  cfg.fallback_font_paths = {glyph::default_font_path()};
  (void)glyph_fuzz::accepts([&] {
    glyph::Renderer r(cfg);
    auto res = r.render("Glyph renders text: Wäq 0.5 \xe6\x96\x87\xe5\xad\x97 \xf0\x9f\x98\x80 end.");
    FUZZ_EXPECT(!res.pages.empty(), "no pages");
  });
  return 0;
}
