// Stage 4 of the layout: reportlab's Frame.add / Paragraph.split, placing each paragraph's lines
// on pages, and the positions poppler gives the lines (the PDF's moves replayed).
#include <algorithm>
#include <cmath>
#include <utility>

#include "render/fp_str.h"
#include "render/layout.h"

namespace glyph {

LayoutParams::LayoutParams(const RenderConfig& config, NewlineMarkup newline_markup)
    : cfg(config),
      frame(config.frame()),
      leading(config.leading()),
      first_width(frame.width - (config.left_indent + config.first_line_indent) -
                  config.right_indent),
      later_width(config.text_width()),
      markup(std::move(newline_markup)) {}

void Paginator::start(const std::function<void(LaidPage&&)>& sink) {
  sink_ = &sink;
  page_.src_end = 0;
  new_page();
}

void Paginator::new_page() {
  // A page that shows no source text keeps the empty span where the previous one ended.
  const std::size_t end = page_.src_end;
  page_ = LaidPage{};
  page_.src_begin = page_.src_end = end;
  y_ = p_.frame.top;
  at_top_ = true;
  prev_space_after_ = 0;
}

void Paginator::flush_page() {
  (*sink_)(std::move(page_));
  new_page();
}

void Paginator::finish() {
  (*sink_)(std::move(page_));
  sink_ = nullptr;
}

std::size_t Paginator::place_piece(const Paragraph& para, bool cjk, std::vector<Line>& lines,
                                   std::size_t pos, bool first_piece) {
  const RenderConfig& cfg = p_.cfg;
  const double leading = p_.leading;
  const std::size_t remaining = lines.size() - pos;
  double s = 0;
  std::size_t take = 0;
  for (;;) {
    s = at_top_ ? 0.0 : std::max(cfg.space_before - prev_space_after_, 0.0);
    const double avail = p_.frame.bottom - y_ - s;
    take = remaining;
    if (avail <= 0) {
      take = 0;
    } else if (remaining * leading > avail + rl::kFuzz) {
      std::size_t fit = static_cast<std::size_t>(std::floor(avail / leading));
      take = fit <= 1 ? 0 : fit;  // allowOrphans = 0
      if (take == 0 && at_top_) take = std::max<std::size_t>(1, fit);  // cannot move further
    }
    if (take > 0 || remaining == 0) break;
    flush_page();  // not even two lines fit here: the piece starts the next page
  }
  if (take < remaining && !cjk && lines[pos + take - 1].line_break) {
    // reportlab quirk (_split_blParaProcessed): both pieces are re-wrapped from frag words, and
    // the continuation's words start at the <br/> that ended the last line kept here. So the
    // continuation opens with an empty line; when that last line was itself empty, it is the
    // one that moves (this page keeps one line fewer), otherwise an extra empty line appears.
    const Line& last_here = lines[pos + take - 1];
    if (last_here.wb == last_here.we && take > 1) {
      --take;
    } else {
      Line empty;
      empty.wb = empty.we = last_here.we;
      empty.line_break = true;
      empty.extra = p_.later_width;
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(pos + take), empty);
    }
  }
  // Lines [pos, pos + take) with the piece's top at y_ + s.
  const double top = y_ + s;
  const double height = static_cast<double>(take) * leading;
  if (cfg.para_bg_color || (cfg.para_border_color && cfg.border_width > 0)) {
    Rect r;
    const double bp = cfg.border_padding;
    r.x = p_.frame.left + cfg.left_indent - bp;
    r.y = top - bp;
    r.w = p_.frame.width - (cfg.left_indent + cfg.right_indent) + 2 * bp;
    r.h = height + 2 * bp;
    if (cfg.para_bg_color) {
      r.fill = true;
      r.fill_color = *cfg.para_bg_color;
    }
    if (cfg.para_border_color && cfg.border_width > 0) {
      r.stroke = true;
      r.stroke_color = *cfg.para_border_color;
      r.line_width = cfg.border_width;
    }
    r.lines_before = page_.lines.size();
    page_.rects.push_back(r);
  }
  emit_lines(para, cjk, lines, pos, take, first_piece, pos + take == lines.size(), top, height);
  const double new_y = y_ + s + height + cfg.space_after;
  if (new_y != y_) at_top_ = false;
  y_ = new_y;
  prev_space_after_ = cfg.space_after;
  return pos + take;
}

