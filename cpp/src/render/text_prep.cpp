// Stage 1 of the layout: Glyph's text preparation (text_to_images), before reportlab sees it.
#include "render/layout.h"

namespace glyph {

namespace {

// Control characters the reference cannot draw; they are dropped (and counted). Whitespace
// controls (tab, CR, VT, FF, FS..US, NEL) stay: reportlab breaks on them.
bool is_dropped_control(char32_t c) {
  if (c < 0x20) return !(c == 0x09 || c == 0x0A || c == 0x0B || c == 0x0C || c == 0x0D || c >= 0x1C);
  if (c == 0x7F) return true;
  if (c >= 0x80 && c <= 0x9F) return c != 0x85;
  return false;
}

}  // namespace

std::size_t prepare_text(std::u32string_view text, const NewlineMarkup& markup, int paragraph_lines,
                         int tab_nbsp, Paragraph& para,
                         const std::function<void(Paragraph&)>& on_paragraph) {
  std::size_t removed = 0;
  para.clear();
  // Reserve what the paragraph will hold (markup per newline, tab_nbsp per tab), so that a
  // paragraph the size of a document is not grown by doubling, which can leave it twice too big.
  if (paragraph_lines == 0 && text.size() > 4096) {
    std::size_t newlines = 0, tabs = 0;
    for (char32_t c : text) {
      newlines += c == U'\n';
      tabs += c == U'\t';
    }
    para.chars.reserve(text.size() + newlines * markup.text.size() +
                       tabs * static_cast<std::size_t>(tab_nbsp > 0 ? tab_nbsp : 0));
  }
  int lines_in_para = 0;
  const bool br = markup.kind == NewlineMarkup::Kind::kBreak;
  auto add_line = [&](std::size_t b, std::size_t e) {
    if (lines_in_para > 0) {
      if (br) {
        para.frags.push_back({para.chars.size(), para.chars.size(), true});
      } else {
        std::size_t fb = para.chars.size();
        // The marker stands for the '\n' before this line. Only one of its characters carries
        // that source position, so that a marker cut by a line or page break (CJK wrapping
        // breaks anywhere, a long word is cut anywhere) does not put the '\n' in two spans: its
        // first drawn one (not whitespace, which the layout may drop at a line's end), or its
        // first when it is all whitespace.
        const auto src = static_cast<std::uint32_t>(b > 0 ? b - 1 : 0);
        std::size_t carrier = 0;
        while (carrier < markup.text.size() &&
               (rl::is_space(markup.text[carrier]) || markup.text[carrier] == 0xA0))
          ++carrier;
        if (carrier == markup.text.size()) carrier = 0;
        for (std::size_t k = 0; k < markup.text.size(); ++k)
          para.chars.push_back({markup.text[k], k == carrier ? src : kNoSource, 1});
        if (para.chars.size() > fb) para.frags.push_back({fb, para.chars.size(), false});
      }
    }
    std::size_t fb = para.chars.size();
    for (std::size_t i = b; i < e; ++i) {
      char32_t c = text[i];
      if (c == 0xAD || c == 0x200B || is_dropped_control(c)) {
        ++removed;
        continue;
      }
      if (c == U'\t' && tab_nbsp > 0) {
        // The evaluation scripts write a tab as tab_nbsp x &nbsp;: unbreakable, space-wide.
        for (int k = 0; k < tab_nbsp; ++k)
          para.chars.push_back({0xA0, static_cast<std::uint32_t>(i), 0});
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
      if (!para.frags.empty() && !para.frags.back().brk && para.frags.back().e == fb && br)
        para.frags.back().e = para.chars.size();
      else
        para.frags.push_back({fb, para.chars.size(), false});
    }
    if (++lines_in_para == paragraph_lines) {  // never, with 0: one paragraph
      on_paragraph(para);
      para.clear();
      lines_in_para = 0;
    }
  };
  std::size_t line_start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == U'\n') {
      add_line(line_start, i);
      line_start = i + 1;
    }
  }
  if (lines_in_para > 0) on_paragraph(para);
  return removed;
}

}  // namespace glyph
