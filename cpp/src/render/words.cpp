// Stage 2 of the layout: reportlab's parsing of a prepared paragraph into cleaned fragments and
// (normal wrapping) words.
#include "render/layout.h"

namespace glyph {

using rl::is_py_ascii_space;
using rl::is_space;

// cleanBlockQuotedText: the paragraph markup is stripped and every run of breakable whitespace
// becomes one ASCII space. Runs never cross a tag, so each fragment is cleaned on its own; only
// line text at the very start/end of the paragraph is stripped (markup text sits inside tags).
// `out` and `kept` are scratch buffers; they end up holding the old contents.
void clean_paragraph(Paragraph& para, std::vector<LChar>& out, std::vector<Frag>& kept) {
  std::vector<LChar>& chars = para.chars;
  std::vector<Frag>& frags = para.frags;
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
      while (b < e && is_space(chars[b].cp)) ++b;
    if (fi + 1 == frags.size() && line_text)
      while (e > b && is_space(chars[e - 1].cp)) --e;
    const std::size_t ob = out.size();
    for (std::size_t k = b; k < e; ++k) {
      if (is_space(chars[k].cp)) {
        LChar sp = chars[k];
        sp.cp = U' ';
        out.push_back(sp);
        while (k + 1 < e && is_space(chars[k + 1].cp)) ++k;
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
void classify_paragraph(Paragraph& para) {
  para.single_frag = para.frags.size() == 1 && !para.frags[0].brk;
  if (para.single_frag && !para.continuation)
    for (const LChar& c : para.chars)
      if (c.cp == 0xA0 || c.cp == U'&' || c.cp == U'<' || c.cp == U'>') para.single_frag = false;
}

// _getFragWords (reportlab 3.6.12, non-processed frags).
void frag_words(Paragraph& para, const Measure& measure) {
  const auto& chars = para.chars;
    auto& R = para.words;
  R.clear();
  bool open = false;
  Word W;
  bool hanging_strip = true;
  auto word_width = [&](std::size_t b, std::size_t e) {
    return measure.width(chars.data() + b, chars.data() + e);
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
      while (tb < te && is_space(chars[tb].cp)) ++tb;
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
          if (is_space(chars[k].cp)) {
            S.push_back({start, k});
            while (k < te && is_space(chars[k].cp)) ++k;
            start = k;
          } else {
            ++k;
          }
        }
        S.push_back({start, te});
      } else {
        while (k < te) {
          while (k < te && is_space(chars[k].cp)) ++k;
          if (k == te) break;
          std::size_t start = k;
          while (k < te && !is_space(chars[k].cp)) ++k;
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
}

}  // namespace glyph
