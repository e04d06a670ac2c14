// tokenizer.json (and tokenizer_config.json) -> Tokenizer::Impl. Every component glyphcpp cannot
// run exactly as `tokenizers` does is refused here, by name.
#include <algorithm>
#include <optional>
#include <unordered_set>
#include <utility>

#include "common/check.h"
#include "common/json_number.h"
#include "glyph/common/utf8.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/impl.h"
#include "tokenizer/nfc.h"

namespace glyph {

using json = nlohmann::json;
using tok::byte_to_char;
using tok::Behavior;
using tok::PreStep;
using tok::Regex;

namespace {

// GPT-2's split pattern: what ByteLevel(use_regex=true) applies.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string type_of(const json& j) {
  if (j.is_object() && j.contains("type") && j["type"].is_string()) return j["type"];
  return "<no type>";
}

// A token id: a JSON whole number in [0, 2^30) (json_whole: fuzz findings 2 and 8).
std::optional<std::int32_t> token_id(const json& v) {
  const auto id = json_whole<std::int32_t>(v);
  if (!id || *id < 0 || *id >= (1 << 30)) return std::nullopt;
  return id;
}

bool is_null_or(const json& j, const char* key) {
  return !j.contains(key) || j[key].is_null();
}

std::string role_content(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"];
  return "";
}

}  // namespace

void Tokenizer::Impl::load_model(const json& m) {
  GLYPH_CHECK(m.is_object(), TokenizerError, "tokenizer.json has no model object");
  std::string type = m.contains("type") ? type_of(m) : std::string("BPE");
  GLYPH_CHECK(type == "BPE", TokenizerError, "Unsupported model '{}' (only BPE is supported)",
              type);
  if (!is_null_or(m, "dropout")) {
    GLYPH_CHECK(m["dropout"].is_number() && m["dropout"].get<double>() == 0.0, TokenizerError,
                "Unsupported BPE option 'dropout' = {} (encoding would be random)",
                m["dropout"].dump());
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    GLYPH_CHECK(is_null_or(m, key) || m[key] == "", TokenizerError,
                "Unsupported BPE option '{}' = {}", key, m[key].dump());
  }
  GLYPH_CHECK(!m.value("byte_fallback", false), TokenizerError,
              "Unsupported BPE option 'byte_fallback' = true");
  ignore_merges = m.value("ignore_merges", false);
  bpe.fuse_unk = m.value("fuse_unk", false);

  GLYPH_CHECK(m.contains("vocab") && m["vocab"].is_object(), TokenizerError,
              "BPE model has no vocab object");
  vocab.reserve(m["vocab"].size() * 2);
  for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
    const auto id = token_id(it.value());
    GLYPH_CHECK(id.has_value(), TokenizerError, "BPE vocab entry '{}' has a bad id {}", it.key(),
                it.value().dump());
    vocab.emplace(it.key(), *id);
  }
  if (!is_null_or(m, "unk_token")) {
    auto it = vocab.find(m["unk_token"].get<std::string>());
    GLYPH_CHECK(it != vocab.end(), TokenizerError, "BPE unk_token '{}' is not in the vocab",
                m["unk_token"].get<std::string>());
    bpe.unk_id = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    std::string c;
    append_utf8(c, byte_to_char()[b]);
    auto it = vocab.find(c);
    bpe.byte_id[b] = it == vocab.end() ? -1 : it->second;
  }

  GLYPH_CHECK(m.contains("merges") && m["merges"].is_array(), TokenizerError,
              "BPE model has no merges array");
  const json& merges = m["merges"];
  bpe.merges.reserve(merges.size());
  std::int32_t rank = 0;
  for (const json& mg : merges) {
    std::string a, b;
    if (mg.is_string()) {
      const std::string& s = mg.get_ref<const std::string&>();
      std::size_t sp = s.find(' ');
      GLYPH_CHECK(sp != std::string::npos, TokenizerError, "BPE merge '{}' has no space", s);
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else {
      GLYPH_CHECK(mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string(),
                  TokenizerError, "BPE merge {} is neither \"a b\" nor [\"a\", \"b\"]", mg.dump());
      a = mg[0].get<std::string>();
      b = mg[1].get<std::string>();
    }
    auto ia = vocab.find(a), ib = vocab.find(b), iab = vocab.find(a + b);
    GLYPH_CHECK(ia != vocab.end() && ib != vocab.end() && iab != vocab.end(), TokenizerError,
                "BPE merge ('{}', '{}') uses a token missing from the vocab", a, b);
    bpe.merges.insert(ia->second, ib->second, rank++, iab->second);
  }
}

