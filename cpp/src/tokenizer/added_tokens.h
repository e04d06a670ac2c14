// Added-token matching: `tokenizers` splits added tokens out of the text before anything else
// runs, leftmost-longest (the aho-corasick match kind it uses), and never splits them further.
// Each token's single_word, lstrip and rstrip options then apply as `tokenizers` applies them
// (AddedVocabulary::find_matches).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace glyph::tok {

// An added token's options (tokenizer.json's single_word, lstrip, rstrip).
enum AddedOption : std::uint8_t { kSingleWord = 1, kLstrip = 2, kRstrip = 4 };

// A byte trie of the added tokens.
class AddedMatcher {
 public:
  // Registers `content` (bytes; empty ones are ignored) as token `id` with `options`.
  void add(const std::string& content, std::int32_t id, std::uint8_t options = 0);
  bool empty() const { return nodes_.empty(); }
  // Whether some token starts with byte `b`.
  bool may_start_with(unsigned char b) const { return first_[b]; }
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

  // Calls on_text(segment) for text between matches and on_token(id) for each match, in text
  // order. Matches are found left to right without overlap (leftmost-longest); a single_word
  // match next to a word character (\w) is dropped (the search goes on after it); lstrip and
  // rstrip take the White_Space before / after the match into the token (lstrip never reaching
  // back into the previous match). As in `tokenizers`, a segment may then overlap the text an
  // rstrip took when the next match starts inside it.
  template <class T, class A>
  void split(std::string_view text, T&& on_text, A&& on_token) const {
    if (nodes_.empty()) {
      if (!text.empty()) on_text(text);
      return;
    }
    std::size_t prev = 0, i = 0;
    const std::size_t n = text.size();
    while (i < n) {
      if (!first_[static_cast<unsigned char>(text[i])]) {
        ++i;
        continue;
      }
      std::size_t node = 0, best_end = 0, best_node = 0;
      for (std::size_t j = i; j < n; ++j) {
        std::int32_t child = find_child(node, static_cast<unsigned char>(text[j]));
        if (child < 0) break;
        node = static_cast<std::size_t>(child);
        if (nodes_[node].id >= 0) {
          best_node = node;
          best_end = j + 1;
        }
      }
      if (best_end == 0) {
        ++i;
        continue;
      }
      std::size_t start = i, stop = best_end;
      i = best_end;
      const Node& m = nodes_[best_node];
      if (m.options && !apply_options(text, prev, m.options, &start, &stop)) continue;
      if (prev < start) on_text(text.substr(prev, start - prev));
      on_token(m.id);
      prev = stop;
    }
    if (prev < n) on_text(text.substr(prev));
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, std::int32_t>> children;
    std::int32_t id = -1;
    std::uint8_t options = 0;
  };
  std::int32_t find_child(std::size_t node, unsigned char b) const {
    for (const auto& [c, child] : nodes_[node].children)
      if (c == b) return child;
    return -1;
  }
  // single_word, lstrip, rstrip on the match [*start, *stop) (out of line: rare, and the split
  // loop stays small enough to inline its callbacks). False: a single_word match to drop.
  static bool apply_options(std::string_view text, std::size_t prev, std::uint8_t options,
                            std::size_t* start, std::size_t* stop);
  std::vector<Node> nodes_;
  std::array<bool, 256> first_{};
};

}  // namespace glyph::tok
