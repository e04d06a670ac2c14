// Inputs the fuzz targets (tests/fuzz, docs/reliability.md) found, as plain test cases: each
// failed before its fix. The raw inputs also replay from tests/fuzz/regressions/ (fuzz_replay_*).
#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <string>

#include "glyph/glyph.h"
#include "glyph/vlm/safetensors_format.h"

using Catch::Matchers::Contains;

// nlohmann::json reports a number beyond double's range (1e400) as out_of_range, not parse_error:
// every parse site caught only parse_error, so the raw library exception escaped instead of the
// documented error (and parse_advisor_reply, which promises never to throw, threw).
TEST_CASE("a JSON number beyond double's range is a clear error, not a library exception",
          "[fuzz]") {
  CHECK_THROWS_AS(glyph::RenderConfig::from_json("1e330{}"), glyph::ConfigError);
  CHECK_THROWS_WITH(glyph::RenderConfig::from_json(R"({"font-size": 1e400})"),
                    Contains("number overflow"));
  glyph::RenderConfig c;
  CHECK_THROWS_AS(c.set("dpi", "-1e999"), glyph::ConfigError);
  CHECK_THROWS_AS(glyph::SearchSpace::from_json(
                      R"({"genes": [{"name": "margin-x", "min": 0, "max": 1e400, "step": 2}]})"),
                  glyph::SearchError);

  glyph::SearchSpace space = glyph::SearchSpace::from_json(
      R"({"genes": [{"name": "margin-x", "min": 0, "max": 40, "step": 2},
                    {"name": "font-size", "choices": [8, 9, 10]}]})");
  glyph::AdvisorReply r;
  REQUIRE_NOTHROW(r = glyph::parse_advisor_reply(
                      R"({"candidates": [{"margin-x": 2e308, "font-size": 9}]})", space, {1, 1}, 4));
  CHECK(r.candidates.empty());
  CHECK(!r.notes.empty());

  std::string header = R"({"a": {"dtype": "F32", "shape": [1e400], "data_offsets": [0, 4]}})";
  std::string file(8, '\0');
  const std::uint64_t n = header.size();
  std::memcpy(file.data(), &n, 8);
  file += header + std::string(4, '\0');
  std::map<std::string, glyph::vlm::TensorInfo> out;
  CHECK_THROWS_AS(glyph::vlm::parse_safetensors_header(
                      reinterpret_cast<const std::uint8_t*>(file.data()), file.size(), "x", 0, out),
                  glyph::ModelLoadError);
  CHECK_THROWS_AS(glyph::vlm::parse_safetensors_index(R"({"weight_map": {"a": 1e400}})", "i.json"),
                  glyph::ModelLoadError);
}

// nlohmann's get<uint64_t>() on 1e114 is a float-to-integer cast out of range: undefined behaviour
// (UBSan: float-cast-overflow). Shapes and offsets must be whole numbers.
TEST_CASE("safetensors shapes and offsets must be whole numbers", "[fuzz]") {
  for (const char* entry : {R"("shape": [], "data_offsets": [48, 1e114])",
                            R"("shape": [2.5], "data_offsets": [0, 8])",
                            R"("shape": [1], "data_offsets": [-4, 4])",
                            R"("shape": 3, "data_offsets": [0, 8])"}) {
    std::string header = std::string(R"({"a": {"dtype": "I64", )") + entry + "}}";
    std::string file(8, '\0');
    const std::uint64_t n = header.size();
    std::memcpy(file.data(), &n, 8);
    file += header + std::string(64, '\0');
    std::map<std::string, glyph::vlm::TensorInfo> out;
    CHECK_THROWS_WITH(
        glyph::vlm::parse_safetensors_header(reinterpret_cast<const std::uint8_t*>(file.data()),
                                             file.size(), "x.safetensors", 0, out),
        Contains("x.safetensors: tensor a has"));
  }
}

// "595,8421.0e+400" read through strtod gave an infinite page height that loaded, saved as
// "595,inf" and could not be set back from get() ([595.0, null]).
TEST_CASE("a page-size string must hold finite numbers", "[fuzz]") {
  for (const char* bad : {"595,8421.0e+400", "inf,842", "595,nan", "-infinity,1"})
    CHECK_THROWS_WITH(glyph::RenderConfig::from_json(std::string(R"({"page-size": ")") + bad +
                                                     "\"}"),
                      Contains("config key 'page-size'"));
  CHECK(glyph::RenderConfig::from_json(R"({"page-size": "595, 842.5"})").page_height == 842.5);
}

namespace {

// The fuzz target's config 2: a small page, the inline newline marker `\n` (red).
glyph::Renderer marker_renderer() {
  glyph::RenderConfig c;
  c.font_path = glyph::default_font_path();
  if (std::string f = glyph::find_cjk_font(); !f.empty()) c.fallback_font_paths = {f};
  c.page_width = 150;
  c.page_height = 120;
  c.margin_x = c.margin_y = 6;
  c.newline_markup = "<font color=\"#FF0000\">\\n</font>";
  c.dpi = 96;
  c.font_size = 7;
  return glyph::Renderer(c);
}

std::string lines_of(const std::string& line, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? "\n" : "") + line;
  return out;
}

}  // namespace

