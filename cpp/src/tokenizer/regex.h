// Oniguruma-compatible regex search on PCRE2 (JIT). `tokenizers` runs its Split patterns with
// Oniguruma; the few places where PCRE2's Unicode semantics differ are rewritten (\s, \S) or
// refused (\w, \b, \h ...) so that every accepted pattern finds the same matches.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace glyph::tok {

// Rewrites an Oniguruma pattern into an equivalent PCRE2 one; throws TokenizerError naming the
// construct it cannot translate faithfully. Exposed for tests.
std::string onig_to_pcre2(std::string_view pattern);

class Regex {
 public:
  explicit Regex(std::string_view onig_pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls on_match(start, end) for each non-overlapping match, left to right, as Oniguruma's
  // find_iter does (an empty match advances one character). `text` must be valid UTF-8.
  template <class F>
  void for_each_match(std::string_view text, F&& on_match) const {
    if (fast_ != Fast::kNone) {
      // The known patterns match at every position, so there are no gaps.
      for (std::size_t pos = 0, end; pos < text.size(); pos = end) {
        end = fast_match_end(text, pos);
        on_match(pos, end);
      }
      return;
    }
    std::size_t pos = 0;
    std::size_t start = 0, end = 0;
    while (pos <= text.size() && next_match(text, pos, &start, &end)) {
      on_match(start, end);
      if (end > start) {
        pos = end;
      } else {
        if (end >= text.size()) break;
        pos = end + utf8_len(static_cast<unsigned char>(text[end]));
      }
    }
  }

  const std::string& pattern() const { return pattern_; }
  // True when the pattern is one of the well-known split patterns matched by hand.
  bool is_builtin() const { return fast_ != Fast::kNone; }

 private:
  static std::size_t utf8_len(unsigned char lead) {
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  }
  bool next_match(std::string_view text, std::size_t from, std::size_t* start,
                  std::size_t* end) const;

  enum class Fast { kNone, kCl100k, kGpt2 };
  std::size_t fast_match_end(std::string_view text, std::size_t pos) const;

  std::string pattern_;
  Fast fast_ = Fast::kNone;
  int max_digits_ = 0;
  void* code_ = nullptr;  // pcre2_code_8*, kept out of the header
};

}  // namespace glyph::tok
