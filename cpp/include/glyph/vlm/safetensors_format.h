// The safetensors format without libtorch: one file's header (8-byte little-endian length, then a
// JSON object of tensors) and a sharded checkpoint's model.safetensors.index.json. The LibTorch
// loader (safetensors.h) maps the files and calls these; they are also what the fuzz targets and
// the torch-free tests exercise (tests/fuzz, docs/reliability.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace glyph::vlm {

struct TensorInfo {
  std::string dtype;                // safetensors name: F32, F16, BF16, I64, ...
  std::vector<std::int64_t> shape;
  std::size_t file = 0;             // index into the checkpoint's mapped files
  std::uint64_t begin = 0;          // byte offsets into that file (absolute)
  std::uint64_t end = 0;
};

// Bytes per element of a safetensors dtype name glyphcpp reads (F32, F16, BF16, F64, I64, I32,
// I16, I8, U8, BOOL); 0 for any other name.
int safetensors_dtype_bytes(std::string_view dtype);

// Parses the header of one safetensors file whose `size` bytes start at `data` and adds its
// tensors to `out` (with `file_index`). Every entry is checked: a supported dtype, non-negative
// dimensions, a byte range inside the file's data section whose length is exactly what the dtype
// and shape need (in overflow-free arithmetic), and a name no earlier file has. Throws
// ModelLoadError naming `path` and the tensor.
void parse_safetensors_header(const std::uint8_t* data, std::uint64_t size, const std::string& path,
                              std::size_t file_index, std::map<std::string, TensorInfo>& out);

// model.safetensors.index.json: which shard holds each tensor. Shard names are plain file names
// in the index's folder.
struct SafetensorsIndex {
  std::map<std::string, std::string> weight_map;  // tensor name -> shard file name
  std::vector<std::string> shards;                // distinct shard names, sorted
};
// Throws ModelLoadError naming `path` for invalid JSON, a missing weight_map object, a value that
// is not a file name, or a shard name that leaves the folder.
SafetensorsIndex parse_safetensors_index(std::string_view json, const std::string& path);

// After every shard's header is parsed: each tensor the index lists is in the shard it names.
// `shard_names[i]` is the file name of the checkpoint's file i.
void check_safetensors_index(const SafetensorsIndex& index,
                             const std::map<std::string, TensorInfo>& tensors,
                             const std::vector<std::string>& shard_names, const std::string& path);

}  // namespace glyph::vlm
