// Layout as data: the lines of each page, as the renderer places them. Used by tests that compare
// line breaks with the reference pipeline, and by tools that need to know where text went.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace glyph {

struct LineInfo {
  std::string text;           // the line's characters (UTF-8), inter-word spaces as single ' '
  double x = 0;               // left edge of the first glyph, points from the page's left edge
  double baseline = 0;        // points from the page's top edge
  double width = 0;           // advance width of the text, points (before justification)
  std::size_t char_begin = 0; // code-point span of the source text, [begin, end)
  std::size_t char_end = 0;
};

struct PageLayout {
  std::vector<LineInfo> lines;
  std::size_t char_begin = 0;
  std::size_t char_end = 0;
};

}  // namespace glyph
