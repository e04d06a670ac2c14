// Layout: prepared text -> paragraphs -> lines -> pages, reproducing reportlab 3.6's Paragraph
// line breaking and Frame pagination as Glyph's reference renderer uses them
// (docs/reference-layout.md has the rules with references to reportlab's source).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "glyph/render/config.h"
#include "glyph/render/layout.h"
#include "render/font.h"
#include "render/markup.h"

namespace glyph {

// One character as laid out. `src` is its code-point index in the caller's text.
struct LChar {
  char32_t cp;
  std::uint32_t src;
  std::uint8_t color;  // 0: font-color, 1: the newline markup's colour
};

struct LaidLine {
  std::vector<LChar> chars;  // inter-word spaces included as ' ' (src of the original space)
  // Line start in points from the frame's content left edge, minus left-indent: the PDF's Td
  // moves (indent + alignment) summed as poppler sums them.
  double pdf_line_x = 0;
  double baseline = 0;       // points from the page top
  // The same baseline as the reference PDF states it: the paragraph piece's origin (the `cm` y)
  // and the text-space y after the line moves (Tm y, then one T* per line). The raster maps them
  // to device rows with poppler's own arithmetic, which decides rows at exact pixel boundaries.
  double pdf_origin_y = 0, pdf_text_y = 0;
  double word_space = 0;     // extra points added after each ' ' and U+00A0 (JUSTIFY)
  double width = 0;          // natural width, points
  std::size_t src_begin = 0, src_end = 0;
};

struct Rect {
  double x, y, w, h;  // points, from the page's top-left corner
  bool fill = false, stroke = false;
  Rgb fill_color, stroke_color;
  double line_width = 0;
  // Lines of the page drawn before this rectangle: the reference draws paragraph by paragraph,
  // so a paragraph's background covers what the previous one's descenders left below its box.
  std::size_t lines_before = 0;
};

struct LaidPage {
  std::vector<Rect> rects;  // paragraph backgrounds/borders, drawn before the text
  std::vector<LaidLine> lines;
  std::size_t src_begin = 0, src_end = 0;
  bool has_text = false;
};

struct LayoutStats {
  std::size_t characters = 0;       // code points of the source text
  std::size_t removed = 0;          // soft hyphens, zero-width spaces, control characters dropped
  std::size_t missing_glyphs = 0;   // characters drawn as .notdef (no font has them)
  std::vector<char32_t> missing_codepoints;  // distinct, first 64
};

// A fragment of a paragraph: text (a char range) or a forced break. A break normally holds no
// characters; in a CJK continuation it can hold one (reportlab turns an empty <br/> into ' ').
struct Frag {
  std::size_t b = 0, e = 0;
  bool brk = false;
};

// Streams pages to `sink` as they fill, so memory stays bounded by a page plus one paragraph.
// An engine can run many texts; it keeps its working buffers between runs (one Glyph paragraph
// can hold a whole document, so they are megabytes that would otherwise be faulted in anew).
class LayoutEngine {
 public:
  LayoutEngine(const RenderConfig& cfg, FontSet& fonts);
  // `text` is decoded code points; returns statistics. Every page is passed to `sink` once.
  LayoutStats run(const std::u32string& text, const std::function<void(LaidPage&&)>& sink);

 private:
  struct Word {
    std::size_t b = 0, e = 0;  // chars [b, e)
    double width = 0;
    bool hs = false;        // followed by a space (_HSFrag)
    bool brk = false;       // a <br/> (or an injected break after a split long word)
    bool injected = false;  // injected break: the line it ends is still justified
    bool split_piece = false;
  };
  struct Line {
    // normal mode: words [wb, we); CJK mode: chars [wb, we)
    std::size_t wb = 0, we = 0;
    double extra = 0;         // maxWidth - currentWidth
    double width = 0;         // currentWidth
    int word_count = 0;
    bool line_break = false;  // ended by a real <br/> (not justified)
    bool break_char = false;  // CJK: the <br/> that ends it is its last character (a ' ')
  };
  struct Para {
    std::vector<LChar> chars;
    std::vector<Frag> frags;
    std::vector<Word> words;     // normal (non-CJK) mode
    bool continuation = false;   // CJK: rebuilt from the lines left over by a page split
    bool single_frag = false;    // CJK: wrapped as one fragment (reportlab's kind-0 lines)
  };
  // CJK wrapping units: an index into Para::chars, kBreak for a <br/> without text, or an index
  // with kBreakChar set for a character that carries a <br/>.
  static constexpr std::uint32_t kBreak = 0xFFFFFFFFu;
  static constexpr std::uint32_t kBreakChar = 0x80000000u;

  void classify(Para& para);
  void layout_paragraph(Para& para);
  // Fill lines_. break_lines replaces para.words with the words as placed, so that Line ranges
  // index them; in CJK mode Line ranges index para.chars.
  void break_lines(Para& para, double first_width, double later_width);
  void break_lines_cjk(Para& para, double first_width, double later_width);
  void place_lines(Para& para, std::vector<Line>& lines, std::size_t begin, std::size_t end,
                   bool first_piece, bool last_piece);
  // CJK page split: turns para and lines_ into the continuation paragraph of lines [from, end)
  // as reportlab rebuilds and re-wraps it. Returns false when that changes nothing.
  bool continue_cjk(Para& para, std::size_t from, std::size_t end);
  void new_page();
  void release_big_buffers();
  void flush_page();
  double width_of(char32_t cp);

  const RenderConfig& cfg_;
  FontSet& fonts_;
  NewlineMarkup markup_;
  bool cjk_ = false;
  double frame_top_, frame_bottom_, frame_width_;
  double space_width_ = 0;
  // current page state
  LaidPage page_;
  double y_ = 0;  // current frame position (points from page top)
  bool at_top_ = true;
  double prev_space_after_ = 0;
  const std::function<void(LaidPage&&)>* sink_ = nullptr;
  LayoutStats stats_;
  // working buffers, reused across paragraphs and runs
  Para para_;
  std::vector<LChar> clean_chars_;
  std::vector<Frag> clean_frags_;
  std::vector<LChar> cont_chars_;
  std::vector<Frag> cont_frags_;
  std::vector<Line> lines_;
  std::vector<Word> words_;
  std::vector<std::uint32_t> units_;
};

}  // namespace glyph
