// Hugging Face `tokenizer.json` byte-level BPE (GLM-4 / GLM-4.1V, Qwen2 / Qwen3, GPT-2 family) in C++,
// encoding and decoding exactly as the `tokenizers` library does. Used for text-token counts
// (compression ratio = text tokens / visual tokens) and for VLM prompts.
//
//   auto tok = glyph::Tokenizer::from_file("tokenizer.json");   // tokenizer_config.json beside it
//   std::vector<std::int32_t> ids = tok.encode("Hello, 世界", /*add_special_tokens=*/false);
//   std::string text = tok.decode(ids);                            // "Hello, 世界"
//   std::size_t n = tok.count(long_text);                           // no id vector built
//
// Supported: model BPE (merges as "a b" strings or ["a","b"] pairs, ignore_merges, unk_token,
// fuse_unk); normalizer null, NFC (Qwen2, Qwen3; Unicode 9.0 data, as `tokenizers`) or a
// Sequence of NFC; pre_tokenizer Split (regex or string pattern; Isolated, Removed,
// MergedWithPrevious, MergedWithNext), ByteLevel (add_prefix_space, use_regex) and a Sequence of
// them; post_processor null, ByteLevel, TemplateProcessing (single) or a Sequence of them;
// decoder null or ByteLevel; added tokens (matched before BPE, never split; single_word, lstrip,
// rstrip, normalized, special as in `tokenizers`). Anything else is refused at load time with a
// TokenizerError naming the component, never a wrong answer.
//
// A Tokenizer is immutable after loading: copies share the loaded tables and every method may be
// called from many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "glyph/common/text_source.h"

namespace glyph {

class Tokenizer {
 public:
  // `config_path` is the optional tokenizer_config.json; from_file() also looks for one beside
  // `path` when none is given. Throws IoError (unreadable file) or TokenizerError (bad or
  // unsupported content).
  static Tokenizer from_file(const std::string& path, const std::string& config_path = "");
  // From the JSON texts themselves; `config_json` may be empty.
  static Tokenizer from_json(std::string_view tokenizer_json, std::string_view config_json = {});

  // Text must be valid UTF-8 (InputError names the byte offset otherwise): Python's str and
  // Rust's &str, which `tokenizers` takes, cannot hold anything else.
  std::vector<std::int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // Same ids as encode() for each text, computed on `threads` workers (<= 0: all cores).
  std::vector<std::vector<std::int32_t>> encode_batch(const std::vector<std::string>& texts,
                                                      bool add_special_tokens = true,
                                                      int threads = 0) const;
  // Number of ids encode() would return, without building them.
  std::size_t count(std::string_view text, bool add_special_tokens = false) const;
  // The same count for a text read in chunks (a file: FileTextSource), invalid UTF-8 replaced by
  // U+FFFD first (as Python's errors="replace"). Memory stays bounded by `window` bytes: the text
  // is counted a window at a time, cut where the pre-tokenizer provably splits, a '\n'
  // followed by a letter, so the count equals count() of the whole text (docs/reliability.md
  // has the argument). A pipeline where that cut is not provably exact (a custom Split
  // pattern, add_prefix_space, an added token containing '\n') is counted on the whole text.
  std::size_t count(TextSource& source, bool add_special_tokens = false,
                    std::size_t window = std::size_t{1} << 20) const;
  // Whether count(TextSource&) streams for this tokenizer (see above).
  bool streams_count() const;
  std::vector<std::size_t> count_batch(const std::vector<std::string>& texts,
                                       bool add_special_tokens = false, int threads = 0) const;

  // Special tokens are kept unless skip_special_tokens, as transformers' decode() does (the
  // Python `tokenizers` default is to skip them). Bytes that are not valid UTF-8 after
  // byte-level decoding become U+FFFD, as in `tokenizers`. Ids outside the vocabulary throw
  // InputError.
  std::string decode(const std::vector<std::int32_t>& ids, bool skip_special_tokens = false) const;
  std::vector<std::string> decode_batch(const std::vector<std::vector<std::int32_t>>& ids,
                                        bool skip_special_tokens = false, int threads = 0) const;

  // `text` after the normalizer (NFC; unchanged without one), as `tokenizers`'
  // normalizer.normalize_str gives it. InputError for invalid UTF-8.
  std::string normalize(std::string_view text) const;
  // The byte-level pieces the pre-tokenizer makes of the normalized `text` (no model; added
  // tokens kept whole), for debugging/parity.
  std::vector<std::string> pre_tokenize(std::string_view text) const;
  // Token strings of encode() (byte-level form, e.g. "Ġworld").
  std::vector<std::string> tokenize(std::string_view text, bool add_special_tokens = false) const;

  std::optional<std::int32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(std::int32_t id) const;
  // Id of an added/special token by its text ("<|image|>") or by a tokenizer_config.json role
  // ("eos_token", "bos_token", "pad_token", "unk_token"). Throws TokenizerError if unknown.
  std::int32_t special_token_id(std::string_view name) const;
  bool is_special(std::int32_t id) const;
  // Added tokens flagged special, in id order.
  std::vector<std::string> special_tokens() const;

  // Largest id + 1 (model vocabulary plus added tokens).
  std::size_t vocab_size() const;
  // tokenizer_config.json's chat_template, or "" when none was loaded.
  const std::string& chat_template() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace glyph