// The inline newline marker draws a source '\n' as its text (here the two characters `\` and
// `n`), and every one of those characters carried the '\n' as its source position. Where a line
// or page break cut the marker (a long word is cut anywhere; CJK wrapping breaks between any two
// characters), both sides counted the '\n', so the spans overlapped by one code point: a line
// ending in `\` spanned [0, 31) and the next, starting with `n`, [30, 61). Now the marker's first
// character alone stands for the '\n'.
TEST_CASE("a newline marker cut by a break puts its '\\n' in one span only", "[fuzz][render]") {
  const glyph::Renderer r = marker_renderer();
  SECTION("a long word cut between the marker's characters (Latin wrapping)") {
    const std::string text = lines_of("abcdefghijklmnopqrstuvwxyzabcd", 3);  // '\n' at 30 and 61
    const auto pages = r.layout(text);
    REQUIRE(pages.size() == 1);
    const auto& lines = pages[0].lines;
    REQUIRE(lines.size() == 4);
    CHECK(lines[0].text == "abcdefghijklmnopqrstuvwxyzabcd\\");
    CHECK(lines[1].text == "nabcdefghijklmnopqrstuvwxyzabcd");
    CHECK(lines[2].text == "\\nabcdefghijklmnopqrstuvwxyzabc");
    CHECK(lines[0].char_begin == 0);
    CHECK(lines[0].char_end == 31);   // the word and the '\n' its `\` stands for
    CHECK(lines[1].char_begin == 31);  // was 30: the '\n' again
    CHECK(lines[1].char_end == 61);
    CHECK(lines[2].char_begin == 61);
  }
  SECTION("a CJK-wrapped page break between the marker's characters") {
    if (glyph::find_cjk_font().empty()) {
      WARN("no CJK font installed: the CJK section is skipped");
      return;
    }
    const std::string text = "中文" + lines_of("abcdefghijklmnopqrstuvwxy", 15);
    const std::u32string cps = glyph::decode_utf8(text).codepoints;
    const auto pages = r.layout(text);
    REQUIRE(pages.size() == 2);
    REQUIRE(pages[0].lines.back().text.back() == '\\');
    REQUIRE(pages[1].lines.front().text.front() == 'n');
    CHECK(pages[0].char_begin == 0);
    CHECK(pages[0].char_end == 366);
    CHECK(cps[365] == U'\n');  // page 0 shows its `\`
    CHECK(pages[1].char_begin == 366);  // was 365: page 1 started on the '\n' too
    CHECK(pages[1].char_end == cps.size());
    const auto rendered = r.render(text).pages;
    REQUIRE(rendered.size() == 2);
    CHECK(rendered[1].char_begin == 366);
  }
}

// A constraint's "offset" given as a string ("offset": "margin-x") went through nlohmann's
// get<double>(), whose type_error escaped SearchSpace::from_json instead of a SearchError (the
// same for a gene's "key" and "relative-to" and a constraint's "lhs", "op" and "rhs").
TEST_CASE("search-space fields of the wrong JSON type are a SearchError naming the field",
          "[fuzz][search]") {
  const std::string gene = R"({"name": "margin-x", "min": 0, "max": 40, "step": 2})";
  auto space = [&](const std::string& genes, const std::string& constraints) {
    return R"({"genes": [)" + genes + R"(], "constraints": [)" + constraints + "]}";
  };
  CHECK_THROWS_WITH(
      glyph::SearchSpace::from_json(space(
          gene, R"({"lhs": "margin-x", "op": ">=", "rhs": 0, "offset": "margin-x"})")),
      Contains("'offset' must be a number"));
  CHECK_THROWS_WITH(glyph::SearchSpace::from_json(space(gene, R"({"lhs": 1, "op": ">=", "rhs": 0})")),
                    Contains("'lhs' and 'op' must be strings"));
  CHECK_THROWS_WITH(
      glyph::SearchSpace::from_json(space(gene, R"({"lhs": "margin-x", "op": ">=", "rhs": [1]})")),
      Contains("'rhs' must be a gene name or a number"));
  CHECK_THROWS_WITH(
      glyph::SearchSpace::from_json(space(R"({"name": "m", "key": 3, "min": 0, "max": 4})", "")),
      Contains("gene 'm': 'key' must be a string"));
  CHECK_THROWS_WITH(glyph::SearchSpace::from_json(space(
                        R"({"name": "m", "min": 0, "max": 4, "relative-to": 1})", "")),
                    Contains("gene 'm': 'relative-to' must be a string"));
  // The same space with a numeric offset loads.
  CHECK(glyph::SearchSpace::from_json(
            space(gene, R"({"lhs": "margin-x", "op": ">=", "rhs": 0, "offset": 2})"))
            .genes()
            .size() == 1);
}

// An added token's id went through nlohmann's get<int32_t>(): a float such as 3.8e47 is a
// float-to-int cast out of range (UBSan, finding 8), and a whole number beyond int32 wrapped
// silently (2^32 + 5 loaded as id 5). The vocab and TemplateProcessing ids had the second gap
// too (a JSON unsigned beyond int64). Every id must be a whole number in [0, 2^30).
TEST_CASE("token ids in tokenizer.json must be whole numbers in range", "[fuzz][tokenizer]") {
  auto tokenizer = [](const std::string& vocab_id, const std::string& added_id) {
    return R"({"version": "1.0", "truncation": null, "padding": null, "added_tokens": [{"id": )" +
           added_id +
           R"(, "content": "<x>", "special": true}], "normalizer": null,
             "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
             "post_processor": null, "decoder": {"type": "ByteLevel"},
             "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                       "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                       "vocab": {"a": )" +
           vocab_id + R"(, "b": 1}, "merges": []}})";
  };
  REQUIRE(glyph::Tokenizer::from_json(tokenizer("0", "7")).vocab_size() == 8);
  for (const char* bad : {"3.8e47", "4294967301", "18446744073709551615", "-1", "2.5", "\"3\""}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH(glyph::Tokenizer::from_json(tokenizer("0", bad)),
                      Contains("Added token '<x>' has a bad id"));
    CHECK_THROWS_WITH(glyph::Tokenizer::from_json(tokenizer(bad, "7")),
                      Contains("BPE vocab entry 'a' has a bad id"));
  }
}
