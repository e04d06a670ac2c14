// Loading tokenizer.json and running the `tokenizers` pipeline: added tokens -> (normalizer)
// -> pre-tokenizer steps -> byte-level BPE -> post-processor; and the byte-level decoder.
#include "glyph/tokenizer/tokenizer.h"

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "common/check.h"
#include "glyph/common/error.h"
#include "glyph/common/thread_pool.h"
#include "glyph/common/utf8.h"
#include "tokenizer/bpe.h"
#include "tokenizer/regex.h"

namespace glyph {
namespace {

using json = nlohmann::json;
using tok::Regex;

// GPT-2's split pattern: what ByteLevel(use_regex=true) applies.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Byte offset of the first invalid UTF-8 sequence, or npos. Surrogates, overlongs and code
// points above U+10FFFF are invalid, as in Python and Rust.
std::size_t invalid_utf8_at(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return std::string_view::npos;
}

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100.. in order.
std::array<char32_t, 256> byte_to_char_table() {
  std::array<char32_t, 256> t{};
  std::array<bool, 256> printable{};
  for (int b = '!'; b <= '~'; ++b) printable[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) t[b] = printable[b] ? static_cast<char32_t>(b) : next++;
  return t;
}

const std::array<char32_t, 256>& byte_to_char() {
  static const std::array<char32_t, 256> table = byte_to_char_table();
  return table;
}

std::string byte_level(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char b : raw) append_utf8(out, byte_to_char()[b]);
  return out;
}

// Finds added tokens leftmost-longest (the aho-corasick match kind `tokenizers` uses).
class AddedMatcher {
 public:
  void add(const std::string& content, std::int32_t id) {
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
  bool empty() const { return nodes_.empty(); }

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

std::atomic<std::uint64_t> g_next_instance{1};

}  // namespace

struct Tokenizer::Impl {
  std::uint64_t instance = g_next_instance.fetch_add(1);
  tok::BpeModel bpe;
  bool ignore_merges = false;
  std::unordered_map<std::string, std::int32_t> vocab;        // model vocabulary
  std::unordered_map<std::string, std::int32_t> added_vocab;  // added tokens
  std::vector<std::string> tokens;                            // id -> token ("" if unused)
  std::vector<std::string> decoded;                           // id -> decoder output bytes
  std::vector<std::uint8_t> known, special;
  AddedMatcher raw_matcher, normalized_matcher;
  std::vector<PreStep> steps;
  std::vector<std::int32_t> prefix, suffix;  // post-processor's single-sequence template
  bool byte_level_decoder = false;
  std::string chat_template;
  std::unordered_map<std::string, std::string> roles;  // "eos_token" -> "<|endoftext|>"

  void load(const json& tj, const json& cj);
  void load_model(const json& m);
  void load_pre_tokenizer(const json& p);
  void load_post_processor(const json& p);