void Tokenizer::Impl::load_normalizer(const json& n) {
  std::vector<const json*> list;
  if (type_of(n) == "Sequence") {
    GLYPH_CHECK(n.contains("normalizers") && n["normalizers"].is_array(), TokenizerError,
                "normalizer Sequence without a normalizers array");
    for (const json& s : n["normalizers"]) list.push_back(&s);
  } else {
    list.push_back(&n);
  }
  for (const json* s : list) {
    const std::string type = type_of(*s);
    // NFC twice is NFC once: a Sequence of NFCs is NFC.
    GLYPH_CHECK(type == "NFC", TokenizerError,
                "Unsupported normalizer '{}'{} (supported: NFC, a Sequence of NFC, null)", type,
                type_of(n) == "Sequence" ? " in a Sequence" : "");
    nfc = true;
  }
}

std::string Tokenizer::Impl::normalize(std::string_view text) const {
  if (!nfc) return std::string(text);
  std::string buf;
  return std::string(tok::nfc(text, buf));
}

void Tokenizer::Impl::load_pre_tokenizer(const json& p) {
  GLYPH_CHECK(!p.is_null(), TokenizerError,
              "Unsupported pre_tokenizer null (a byte-level BPE needs a ByteLevel pre_tokenizer)");
  std::vector<const json*> list;
  if (type_of(p) == "Sequence") {
    GLYPH_CHECK(p.contains("pretokenizers") && p["pretokenizers"].is_array(), TokenizerError,
                "pre_tokenizer Sequence without a pretokenizers array");
    for (const json& s : p["pretokenizers"]) list.push_back(&s);
  } else {
    list.push_back(&p);
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& s = *list[i];
    std::string type = type_of(s);
    PreStep step;
    if (type == "Split") {
      const json& pat = s.at("pattern");
      if (pat.contains("Regex")) {
        step.regex = std::make_unique<Regex>(pat["Regex"].get<std::string>());
      } else if (pat.contains("String")) {
        step.is_literal = true;
        step.literal = pat["String"].get<std::string>();
      } else {
        GLYPH_THROW(TokenizerError, "Unsupported Split pattern {}", pat.dump());
      }
      std::string behavior = s.value("behavior", "Isolated");
      if (behavior == "Isolated") {
        step.behavior = Behavior::kIsolated;
      } else if (behavior == "Removed") {
        step.behavior = Behavior::kRemoved;
      } else if (behavior == "MergedWithPrevious") {
        step.behavior = Behavior::kMergedWithPrevious;
      } else if (behavior == "MergedWithNext") {
        step.behavior = Behavior::kMergedWithNext;
      } else {
        GLYPH_THROW(TokenizerError, "Unsupported Split behavior '{}'", behavior);
      }
      step.invert = s.value("invert", false);
    } else if (type == "ByteLevel") {
      GLYPH_CHECK(i + 1 == list.size(), TokenizerError,
                  "Unsupported pre_tokenizer order: ByteLevel must be the last step");
      step.byte_level = true;
      step.add_prefix_space = s.value("add_prefix_space", true);
      if (s.value("use_regex", true)) {
        PreStep gpt2;
        gpt2.regex = std::make_unique<Regex>(kGpt2Pattern);
        // The GPT-2 split runs after the prefix space is added, so it is part of this step.
        step.regex = std::move(gpt2.regex);
      }
    } else {
      GLYPH_THROW(TokenizerError, "Unsupported pre_tokenizer '{}'", type);
    }
    steps.push_back(std::move(step));
  }
  GLYPH_CHECK(!steps.empty() && steps.back().byte_level, TokenizerError,
              "Unsupported pre_tokenizer: no ByteLevel step (only byte-level BPE is supported)");
}

