// TextCodec: what glyphcpp needs of a tokenizer (text -> ids -> text), so that the prompt builder
// and the VLM pipeline take a glyph::Tokenizer or any other tokenizer behind the same interface
// (the Python bindings adapt Hugging Face `tokenizers` and transformers tokenizers to it).
//
//   glyph::TokenizerCodec codec(glyph::Tokenizer::from_file("tokenizer.json"));
//   std::vector<std::int32_t> ids = codec.encode("Who is the wolf?");
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "glyph/tokenizer/tokenizer.h"

namespace glyph {

class TextCodec {
 public:
  virtual ~TextCodec() = default;
  // Ids of `text`, no special tokens added around it (added tokens inside it still match).
  virtual std::vector<std::int32_t> encode(std::string_view text) const = 0;
  // Text of `ids`, special tokens left out.
  virtual std::string decode(const std::vector<std::int32_t>& ids) const = 0;
  // Id of a token by its text (e.g. "<|user|>"), if the vocabulary holds it.
  virtual std::optional<std::int32_t> token_to_id(std::string_view token) const = 0;
  // How many ids encode(text) returns.
  virtual std::size_t count(std::string_view text) const { return encode(text).size(); }
};

// A glyph::Tokenizer as a TextCodec (the Tokenizer is shared, not copied).
class TokenizerCodec final : public TextCodec {
 public:
  explicit TokenizerCodec(Tokenizer tokenizer) : tok_(std::move(tokenizer)) {}
  std::vector<std::int32_t> encode(std::string_view text) const override {
    return tok_.encode(text, /*add_special_tokens=*/false);
  }
  std::string decode(const std::vector<std::int32_t>& ids) const override {
    return tok_.decode(ids, /*skip_special_tokens=*/true);
  }
  std::optional<std::int32_t> token_to_id(std::string_view token) const override {
    return tok_.token_to_id(token);
  }
  std::size_t count(std::string_view text) const override { return tok_.count(text); }
  const Tokenizer& tokenizer() const { return tok_; }

 private:
  Tokenizer tok_;
};

}  // namespace glyph