  template <class Emit>
  void split_step(const PreStep& s, std::string_view piece, Emit&& emit) const;
  template <class Emit>
  void run_steps(std::size_t k, std::string_view piece, Emit& emit) const;
  void encode_into(std::string_view text, bool add_special, std::vector<std::int32_t>* out) const;
  void encode_word(std::string_view word, std::vector<std::int32_t>* out) const;
};

namespace {

std::string type_of(const json& j) {
  if (j.is_object() && j.contains("type") && j["type"].is_string()) return j["type"];
  return "<no type>";
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
    GLYPH_CHECK(it.value().is_number_integer() && it.value().get<std::int64_t>() >= 0 &&
                    it.value().get<std::int64_t>() < (1LL << 30),
                TokenizerError, "BPE vocab entry '{}' has a bad id {}", it.key(),
                it.value().dump());
    vocab.emplace(it.key(), it.value().get<std::int32_t>());
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
        for (const json& id : specials[name].at("ids"))
          (seen_a ? suffix : prefix).push_back(id.get<std::int32_t>());
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
  if (!is_null_or(tj, "normalizer")) {
    const json& n = tj["normalizer"];
    bool empty_seq = type_of(n) == "Sequence" && n.contains("normalizers") &&
                     n["normalizers"].is_array() && n["normalizers"].empty();
    GLYPH_CHECK(empty_seq, TokenizerError, "Unsupported normalizer '{}'",
                type_of(n) == "Sequence" && !n["normalizers"].empty()
                    ? "Sequence[" + type_of(n["normalizers"][0]) + ", ...]"
                    : type_of(n));
  }
  load_model(tj.at("model"));
  load_pre_tokenizer(tj.contains("pre_tokenizer") ? tj["pre_tokenizer"] : json());

  std::int32_t max_id = -1;
  for (const auto& [t, id] : vocab) max_id = std::max(max_id, id);
  std::vector<std::pair<std::string, std::int32_t>> added;
  std::vector<bool> added_special;
  if (tj.contains("added_tokens") && tj["added_tokens"].is_array()) {
    for (const json& a : tj["added_tokens"]) {
      std::string content = a.at("content");
      std::int32_t id = a.at("id");
      GLYPH_CHECK(id >= 0 && id < (1 << 30), TokenizerError, "Added token '{}' has a bad id {}",
                  content, id);
      for (const char* opt : {"lstrip", "rstrip", "single_word"}) {
        GLYPH_CHECK(!a.value(opt, false), TokenizerError,
                    "Unsupported added-token option '{}' on token '{}'", opt, content);
      }
      added.emplace_back(content, id);
      added_special.push_back(a.value("special", false));
      max_id = std::max(max_id, id);
      added_vocab[content] = id;
      // `tokenizers` matches tokens that skip normalization on the raw text first.
      (a.value("normalized", !a.value("special", false)) ? normalized_matcher : raw_matcher)
          .add(content, id);
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

// ---- encoding --------------------------------------------------------------------------------

// Calls on_match(begin, end) for each match of a Split step's pattern (literal or regex) in piece.
template <class OnMatch>
void for_each_split_match(const PreStep& s, std::string_view piece, OnMatch&& on_match) {
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
void Tokenizer::Impl::split_step(const PreStep& s, std::string_view piece, Emit&& emit) const {
  if (s.behavior == Behavior::kIsolated) {
    // Matches and the gaps between them are all pieces: stream them.
    std::size_t prev = 0;
    auto on_match = [&](std::size_t a, std::size_t b) {
      if (a > prev) emit(piece.substr(prev, a - prev));
      if (b > a) emit(piece.substr(a, b - a));
      prev = b;
    };
    for_each_split_match(s, piece, on_match);
    if (prev < piece.size()) emit(piece.substr(prev));
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
  if (s.behavior == Behavior::kRemoved) {
    for (const Part& p : parts)
      if (!p.match) out.push_back(p);
  } else if (s.behavior == Behavior::kMergedWithPrevious) {
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
  const PreStep& s = steps[k];
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
    auto it = vocab.find(byte_level(word));
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

void Tokenizer::Impl::encode_into(std::string_view text, bool add_special,
                                  std::vector<std::int32_t>* out) const {
  std::size_t bad = invalid_utf8_at(text);
  GLYPH_CHECK(bad == std::string_view::npos, InputError,
              "Tokenizer input is not valid UTF-8 (byte {} of {}); decode it first, e.g. with "
              "errors='replace'",
              bad, text.size());
  if (add_special) out->insert(out->end(), prefix.begin(), prefix.end());
  auto emit_word = [&](std::string_view word) { encode_word(word, out); };
  auto on_token = [&](std::int32_t id) { out->push_back(id); };
  raw_matcher.split(
      text,
      [&](std::string_view seg) {
        normalized_matcher.split(
            seg, [&](std::string_view s2) { run_steps(0, s2, emit_word); }, on_token);
      },
      on_token);
  if (add_special) out->insert(out->end(), suffix.begin(), suffix.end());
}

// ---- public API ------------------------------------------------------------------------------

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

namespace {
std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  GLYPH_CHECK(f.good(), IoError, "Cannot read tokenizer file '{}'", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

Tokenizer Tokenizer::from_file(const std::string& path, const std::string& config_path) {
  std::string tj = read_file(path);
  std::string cj;
  if (!config_path.empty()) {
    cj = read_file(config_path);
  } else {
    std::size_t slash = path.find_last_of('/');
    std::string beside =
        (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) +
        "tokenizer_config.json";
    std::ifstream f(beside, std::ios::binary);
    if (f.good()) cj = read_file(beside);
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
    if (skip_special_tokens && im.special[id]) continue;
    // Without a decoder `tokenizers` joins the tokens with spaces.
    if (!im.byte_level_decoder && !first) bytes += ' ';
    bytes += im.decoded[id];
    first = false;
  }
  if (invalid_utf8_at(bytes) == std::string_view::npos) return bytes;
  return encode_utf8(decode_utf8(bytes).codepoints);
}

std::vector<std::string> Tokenizer::decode_batch(const std::vector<std::vector<std::int32_t>>& ids,
                                                 bool skip_special_tokens, int threads) const {
  std::vector<std::string> out(ids.size());
  parallel_for(ids.size(), threads,
               [&](std::size_t i) { out[i] = decode(ids[i], skip_special_tokens); });
  return out;
}

std::vector<std::string> Tokenizer::pre_tokenize(std::string_view text) const {
  const Impl& im = *impl_;
  std::size_t bad = invalid_utf8_at(text);
  GLYPH_CHECK(bad == std::string_view::npos, InputError,
              "Tokenizer input is not valid UTF-8 (byte {} of {})", bad, text.size());
  std::vector<std::string> out;
  auto emit = [&](std::string_view w) { out.push_back(byte_level(w)); };
  auto on_token = [&](std::int32_t id) { out.push_back(im.tokens[id]); };
  im.raw_matcher.split(
      text,
      [&](std::string_view seg) {
        im.normalized_matcher.split(
            seg, [&](std::string_view s2) { im.run_steps(0, s2, emit); }, on_token);
      },
      on_token);
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