void Tokenizer::Impl::load_post_processor(const json& p) {
  if (p.is_null()) return;
  std::vector<const json*> list;
  if (type_of(p) == "Sequence") {
    for (const json& s : p.at("processors")) list.push_back(&s);
  } else {
    list.push_back(&p);
  }
  bool have_template = false;
  for (const json* s : list) {
    std::string type = type_of(*s);
    if (type == "ByteLevel") continue;  // changes offsets only
    GLYPH_CHECK(type == "TemplateProcessing", TokenizerError, "Unsupported post_processor '{}'",
                type);
    GLYPH_CHECK(!have_template, TokenizerError,
                "Unsupported post_processor: more than one TemplateProcessing");
    have_template = true;
    const json& specials = s->at("special_tokens");
    bool seen_a = false;
    for (const json& item : s->at("single")) {
      if (item.contains("Sequence")) {
        GLYPH_CHECK(item["Sequence"].value("id", "A") == "A" && !seen_a, TokenizerError,
                    "Unsupported TemplateProcessing single template {}", s->at("single").dump());
        seen_a = true;
      } else if (item.contains("SpecialToken")) {
        std::string name = item["SpecialToken"].at("id");
        GLYPH_CHECK(specials.contains(name), TokenizerError,
                    "TemplateProcessing names special token '{}' missing from special_tokens",
                    name);
        for (const json& id : specials[name].at("ids")) {
          const auto tid = token_id(id);
          GLYPH_CHECK(tid.has_value(), TokenizerError,
                      "TemplateProcessing special token '{}' has id {} (a whole number >= 0 "
                      "is needed)",
                      name, id.dump());
          (seen_a ? suffix : prefix).push_back(*tid);
        }
      } else {
        GLYPH_THROW(TokenizerError, "Unsupported TemplateProcessing item {}", item.dump());
      }
    }
    GLYPH_CHECK(seen_a, TokenizerError, "TemplateProcessing single template has no sequence $A");
  }
}

