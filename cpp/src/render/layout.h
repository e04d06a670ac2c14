// Layout: text -> pages of positioned lines, reproducing Glyph's text preparation and reportlab
// 3.6's Paragraph line breaking and Frame pagination as Glyph's reference renderer uses them
// (docs/reference-layout.md has the rules with references to reportlab's source).
//
// Four stages with narrow interfaces, run paragraph by paragraph by LayoutEngine:
//   1. text preparation (text_prep.cpp): Glyph's clean-up, 30-line paragraphs, newline markup
//      -> Paragraph {chars, frags}
//   2. words (words.cpp): reportlab's paragraph parsing -> cleaned fragments and Words
//   3. line breaking (line_break.cpp): breakLines / cjkFragSplit -> Lines
//   4. pagination (paginate.cpp): Frame.add / Paragraph.split -> LaidPages, each line with the
//      position poppler gives it (the PDF's moves replayed)
// One feedback goes upstream, as in reportlab: a CJK paragraph split across pages is rebuilt and
// wrapped again (stage 3) before the rest is paginated. LayoutEngine::layout_paragraph makes
// that loop explicit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "glyph/common/text_source.h"
#include "glyph/render/config.h"
#include "render/font.h"
#include "render/markup.h"
#include "render/paragraph.h"

namespace glyph {

// What the stages read from the config, computed once per Renderer.
struct LayoutParams {
  LayoutParams(const RenderConfig& config, NewlineMarkup newline_markup);
  const RenderConfig& cfg;       // owned by the Renderer, which outlives its layouts
  RenderConfig::Frame frame;
  double leading;
  double first_width;            // width of a paragraph's first line (first-line-indent)
  double later_width;            // and of the others: cfg.text_width()
  NewlineMarkup markup;          // parsed once, by config::validate
};

// Character widths as reportlab measures them (font units / 1000 x font size).
struct Measure {
  FontSet& fonts;
  double font_size;
  double width(char32_t cp) const { return fonts.lookup(cp).width1000 * 0.001 * font_size; }
  // stringWidth of a run: the 1/1000-em widths summed, then scaled once.
  double width(const LChar* b, const LChar* e) const {
    double w1000 = 0;
    for (; b != e; ++b) w1000 += fonts.lookup(b->cp).width1000;
    return w1000 * 0.001 * font_size;
  }
};

// ---- stage 1: text preparation (Glyph's text_to_images) ---------------------------------------

// Glyph's text_to_images joins every 30 source lines into one Paragraph: config key
// paragraph-lines (RenderConfig::kDemoParagraphLines by default; 0, as the evaluation scripts lay
// out a context: the whole text is one).

// Removes U+00AD, U+200B and control characters the reference cannot draw, turns runs of 2+
// spaces into as many U+00A0 (and, with tab_nbsp > 0, each tab into tab_nbsp U+00A0, as the
// evaluation scripts do), splits on '\n' and joins every `paragraph_lines` lines (0: all) into
// one paragraph with the newline markup between them. Calls on_paragraph for each paragraph
// (`para` is reused); returns how many characters were removed.
std::size_t prepare_text(std::u32string_view text, const NewlineMarkup& markup, int paragraph_lines,
                         int tab_nbsp, Paragraph& para,
                         const std::function<void(Paragraph&)>& on_paragraph);

// ---- stage 2: words (reportlab's paragraph parsing) -------------------------------------------

// cleanBlockQuotedText: strips the paragraph and collapses breakable whitespace runs to one
// space, fragment by fragment. `scratch_*` are reused buffers.
void clean_paragraph(Paragraph& para, std::vector<LChar>& scratch_chars,
                     std::vector<Frag>& scratch_frags);
// Sets para.single_frag: whether reportlab parses it into one fragment (kind-0 lines).
void classify_paragraph(Paragraph& para);
// _getFragWords (normal wrapping): para.words from para.frags.
void frag_words(Paragraph& para, const Measure& measure);

// ---- stage 3: line breaking --------------------------------------------------------------------

class LineBreaker {
 public:
  explicit LineBreaker(const LayoutParams& params) : p_(params) {}
  // breakLines with splitLongWords (normal mode). Replaces para.words with the words as placed
  // (long words split into pieces), which the Lines index.
  void break_words(Paragraph& para, const Measure& measure, std::vector<Line>& lines);
  // cjkFragSplit (CJK mode): Lines index para.chars.
  void break_cjk(Paragraph& para, const Measure& measure, double first_width,
                 std::vector<Line>& lines);
  // reportlab's _split_blParaHard for a CJK paragraph split before line `from`: turns `para` and
  // `lines` into the continuation (lines [from, end) rebuilt, a space appended where reportlab
  // appends one, wrapped again without first-line indent). False when that changes nothing.
  bool rewrap_continuation(Paragraph& para, const Measure& measure, std::vector<Line>& lines,
                           std::size_t from);
  void release_big_buffers();

