// The Tokenizer's public API over its loaded state (impl.h): loading, encoding and counting
// (pipeline.cpp), decoding, vocabulary lookups.
#include "glyph/tokenizer/tokenizer.h"

#include <filesystem>

#include "common/check.h"
#include "glyph/common/file.h"
#include "glyph/common/thread_pool.h"
#include "glyph/common/utf8.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/impl.h"

namespace glyph {

using json = nlohmann::json;

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json, std::string_view config_json) {
  json tj, cj;
  try {
    tj = json::parse(tokenizer_json);
    if (!config_json.empty()) cj = json::parse(config_json);
  } catch (const json::exception& e) {
    GLYPH_THROW(TokenizerError, "Cannot parse tokenizer JSON: {}", e.what());
  }
  auto impl = std::make_shared<Impl>();
  try {
    impl->load(tj, cj);
  } catch (const json::exception& e) {
    GLYPH_THROW(TokenizerError, "Malformed tokenizer.json: {}", e.what());
  }
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_file(const std::string& path, const std::string& config_path) {
  std::string tj = read_file(path, "tokenizer file");
  std::string cj;
  if (!config_path.empty()) {
    cj = read_file(config_path, "tokenizer config");
  } else {
    const std::string beside =
        (std::filesystem::path(path).parent_path() / "tokenizer_config.json").string();
    std::error_code ec;
    if (std::filesystem::is_regular_file(beside, ec)) cj = read_file(beside, "tokenizer config");
  }
  try {
    return from_json(tj, cj);
  } catch (const TokenizerError& e) {
    GLYPH_THROW(TokenizerError, "{}: {}", path, e.what());
  }
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<std::int32_t> ids;
  ids.reserve(text.size() / 3 + 8);
  impl_->encode_into(text, add_special_tokens, &ids);
  return ids;
}

std::vector<std::vector<std::int32_t>> Tokenizer::encode_batch(
    const std::vector<std::string>& texts, bool add_special_tokens, int threads) const {
  std::vector<std::vector<std::int32_t>> out(texts.size());
  parallel_for(texts.size(), threads,
               [&](std::size_t i) { out[i] = encode(texts[i], add_special_tokens); });
  return out;
}

std::size_t Tokenizer::count(std::string_view text, bool add_special_tokens) const {
  thread_local std::vector<std::int32_t> scratch;
  scratch.clear();
  impl_->encode_into(text, add_special_tokens, &scratch);
  std::size_t n = scratch.size();
  if (scratch.capacity() > (1u << 20)) std::vector<std::int32_t>().swap(scratch);
  return n;
}

bool Tokenizer::streams_count() const { return impl_->streams_count(); }

std::size_t Tokenizer::count(TextSource& source, bool add_special_tokens,
                             std::size_t window) const {
  const Impl& im = *impl_;
  const bool stream = im.streams_count();
  const std::size_t look = im.max_added_bytes() + 8;  // bytes needed after a cut to check it
  window = std::max<std::size_t>(window, 64);
  Utf8Decoder decoder;
  std::u32string cps;
  std::string text;          // the window: valid UTF-8 (re-encoded after replacement)
  std::size_t scanned = 1;   // cut candidates before this were looked at already
  std::size_t cut = 0;       // the last good cut found so far (0: none)
  std::vector<std::int32_t> scratch;
  std::size_t n = 0;
  auto append = [&]() {
    for (char32_t c : cps) append_utf8(text, c);
    cps.clear();
  };
  for_each_chunk(source, [&](std::string_view piece) {
    decoder.decode(piece, cps);
    append();
    if (!stream || text.size() < window + look) return;
    for (; scanned + look <= text.size(); ++scanned)
      if (text[scanned - 1] == '\n' && im.cut_ok(text, scanned)) cut = scanned;
    if (cut == 0) return;  // no cut yet: the window grows until there is one
    scratch.clear();
    im.encode_prefix(text, cut, &scratch);
    n += scratch.size();
    text.erase(0, cut);
    scanned -= cut;
    cut = 0;
  }, std::min<std::size_t>(window, std::size_t{1} << 20));
  decoder.finish(cps);
  append();
  scratch.clear();
  im.encode_into(text, false, &scratch);
  n += scratch.size();
  if (add_special_tokens) n += im.prefix.size() + im.suffix.size();
  return n;
}

std::vector<std::size_t> Tokenizer::count_batch(const std::vector<std::string>& texts,
                                                bool add_special_tokens, int threads) const {
  std::vector<std::size_t> out(texts.size());
  parallel_for(texts.size(), threads,
               [&](std::size_t i) { out[i] = count(texts[i], add_special_tokens); });
  return out;
}

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids,
                              bool skip_special_tokens) const {
  const Impl& im = *impl_;
  std::string bytes;
  bool first = true;
  for (std::int32_t id : ids) {
    GLYPH_CHECK(id >= 0 && static_cast<std::size_t>(id) < im.tokens.size() && im.known[id],
                InputError, "Cannot decode id {}: not in the vocabulary (size {})", id,
                im.tokens.size());
    if (skip_special_tokens && im.skip_special[id]) continue;
    // Without a decoder `tokenizers` joins the tokens with spaces.
    if (!im.byte_level_decoder && !first) bytes += ' ';
    bytes += im.decoded[id];
    first = false;
  }
  if (tok::invalid_utf8_at(bytes) == std::string_view::npos) return bytes;
  return encode_utf8(decode_utf8(bytes).codepoints);
}

