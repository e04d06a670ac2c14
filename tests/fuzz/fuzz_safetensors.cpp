// safetensors file bytes through the header parser the LibTorch loader uses
// (parse_safetensors_header, torch-free). For every header it accepts, each tensor's byte range
// must lie inside the file's data section and hold exactly dtype size x shape bytes, computed here
// in 128-bit arithmetic: a range the loader accepts is one at::from_blob may read.
#include <cstring>
#include <map>
#include <string>

#include "fuzz_common.h"
#include "glyph/vlm/safetensors_format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::map<std::string, glyph::vlm::TensorInfo> tensors;
  // A tensor of this name is already known from an earlier shard: a header naming it is refused.
  tensors["model.embed_tokens.weight"] = glyph::vlm::TensorInfo{"F32", {2, 2}, 0, 8, 24};
  if (!glyph_fuzz::accepts([&] {
        glyph::vlm::parse_safetensors_header(data, size, "fuzz.safetensors", 1, tensors);
      }))
    return 0;
  std::uint64_t n = 0;
  std::memcpy(&n, data, 8);
  const unsigned __int128 base = static_cast<unsigned __int128>(n) + 8;
  for (const auto& [name, t] : tensors) {
    if (t.file == 0) continue;
    FUZZ_EXPECT(t.file == 1, "file index %zu", t.file);
    const int bytes = glyph::vlm::safetensors_dtype_bytes(t.dtype);
    FUZZ_EXPECT(bytes > 0, "accepted dtype %s", t.dtype.c_str());
    unsigned __int128 need = static_cast<unsigned __int128>(bytes);
    bool overflow = false;
    for (auto d : t.shape) {
      FUZZ_EXPECT(d >= 0, "negative dimension accepted in %s", name.c_str());
      need *= static_cast<std::uint64_t>(d);
      if (need > (static_cast<unsigned __int128>(1) << 64)) overflow = true, need = 0;
      if (overflow) break;
    }
    FUZZ_EXPECT(!overflow, "tensor %s: element count overflows 64 bits but was accepted",
                name.c_str());
    FUZZ_EXPECT(t.begin >= base && t.begin <= t.end && t.end <= size,
                "tensor %s: range [%llu, %llu) outside the data section [%llu, %zu)", name.c_str(),
                static_cast<unsigned long long>(t.begin), static_cast<unsigned long long>(t.end),
                static_cast<unsigned long long>(base), size);
    FUZZ_EXPECT(static_cast<unsigned __int128>(t.end - t.begin) == need,
                "tensor %s: %llu bytes for a shape that needs more", name.c_str(),
                static_cast<unsigned long long>(t.end - t.begin));
  }
  return 0;
}
