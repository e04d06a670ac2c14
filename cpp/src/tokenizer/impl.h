// The loaded state of a Tokenizer, shared by the loader (loader.cpp), the encoding pipeline
// (pipeline.cpp) and the public API (tokenizer.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "glyph/tokenizer/tokenizer.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/regex.h"

namespace glyph {

namespace tok {

enum class Behavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext };

struct PreStep {
  bool byte_level = false;
  // Split
  std::unique_ptr<Regex> regex;
  std::string literal;
  bool is_literal = false;
  Behavior behavior = Behavior::kIsolated;
  bool invert = false;
  // ByteLevel
  bool add_prefix_space = false;
};

}  // namespace tok

struct Tokenizer::Impl {
  using json = nlohmann::json;
  std::uint64_t instance;  // tells per-thread word caches apart (pipeline.cpp)
  Impl();
  tok::BpeModel bpe;
  bool ignore_merges = false;
  std::unordered_map<std::string, std::int32_t> vocab;        // model vocabulary
  std::unordered_map<std::string, std::int32_t> added_vocab;  // added tokens
  std::vector<std::string> tokens;                            // id -> token ("" if unused)
  std::vector<std::string> decoded;                           // id -> decoder output bytes
  std::vector<std::uint8_t> known, special;
  std::vector<std::uint8_t> skip_special;  // ids decode(skip_special_tokens=true) drops
  bool nfc = false;                        // normalizer: NFC (or a Sequence of NFC)
  std::size_t max_added = 0;               // longest added token, raw or normalized (bytes)
  tok::AddedMatcher raw_matcher, normalized_matcher;
  std::vector<tok::PreStep> steps;
  std::vector<std::int32_t> prefix, suffix;  // post-processor's single-sequence template
  bool byte_level_decoder = false;
  std::string chat_template;
  std::unordered_map<std::string, std::string> roles;  // "eos_token" -> "<|endoftext|>"

  // loader.cpp: tokenizer.json (and tokenizer_config.json) -> the tables above.
  void load(const json& tj, const json& cj);
  void load_model(const json& m);
  void load_normalizer(const json& n);
  void load_pre_tokenizer(const json& p);
  void load_post_processor(const json& p);

  // The normalizer's output (`text` itself without one).
  std::string normalize(std::string_view text) const;

  // pipeline.cpp: raw added tokens -> normalizer -> normalized added tokens -> pre-tokenizer
  // steps -> BPE -> post-processor template.
  void encode_into(std::string_view text, bool add_special, std::vector<std::int32_t>* out) const;
  // encode_into (no special tokens) keeping only the ids of what starts before `cut`, where
  // cut_ok(text, cut) holds (count over a TextSource).
  void encode_prefix(std::string_view text, std::size_t cut, std::vector<std::int32_t>* out) const;
  // Whether `text` may be cut at `c` for a streamed count: text[c-1] is '\n', text[c] starts a
  // letter that NFC leaves alone and no added token; needs the bytes of the longest added token
  // after c.
  bool cut_ok(std::string_view text, std::size_t c) const;
  bool streams_count() const;          // the pipeline where such cuts are exact
  std::size_t max_added_bytes() const;  // the longest added token's content

  // The pre-tokenizer's byte-level pieces (added tokens kept whole), no model.
  void pre_tokenize_into(std::string_view text, std::vector<std::string>* out) const;

 private:
  template <class Emit>
  void split_step(const tok::PreStep& s, std::string_view piece, Emit&& emit) const;
  template <class Emit>
  void run_steps(std::size_t k, std::string_view piece, Emit& emit) const;
  template <class OnWord, class OnToken>
  void split_added(std::string_view text, OnWord&& on_word, OnToken&& on_token) const;
  void encode_word(std::string_view word, std::vector<std::int32_t>* out) const;
};

}  // namespace glyph
