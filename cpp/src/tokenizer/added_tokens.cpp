#include "tokenizer/added_tokens.h"

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

char32_t AddedMatcher::char_from(std::string_view t, std::size_t pos) {
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

}  // namespace glyph::tok
