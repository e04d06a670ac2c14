// Torch-free half of the safetensors loader (see glyph/vlm/safetensors_format.h).
#include "glyph/vlm/safetensors_format.h"

#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "common/check.h"

namespace glyph::vlm {

using nlohmann::json;

int safetensors_dtype_bytes(std::string_view s) {
  static const std::map<std::string_view, int> table = {
      {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U8", 1},  {"BOOL", 1}};
  auto it = table.find(s);
  return it == table.end() ? 0 : it->second;
}

namespace {
// A JSON array of whole numbers. nlohmann's get<integer>() on a float converts it with a cast that
// is undefined behaviour out of the integer's range (1e114 as uint64): refuse non-integers first.
template <class Int>
std::vector<Int> integers(const json& a, const std::string& path, const std::string& name,
                          const char* key) {
  GLYPH_CHECK(a.is_array(), ModelLoadError, "{}: tensor {} has a {} that is not a list", path,
              name, key);
  std::vector<Int> out;
  for (const json& x : a) {
    GLYPH_CHECK(std::is_signed_v<Int> ? x.is_number_integer() : x.is_number_unsigned(),
                ModelLoadError, "{}: tensor {} has {} entry {} (a whole number{} is needed)",
                path, name, key, x.dump(), std::is_signed_v<Int> ? "" : " >= 0");
    out.push_back(x.get<Int>());
  }
  return out;
}
}  // namespace

void parse_safetensors_header(const std::uint8_t* data, std::uint64_t size, const std::string& path,
                              std::size_t file_index, std::map<std::string, TensorInfo>& out) {
  GLYPH_CHECK(size >= 8, ModelLoadError, "{}: truncated safetensors file ({} bytes)", path, size);
  std::uint64_t n = 0;
  std::memcpy(&n, data, 8);  // little-endian on every platform glyphcpp builds for
  GLYPH_CHECK(n <= size - 8 && n < (std::uint64_t{1} << 31), ModelLoadError,
              "{}: safetensors header length {} exceeds the file size {} (truncated or not a "
              "safetensors file)",
              path, n, size);
  json h;
  try {
    h = json::parse(data + 8, data + 8 + n);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
    GLYPH_THROW(ModelLoadError, "{}: bad safetensors header JSON ({})", path, e.what());
  }
  GLYPH_CHECK(h.is_object(), ModelLoadError, "{}: safetensors header is not an object", path);
  const std::uint64_t base = 8 + n;
  for (auto& [name, v] : h.items()) {
    if (name == "__metadata__") continue;
    TensorInfo ti;
    try {
      ti.dtype = v.at("dtype").get<std::string>();
      ti.shape = integers<std::int64_t>(v.at("shape"), path, name, "shape");
      auto off = integers<std::uint64_t>(v.at("data_offsets"), path, name, "data_offsets");
      GLYPH_CHECK(off.size() == 2, ModelLoadError, "{}: tensor {} has bad data_offsets", path,
                  name);
      // Offsets are relative to the data section; checked before adding `base` so that no sum
      // can wrap around (a wrapped begin would point into the header).
      GLYPH_CHECK(off[0] <= off[1] && off[1] <= size - base, ModelLoadError,
                  "{}: tensor {} has data_offsets [{}, {}] outside the {} data bytes (truncated "
                  "file?)",
                  path, name, off[0], off[1], size - base);
      ti.begin = base + off[0];
      ti.end = base + off[1];
    } catch (const json::exception& e) {
      GLYPH_THROW(ModelLoadError, "{}: tensor {} has a bad header entry ({})", path, name,
                  e.what());
    }
    const int bytes = safetensors_dtype_bytes(ti.dtype);
    GLYPH_CHECK(bytes != 0, ModelLoadError, "{}: tensor {} has unsupported dtype {}", path, name,
                ti.dtype);
    // The byte count the shape needs, refusing any product that overflows 64 bits: a wrapped
    // count could match a short range and let at::from_blob read far past the mapping.
    std::uint64_t need = static_cast<std::uint64_t>(bytes);
    for (auto s : ti.shape) {
      GLYPH_CHECK(s >= 0, ModelLoadError, "{}: tensor {} has a negative dimension", path, name);
      GLYPH_CHECK(!__builtin_mul_overflow(need, static_cast<std::uint64_t>(s), &need),
                  ModelLoadError, "{}: tensor {} has a shape too large for any file", path, name);
    }
    GLYPH_CHECK(ti.end - ti.begin == need, ModelLoadError,
                "{}: tensor {} holds {} bytes but dtype {} and shape need {}", path, name,
                ti.end - ti.begin, ti.dtype, need);
    ti.file = file_index;
    GLYPH_CHECK(out.count(name) == 0, ModelLoadError, "{}: tensor {} appears in two files", path,
                name);
    out.emplace(name, std::move(ti));
  }
}

SafetensorsIndex parse_safetensors_index(std::string_view text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
    GLYPH_THROW(ModelLoadError, "{}: not valid JSON ({})", path, e.what());
  }
  GLYPH_CHECK(j.contains("weight_map") && j["weight_map"].is_object(), ModelLoadError,
              "{}: missing object weight_map", path);
  SafetensorsIndex index;
  std::set<std::string> shards;
  for (auto& [name, shard] : j["weight_map"].items()) {
    GLYPH_CHECK(shard.is_string(), ModelLoadError, "{}: weight_map[{}] is not a file name", path,
                name);
    const std::string file = shard.get<std::string>();
    GLYPH_CHECK(!file.empty() && file != "." && file != ".." &&
                    file.find_first_of("/\\") == std::string::npos,
                ModelLoadError,
                "{}: weight_map[{}] = '{}' is not a file name in the index's folder", path, name,
                file);
    index.weight_map[name] = file;
    shards.insert(file);
  }
  index.shards.assign(shards.begin(), shards.end());
  return index;
}

void check_safetensors_index(const SafetensorsIndex& index,
                             const std::map<std::string, TensorInfo>& tensors,
                             const std::vector<std::string>& shard_names, const std::string& path) {
  for (const auto& [name, shard] : index.weight_map) {
    auto it = tensors.find(name);
    GLYPH_CHECK(it != tensors.end(), ModelLoadError,
                "{}: tensor {} is listed in {} but that file does not hold it", path, name, shard);
    GLYPH_CHECK(it->second.file < shard_names.size() && shard_names[it->second.file] == shard,
                ModelLoadError, "{}: tensor {} is listed in {} but found in {}", path, name, shard,
                it->second.file < shard_names.size() ? shard_names[it->second.file] : "?");
  }
}

}  // namespace glyph::vlm