void Tokenizer::Impl::load(const json& tj, const json& cj) {
  GLYPH_CHECK(tj.is_object(), TokenizerError, "tokenizer.json is not a JSON object");
  for (const char* key : {"truncation", "padding"}) {
    GLYPH_CHECK(is_null_or(tj, key), TokenizerError,
                "Unsupported {} settings in tokenizer.json (set \"{}\": null)", key, key);
  }
  if (!is_null_or(tj, "normalizer")) load_normalizer(tj["normalizer"]);
  load_model(tj.at("model"));
  load_pre_tokenizer(tj.contains("pre_tokenizer") ? tj["pre_tokenizer"] : json());

  std::int32_t max_id = -1;
  for (const auto& [t, id] : vocab) max_id = std::max(max_id, id);
  std::vector<std::pair<std::string, std::int32_t>> added;
  std::vector<bool> added_special;
  std::unordered_set<std::string> special_contents;
  std::vector<std::pair<std::int32_t, std::string>> normalized_form;
  if (tj.contains("added_tokens") && tj["added_tokens"].is_array()) {
    for (const json& a : tj["added_tokens"]) {
      std::string content = a.at("content");
      const auto tid = token_id(a.at("id"));
      GLYPH_CHECK(tid.has_value(), TokenizerError, "Added token '{}' has a bad id {}", content,
                  a.at("id").dump());
      const std::int32_t id = *tid;
      std::uint8_t options = 0;
      for (const auto& [opt, bit] : {std::pair<const char*, std::uint8_t>{"single_word", tok::kSingleWord},
                                     {"lstrip", tok::kLstrip},
                                     {"rstrip", tok::kRstrip}}) {
        GLYPH_CHECK(!a.contains(opt) || a[opt].is_boolean(), TokenizerError,
                    "Added token '{}' has a non-boolean '{}' = {}", content, opt, a[opt].dump());
        if (a.value(opt, false)) options |= bit;
      }
      const bool is_special = a.value("special", false);
      added.emplace_back(content, id);
      added_special.push_back(is_special);
      max_id = std::max(max_id, id);
      added_vocab[content] = id;
      if (is_special) special_contents.insert(content);
      max_added = std::max(max_added, content.size());
      // `tokenizers` matches tokens that skip normalization on the raw text first, the others on
      // the normalized text, by their normalized content (which decoding then gives back too).
      if (a.value("normalized", !is_special)) {
        std::string normalized = normalize(content);
        max_added = std::max(max_added, normalized.size());
        normalized_matcher.add(normalized, id, options);
        if (normalized != content) normalized_form.emplace_back(id, std::move(normalized));
      } else {
        raw_matcher.add(content, id, options);
      }
    }
  }
  tokens.assign(static_cast<std::size_t>(max_id + 1), std::string());
  known.assign(tokens.size(), 0);
  special.assign(tokens.size(), 0);
  for (const auto& [t, id] : vocab) {
    tokens[id] = t;
    known[id] = 1;
  }
  for (std::size_t i = 0; i < added.size(); ++i) {
    tokens[added[i].second] = added[i].first;
    known[added[i].second] = 1;
    special[added[i].second] = added_special[i] ? 1 : 0;
  }
  // What id_to_token and the decoder see of a normalized added token: its normalized content.
  for (auto& [id, form] : normalized_form) tokens[id] = std::move(form);
  // Decoding with skip_special_tokens drops every id whose token is the content of a special
  // token (`tokenizers` looks the token string up, not the id).
  skip_special.assign(tokens.size(), 0);
  for (std::size_t id = 0; id < tokens.size(); ++id)
    skip_special[id] = known[id] && special_contents.count(tokens[id]) ? 1 : 0;

  load_post_processor(tj.contains("post_processor") ? tj["post_processor"] : json());
  for (std::int32_t id : prefix)
    GLYPH_CHECK(id >= 0 && static_cast<std::size_t>(id) < tokens.size() && known[id],
                TokenizerError, "post_processor uses unknown id {}", id);
  for (std::int32_t id : suffix)
    GLYPH_CHECK(id >= 0 && static_cast<std::size_t>(id) < tokens.size() && known[id],
                TokenizerError, "post_processor uses unknown id {}", id);

  const json& dec = tj.contains("decoder") ? tj["decoder"] : json();
  if (!dec.is_null()) {
    GLYPH_CHECK(type_of(dec) == "ByteLevel", TokenizerError, "Unsupported decoder '{}'",
                type_of(dec));
    byte_level_decoder = true;
  }
  // Per id, what the decoder turns it into: the bytes behind byte-level characters, or the
  // token's own UTF-8 when any character is not byte-level (added tokens such as "中文").
  std::unordered_map<char32_t, unsigned char> char_to_byte;
  for (int b = 0; b < 256; ++b) char_to_byte[byte_to_char()[b]] = static_cast<unsigned char>(b);
  decoded.resize(tokens.size());
  for (std::size_t id = 0; id < tokens.size(); ++id) {
    if (!byte_level_decoder) {
      decoded[id] = tokens[id];
      continue;
    }
    DecodedText cps = decode_utf8(tokens[id]);
    std::string bytes;
    bool all = true;
    for (char32_t c : cps.codepoints) {
      auto it = char_to_byte.find(c);
      if (it == char_to_byte.end()) {
        all = false;
        break;
      }
      bytes.push_back(static_cast<char>(it->second));
    }
    decoded[id] = all ? bytes : tokens[id];
  }

  if (cj.is_object()) {
    if (cj.contains("chat_template")) {
      const json& t = cj["chat_template"];
      if (t.is_string()) {
        chat_template = t.get<std::string>();
      } else if (t.is_array()) {
        for (const json& e : t)
          if (e.value("name", "") == "default") chat_template = e.value("template", "");
      }
    }
    for (const char* role : {"bos_token", "eos_token", "pad_token", "unk_token", "cls_token",
                             "sep_token", "mask_token"}) {
      if (cj.contains(role)) {
        std::string c = role_content(cj[role]);
        if (!c.empty()) roles[role] = c;
      }
    }
  }
}

}  // namespace glyph
