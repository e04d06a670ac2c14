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
