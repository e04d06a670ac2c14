#include "render/layout.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"
#include "render/fp_str.h"

namespace glyph {

namespace {

constexpr double kFuzz = 1e-6;         // reportlab rl_config._FUZZ
constexpr double kFramePadding = 6.0;  // reportlab Frame default padding on every side
constexpr int kLinesPerParagraph = 30; // Glyph joins every 30 source lines into one Paragraph
constexpr double kSpaceShrinkage = 0.05;  // ParagraphStyle.spaceShrinkage (rl_settings)

// reportlab.platypus.paragraph._wsc: the breakable whitespace (U+00A0 is not in it).
bool is_rl_space(char32_t c) {
  switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x1C: case 0x1D: case 0x1E:
    case 0x1F: case 0x20: case 0x85: case 0x1680: case 0x200B: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

// Python's string.whitespace, which _getFragWords uses to test a fragment's first/last char.
bool is_py_ascii_space(char32_t c) { return c == ' ' || (c >= 0x09 && c <= 0x0D); }

// Unicode category Zs (CJK wrapping looks back for one of these).
bool is_zs(char32_t c) {
  return c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

bool is_cjk_ideograph(char32_t c) { return c >= 0x4E00 && c <= 0x9FFF; }

// reportlab.lib.textsplit.ALL_CANNOT_START
bool cannot_start_line(char32_t c) {
  static const std::u32string kSet =
      U"!',.:;?!\")]\u3001\u3002\u300d\u300f\u3011\u3015\uff3d\u3011\uff09"
      U"\u3005\u2015\u3041\u3043\u3045\u3047\u3049\u3063\u3083\u3085\u3087\u308e\u30a1\u30a3"
      U"\u30a5\u30a7\u30a9\u30c3\u30e3\u30e5\u30e7\u30ee\u30fc\u30f5\u30f6"
      U"\u309b\u309c\u30fb\u30fd\u30fe\u309d\u309e\u2015\u2010\u00b0\u2032\u2033\u2103\uffe0"
      U"\uff05\u2030";
  return kSet.find(c) != std::u32string::npos;
}

// Control characters the reference cannot draw; they are dropped (and counted). Whitespace
// controls (tab, CR, VT, FF, FS..US, NEL) stay: reportlab breaks on them.
bool is_dropped_control(char32_t c) {
  if (c < 0x20) return !(c == 0x09 || c == 0x0A || c == 0x0B || c == 0x0C || c == 0x0D || c >= 0x1C);
  if (c == 0x7F) return true;
  if (c >= 0x80 && c <= 0x9F) return c != 0x85;
  return false;
}

}  // namespace

LayoutEngine::LayoutEngine(const RenderConfig& cfg, FontSet& fonts)
    : cfg_(cfg), fonts_(fonts), markup_(parse_newline_markup(cfg.newline_markup)) {
  frame_top_ = cfg.margin_y + kFramePadding;
  frame_bottom_ = cfg.page_height - cfg.margin_y - kFramePadding;
  frame_width_ = cfg.page_width - 2 * cfg.margin_x - 2 * kFramePadding;
  space_width_ = width_of(U' ');
}

double LayoutEngine::width_of(char32_t cp) {
  return fonts_.lookup(cp).width1000 * 0.001 * cfg_.font_size;
}

void LayoutEngine::new_page() {
  page_ = LaidPage{};
  y_ = frame_top_;
  at_top_ = true;
  prev_space_after_ = 0;
}

void LayoutEngine::flush_page() {
  (*sink_)(std::move(page_));
  new_page();
}

LayoutStats LayoutEngine::run(const std::u32string& text,
                              const std::function<void(LaidPage&&)>& sink) {
  sink_ = &sink;
  stats_ = LayoutStats{};
  stats_.characters = text.size();
  new_page();

  // The reference switches the whole text to CJK wrapping when any ideograph appears.
  cjk_ = std::any_of(text.begin(), text.end(), is_cjk_ideograph);

  // Text preparation (Glyph): drop U+00AD and U+200B, runs of 2+ spaces -> that many U+00A0,
  // split on '\n', every 30 lines form one paragraph joined by the newline markup.
  Para& para = para_;
  para.chars.clear();
  para.frags.clear();
  para.continuation = false;
  int lines_in_para = 0;
  std::size_t line_start = 0;
  auto add_line = [&](std::size_t b, std::size_t e) {
    if (lines_in_para > 0) {
      if (markup_.kind == NewlineMarkup::Kind::kBreak) {
        para.frags.push_back({para.chars.size(), para.chars.size(), true});
      } else {
        std::size_t fb = para.chars.size();
        const auto src = static_cast<std::uint32_t>(b > 0 ? b - 1 : 0);  // the '\n' it replaces
        for (char32_t c : markup_.text) para.chars.push_back({c, src, 1});
        if (para.chars.size() > fb) para.frags.push_back({fb, para.chars.size(), false});
      }
    }
    std::size_t fb = para.chars.size();
    for (std::size_t i = b; i < e; ++i) {
      char32_t c = text[i];
      if (c == 0xAD || c == 0x200B || is_dropped_control(c)) {
        ++stats_.removed;
        continue;
      }
      if (c == U' ') {
        std::size_t j = i;
        while (j < e && text[j] == U' ') ++j;
        if (j - i >= 2) {
          for (std::size_t k = i; k < j; ++k)
            para.chars.push_back({0xA0, static_cast<std::uint32_t>(k), 0});
          i = j - 1;
          continue;
        }
      }
      para.chars.push_back({c, static_cast<std::uint32_t>(i), 0});
    }
    if (para.chars.size() > fb) {
      // Consecutive text fragments (no markup between) merge, as the XML parser would.
      if (!para.frags.empty() && !para.frags.back().brk && para.frags.back().e == fb &&
          markup_.kind == NewlineMarkup::Kind::kBreak)
        para.frags.back().e = para.chars.size();
      else
        para.frags.push_back({fb, para.chars.size(), false});
    }
    if (++lines_in_para == kLinesPerParagraph) {
      layout_paragraph(para);
      para.chars.clear();
      para.frags.clear();
      para.continuation = false;
      lines_in_para = 0;
    }
  };
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == U'\n') {
      add_line(line_start, i);
      line_start = i + 1;
    }
  }
  if (lines_in_para > 0) layout_paragraph(para);
  // The last page is emitted even when empty: the reference always produces at least one page.
  (*sink_)(std::move(page_));
  sink_ = nullptr;
  release_big_buffers();
  return stats_;
}

// The buffers are kept for the next run, except after a paragraph so large (a whole book on one
// line) that keeping them would pin hundreds of megabytes to an idle renderer.
void LayoutEngine::release_big_buffers() {
  constexpr std::size_t kKeepChars = 1u << 20;
  if (para_.chars.capacity() <= kKeepChars && clean_chars_.capacity() <= kKeepChars &&
      cont_chars_.capacity() <= kKeepChars && units_.capacity() <= kKeepChars &&
      para_.words.capacity() <= kKeepChars && words_.capacity() <= kKeepChars)
    return;
  para_ = Para{};
  clean_chars_ = {};
  clean_frags_ = {};
  cont_chars_ = {};
  cont_frags_ = {};
  lines_ = {};
  words_ = {};
  units_ = {};
}

// ------------------------------------------------------------------ word building

// cleanBlockQuotedText: the paragraph markup is stripped and every run of breakable whitespace
// becomes one ASCII space. Runs never cross a tag, so each fragment is cleaned on its own; only
// line text at the very start/end of the paragraph is stripped (markup text sits inside tags).
// `out` and `kept` are scratch buffers; they end up holding the old contents.
void clean_paragraph(std::vector<LChar>& chars, std::vector<Frag>& frags, std::vector<LChar>& out,
                     std::vector<Frag>& kept) {
  out.clear();
  out.reserve(chars.size());
  kept.clear();
  for (std::size_t fi = 0; fi < frags.size(); ++fi) {
    Frag f = frags[fi];
    if (f.brk) {
      kept.push_back({out.size(), out.size(), true});
      continue;
    }
    std::size_t b = f.b, e = f.e;
    const bool line_text = chars[b].color == 0;
    if (fi == 0 && line_text)
      while (b < e && is_rl_space(chars[b].cp)) ++b;
    if (fi + 1 == frags.size() && line_text)
      while (e > b && is_rl_space(chars[e - 1].cp)) --e;
    const std::size_t ob = out.size();
    for (std::size_t k = b; k < e; ++k) {
      if (is_rl_space(chars[k].cp)) {
        LChar sp = chars[k];
        sp.cp = U' ';
        out.push_back(sp);
        while (k + 1 < e && is_rl_space(chars[k + 1].cp)) ++k;
      } else {
        out.push_back(chars[k]);
      }
    }
    if (out.size() > ob) kept.push_back({ob, out.size(), false});
  }
  chars.swap(out);
  frags.swap(kept);
}

// Whether reportlab parses the paragraph into a single fragment (one source line, no entity,
// no nbsp; for a CJK continuation, whose fragments are its lines' words, one word whatever it
// holds). Such a paragraph has kind-0 lines: CJK text wraps through dumbSplit, a page split keeps
// its lines (_split_blParaSimple), and squeezed CENTER/RIGHT lines keep their offset.
void LayoutEngine::classify(Para& para) {
  para.single_frag = para.frags.size() == 1 && !para.frags[0].brk;
  if (para.single_frag && !para.continuation)
    for (const LChar& c : para.chars)
      if (c.cp == 0xA0 || c.cp == U'&' || c.cp == U'<' || c.cp == U'>') para.single_frag = false;
}

void LayoutEngine::layout_paragraph(Para& para) {
  clean_paragraph(para.chars, para.frags, clean_chars_, clean_frags_);
  classify(para);
  const auto& chars = para.chars;
  for (const auto& c : chars) {
    const CharInfo& ci = fonts_.lookup(c.cp);
    if (ci.missing && !is_rl_space(c.cp) && c.cp != 0xA0) {
      ++stats_.missing_glyphs;
      auto& mc = stats_.missing_codepoints;
      if (mc.size() < 64 && std::find(mc.begin(), mc.end(), c.cp) == mc.end()) mc.push_back(c.cp);
    }
  }
  const double first_width =
      frame_width_ - (cfg_.left_indent + cfg_.first_line_indent) - cfg_.right_indent;
  const double later_width = frame_width_ - cfg_.left_indent - cfg_.right_indent;

  lines_.clear();
  if (cjk_) {
    break_lines_cjk(para, first_width, later_width);
  } else {
    // _getFragWords (reportlab 3.6.12, non-processed frags).
    auto& R = para.words;
    R.clear();
    bool open = false;
    Word W;
    bool hanging_strip = true;
    auto word_width = [&](std::size_t b, std::size_t e) {
      double w1000 = 0;
      for (std::size_t k = b; k < e; ++k) w1000 += fonts_.lookup(chars[k].cp).width1000;
      return w1000 * 0.001 * cfg_.font_size;
    };
    auto push = [&](Word w) { R.push_back(w); };
    for (const Frag& f : para.frags) {
      if (f.brk) {
        if (open) {
          push(W);
          open = false;
        }
        Word br;
        br.b = br.e = f.b;
        br.brk = true;
        push(br);
        hanging_strip = true;
        continue;
      }
      std::size_t tb = f.b, te = f.e;
      if (hanging_strip) {
        while (tb < te && is_rl_space(chars[tb].cp)) ++tb;
        if (tb == te) continue;
        hanging_strip = false;
      }
      // split(): with U+00A0 present reportlab splits on its own whitespace keeping empty ends;
      // without, Python's str.split() drops them.
      bool has_nbsp = false;
      for (std::size_t k = tb; k < te; ++k) has_nbsp |= chars[k].cp == 0xA0;
      std::vector<std::pair<std::size_t, std::size_t>> S;
      {
        std::size_t k = tb;
        if (has_nbsp) {
          std::size_t start = tb;
          while (k < te) {
            if (is_rl_space(chars[k].cp)) {
              S.push_back({start, k});
              while (k < te && is_rl_space(chars[k].cp)) ++k;
              start = k;
            } else {
              ++k;
            }
          }
          S.push_back({start, te});
        } else {
          while (k < te) {
            while (k < te && is_rl_space(chars[k].cp)) ++k;
            if (k == te) break;
            std::size_t start = k;
            while (k < te && !is_rl_space(chars[k].cp)) ++k;
            S.push_back({start, k});
          }
        }
      }
      if (is_py_ascii_space(chars[tb].cp) || S.empty()) {
        bool whs;
        if (open) {
          push(W);
          open = false;
          whs = false;
        } else {
          whs = !R.empty() && R.back().hs;
        }
        if (!whs) S.insert(S.begin(), {tb, tb});
        else if (S.empty()) continue;
      }
      for (std::size_t s = 0; s + 1 < S.size(); ++s) {
        if (!open) {
          W = Word{};
          W.b = S[s].first;
          open = true;
        }
        W.e = S[s].second;
        W.width += word_width(S[s].first, S[s].second);
        W.hs = true;
        push(W);
        open = false;
      }
      const auto& last = S.back();
      if (!open) {
        W = Word{};
        W.b = last.first;
        open = true;
      }
      W.e = last.second;
      W.width += word_width(last.first, last.second);
      if (is_py_ascii_space(chars[te - 1].cp)) {
        W.hs = true;
        push(W);
        open = false;
      }
    }
    if (open) push(W);
    // A paragraph with no words (empty after cleaning) has no lines and height 0.
    if (!R.empty()) break_lines(para, first_width, later_width);
  }
  place_lines(para, lines_, 0, lines_.size(), true, true);
}

// breakLines, multi-fragment path (reportlab 3.6.12 paragraph.py), with splitLongWords.
void LayoutEngine::break_lines(Para& para, double first_width, double later_width) {
  // para.words is the queue, since splitting a long word inserts pieces in front of the rest.
  std::vector<Line>& lines = lines_;
  std::vector<Word>& out_words = words_;  // words as finally placed (pieces included)
  out_words.clear();
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
  auto max_width_for = [&](int ln) { return ln == 0 ? first_width : later_width; };
  while (qi < queue.size()) {
    Word w = queue[qi++];
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
    const double lim_width = max_width + kSpaceShrinkage * (space_width + line_spaces * space_width_);
    if (!line_break && new_width > lim_width && !w.split_piece) {
      if (word_width > max_width_for(lineno)) {
        // _splitFragWord: cut the word into pieces; the first fills what is left of this line.
        std::vector<Word> pieces;
        double limit = max_width - space_width - current_width;
        int ln = lineno;
        double line_w = 0, piece_w = 0;
        std::size_t pb = w.b;
        for (std::size_t k = w.b; k < w.e; ++k) {
          double cw = width_of(para.chars[k].cp);
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
        queue.insert(queue.begin() + static_cast<std::ptrdiff_t>(qi), ins.begin(), ins.end());
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
      space_width = w.hs ? space_width_ : 0;
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
      space_width = w.hs ? space_width_ : 0;
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
void LayoutEngine::break_lines_cjk(Para& para, double first_width, double later_width) {
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
  auto width = [&](std::size_t u) { return us[u] == kBreak ? 0.0 : width_of(cp_of(u)); };
  std::vector<Line>& lines = lines_;
  std::size_t i = 0, line_start = 0;
  double width_used = 0;
  double max_width = first_width;
  const std::size_t nu = us.size();
  // A one-fragment paragraph wraps through textsplit.dumbSplit, which strips every line but the
  // last (Python whitespace, nbsp included) after measuring it; the multi-fragment path keeps
  // the spaces.
  const bool single_frag = para.single_frag;
  auto py_space = [](char32_t c) { return c == 0xA0 || is_rl_space(c); };
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
    const bool end_line = (width_used > max_width + kFuzz && width_used > 0) || line_break;
    if (!end_line) continue;
    double extra = max_width - width_used;
    if (!line_break) {
      if (cp_of(u) < 0x3000) {
        const std::size_t limit = (line_start + i) >> 1;
        for (std::size_t j = i - 1; j > limit; --j) {
          if (us[j] == kBreak) break;
          const char32_t cj = cp_of(j);
          if (is_zs(cj) || cj >= 0x3000) {
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
      if (!cannot_start_line(cp_of(u)) && i > line_start + 1) {
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

// Frame.add / Paragraph.split: place the paragraph's lines on pages, splitting it where the
// frame is full (no orphans: a split needs at least two lines to fit).
void LayoutEngine::place_lines(Para& para, std::vector<Line>& lines, std::size_t begin,
                               std::size_t end, bool first_piece, bool last_piece) {
  const double leading = cfg_.leading();
  std::size_t pos = begin;
  bool first = first_piece;
  for (;;) {
    const std::size_t remaining = end - pos;
    const double s = at_top_ ? 0.0 : std::max(cfg_.space_before - prev_space_after_, 0.0);
    const double avail = frame_bottom_ - y_ - s;
    std::size_t take = remaining;
    if (avail <= 0) {
      take = 0;
    } else if (remaining * leading > avail + kFuzz) {
      std::size_t fit = static_cast<std::size_t>(std::floor(avail / leading));
      take = fit <= 1 ? 0 : fit;  // allowOrphans = 0
      if (take == 0 && at_top_) take = std::max<std::size_t>(1, fit);  // cannot move further
    }
    if (take == 0 && remaining > 0) {
      flush_page();
      continue;
    }
    if (take < remaining && !cjk_ && lines[pos + take - 1].line_break) {
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
        empty.extra = frame_width_ - cfg_.left_indent - cfg_.right_indent;
        lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(pos + take), empty);
        ++end;
      }
    }
    // Draw lines [pos, pos + take) with the piece's top at y_ + s.
    const double top = y_ + s;
    const double height = static_cast<double>(take) * leading;
    if (cfg_.para_bg_color || (cfg_.para_border_color && cfg_.border_width > 0)) {
      Rect r;
      const double bp = cfg_.border_padding;
      r.x = cfg_.margin_x + kFramePadding + cfg_.left_indent - bp;
      r.y = top - bp;
      r.w = frame_width_ - (cfg_.left_indent + cfg_.right_indent) + 2 * bp;
      r.h = height + 2 * bp;
      if (cfg_.para_bg_color) {
        r.fill = true;
        r.fill_color = *cfg_.para_bg_color;
      }
      if (cfg_.para_border_color && cfg_.border_width > 0) {
        r.stroke = true;
        r.stroke_color = *cfg_.para_border_color;
        r.line_width = cfg_.border_width;
      }
      r.lines_before = page_.lines.size();
      page_.rects.push_back(r);
    }
    const bool piece_is_last = pos + take == end;
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
    const double pdf_origin_y = fp_str(cfg_.page_height - (top + height));
    const double pdf_first_y = fp_str(height - cfg_.font_size);
    const double pdf_leading = fp_str(leading);
    double pdf_line_y = 0;
    double pdf_line_x = 0;       // poppler's lineX: the Td moves applied so far
    double pending_td = 0;       // the `-m Td` ending the previous line, while it can still merge
    bool has_pending = false;
    for (std::size_t li = 0; li < take; ++li) {
      const Line& L = lines[pos + li];
      const bool para_first_line = first && li == 0;
      const bool para_last_line = last_piece && piece_is_last && li + 1 == take;
      LaidLine out;
      const double line_offset = para_first_line ? cfg_.first_line_indent : 0.0;
      out.baseline = top + cfg_.font_size + static_cast<double>(li) * leading;
      if (li > 0) pdf_line_y -= pdf_leading;
      out.pdf_origin_y = pdf_origin_y;
      out.pdf_text_y = pdf_line_y + pdf_first_y;
      out.width = L.width;
      // Build the drawn characters: words, with a space after a word followed by one.
      int nbsp = 0;
      if (cjk_) {
        out.chars.assign(para.chars.begin() + static_cast<std::ptrdiff_t>(L.wb),
                         para.chars.begin() + static_cast<std::ptrdiff_t>(L.we));
        for (const LChar& c : out.chars) nbsp += c.cp == 0xA0;
      }
      for (std::size_t wi = L.wb; !cjk_ && wi < L.we; ++wi) {
        const Word& w = para.words[wi];
        if (wi > L.wb && para.words[wi - 1].hs &&
            (out.chars.empty() || out.chars.back().cp != U' ')) {
          const auto& prev = para.words[wi - 1];
          std::uint32_t src = prev.e > prev.b ? para.chars[prev.e - 1].src + 1
                                              : (w.e > w.b ? para.chars[w.b].src : 0);
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
      if (cfg_.alignment == Alignment::kJustify) {
        const bool simple = L.line_break || (fits && extra <= 1e-8) || (para_last_line && fits);
        if (!simple && n_spaces > 0) ws = extra / n_spaces;
      } else if (!fits && n_spaces > 0) {
        ws = extra / n_spaces;
        if (cfg_.alignment != Alignment::kLeft) {
          // Kind 1 never moves by m (the lost offset); kind 0 moves after setting Tw.
          if (para.single_frag)
            can_merge = false;
          else
            moves = false;
        }
      } else if (cfg_.alignment == Alignment::kCenter) {
        m += 0.5 * extra;
      } else if (cfg_.alignment == Alignment::kRight) {
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
      out.pdf_line_x = pdf_line_x;
      out.word_space = ws;
      if (!out.chars.empty()) {
        out.src_begin = out.chars.front().src;
        out.src_end = out.chars.back().src + 1;
        for (const auto& c : out.chars) {
          out.src_begin = std::min<std::size_t>(out.src_begin, c.src);
          out.src_end = std::max<std::size_t>(out.src_end, c.src + 1);
        }
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
    const double new_y = y_ + s + height + cfg_.space_after;
    if (new_y != y_) at_top_ = false;
    y_ = new_y;
    prev_space_after_ = cfg_.space_after;
    pos += take;
    first = false;
    if (pos >= end) break;
    if (cjk_ && continue_cjk(para, pos, end)) {
      pos = 0;
      end = lines.size();
    }
  }
}

// reportlab splits a multi-fragment CJK paragraph with _split_blParaHard: the continuation is built from the
// remaining lines' words, the last word of every line but the last gaining a ' ' (an empty <br/>
// becomes ' ', still a break; a word already ending in ' ' is left alone), and then wrapped
// again from scratch without first-line indent. A line that filled to within a space of the
// width now overflows, which can move its break and those after it.
bool LayoutEngine::continue_cjk(Para& para, std::size_t from, std::size_t end) {
  // A one-fragment paragraph splits with _split_blParaSimple instead, which keeps its lines.
  if (para.single_frag) return false;
  const auto& old = para.chars;
  auto gains_space = [&](const Line& L) {
    return L.line_break ? !L.break_char : old[L.we - 1].cp != U' ';
  };
  bool changed = false;
  for (std::size_t li = from; li + 1 < end && !changed; ++li) changed = gains_space(lines_[li]);
  if (!changed) return false;  // the same text from the same position wraps the same way

  std::vector<LChar>& chars = cont_chars_;
  std::vector<Frag>& frags = cont_frags_;
  chars.clear();
  frags.clear();
  std::uint32_t last_src = lines_[from].we > lines_[from].wb ? old[lines_[from].wb].src : 0;
  for (std::size_t li = from; li < end; ++li) {
    const Line& L = lines_[li];
    const bool last = li + 1 == end;
    // Its words: runs of one colour, then the <br/> if it ends the line.
    const std::size_t text_end = L.we - (L.break_char ? 1 : 0);
    for (std::size_t k = L.wb; k < text_end;) {
      const std::size_t b = chars.size();
      const std::uint8_t color = old[k].color;
      while (k < text_end && old[k].color == color) chars.push_back(old[k++]);
      frags.push_back({b, chars.size(), false});
    }
    if (text_end > L.wb) last_src = old[text_end - 1].src;
    if (L.line_break) {
      const std::size_t b = chars.size();
      if (L.break_char)
        chars.push_back(old[L.we - 1]);
      else if (!last)
        chars.push_back({U' ', last_src, 0});
      frags.push_back({b, chars.size(), true});
    } else if (!last && gains_space(L)) {
      LChar space = chars.back();
      space.cp = U' ';
      chars.push_back(space);
      frags.back().e = chars.size();
    }
  }
  para.chars.swap(chars);
  para.frags.swap(frags);
  para.continuation = true;
  classify(para);
  const double width = frame_width_ - cfg_.left_indent - cfg_.right_indent;
  lines_.clear();
  break_lines_cjk(para, width, width);
  return true;
}

}  // namespace glyph
