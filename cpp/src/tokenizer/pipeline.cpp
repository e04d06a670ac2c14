// Encoding, as `tokenizers` runs its pipeline: added tokens split out, the pre-tokenizer's
// steps, byte-level BPE on each piece (with a per-thread cache of recent words), and the
// post-processor's template.
#include <algorithm>
#include <atomic>

#include "common/check.h"
#include "glyph/common/utf8.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/impl.h"
#include "tokenizer/nfc.h"
#include "tokenizer/unicode.h"

namespace glyph {

namespace {
std::atomic<std::uint64_t> g_next_instance{1};
}  // namespace

Tokenizer::Impl::Impl() : instance(g_next_instance.fetch_add(1)) {}

// Calls on_match(begin, end) for each match of a Split step's pattern (literal or regex) in piece.
template <class OnMatch>
void for_each_split_match(const tok::PreStep& s, std::string_view piece, OnMatch&& on_match) {
  if (s.is_literal) {
    if (s.literal.empty()) return;
    for (std::size_t at = piece.find(s.literal); at != std::string_view::npos;
         at = piece.find(s.literal, at + s.literal.size()))
      on_match(at, at + s.literal.size());
  } else {
    s.regex->for_each_match(piece, on_match);
  }
}

template <class Emit>
void Tokenizer::Impl::split_step(const tok::PreStep& s, std::string_view piece, Emit&& emit) const {
  if (s.behavior == tok::Behavior::kIsolated) {
    // Matches and the gaps between them are all pieces: stream them.
    std::size_t prev = 0;
    // Pieces are cut without substr()'s range check (matches lie inside `piece`): the check
    // kept this hot lambda from being inlined into the match loop.
    auto cut = [&](std::size_t a, std::size_t b) { return std::string_view(piece.data() + a, b - a); };
    auto on_match = [&](std::size_t a, std::size_t b) {
      if (a > prev) emit(cut(prev, a));
      if (b > a) emit(cut(a, b));
      prev = b;
    };
    for_each_split_match(s, piece, on_match);
    if (prev < piece.size()) emit(cut(prev, piece.size()));
    return;
  }
  // The other behaviours, as `tokenizers`' NormalizedString::split applies them.
  struct Part {
    std::size_t a, b;
    bool match;
  };
  std::vector<Part> parts;
  std::size_t prev = 0;
  auto on_match = [&](std::size_t a, std::size_t b) {
    if (a > prev) parts.push_back({prev, a, false});
    parts.push_back({a, b, true});
    prev = b;
  };
  for_each_split_match(s, piece, on_match);
  if (prev < piece.size()) parts.push_back({prev, piece.size(), false});
  if (s.invert)
    for (Part& p : parts) p.match = !p.match;
  std::vector<Part> out;
  if (s.behavior == tok::Behavior::kRemoved) {
    for (const Part& p : parts)
      if (!p.match) out.push_back(p);
  } else if (s.behavior == tok::Behavior::kMergedWithPrevious) {
    bool previous_match = false;
    for (const Part& p : parts) {
      if (p.match && !previous_match && !out.empty())
        out.back().b = p.b;
      else
        out.push_back({p.a, p.b, false});
      previous_match = p.match;
    }
  } else {  // kMergedWithNext
    bool previous_match = false;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      if (it->match && !previous_match && !out.empty())
        out.back().a = it->a;
      else
        out.push_back({it->a, it->b, false});
      previous_match = it->match;
    }
    std::reverse(out.begin(), out.end());
  }
  for (const Part& p : out)
    if (p.b > p.a) emit(piece.substr(p.a, p.b - p.a));
}

