#include "tokenizer/unicode.h"

#include <fmt/format.h>

#include <memory>
#include <vector>

namespace glyph::tok {
namespace {

struct CodeRange {
  char32_t lo, hi;
};

#include "tokenizer/unicode_tables.inc"

// White_Space (PropList.txt; unchanged since Unicode 6.3): what Oniguruma's \s matches.
constexpr CodeRange kSpaceRanges[] = {{0x9, 0xD},       {0x20, 0x20},     {0x85, 0x85},
                                      {0xA0, 0xA0},     {0x1680, 0x1680}, {0x2000, 0x200A},
                                      {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
                                      {0x3000, 0x3000}};

// One byte per code point (1.1 MB): a load and no branches on the hot path of splitting.
const std::uint8_t* class_table() {
  static const std::unique_ptr<std::uint8_t[]> table = [] {
    auto t = std::make_unique<std::uint8_t[]>(0x110000);
    for (const CodeRange& r : kLetterRanges)
      for (char32_t c = r.lo; c <= r.hi; ++c) t[c] |= kLetter;
    for (const CodeRange& r : kNumberRanges)
      for (char32_t c = r.lo; c <= r.hi; ++c) t[c] |= kNumber;
    for (const CodeRange& r : kSpaceRanges)
      for (char32_t c = r.lo; c <= r.hi; ++c) t[c] |= kSpace;
    return t;
  }();
  return table.get();
}

// One bit per code point.
const std::vector<std::uint64_t>& word_bits() {
  static const std::vector<std::uint64_t> bits = [] {
    std::vector<std::uint64_t> b(0x110000 / 64, 0);
    for (const CodeRange& r : kWordRanges)
      for (char32_t c = r.lo; c <= r.hi; ++c) b[c >> 6] |= std::uint64_t{1} << (c & 63);
    return b;
  }();
  return bits;
}

}  // namespace

bool is_word_char(char32_t cp) { return cp < 0x110000 && ((word_bits()[cp >> 6] >> (cp & 63)) & 1); }

std::uint8_t char_class(char32_t cp) { return cp < 0x110000 ? class_table()[cp] : 0; }

std::string pcre2_ranges(CharClass which) {
  std::string out;
  auto add = [&](const CodeRange* begin, const CodeRange* end) {
    for (const CodeRange* r = begin; r != end; ++r) {
      if (r->lo == r->hi)
        out += fmt::format("\\x{{{:X}}}", static_cast<std::uint32_t>(r->lo));
      else
        out += fmt::format("\\x{{{:X}}}-\\x{{{:X}}}", static_cast<std::uint32_t>(r->lo),
                           static_cast<std::uint32_t>(r->hi));
    }
  };
  if (which == kLetter) add(std::begin(kLetterRanges), std::end(kLetterRanges));
  if (which == kNumber) add(std::begin(kNumberRanges), std::end(kNumberRanges));
  if (which == kSpace) add(std::begin(kSpaceRanges), std::end(kSpaceRanges));
  return out;
}

const char* pcre2_white_space() {
  static const std::string s = pcre2_ranges(kSpace);
  return s.c_str();
}

}  // namespace glyph::tok
