// Added-token matching: `tokenizers` splits added tokens out of the text before anything else
// runs, leftmost-longest (the aho-corasick match kind it uses), and never splits them further.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glyph::tok {

// A byte trie of the added tokens.
class AddedMatcher {
 public:
  // Registers `content` (bytes; empty ones are ignored) as token `id`.
  void add(const std::string& content, std::int32_t id);
  bool empty() const { return nodes_.empty(); }
  // Whether a token matches at the start of `text`.
  bool match_at(std::string_view text) const {
    if (nodes_.empty() || text.empty() || !first_[static_cast<unsigned char>(text[0])]) return false;
    std::size_t node = 0;
    for (unsigned char b : text) {
      const std::int32_t child = find_child(node, b);
      if (child < 0) return false;
      node = static_cast<std::size_t>(child);
      if (nodes_[node].id >= 0) return true;
    }
    return false;
  }

  // Calls on_text(segment) for text between matches and on_token(id) for each match.
  template <class T, class A>
  void split(std::string_view text, T&& on_text, A&& on_token) const {
    if (nodes_.empty()) {
      if (!text.empty()) on_text(text);
      return;
    }
    std::size_t prev = 0, i = 0, n = text.size();
    while (i < n) {
      if (!first_[static_cast<unsigned char>(text[i])]) {
        ++i;
        continue;
      }
      std::size_t node = 0, best_end = 0;
      std::int32_t best_id = -1;
      for (std::size_t j = i; j < n; ++j) {
        std::int32_t child = find_child(node, static_cast<unsigned char>(text[j]));
        if (child < 0) break;
        node = static_cast<std::size_t>(child);
        if (nodes_[node].id >= 0) {
          best_id = nodes_[node].id;
          best_end = j + 1;
        }
      }
      if (best_id < 0) {
        ++i;
        continue;
      }
      if (i > prev) on_text(text.substr(prev, i - prev));
      on_token(best_id);
      prev = i = best_end;
    }
    if (prev < n) on_text(text.substr(prev));
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, std::int32_t>> children;
    std::int32_t id = -1;
  };
  std::int32_t find_child(std::size_t node, unsigned char b) const {
    for (const auto& [c, child] : nodes_[node].children)
      if (c == b) return child;
    return -1;
  }
  std::vector<Node> nodes_;
  std::array<bool, 256> first_{};
};

}  // namespace glyph::tok
