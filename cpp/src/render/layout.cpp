// The layout engine: runs the four stages of layout.h paragraph by paragraph.
#include "render/layout.h"

#include <algorithm>

#include "common/check.h"

namespace glyph {

LayoutEngine::LayoutEngine(const LayoutParams& params, FontSet& fonts)
    : p_(params), measure_{fonts, params.cfg.font_size}, breaker_(params), paginator_(params) {}

LayoutStats LayoutEngine::run(const std::u32string& text,
                              const std::function<void(LaidPage&&)>& sink) {
  // The reference switches the whole text to CJK wrapping when any ideograph appears.
  begin(std::any_of(text.begin(), text.end(), rl::is_cjk_ideograph), sink);
  feed(text);
  return end();
}

void LayoutEngine::begin(bool cjk, const std::function<void(LaidPage&&)>& sink) {
  stats_ = LayoutStats{};
  cjk_ = cjk;
  raw_.clear();
  raw_base_ = 0;
  raw_newlines_ = 0;
  position_ = 0;
  paginator_.start(sink);
}

// Glyph's paragraphs are text.split('\n') taken 30 parts (paragraph-lines) at a time: a
// paragraph ends at every 30th '\n' (which belongs to neither paragraph) and at the end of the
// text. Each paragraph is prepared (stage 1) on its own raw text, so the whole text is never
// held, except with paragraph-lines 0 (the evaluation scripts), where it is one paragraph.
void LayoutEngine::feed(std::u32string_view piece) {
  const int lines_per_paragraph = p_.cfg.paragraph_lines;
  if (lines_per_paragraph <= 0) {  // one paragraph: no '\n' ends it
    raw_.append(piece);
    position_ += piece.size();
    return;
  }
  while (!piece.empty()) {
    std::size_t i = 0;
    for (; i < piece.size(); ++i) {
      if (piece[i] == U'\n' && ++raw_newlines_ == lines_per_paragraph) break;
    }
    if (i == piece.size()) {
      raw_.append(piece);
      position_ += piece.size();
      return;
    }
    raw_.append(piece.substr(0, i));  // up to the paragraph's last line, without its '\n'
    position_ += i + 1;
    flush_paragraph();
    raw_base_ = position_;
    piece.remove_prefix(i + 1);
  }
}

void LayoutEngine::flush_paragraph() {
  GLYPH_CHECK(raw_.size() < kNoSource, InputError,
              "a paragraph of {} characters ({}) is more than glyphcpp can lay out "
              "(4294967294 at most)",
              raw_.size(),
              p_.cfg.paragraph_lines > 0
                  ? fmt::format("paragraph-lines {}: that many input lines", p_.cfg.paragraph_lines)
                  : std::string("paragraph-lines 0: the whole text"));
  // feed() has cut raw_ at the paragraph's end already: prepare it as one paragraph.
  stats_.removed += prepare_text(raw_, p_.markup, 0, p_.cfg.tab_nbsp, para_, [this](Paragraph& para) {
    para.src_base = raw_base_;
    layout_paragraph(para);
  });
  raw_.clear();
  raw_newlines_ = 0;
}

LayoutStats LayoutEngine::end() {
  flush_paragraph();  // the last part always makes a paragraph, even an empty one
  paginator_.finish();
  stats_.characters = position_;
  release_big_buffers();
  return stats_;
}

void LayoutEngine::layout_paragraph(Paragraph& para) {
  clean_paragraph(para, clean_chars_, clean_frags_);
  classify_paragraph(para);
  for (const auto& c : para.chars) {
    const CharInfo& ci = measure_.fonts.lookup(c.cp);
    if (ci.missing && !rl::is_space(c.cp) && c.cp != 0xA0) {
      ++stats_.missing_glyphs;
      auto& mc = stats_.missing_codepoints;
      if (mc.size() < 64 && std::find(mc.begin(), mc.end(), c.cp) == mc.end()) mc.push_back(c.cp);
    }
  }
  lines_.clear();
  if (cjk_) {
    breaker_.break_cjk(para, measure_, p_.first_width, lines_);
  } else {
    frag_words(para, measure_);
    // A paragraph with no words (empty after cleaning) has no lines and height 0.
    if (!para.words.empty()) breaker_.break_words(para, measure_, lines_);
  }
  // Paginate piece by piece. Where reportlab feeds pagination back into line breaking (a CJK
  // paragraph split across pages is rebuilt and wrapped again), that happens here, between
  // pieces.
  std::size_t pos = 0;
  bool first_piece = true;
  for (;;) {
    pos = paginator_.place_piece(para, cjk_, lines_, pos, first_piece);
    if (pos >= lines_.size()) break;
    first_piece = false;
    if (cjk_ && breaker_.rewrap_continuation(para, measure_, lines_, pos)) pos = 0;
  }
}

// The buffers are kept for the next run, except after a paragraph so large (a whole book on one
// line) that keeping them would pin hundreds of megabytes to an idle renderer.
void LayoutEngine::release_big_buffers() {
  breaker_.release_big_buffers();
  constexpr std::size_t kKeepChars = 1u << 20;
  if (para_.chars.capacity() <= kKeepChars && clean_chars_.capacity() <= kKeepChars &&
      para_.words.capacity() <= kKeepChars && raw_.capacity() <= kKeepChars)
    return;
  para_ = Paragraph{};
  raw_ = {};
  clean_chars_ = {};
  clean_frags_ = {};
  lines_ = {};
}

}  // namespace glyph
