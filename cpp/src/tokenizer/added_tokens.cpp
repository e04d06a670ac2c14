#include "tokenizer/added_tokens.h"

namespace glyph::tok {

void AddedMatcher::add(const std::string& content, std::int32_t id) {
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
  first_[static_cast<unsigned char>(content[0])] = true;
}

}  // namespace glyph::tok
