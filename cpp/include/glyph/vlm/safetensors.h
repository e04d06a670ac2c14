// Memory-mapped safetensors checkpoints: one file, or shards listed by model.safetensors.index.json.
// Headers are parsed and checked (dtype, shape, byte range inside the file) when the checkpoint is
// opened; no weight is copied until tensor() asks for it.
//
//   auto ckpt = glyph::vlm::SafetensorsCheckpoint::open("/models/Glyph");
//   at::Tensor w = ckpt.tensor("lm_head.weight", at::kBFloat16, at::kCPU);
#pragma once

#include <ATen/ATen.h>

#include "glyph/vlm/safetensors_format.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace glyph::vlm {

// TensorInfo: glyph/vlm/safetensors_format.h (the header parsing, without libtorch).

class MappedFile;

class SafetensorsCheckpoint {
 public:
  // `path`: a folder (model.safetensors or model.safetensors.index.json inside), a .safetensors
  // file, or an index .json file. Throws ModelLoadError naming the file on any inconsistency.
  static SafetensorsCheckpoint open(const std::string& path);

  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  // The tensor in `dtype` on `device`. On the CPU in the stored dtype it aliases the read-only
  // mapping (no copy; the tensor keeps the file mapped; writing to it faults) unless
  // `copy` is set; otherwise it is a converted copy.
  at::Tensor tensor(const std::string& name, at::ScalarType dtype, at::Device device,
                    bool copy = false) const;
  const std::vector<std::string>& files() const { return paths_; }

 private:
  std::vector<std::string> paths_;
  std::vector<std::shared_ptr<MappedFile>> files_;
  std::map<std::string, TensorInfo> tensors_;
};

}  // namespace glyph::vlm