std::vector<std::string> Tokenizer::decode_batch(const std::vector<std::vector<std::int32_t>>& ids,
                                                 bool skip_special_tokens, int threads) const {
  std::vector<std::string> out(ids.size());
  parallel_for(ids.size(), threads,
               [&](std::size_t i) { out[i] = decode(ids[i], skip_special_tokens); });
  return out;
}

std::string Tokenizer::normalize(std::string_view text) const {
  std::size_t bad = tok::invalid_utf8_at(text);
  GLYPH_CHECK(bad == std::string_view::npos, InputError,
              "Tokenizer input is not valid UTF-8 (byte {} of {})", bad, text.size());
  return impl_->normalize(text);
}

std::vector<std::string> Tokenizer::pre_tokenize(std::string_view text) const {
  std::vector<std::string> out;
  impl_->pre_tokenize_into(text, &out);
  return out;
}

std::vector<std::string> Tokenizer::tokenize(std::string_view text,
                                             bool add_special_tokens) const {
  std::vector<std::string> out;
  for (std::int32_t id : encode(text, add_special_tokens)) out.push_back(impl_->tokens[id]);
  return out;
}

std::optional<std::int32_t> Tokenizer::token_to_id(std::string_view token) const {
  std::string key(token);
  auto a = impl_->added_vocab.find(key);
  if (a != impl_->added_vocab.end()) return a->second;
  auto v = impl_->vocab.find(key);
  if (v != impl_->vocab.end()) return v->second;
  return std::nullopt;
}

std::optional<std::string> Tokenizer::id_to_token(std::int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= impl_->tokens.size() || !impl_->known[id])
    return std::nullopt;
  return impl_->tokens[id];
}

std::int32_t Tokenizer::special_token_id(std::string_view name) const {
  std::string key(name);
  auto r = impl_->roles.find(key);
  if (r != impl_->roles.end()) key = r->second;
  auto id = token_to_id(key);
  GLYPH_CHECK(id.has_value(), TokenizerError, "Unknown special token '{}'{}", name,
              r != impl_->roles.end() ? fmt::format(" (= '{}')", key) : std::string());
  return *id;
}

bool Tokenizer::is_special(std::int32_t id) const {
  return id >= 0 && static_cast<std::size_t>(id) < impl_->special.size() && impl_->special[id];
}

std::vector<std::string> Tokenizer::special_tokens() const {
  std::vector<std::string> out;
  for (std::size_t id = 0; id < impl_->tokens.size(); ++id)
    if (impl_->special[id]) out.push_back(impl_->tokens[id]);
  return out;
}

std::size_t Tokenizer::vocab_size() const { return impl_->tokens.size(); }

const std::string& Tokenizer::chat_template() const { return impl_->chat_template; }

}  // namespace glyph
