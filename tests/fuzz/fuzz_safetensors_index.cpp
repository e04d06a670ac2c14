// model.safetensors.index.json bytes through parse_safetensors_index; for every index it accepts:
// shard names are plain file names in the index's folder, sorted and distinct, every listed
// tensor's shard is among them, and check_safetensors_index accepts tensors found where the index
// says and refuses a tensor found in another shard or missing.
#include <map>
#include <string>

#include "fuzz_common.h"
#include "glyph/vlm/safetensors_format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  glyph::vlm::SafetensorsIndex index;
  if (!glyph_fuzz::accepts([&] {
        index = glyph::vlm::parse_safetensors_index(text, "model.safetensors.index.json");
      }))
    return 0;
  std::map<std::string, std::size_t> file_of;
  for (std::size_t i = 0; i < index.shards.size(); ++i) {
    const std::string& s = index.shards[i];
    FUZZ_EXPECT(!s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
                    s.find('\\') == std::string::npos,
                "shard name '%s' leaves the folder", s.c_str());
    FUZZ_EXPECT(i == 0 || index.shards[i - 1] < s, "shards not sorted and distinct");
    file_of[s] = i;
  }
  std::map<std::string, glyph::vlm::TensorInfo> tensors;
  for (const auto& [name, shard] : index.weight_map) {
    auto it = file_of.find(shard);
    FUZZ_EXPECT(it != file_of.end(), "tensor %s's shard %s is not listed", name.c_str(),
                shard.c_str());
    tensors[name] = glyph::vlm::TensorInfo{"U8", {0}, it->second, 8, 8};
  }
  FUZZ_EXPECT(glyph_fuzz::accepts([&] {
                glyph::vlm::check_safetensors_index(index, tensors, index.shards, "index");
              }),
              "tensors where the index says were refused");
  if (!tensors.empty() && index.shards.size() > 1) {
    auto moved = tensors;
    auto& t = moved.begin()->second;
    t.file = (t.file + 1) % index.shards.size();
    FUZZ_EXPECT(!glyph_fuzz::accepts([&] {
                  glyph::vlm::check_safetensors_index(index, moved, index.shards, "index");
                }),
                "a tensor in the wrong shard was accepted");
  }
  if (!tensors.empty()) {
    auto missing = tensors;
    missing.erase(missing.begin());
    FUZZ_EXPECT(!glyph_fuzz::accepts([&] {
                  glyph::vlm::check_safetensors_index(index, missing, index.shards, "index");
                }),
                "a missing tensor was accepted");
  }
  return 0;
}
