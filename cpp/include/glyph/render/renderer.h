// Renderer: text -> pages, faithful to the layout Glyph's released model was trained on
// (reportlab + poppler, see docs/reference-layout.md), with FreeType + HarfBuzz.
//
//   glyph::Renderer r(glyph::RenderConfig::from_file("config_en.json"));
//   glyph::RenderResult res = r.render(text);              // pages in memory
//   r.render_to_dir(text, "out", "doc-1");                  // out/doc-1/page_001.png, ...
//   for (auto& page : res.pages) std::cout << page.visual_tokens << "\n";
//
// A Renderer is immutable after construction and safe to use from many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "glyph/common/text_source.h"
#include "glyph/render/config.h"
#include "glyph/render/layout.h"
#include "glyph/render/page.h"

namespace glyph {

struct RenderStats {
  std::size_t pages = 0;
  std::size_t characters = 0;       // code points of the decoded source text
  std::size_t invalid_utf8 = 0;     // invalid byte sequences, each replaced by U+FFFD
  std::size_t removed = 0;          // U+00AD, U+200B and control characters dropped
  std::size_t missing_glyphs = 0;   // characters no font has (drawn as the .notdef box)
  std::vector<char32_t> missing_codepoints;  // distinct ones, at most 64
  std::int64_t visual_tokens = 0;   // sum over pages
};

struct RenderResult {
  std::vector<Page> pages;
  RenderStats stats;
};

class Renderer {
 public:
  // Validates the config and opens every font (throws ConfigError / FontError).
  explicit Renderer(RenderConfig config);
  Renderer();  // RenderConfig::glyph_default()

  const RenderConfig& config() const;

  // All pages in memory (for a text of any size, prefer render_each or render_to_dir).
  RenderResult render(std::string_view utf8_text) const;
  // Streams pages to `sink` as they are finished: memory stays bounded by a page or two, whatever
  // the text length. The text is decoded a chunk at a time, never as a whole.
  RenderStats render_each(std::string_view utf8_text,
                          const std::function<void(Page&&)>& sink) const;
  // The same from a source read in chunks (a file: FileTextSource): besides a page or two, only
  // the current paragraph (Glyph's 30 input lines) is held. Pages, spans and stats are those of
  // render_each on the whole text. The source is read twice (TextSource::rewind).
  RenderStats render_each(TextSource& source, const std::function<void(Page&&)>& sink) const;
  // Glyph's text_to_images contract: writes <out_dir>/<unique_id>/page_001.png, ... (directly into
  // out_dir when unique_id is empty) and returns the paths. PNG compression level 0..9, or -1 for
  // the default (level 3 for RGB, 1 for gray and palette pages); the colour type follows the
  // config's png-color (glyph/render/png.h). Each page is written atomically (write_file_atomic)
  // as soon as it is made. `stats`, when given, receives what render_each returns. Page files an
  // earlier, longer render left in that folder (page_NNN.png past this text's last page) are
  // removed, so a listing of the folder is this text's pages (remove_stale_pages).
  std::vector<std::string> render_to_dir(std::string_view utf8_text, const std::string& out_dir,
                                         const std::string& unique_id = "",
                                         int compression = -1, RenderStats* stats = nullptr) const;
  std::vector<std::string> render_to_dir(TextSource& source, const std::string& out_dir,
                                         const std::string& unique_id = "",
                                         int compression = -1, RenderStats* stats = nullptr) const;
  // Lines per page as data (no pixels).
  std::vector<PageLayout> layout(std::string_view utf8_text) const;
  std::vector<PageLayout> layout(TextSource& source) const;
  // Many texts on `threads` workers (<= 0: all cores). Results are identical for any thread count.
  std::vector<RenderResult> render_batch(const std::vector<std::string>& texts,
                                         int threads = 0) const;

  struct Impl;  // opaque

 private:
  std::shared_ptr<Impl> impl_;
};

// Removes the page files (page_NNN.png, Page::file_name's names) numbered past `pages` in `dir`:
// what an earlier, longer render into the same folder left. Other files are never touched.
// Returns how many were removed; IoError when one cannot be.
std::size_t remove_stale_pages(const std::string& dir, std::size_t pages);

}  // namespace glyph
