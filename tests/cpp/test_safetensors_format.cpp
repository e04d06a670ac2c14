// The safetensors header and index parser without libtorch (glyph/vlm/safetensors_format.h):
// a file written by the `safetensors` package (tests/fuzz/corpus), and the malformed headers and
// indexes the loader must refuse with a ModelLoadError naming the file and tensor.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <sstream>

#include "glyph/common/error.h"
#include "glyph/vlm/safetensors_format.h"

using Catch::Matchers::Contains;
using glyph::vlm::TensorInfo;

namespace {
std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
// An 8-byte little-endian length, the header, then `data_bytes` zero bytes.
std::string file_with(const std::string& header, std::size_t data_bytes) {
  std::string f(8, '\0');
  std::uint64_t n = header.size();
  std::memcpy(f.data(), &n, 8);
  return f + header + std::string(data_bytes, '\0');
}
std::map<std::string, TensorInfo> parse(const std::string& f) {
  std::map<std::string, TensorInfo> out;
  glyph::vlm::parse_safetensors_header(reinterpret_cast<const std::uint8_t*>(f.data()), f.size(),
                                       "x.safetensors", 0, out);
  return out;
}
}  // namespace

TEST_CASE("safetensors header written by the safetensors package", "[safetensors]") {
  const std::string f =
      slurp(std::string(GLYPH_TEST_SOURCE_DIR) + "/tests/fuzz/corpus/safetensors/f32_bf16.safetensors");
  REQUIRE(f.size() == 246);
  auto t = parse(f);
  REQUIRE(t.size() == 2);  // __metadata__ is not a tensor
  const TensorInfo& w = t.at("model.embed_tokens.weight");
  CHECK(w.dtype == "F32");
  CHECK(w.shape == std::vector<std::int64_t>{4, 3});
  CHECK(w.begin == 8 + 184);
  CHECK(w.end == 8 + 184 + 48);
  const TensorInfo& b = t.at("lm_head.bias");
  CHECK(b.dtype == "F16");
  CHECK(b.begin == w.end);
  CHECK(b.end == f.size());
}

TEST_CASE("safetensors headers that must be refused", "[safetensors]") {
  CHECK_THROWS_WITH(parse("short"), Contains("truncated"));
  CHECK_THROWS_WITH(parse(file_with("[1]", 0)), Contains("not an object"));
  CHECK_THROWS_WITH(parse(file_with("{\"a\": {\"dtype\": \"U16\", \"shape\": [1], "
                                    "\"data_offsets\": [0, 2]}}", 2)),
                    Contains("unsupported dtype U16"));
  CHECK_THROWS_WITH(parse(file_with("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], "
                                    "\"data_offsets\": [0, 8]}}", 4)),
                    Contains("truncated file"));
  CHECK_THROWS_WITH(parse(file_with("{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], "
                                    "\"data_offsets\": [0, 0]}}", 0)),
                    Contains("negative dimension"));
  // A shape whose element count wraps around 64 bits to the range's size (here 0) would let
  // at::from_blob read far past the mapping.
  CHECK_THROWS_WITH(parse(file_with("{\"a\": {\"dtype\": \"F32\", \"shape\": "
                                    "[4611686018427387904, 4], \"data_offsets\": [0, 0]}}", 0)),
                    Contains("shape too large"));
  // Offsets whose sum with the header size wraps around would point into the header.
  const std::string wrap = "{\"a\": {\"dtype\": \"U8\", \"shape\": [8], "
                           "\"data_offsets\": [18446744073709551000, 18446744073709551008]}}";
  CHECK_THROWS_WITH(parse(file_with(wrap, 8)), Contains("outside the 8 data bytes"));
}

TEST_CASE("safetensors index: shards are plain file names", "[safetensors]") {
  auto idx = glyph::vlm::parse_safetensors_index(
      R"({"metadata": {}, "weight_map": {"a": "m-2.safetensors", "b": "m-1.safetensors",
          "c": "m-2.safetensors"}})", "index.json");
  CHECK(idx.shards == std::vector<std::string>{"m-1.safetensors", "m-2.safetensors"});
  CHECK(idx.weight_map.at("c") == "m-2.safetensors");
  for (const char* bad : {"../m.safetensors", "/etc/m.safetensors", "sub/m.safetensors", "..", ""})
    CHECK_THROWS_WITH(glyph::vlm::parse_safetensors_index(
                          std::string(R"({"weight_map": {"a": ")") + bad + "\"}}", "index.json"),
                      Contains("is not a file name in the index's folder"));
  CHECK_THROWS_WITH(glyph::vlm::parse_safetensors_index("{}", "index.json"),
                    Contains("missing object weight_map"));
  std::map<std::string, TensorInfo> t = {{"a", TensorInfo{"U8", {0}, 1, 8, 8}},
                                         {"b", TensorInfo{"U8", {0}, 0, 8, 8}},
                                         {"c", TensorInfo{"U8", {0}, 0, 8, 8}}};
  CHECK_THROWS_WITH(glyph::vlm::check_safetensors_index(idx, t, idx.shards, "index.json"),
                    Contains("tensor c is listed in m-2.safetensors but found in m-1.safetensors"));
  t["c"].file = 1;
  CHECK_NOTHROW(glyph::vlm::check_safetensors_index(idx, t, idx.shards, "index.json"));
  t.erase("a");
  CHECK_THROWS_WITH(glyph::vlm::check_safetensors_index(idx, t, idx.shards, "index.json"),
                    Contains("tensor a is listed in m-2.safetensors but that file does not hold it"));
}