void Paginator::emit_lines(const Paragraph& para, bool cjk, const std::vector<Line>& lines,
                           std::size_t pos, std::size_t take, bool first_piece,
                           bool piece_is_last, double top, double height) {
  const RenderConfig& cfg = p_.cfg;
  const double tm_x = fp_str(cfg.left_indent);  // the text matrix's x
  // reportlab moves the text cursor back by a line's offset after drawing it. A squeezed
  // CENTER/RIGHT line is drawn without first moving by its offset (_centerDrawParaLineX has no
  // setXPos in that branch), so the offset is lost there and every later line of this piece
  // shifts left by it. Copied, since the model saw such pages: replaying the moves below does
  // it. Kind-0 lines (one-fragment paragraphs) go through _centerDrawParaLine and
  // _rightDrawParaLine, which do move: no loss.
  // PDF: `1 0 0 1 x f cm` at the piece's bottom, `BT 1 0 0 1 leftIndent (height - fontSize) Tm`,
  // `T*` per line with TL = leading, each written with fp_str; poppler sums the moves in
  // doubles. Horizontally each line is `setXPos(m)`, text, `setXPos(-m)` (the dpl functions);
  // reportlab's textobject merges a Td with the Td just before it into one fp_str number, so
  // poppler's line x is a sum of rounded, merged moves, which we replay.
  const double pdf_origin_y = fp_str(cfg.page_height - (top + height));
  const double pdf_first_y = fp_str(height - cfg.font_size);
  const double pdf_leading = fp_str(p_.leading);
  double pdf_line_y = 0;
  double pdf_line_x = 0;       // poppler's lineX: the Td moves applied so far
  double pending_td = 0;       // the `-m Td` ending the previous line, while it can still merge
  bool has_pending = false;
  for (std::size_t li = 0; li < take; ++li) {
    const Line& L = lines[pos + li];
    const bool para_first_line = first_piece && li == 0;
    const bool para_last_line = piece_is_last && li + 1 == take;
    LaidLine out;
    const double line_offset = para_first_line ? cfg.first_line_indent : 0.0;
    out.baseline = top + cfg.font_size + static_cast<double>(li) * p_.leading;
    if (li > 0) pdf_line_y -= pdf_leading;
    out.pdf_origin_y = pdf_origin_y;
    out.pdf_text_y = pdf_line_y + pdf_first_y;
    out.width = L.width;
    // Build the drawn characters: words, with a space after a word followed by one.
    int nbsp = 0;
    if (cjk) {
      out.chars.assign(para.chars.begin() + static_cast<std::ptrdiff_t>(L.wb),
                       para.chars.begin() + static_cast<std::ptrdiff_t>(L.we));
      for (const LChar& c : out.chars) nbsp += c.cp == 0xA0;
    }
    for (std::size_t wi = L.wb; !cjk && wi < L.we; ++wi) {
      const Word& w = para.words[wi];
      if (wi > L.wb && para.words[wi - 1].hs &&
          (out.chars.empty() || out.chars.back().cp != U' ')) {
        // The space is the cleaned whitespace run right after the previous word (its source
        // position), when there is one in para.chars; otherwise it shows no source character.
        const std::size_t after = para.words[wi - 1].e;
        const std::uint32_t src = after < para.chars.size() && para.chars[after].cp == U' '
                                      ? para.chars[after].src
                                      : kNoSource;
        out.chars.push_back({U' ', src, para.chars.empty() ? std::uint8_t(0)
                                                             : para.chars[std::min(w.b, para.chars.size() - 1)].color});
      }
      for (std::size_t k = w.b; k < w.e; ++k) {
        out.chars.push_back(para.chars[k]);
        nbsp += para.chars[k].cp == 0xA0;
      }
    }
    // Alignment (paragraph.py _*DrawParaLineX): extra space goes to the spaces and nbsp
    // (both drawn as code 32, where PDF word spacing applies); an overflowing line (allowed by
    // spaceShrinkage) is squeezed back to the line width the same way.
    const double extra = L.extra;
    const int n_spaces = L.word_count + nbsp - 1;
    double m = line_offset;   // the line's setXPos argument
    bool moves = true;        // setXPos(m) happens before the text
    bool can_merge = true;    // ... as the first operator, right after the previous `-m Td`
    double ws = 0;
    const bool fits = extra > -1e-8;
    if (cfg.alignment == Alignment::kJustify) {
      const bool simple = L.line_break || (fits && extra <= 1e-8) || (para_last_line && fits);
      if (!simple && n_spaces > 0) ws = extra / n_spaces;
    } else if (!fits && n_spaces > 0) {
      ws = extra / n_spaces;
      if (cfg.alignment != Alignment::kLeft) {
        // Kind 1 never moves by m (the lost offset); kind 0 moves after setting Tw.
        if (para.single_frag)
          can_merge = false;
        else
          moves = false;
      }
    } else if (cfg.alignment == Alignment::kCenter) {
      m += 0.5 * extra;
    } else if (cfg.alignment == Alignment::kRight) {
      m += extra;
    }
    const bool nonzero = m > 1e-6 || m < -1e-6;  // paragraph.py setXPos skips smaller moves
    if (moves && nonzero && has_pending && can_merge) {
      pdf_line_x += fp_str(m + pending_td);
    } else {
      if (has_pending) pdf_line_x += pending_td;
      if (moves && nonzero) pdf_line_x += fp_str(m);
    }
    has_pending = nonzero;
    pending_td = nonzero ? fp_str(-m) : 0;
    out.text_x = pdf_line_x + tm_x;  // the operands and order poppler uses
    out.x = p_.frame.left + cfg.left_indent + pdf_line_x;
    out.word_space = ws;
    // The spans count only characters of the source text (not those reportlab adds), as offsets
    // in the whole text: the paragraph's base plus the in-paragraph offset.
    bool has_source = false;
    for (const auto& c : out.chars) {
      if (c.src == kNoSource) continue;
      const std::size_t at = para.src_base + c.src;
      out.src_begin = has_source ? std::min(out.src_begin, at) : at;
      out.src_end = has_source ? std::max(out.src_end, at + 1) : at + 1;
      has_source = true;
    }
    if (has_source) {
      if (!page_.has_text) {
        page_.src_begin = out.src_begin;
        page_.src_end = out.src_end;
      }
      page_.src_begin = std::min(page_.src_begin, out.src_begin);
      page_.src_end = std::max(page_.src_end, out.src_end);
      page_.has_text = true;
    }
    page_.lines.push_back(std::move(out));
  }
}

}  // namespace glyph
