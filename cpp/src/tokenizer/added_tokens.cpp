#include "tokenizer/added_tokens.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace glyph::tok {

void AddedMatcher::add(const std::string& content, std::int32_t id, std::uint8_t options) {
  if (content.empty()) return;
  if (nodes_.empty()) nodes_.emplace_back();
  std::size_t node = 0;
  for (unsigned char b : content) {
    std::int32_t child = find_child(node, b);
    if (child < 0) {
      child = static_cast<std::int32_t>(nodes_.size());
      nodes_[node].children.emplace_back(b, child);
      nodes_.emplace_back();
    }
    node = static_cast<std::size_t>(child);
  }
  nodes_[node].id = id;
  nodes_[node].options = options;
  first_[static_cast<unsigned char>(content[0])] = true;
}

namespace {

std::size_t char_len(char lead) {
  const auto c = static_cast<unsigned char>(lead);
  return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

std::size_t char_start_before(std::string_view t, std::size_t pos) {
  do --pos;
  while (pos > 0 && (static_cast<unsigned char>(t[pos]) & 0xC0) == 0x80);
  return pos;
}

// The (valid UTF-8) character at pos.
char32_t char_from(std::string_view t, std::size_t pos) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(t[pos + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return c;
  if (c < 0xE0) return (static_cast<char32_t>(c & 0x1F) << 6) | (b(1) & 0x3F);
  if (c < 0xF0)
    return (static_cast<char32_t>(c & 0x0F) << 12) | (static_cast<char32_t>(b(1) & 0x3F) << 6) |
           (b(2) & 0x3F);
  return (static_cast<char32_t>(c & 0x07) << 18) | (static_cast<char32_t>(b(1) & 0x3F) << 12) |
         (static_cast<char32_t>(b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

char32_t char_before(std::string_view t, std::size_t pos) {
  return char_from(t, char_start_before(t, pos));
}

bool is_white_space(char32_t c) { return char_class(c) & kSpace; }

}  // namespace

// As `tokenizers`' AddedVocabulary::find_matches: single_word needs no \w on either side; lstrip
// takes the White_Space before the match (not reaching into the previous one), rstrip after.
bool AddedMatcher::apply_options(std::string_view text, std::size_t prev, std::uint8_t options,
                                 std::size_t* start, std::size_t* stop) {
  const std::size_t n = text.size();
  if ((options & kSingleWord) &&
      ((*start > 0 && is_word_char(char_before(text, *start))) ||
       (*stop < n && is_word_char(char_from(text, *stop))))) {
    return false;
  }
  if (options & kLstrip) {
    std::size_t s = *start;
    while (s > 0 && is_white_space(char_before(text, s))) s = char_start_before(text, s);
    *start = std::max(s, prev);
  }
  if (options & kRstrip) {
    while (*stop < n && is_white_space(char_from(text, *stop))) *stop += char_len(text[*stop]);
  }
  return true;
}

}  // namespace glyph::tok
