// What flows between the layout stages (layout.h has the stages): a paragraph's characters and
// fragments, the words reportlab makes of them, and the lines it breaks them into. Plus the
// character classes of reportlab and Glyph that several stages test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace glyph {

// One character as laid out. `src` is its code-point index in the paragraph's source text
// (Paragraph::src_base + src in the caller's text), or kNoSource.
struct LChar {
  char32_t cp;
  std::uint32_t src;
  std::uint8_t color;  // 0: font-color, 1: the newline markup's colour
};

// The `src` of a character that shows no source character of its own, so that no line's or
// page's span counts it: one reportlab adds (the ' ' a CJK continuation gains at a line end or in
// place of an empty <br/>), and every character of the inline newline marker but one (its first
// drawn one stands for the '\n'). Every other character's `src` is larger than the one
// before it in the paragraph, which keeps line and page spans in order and apart.
constexpr std::uint32_t kNoSource = 0xFFFFFFFFu;

// A fragment of a paragraph: text (a char range) or a forced break. A break normally holds no
// characters; in a CJK continuation it can hold one (reportlab turns an empty <br/> into ' ').
struct Frag {
  std::size_t b = 0, e = 0;
  bool brk = false;
};

// A word of reportlab's _getFragWords (normal, non-CJK wrapping).
struct Word {
  std::size_t b = 0, e = 0;  // chars [b, e)
  double width = 0;
  bool hs = false;           // followed by a space (_HSFrag)
  bool brk = false;          // a <br/> (or an injected break after a split long word)
  bool injected = false;     // injected break: the line it ends is still justified
  bool split_piece = false;
};

// One broken line. Normal mode: words [wb, we) of Paragraph::words; CJK mode: chars [wb, we).
struct Line {
  std::size_t wb = 0, we = 0;
  double extra = 0;         // maxWidth - currentWidth
  double width = 0;         // currentWidth
  int word_count = 0;
  bool line_break = false;  // ended by a real <br/> (not justified)
  bool break_char = false;  // CJK: the <br/> that ends it is its last character (a ' ')
};

struct Paragraph {
  std::size_t src_base = 0;    // offset of the paragraph's first source character in the text
  std::vector<LChar> chars;
  std::vector<Frag> frags;
  std::vector<Word> words;     // normal mode: after line breaking, the words as placed
  bool continuation = false;   // CJK: rebuilt from the lines left over by a page split
  bool single_frag = false;    // reportlab parses it into one fragment (kind-0 lines)
  void clear() {
    chars.clear();
    frags.clear();
    words.clear();
    continuation = false;
    single_frag = false;
  }
};

namespace rl {

constexpr double kFuzz = 1e-6;            // reportlab rl_config._FUZZ
constexpr double kSpaceShrinkage = 0.05;  // ParagraphStyle.spaceShrinkage (rl_settings)

// reportlab.platypus.paragraph._wsc: the breakable whitespace (U+00A0 is not in it).
inline bool is_space(char32_t c) {
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
inline bool is_py_ascii_space(char32_t c) { return c == ' ' || (c >= 0x09 && c <= 0x0D); }

// Unicode category Zs (CJK wrapping looks back for one of these).
inline bool is_zs(char32_t c) {
  return c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// The reference switches a whole text to CJK wrapping when it holds one of these.
inline bool is_cjk_ideograph(char32_t c) { return c >= 0x4E00 && c <= 0x9FFF; }

// reportlab.lib.textsplit.ALL_CANNOT_START
bool cannot_start_line(char32_t c);

}  // namespace rl
}  // namespace glyph
