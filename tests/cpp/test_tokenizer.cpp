// glyph::Tokenizer on a hand-made tokenizer.json (byte-level alphabet + a few merges + added
// tokens). Parity with Hugging Face `tokenizers` on trained vocabularies is in
// tests/python/test_tokenizer.py.
#include <algorithm>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "glyph/common/error.h"
#include "glyph/common/utf8.h"
#include "glyph/tokenizer/prompt.h"
#include "glyph/tokenizer/tokenizer.h"

namespace {

using json = nlohmann::json;

// GPT-2's bytes_to_unicode.
std::string byte_char(int b) {
  bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  char32_t cp = static_cast<char32_t>(b);
  if (!printable) {
    cp = 256;
    for (int k = 0; k < b; ++k) {
      bool pk = (k >= '!' && k <= '~') || (k >= 0xA1 && k <= 0xAC) || (k >= 0xAE && k <= 0xFF);
      if (!pk) ++cp;
    }
  }
  std::string s;
  glyph::append_utf8(s, cp);
  return s;
}

json make_tokenizer() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
  std::vector<std::pair<std::string, std::string>> merges = {
      {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"}, {"o", "r"},
      {"Ġw", "or"}, {"l", "d"}, {"Ġwor", "ld"}, {"1", "2"}};
  json mj = json::array();
  int next = 256;
  for (auto& [a, b] : merges) {
    if (!vocab.contains(a + b)) vocab[a + b] = next++;
    mj.push_back(json::array({a, b}));
  }
  json added = json::array();
  for (const char* t : {"<|endoftext|>", "[gMASK]", "<sop>", "<|user|>", "<|assistant|>",
                        "<|begin_of_image|>", "<|end_of_image|>", "<|image|>"}) {
    added.push_back({{"id", next++}, {"content", t}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  const char* pattern =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array({{{"type", "Split"},
                       {"pattern", {{"Regex", pattern}}},
                       {"behavior", "Isolated"},
                       {"invert", false}},
                      {{"type", "ByteLevel"},
                       {"add_prefix_space", false},
                       {"trim_offsets", true},
                       {"use_regex", false}}})}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", mj}}}};
}

glyph::Tokenizer load(const json& j) { return glyph::Tokenizer::from_json(j.dump()); }

}  // namespace

TEST_CASE("tokenizer: BPE merges, added tokens, decode", "[tokenizer]") {
  glyph::Tokenizer tok = load(make_tokenizer());
  std::int32_t hello = *tok.token_to_id("hello");
  std::int32_t world = *tok.token_to_id("Ġworld");
  std::int32_t eot = tok.special_token_id("<|endoftext|>");

  CHECK(tok.encode("hello world", false) == std::vector<std::int32_t>{hello, world});
  CHECK(tok.encode("hello<|endoftext|> world", false) ==
        std::vector<std::int32_t>{hello, eot, world});
  CHECK(tok.count("hello world hello") == 4);  // "Ġ" + "hello": no merge of Ġ and h
  // Digits go in runs of at most three: "1234" -> "123" "4" -> "12" "3" "4".
  CHECK(tok.tokenize("1234") == std::vector<std::string>{"12", "3", "4"});
  CHECK(tok.pre_tokenize("I'M here  \n\nok") ==
        std::vector<std::string>{"I", "'M", "Ġhere", "ĠĠĊĊ", "ok"});

  for (std::string text : {"hello world", "Grüße, 世界! 😀", "  spaces\t\ttabs\r\n", "",
                           "<|user|>\nquestion<|assistant|>\n"}) {
    CHECK(tok.decode(tok.encode(text)) == text);
  }
  CHECK(tok.decode(tok.encode("a<|endoftext|>b"), true) == "ab");
  CHECK(tok.is_special(eot));
  CHECK(*tok.id_to_token(hello) == "hello");
  CHECK_FALSE(tok.token_to_id("nope").has_value());

  // Half a character decodes to U+FFFD, as `tokenizers` does.
  std::vector<std::int32_t> ids = tok.encode("é");
  REQUIRE(ids.size() == 2);
  CHECK(tok.decode({ids[0]}) == "\xEF\xBF\xBD");

  std::vector<std::string> texts = {"hello", "world 12", "世界", "", "a b c"};
  auto batch = tok.encode_batch(texts, true, 3);
  for (std::size_t i = 0; i < texts.size(); ++i) CHECK(batch[i] == tok.encode(texts[i]));

  CHECK_THROWS_AS(tok.encode("bad \xFF"), glyph::InputError);
  CHECK_THROWS_AS(tok.decode({1 << 20}), glyph::InputError);
  CHECK_THROWS_AS(tok.special_token_id("<|nope|>"), glyph::TokenizerError);
}

TEST_CASE("tokenizer: a 1 MB word and long runs stay exact", "[tokenizer]") {
  glyph::Tokenizer tok = load(make_tokenizer());
  std::string big(1 << 20, 'l');
  // "ll" merges pairwise: 2^20 bytes -> 2^19 tokens.
  CHECK(tok.count(big) == (1u << 19));
  std::string mixed;
  for (int i = 0; i < 100000; ++i) mixed += "hello";
  CHECK(tok.count(mixed) == 100000);
  CHECK(tok.decode(tok.encode(mixed)) == mixed);
}

TEST_CASE("tokenizer: unsupported components are refused by name", "[tokenizer]") {
  auto refused = [](auto edit, const std::string& needle) {
    json j = make_tokenizer();
    edit(j);
    try {
      load(j);
      FAIL("loaded");
    } catch (const glyph::TokenizerError& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  refused([](json& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}}; },
          "Unsupported pre_tokenizer 'Metaspace'");
  refused([](json& j) { j["normalizer"] = {{"type", "NFKC"}}; }, "Unsupported normalizer 'NFKC'");
  refused(
      [](json& j) {
        j["normalizer"] = {{"type", "Sequence"},
                           {"normalizers", json::array({{{"type", "NFC"}}, {{"type", "Lowercase"}}})}};
      },
      "Unsupported normalizer 'Lowercase' in a Sequence");
  refused([](json& j) { j["added_tokens"][0]["lstrip"] = "yes"; }, "non-boolean 'lstrip'");
  refused([](json& j) { j["decoder"] = {{"type", "Metaspace"}}; },
          "Unsupported decoder 'Metaspace'");
  refused([](json& j) { j["model"]["type"] = "WordPiece"; }, "Unsupported model 'WordPiece'");
  refused([](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\p{Lu}+"; },
          "Unsupported Unicode property");
  refused([](json& j) { j["padding"] = {{"strategy", "BatchLongest"}}; }, "Unsupported padding");
  CHECK_THROWS_AS(glyph::Tokenizer::from_json("{not json"), glyph::TokenizerError);
  CHECK_THROWS_AS(glyph::Tokenizer::from_file("/nonexistent/tokenizer.json"), glyph::IoError);
}

TEST_CASE("tokenizer: NFC normalizer (Unicode 9.0, as tokenizers)", "[tokenizer]") {
  json j = make_tokenizer();
  j["normalizer"] = {{"type", "NFC"}};
  glyph::Tokenizer tok = load(j);
  CHECK(tok.normalize("e\u0301t\u00e9") == "\u00e9t\u00e9");
  CHECK(tok.encode("e\u0301", false) == tok.encode("\u00e9", false));
  // Canonical order: below (220) before above (230), then composition with what is unblocked.
  CHECK(tok.normalize("q\u0301\u0323") == "q\u0323\u0301");
  CHECK(tok.normalize("a\u0301\u0323") == "\u1EA1\u0301");
  // Hangul jamo compose algorithmically; a composition exclusion (U+0958) stays decomposed.
  CHECK(tok.normalize("\u1100\u1161\u11A8") == "\uAC01");
  CHECK(tok.normalize("\u0958") == "\u0915\u093C");
  CHECK(tok.normalize("\u212B") == "\u00C5");  // a singleton
  // U+11D42 (Unicode 10) is a starter in Unicode 9 data: it blocks and is not reordered.
  CHECK(tok.normalize("a\U00011D42\u0301") == "a\U00011D42\u0301");
  CHECK(tok.normalize("plain ascii") == "plain ascii");
  CHECK_THROWS_AS(tok.normalize("bad \xFF"), glyph::InputError);
  // Without a normalizer the text is the text.
  CHECK(load(make_tokenizer()).normalize("e\u0301") == "e\u0301");
}

TEST_CASE("tokenizer: added tokens' single_word, lstrip, rstrip", "[tokenizer]") {
  auto with = [](const char* content, const char* option) {
    json j = make_tokenizer();
    for (json& a : j["added_tokens"])
      if (a["content"] == content) a[option] = true;
    return load(j);
  };
  glyph::Tokenizer plain = load(make_tokenizer());
  const std::int32_t user = plain.special_token_id("<|user|>");
  auto ids = [&](const glyph::Tokenizer& t, const std::string& s) { return t.encode(s, false); };
  auto cat = [](std::vector<std::int32_t> a, const std::vector<std::int32_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  const std::vector<std::int32_t> u{user};

  glyph::Tokenizer lstrip = with("<|user|>", "lstrip");
  CHECK(ids(lstrip, "hello  <|user|> world") == cat(cat(ids(plain, "hello"), u), ids(plain, " world")));
  CHECK(ids(lstrip, " \t<|user|>") == u);

  glyph::Tokenizer rstrip = with("<|user|>", "rstrip");
  CHECK(ids(rstrip, "hello <|user|>  \n world") == cat(cat(ids(plain, "hello "), u), ids(plain, "world")));
  // An rstrip does not reach past the next token.
  CHECK(ids(rstrip, "<|user|> <|user|>") == cat(u, u));

  glyph::Tokenizer single = with("<|user|>", "single_word");
  CHECK(ids(single, "a <|user|> b") == cat(cat(ids(plain, "a "), u), ids(plain, " b")));
  CHECK(ids(single, "<|user|>") == u);
  // Next to a word character (\w: letters, digits, marks, '_') it is text.
  for (std::string s : {"a<|user|>", "<|user|>b", "1<|user|>", "_<|user|>", "\u00e9<|user|>"}) {
    INFO(s);
    CHECK(ids(single, s) == ids(glyph::Tokenizer::from_json([] {
                                  json j = make_tokenizer();
                                  j["added_tokens"] = json::array();
                                  return j.dump();
                                }()),
                                s));
  }
  CHECK(ids(single, "!<|user|>?") == cat(cat(ids(plain, "!"), u), ids(plain, "?")));
}

TEST_CASE("tokenizer: GLM-4.1V prompt", "[tokenizer]") {
  glyph::Tokenizer tok = load(make_tokenizer());
  std::string p = glyph::glm4v_prompt({3, 1}, "Who?");
  CHECK(p ==
        "[gMASK]<sop><|user|>\n<|begin_of_image|><|image|><|image|><|image|><|end_of_image|>"
        "<|begin_of_image|><|image|><|end_of_image|>Who?<|assistant|>\n");
  auto ids = glyph::glm4v_prompt_ids(tok, {630, 212}, "Who?");
  std::int32_t image = tok.special_token_id("<|image|>");
  CHECK(std::count(ids.begin(), ids.end(), image) == 842);
  CHECK(ids.front() == tok.special_token_id("[gMASK]"));
  // Pages go in by id; the result equals encoding the whole prompt string.
  CHECK(ids == tok.encode(glyph::glm4v_prompt({630, 212}, "Who?"), false));
  CHECK(glyph::glm4v_prompt_ids(tok, {}, "Who?") == tok.encode(glyph::glm4v_prompt({}, "Who?"), false));
  // With the model's image ids any codec works, even one without the image tokens.
  glyph::ImageTokenIds custom{7, 8, 9};
  auto by_id = glyph::glm4v_prompt_ids(glyph::TokenizerCodec(tok), {2}, "Who?",
                                       glyph::kGlm4vPromptTemplate, custom);
  const std::vector<std::int32_t> markup = {7, 8, 8, 9};
  auto at = std::search(by_id.begin(), by_id.end(), markup.begin(), markup.end());
  REQUIRE(at != by_id.end());
  const std::vector<std::int32_t> before(by_id.begin(), at), after(at + 4, by_id.end());
  CHECK(before == tok.encode("[gMASK]<sop><|user|>\n", false));
  CHECK(after == tok.encode("Who?<|assistant|>\n", false));
  CHECK(glyph::glm4v_prompt({1}, "q", "{{x}}{images}|{question}") ==
        "{x}<|begin_of_image|><|image|><|end_of_image|>|q");
  CHECK_THROWS_AS(glyph::glm4v_prompt({-1}, "q"), glyph::InputError);
  CHECK_THROWS_AS(glyph::glm4v_prompt({1}, "q", "{question}"), glyph::InputError);
}
