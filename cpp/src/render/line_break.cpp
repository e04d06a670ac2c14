// Stage 3 of the layout: reportlab's line breaking (breakLines with splitLongWords; cjkFragSplit)
// and the re-wrap of a CJK paragraph's continuation after a page split.
#include <string>

#include "render/layout.h"

namespace glyph {

namespace {
// CJK wrapping units: an index into Paragraph::chars, kBreak for a <br/> without text, or an
// index with kBreakChar set for a character that carries a <br/>.
constexpr std::uint32_t kBreak = 0xFFFFFFFFu;
constexpr std::uint32_t kBreakChar = 0x80000000u;
}  // namespace

// reportlab.lib.textsplit.ALL_CANNOT_START
bool rl::cannot_start_line(char32_t c) {
  static const std::u32string kSet =
      U"!',.:;?!\")]\u3001\u3002\u300d\u300f\u3011\u3015\uff3d\u3011\uff09"
      U"\u3005\u2015\u3041\u3043\u3045\u3047\u3049\u3063\u3083\u3085\u3087\u308e\u30a1\u30a3"
      U"\u30a5\u30a7\u30a9\u30c3\u30e3\u30e5\u30e7\u30ee\u30fc\u30f5\u30f6"
      U"\u309b\u309c\u30fb\u30fd\u30fe\u309d\u309e\u2015\u2010\u00b0\u2032\u2033\u2103\uffe0"
      U"\uff05\u2030";
  return kSet.find(c) != std::u32string::npos;
}

// breakLines, multi-fragment path (reportlab 3.6.12 paragraph.py), with splitLongWords.
void LineBreaker::break_words(Paragraph& para, const Measure& measure, std::vector<Line>& lines) {
  const double first_width = p_.first_width, later_width = p_.later_width;
  const double space_w = measure.width(U' ');
  // para.words is the queue, since splitting a long word inserts pieces in front of the rest.
  std::vector<Word>& out_words = words_;  // words as finally placed (pieces included)
  out_words.clear();
  // As many as the queue (more only where long words split): growing by doubling would hold the
  // old and the new buffer at once, the peak of a one-paragraph document's layout.
  out_words.reserve(para.words.size());
  double max_width = first_width;
  int lineno = 0;
  bool line_open = false;
  Line cur;
  int n = 0;
  double space_width = 0, current_width = 0;
  int line_spaces = 0;       // ' ' characters in the line's text so far
  bool ends_with_space = false;
  std::size_t qi = 0;
  std::vector<Word>& queue = para.words;
  // The pieces of the word split last, read before the rest of the queue (inserting them into
  // the queue would cost the whole queue per split: quadratic in a one-paragraph document).
  // Only a queue word is ever split (pieces are not, breaks cannot be), so `pending` is used up
  // before the next split refills it.
  std::vector<Word> pending;
  std::size_t pi = 0;
  auto max_width_for = [&](int ln) { return ln == 0 ? first_width : later_width; };
  while (pi < pending.size() || qi < queue.size()) {
    Word w = pi < pending.size() ? pending[pi++] : queue[qi++];
    if (!line_open) {
      n = 0;
      space_width = current_width = 0;
      line_spaces = 0;
      ends_with_space = false;
      cur = Line{};
      cur.wb = out_words.size();
      line_open = true;
    }
    const double word_width = w.width;
    double new_width = word_width > 0 ? current_width + space_width + word_width : current_width;
    const bool line_break = w.brk;
    // spaceShrinkage = 0.05: a line may overflow by 5% of the width of its spaces.
    const double lim_width = max_width + rl::kSpaceShrinkage * (space_width + line_spaces * space_w);
    if (!line_break && new_width > lim_width && !w.split_piece) {
      if (word_width > max_width_for(lineno)) {
        // _splitFragWord: cut the word into pieces; the first fills what is left of this line.
        std::vector<Word> pieces;
        double limit = max_width - space_width - current_width;
        int ln = lineno;
        double line_w = 0, piece_w = 0;
        std::size_t pb = w.b;
        for (std::size_t k = w.b; k < w.e; ++k) {
          double cw = measure.width(para.chars[k].cp);
          double nlw = line_w + cw;
          if (nlw > limit) {
            Word p;
            p.b = pb;
            p.e = k;
            p.width = piece_w;
            p.split_piece = true;
            pieces.push_back(p);
            ++ln;
            limit = max_width_for(ln);
            nlw = cw;
            piece_w = 0;
            pb = k;
          }
          piece_w += cw;
          line_w = nlw;
        }
        Word p;
        p.b = pb;
        p.e = w.e;
        p.width = piece_w;
        p.split_piece = true;
        p.hs = w.hs;
        pieces.push_back(p);
        Word inj;
        inj.brk = true;
        inj.injected = true;
        inj.b = inj.e = pieces[0].e;
        std::vector<Word> ins;
        ins.push_back(pieces[0]);
        ins.push_back(inj);
        for (std::size_t k = 1; k < pieces.size(); ++k) ins.push_back(pieces[k]);
        pending.swap(ins);
        pi = 0;
        continue;
      }
    }
    const bool end_line = (new_width > lim_width && n > 0) || line_break;
    if (!end_line) {
      if (w.e > w.b) ++n;
      if (out_words.size() > cur.wb && out_words.back().hs && !ends_with_space) {
        ++line_spaces;  // the space joining this word to the previous one
        ends_with_space = true;
      }
      if (w.e > w.b) ends_with_space = false;
      out_words.push_back(w);
      space_width = w.hs ? space_w : 0;
      current_width = new_width;
    } else {
      cur.we = out_words.size();
      cur.extra = max_width - current_width;
      cur.width = current_width;
      cur.word_count = n;
      cur.line_break = line_break && !w.injected;
      lines.push_back(cur);
      ++lineno;
      max_width = max_width_for(lineno);
      if (line_break) {
        line_open = false;
        continue;
      }
      cur = Line{};
      cur.wb = out_words.size();
      out_words.push_back(w);
      space_width = w.hs ? space_w : 0;
      current_width = word_width;
      line_spaces = 0;
      ends_with_space = w.e == w.b;
      n = 1;
    }
  }
  if (line_open && out_words.size() > cur.wb) {
    cur.we = out_words.size();
    cur.extra = max_width - current_width;
    cur.width = current_width;
    cur.word_count = n;
    lines.push_back(cur);
  } else if (line_open && lines.empty()) {
    // A paragraph whose only word is empty still has one (blank) line.
    cur.we = out_words.size();
    cur.extra = max_width;
    lines.push_back(cur);
  }
  // The paragraph's word list becomes the placed words, so that Line indices point into it.
  para.words.swap(out_words);
}

// cjkFragSplit (reportlab 3.6.12): break between any two characters; a Latin run at the end of a
// line is moved down whole when a space or CJK character is found in the line's second half;
// characters that cannot start a line hang in the right margin.
void LineBreaker::break_cjk(Paragraph& para, const Measure& measure, double first_width,
                            std::vector<Line>& lines) {
  const double later_width = p_.later_width;
  // Units (see kBreak): four bytes each, as a whole document can be one paragraph.
  std::vector<std::uint32_t>& us = units_;
  us.clear();
  us.reserve(para.chars.size() + para.frags.size());
  for (const Frag& f : para.frags) {
    for (std::size_t k = f.b; k < f.e; ++k) us.push_back(static_cast<std::uint32_t>(k));
    if (f.brk) {
      if (f.e > f.b)
        us.back() |= kBreakChar;
      else
        us.push_back(kBreak);
    }
  }
  auto char_of = [&](std::size_t u) { return us[u] & ~kBreakChar; };  // u must not be kBreak
  auto cp_of = [&](std::size_t u) { return para.chars[char_of(u)].cp; };
  auto width = [&](std::size_t u) { return us[u] == kBreak ? 0.0 : measure.width(cp_of(u)); };
  std::size_t i = 0, line_start = 0;
  double width_used = 0;
  double max_width = first_width;
  const std::size_t nu = us.size();
  // A one-fragment paragraph wraps through textsplit.dumbSplit, which strips every line but the
  // last (Python whitespace, nbsp included) after measuring it; the multi-fragment path keeps
  // the spaces.
  const bool single_frag = para.single_frag;
  auto py_space = [](char32_t c) { return c == 0xA0 || rl::is_space(c); };
  auto emit = [&](std::size_t b, std::size_t e, double extra, double used, bool brk,
                  bool last = false) {
    if (single_frag && !last) {
      while (b < e && us[b] != kBreak && py_space(cp_of(b))) ++b;
      while (e > b && us[e - 1] != kBreak && py_space(cp_of(e - 1))) --e;
    }
    // Text-less breaks hold no characters, so the line's characters are one run of para.chars.
    Line l;
    while (b < e && us[b] == kBreak) ++b;
    while (e > b && us[e - 1] == kBreak) --e;
    if (b < e) {
      l.wb = char_of(b);
      l.we = char_of(e - 1) + 1;
      l.break_char = brk && (us[e - 1] & kBreakChar) != 0;
    }
    l.extra = extra;
    l.width = used;
    l.word_count = 1;
    l.line_break = brk;
    lines.push_back(l);
    max_width = later_width;
  };
  while (i < nu) {
    std::size_t u = i;  // the unit that ends the line, when it does
    ++i;
    double w = width(u);
    width_used += w;
    const bool line_break = (us[u] & kBreakChar) != 0;  // kBreak has the bit too
    const bool end_line = (width_used > max_width + rl::kFuzz && width_used > 0) || line_break;
    if (!end_line) continue;
    double extra = max_width - width_used;
    if (!line_break) {
      if (cp_of(u) < 0x3000) {
        const std::size_t limit = (line_start + i) >> 1;
        for (std::size_t j = i - 1; j > limit; --j) {
          if (us[j] == kBreak) break;
          const char32_t cj = cp_of(j);
          if (rl::is_zs(cj) || cj >= 0x3000) {
            std::size_t k = j + 1;
            if (k < i) {
              std::size_t jj = k + 1;
              for (std::size_t ii = jj; ii < i; ++ii) extra += width(ii);
              w = width(k);
              u = k;
              i = jj;
              break;
            }
          }
        }
      }
      if (!rl::cannot_start_line(cp_of(u)) && i > line_start + 1) {
        --i;
        extra += w;
      }
    }
    emit(line_start, i, extra, width_used, line_break);
    line_start = i;
    width_used = 0;
  }
  if (width_used > 0) emit(line_start, nu, max_width - width_used, width_used, false, true);
}

// reportlab splits a multi-fragment CJK paragraph with _split_blParaHard: the continuation is
// built from the remaining lines' words, the last word of every line but the last gaining a ' ' (an empty <br/>
// becomes ' ', still a break; a word already ending in ' ' is left alone), and then wrapped
// again from scratch without first-line indent. A line that filled to within a space of the
// width now overflows, which can move its break and those after it.
bool LineBreaker::rewrap_continuation(Paragraph& para, const Measure& measure,
                                      std::vector<Line>& lines, std::size_t from) {
  const std::size_t end = lines.size();
  // A one-fragment paragraph splits with _split_blParaSimple instead, which keeps its lines.
  if (para.single_frag) return false;
  const auto& old = para.chars;
  auto gains_space = [&](const Line& L) {
    return L.line_break ? !L.break_char : old[L.we - 1].cp != U' ';
  };
  bool changed = false;
  for (std::size_t li = from; li + 1 < end && !changed; ++li) changed = gains_space(lines[li]);
  if (!changed) return false;  // the same text from the same position wraps the same way

  std::vector<LChar>& chars = cont_chars_;
  std::vector<Frag>& frags = cont_frags_;
  chars.clear();
  frags.clear();
  for (std::size_t li = from; li < end; ++li) {
    const Line& L = lines[li];
    const bool last = li + 1 == end;
    // Its words: runs of one colour, then the <br/> if it ends the line.
    const std::size_t text_end = L.we - (L.break_char ? 1 : 0);
    for (std::size_t k = L.wb; k < text_end;) {
      const std::size_t b = chars.size();
      const std::uint8_t color = old[k].color;
      while (k < text_end && old[k].color == color) chars.push_back(old[k++]);
      frags.push_back({b, chars.size(), false});
    }
    if (L.line_break) {
      const std::size_t b = chars.size();
      if (L.break_char)
        chars.push_back(old[L.we - 1]);
      else if (!last)
        chars.push_back({U' ', kNoSource, 0});  // added by reportlab: no source text
      frags.push_back({b, chars.size(), true});
    } else if (!last && gains_space(L)) {
      LChar space = chars.back();
      space.cp = U' ';
      space.src = kNoSource;
      chars.push_back(space);
      frags.back().e = chars.size();
    }
  }
  para.chars.swap(chars);
  para.frags.swap(frags);
  para.continuation = true;
  classify_paragraph(para);
  lines.clear();
  break_cjk(para, measure, p_.later_width, lines);
  return true;
}

// The buffers are kept for the next run, except after a paragraph so large (a whole book on one
// line) that keeping them would pin hundreds of megabytes to an idle renderer.
void LineBreaker::release_big_buffers() {
  constexpr std::size_t kKeep = 1u << 20;
  if (words_.capacity() <= kKeep && units_.capacity() <= kKeep && cont_chars_.capacity() <= kKeep)
    return;
  free_buffer(words_);
  free_buffer(units_);
  free_buffer(cont_chars_);
  free_buffer(cont_frags_);
}

}  // namespace glyph
