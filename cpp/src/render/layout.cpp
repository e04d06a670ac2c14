// The layout engine: runs the four stages of layout.h paragraph by paragraph.
#include "render/layout.h"

#include <algorithm>

namespace glyph {

LayoutEngine::LayoutEngine(const LayoutParams& params, FontSet& fonts)
    : p_(params), measure_{fonts, params.cfg.font_size}, breaker_(params), paginator_(params) {}

LayoutStats LayoutEngine::run(const std::u32string& text,
                              const std::function<void(LaidPage&&)>& sink) {
  stats_ = LayoutStats{};
  stats_.characters = text.size();
  // The reference switches the whole text to CJK wrapping when any ideograph appears.
  cjk_ = std::any_of(text.begin(), text.end(), rl::is_cjk_ideograph);
  paginator_.start(sink);
  stats_.removed = prepare_text(text, p_.markup, para_,
                                [this](Paragraph& para) { layout_paragraph(para); });
  paginator_.finish();
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
      para_.words.capacity() <= kKeepChars)
    return;
  para_ = Paragraph{};
  clean_chars_ = {};
  clean_frags_ = {};
  lines_ = {};
}

}  // namespace glyph