 private:
  const LayoutParams& p_;
  std::vector<Word> words_;           // break_words: the words as placed
  std::vector<std::uint32_t> units_;  // break_cjk: wrapping units
  std::vector<LChar> cont_chars_;     // rewrap_continuation: the rebuilt paragraph
  std::vector<Frag> cont_frags_;
};

// ---- stage 4: pagination -------------------------------------------------------------------------

struct LaidLine {
  std::vector<LChar> chars;  // inter-word spaces included as ' ' (src of the original space)
  // Where poppler starts the line in the paragraph's text space: Tm's x (left-indent, as the PDF
  // writes it) plus the line's Td moves (indent, alignment) summed as poppler sums them. The
  // raster draws from it.
  double text_x = 0;
  // The same start in points from the page's left edge: frame.left + left-indent + the moves
  // (what Renderer::layout reports).
  double x = 0;
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

// Frame.add / Paragraph.split: fills pages with paragraph pieces and hands each full page to the
// sink.
class Paginator {
 public:
  explicit Paginator(const LayoutParams& params) : p_(params) {}
  void start(const std::function<void(LaidPage&&)>& sink);
  // Places the lines from `pos` on that fit on the current page (starting a new page first when
  // not even the paragraph's next piece fits: no orphans) and returns the first line left for
  // the next page (lines.size() when the paragraph is done). In normal mode a split after a <br/>
  // may insert an empty line (reportlab's quirk), so `lines` is in-out. An empty paragraph still
  // takes its spacing and background.
  std::size_t place_piece(const Paragraph& para, bool cjk, std::vector<Line>& lines,
                          std::size_t pos, bool first_piece);
  // Hands the last page (even an empty one: the reference always makes one) to the sink.
  void finish();

 private:
  void new_page();
  void flush_page();
  // The drawn lines of one piece, with poppler's positions.
  void emit_lines(const Paragraph& para, bool cjk, const std::vector<Line>& lines,
                  std::size_t pos, std::size_t take, bool first_piece, bool piece_is_last,
                  double top, double height);

  const LayoutParams& p_;
  const std::function<void(LaidPage&&)>* sink_ = nullptr;
  LaidPage page_;
  double y_ = 0;  // current frame position (points from page top)
  bool at_top_ = true;
  double prev_space_after_ = 0;
};

// Whether the decoded text holds an ideograph (rl::is_cjk_ideograph): the reference then wraps
// the whole text as CJK. Read from the source's bytes (renderer.cpp), from its start.
bool has_cjk_ideograph(TextSource& source);

// ---- the engine ----------------------------------------------------------------------------------

struct LayoutStats {
  std::size_t characters = 0;       // code points of the source text
  std::size_t removed = 0;          // soft hyphens, zero-width spaces, control characters dropped
  std::size_t missing_glyphs = 0;   // characters drawn as .notdef (no font has them)
  std::vector<char32_t> missing_codepoints;  // distinct, first 64
};

// Streams pages to `sink` as they fill, so memory stays bounded by a page plus one paragraph.
// An engine can run many texts; it keeps its working buffers between runs (one Glyph paragraph
// can hold a whole document, so they are megabytes that would otherwise be faulted in anew).
//
// The text can arrive in pieces: begin(), feed() any number of times, end(). Only the current
// paragraph (Glyph's 30 input lines; the whole text with paragraph-lines 0) is held; what
// crosses a paragraph boundary is the
// paginator's state (the page being filled, its position, the space after) and the character
// offset where the next paragraph starts. run() is begin + one feed + end.
class LayoutEngine {
 public:
  LayoutEngine(const LayoutParams& params, FontSet& fonts);
  // `text` is decoded code points. Every page is passed to `sink` once.
  LayoutStats run(const std::u32string& text, const std::function<void(LaidPage&&)>& sink);

  // `cjk`: whether the whole text holds an ideograph (rl::is_cjk_ideograph), as Glyph decides
  // the wrapping mode for the whole document. `sink` must outlive end().
  void begin(bool cjk, const std::function<void(LaidPage&&)>& sink);
  void feed(std::u32string_view piece);  // decoded code points, cut anywhere
  LayoutStats end();

 private:
  void flush_paragraph();
  void layout_paragraph(Paragraph& para);
  void release_big_buffers();

  // the paragraph being read: raw code points since its first line, the '\n's among them
  std::u32string raw_;
  std::size_t raw_base_ = 0;   // offset of raw_[0] in the whole text
  int raw_newlines_ = 0;
  std::size_t position_ = 0;   // code points fed so far

  const LayoutParams& p_;
  Measure measure_;
  LineBreaker breaker_;
  Paginator paginator_;
  bool cjk_ = false;
  LayoutStats stats_;
  // working buffers, reused across paragraphs and runs
  Paragraph para_;
  std::vector<LChar> clean_chars_;
  std::vector<Frag> clean_frags_;
  std::vector<Line> lines_;
};

}  // namespace glyph