template <class Emit>
void Tokenizer::Impl::run_steps(std::size_t k, std::string_view piece, Emit& emit) const {
  if (piece.empty()) return;
  const tok::PreStep& s = steps[k];
  if (!s.byte_level) {
    split_step(s, piece, [&](std::string_view sub) { run_steps(k + 1, sub, emit); });
    return;
  }
  auto finish = [&](std::string_view text) {
    if (s.regex)
      split_step(s, text, emit);
    else
      emit(text);
  };
  if (s.add_prefix_space && piece[0] != ' ') {
    std::string spaced;
    spaced.reserve(piece.size() + 1);
    spaced += ' ';
    spaced.append(piece);
    finish(spaced);
  } else {
    finish(piece);
  }
}

namespace {

// Words seen recently on this thread, per tokenizer instance: text repeats words constantly.
struct WordCache {
  std::uint64_t owner = 0;
  std::unordered_map<std::string, std::vector<std::int32_t>> map;
  std::string key;
};
constexpr std::size_t kCacheEntries = 1 << 16;
constexpr std::size_t kCacheMaxWord = 64;

WordCache& word_cache(std::uint64_t owner) {
  thread_local WordCache cache;
  if (cache.owner != owner) {
    cache.map.clear();
    cache.owner = owner;
  }
  return cache;
}

}  // namespace

void Tokenizer::Impl::encode_word(std::string_view word, std::vector<std::int32_t>* out) const {
  if (ignore_merges) {
    auto it = vocab.find(tok::byte_level(word));
    if (it != vocab.end()) {
      out->push_back(it->second);
      return;
    }
  }
  if (word.size() > kCacheMaxWord) {
    bpe.encode_word(word, out);
    return;
  }
  WordCache& cache = word_cache(instance);
  cache.key.assign(word.data(), word.size());
  auto it = cache.map.find(cache.key);
  if (it != cache.map.end()) {
    out->insert(out->end(), it->second.begin(), it->second.end());
    return;
  }
  std::size_t start = out->size();
  bpe.encode_word(word, out);
  if (cache.map.size() >= kCacheEntries) cache.map.clear();
  cache.map.emplace(cache.key, std::vector<std::int32_t>(out->begin() + start, out->end()));
}

// Added tokens are split out first: those that skip normalization on the raw text; then each
// segment between them is normalized on its own and the other added tokens are split out of it
// (`tokenizers`' order).
template <class OnWord, class OnToken>
void Tokenizer::Impl::split_added(std::string_view text, OnWord&& on_word,
                                  OnToken&& on_token) const {
  std::string buf;  // a normalized segment (allocates only when NFC changes one)
  raw_matcher.split(
      text,
      [&](std::string_view seg) {
        const std::string_view norm = nfc ? tok::nfc(seg, buf) : seg;
        normalized_matcher.split(
            norm, [&](std::string_view s2) { run_steps(0, s2, on_word); }, on_token);
      },
      on_token);
}

void Tokenizer::Impl::encode_into(std::string_view text, bool add_special,
                                  std::vector<std::int32_t>* out) const {
  std::size_t bad = tok::invalid_utf8_at(text);
  GLYPH_CHECK(bad == std::string_view::npos, InputError,
              "Tokenizer input is not valid UTF-8 (byte {} of {}); decode it first, e.g. with "
              "errors='replace'",
              bad, text.size());
  if (add_special) out->insert(out->end(), prefix.begin(), prefix.end());
  auto emit_word = [&](std::string_view word) { encode_word(word, out); };
  split_added(text, emit_word, [&](std::int32_t id) { out->push_back(id); });
  if (add_special) out->insert(out->end(), suffix.begin(), suffix.end());
}

