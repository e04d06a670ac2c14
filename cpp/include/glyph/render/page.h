// Page: one rendered page image plus what it shows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace glyph {

struct Page {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;  // RGB, row-major, 3 * width bytes per row
  std::size_t index = 0;             // 0-based page number
  // Span of the source text this page shows, in code points (Python str indices): [begin, end).
  std::size_t char_begin = 0;
  std::size_t char_end = 0;
  int visual_tokens = 0;  // GLM-4.1V image-processor tokens for this page (smart_resize)

  std::uint8_t* row(int y) { return pixels.data() + static_cast<std::size_t>(y) * width * 3; }
  const std::uint8_t* row(int y) const {
    return pixels.data() + static_cast<std::size_t>(y) * width * 3;
  }
  // Glyph's file name for this page: page_001.png, ...
  std::string file_name() const;
};

}  // namespace glyph