// ---- counting a text read in windows ---------------------------------------------------------
//
// A streamed count cuts the text at positions c where text[c-1] is '\n' and a letter (\p{L})
// starts at c. With only the built-in split patterns (GPT-2's, cl100k's, Qwen2's: matched by
// hand in regex.cpp) that is always a piece boundary, and the pieces before it do not depend on
// anything after text[c]:
//   * no alternative of those patterns takes '\n' and then a letter: the ones that take a '\n'
//     (\s+(?!\S), \s+, \s*[\r\n]+, [^\s\p{L}\p{N}]+[\r\n]*) stop at a letter, and the ones that take
//     a letter never take a '\n' before it ([^\r\n\p{L}\p{N}]? excludes it, ' ?' is a space);
//   * so every match attempt starting before c stops by looking at text[c] at the latest: its
//     result is the same in text[0, c + the letter] as in the whole text, where the letter is
//     the last piece (encode_prefix encodes that much and drops the letter's piece);
//   * an added token holding no '\n' cannot span c, and none starts at c (cut_ok), so the
//     added-token split before c is the same too (single_word and rstrip look at most at the
//     '\n' and the letter, lstrip looks back only); later Split steps and BPE work inside pieces;
//   * with the NFC normalizer the letter is one NFC leaves alone (nfc_may_change false): NFC
//     neither composes it with what precedes nor reorders across it, so NFC(text) is
//     NFC(text[0, c]) + NFC(text[c, end]) and the letter still follows the '\n' there; a
//     normalized added token could start at c after NFC where none does in the raw text, so no
//     cut is made where one could start with the letter's first byte.
// add_prefix_space (a space added to each segment) and Split behaviours other than Isolated
// would change at a cut, so those pipelines are counted whole.

bool Tokenizer::Impl::streams_count() const {
  for (const tok::PreStep& s : steps) {
    if (s.byte_level) {
      if (s.add_prefix_space || (s.regex && !s.regex->is_builtin())) return false;
    } else if (s.is_literal || !s.regex || !s.regex->is_builtin() ||
               s.behavior != tok::Behavior::kIsolated || s.invert) {
      return false;
    }
  }
  for (const auto& [content, id] : added_vocab)
    if (content.find('\n') != std::string::npos) return false;
  return true;
}

std::size_t Tokenizer::Impl::max_added_bytes() const { return max_added; }

bool Tokenizer::Impl::cut_ok(std::string_view text, std::size_t c) const {
  if (c == 0 || c >= text.size() || text[c - 1] != '\n') return false;
  const auto lead = static_cast<unsigned char>(text[c]);
  const std::size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (c + len > text.size()) return false;
  const DecodedText d = decode_utf8(text.substr(c, len));
  if (d.codepoints.size() != 1 || !(tok::char_class(d.codepoints[0]) & tok::kLetter)) return false;
  const std::string_view rest = text.substr(c);
  if (raw_matcher.match_at(rest)) return false;
  if (!nfc) return !normalized_matcher.match_at(rest);
  return !tok::nfc_may_change(d.codepoints[0]) && !normalized_matcher.may_start_with(lead);
}

void Tokenizer::Impl::encode_prefix(std::string_view text, std::size_t cut,
                                    std::vector<std::int32_t>* out) const {
  // Encodes text[0, cut + the letter at cut]: the letter is the last piece (see above), and
  // its ids are dropped.
  const auto lead = static_cast<unsigned char>(text[cut]);
  const std::size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  std::size_t last_word = out->size();
  bool last_is_word = false;
  auto emit_word = [&](std::string_view word) {
    last_word = out->size();
    last_is_word = true;
    encode_word(word, out);
  };
  split_added(text.substr(0, cut + len), emit_word, [&](std::int32_t id) {
    out->push_back(id);
    last_is_word = false;
  });
  GLYPH_CHECK(last_is_word, Error, "internal: a streamed count's cut at byte {} is no piece start",
              cut);
  out->resize(last_word);
}

void Tokenizer::Impl::pre_tokenize_into(std::string_view text, std::vector<std::string>* out) const {
  std::size_t bad = tok::invalid_utf8_at(text);
  GLYPH_CHECK(bad == std::string_view::npos, InputError,
              "Tokenizer input is not valid UTF-8 (byte {} of {})", bad, text.size());
  auto emit = [&](std::string_view w) { out->push_back(tok::byte_level(w)); };
  split_added(text, emit, [&](std::int32_t id) { out->push_back(tokens[id]); });
}

}  // namespace glyph
