// GLM-4.1V (Glyph's backbone) in LibTorch: vision tower, M-RoPE text decoder, KV cache, generate.
// Loads Hugging Face checkpoints (config.json + safetensors) with no transformers in the loop.
//
//   using namespace glyph::vlm;
//   auto model = Glm4v::from_pretrained("/models/Glyph", {at::kCUDA, at::kBFloat16});
//   ImageBatch images = model.image_processor().process({view_of(page)});
//   std::vector<int64_t> prompt = ...;   // holds begin_of_image, N x <|image|>, end_of_image
//   GenerateOptions opt; opt.max_new_tokens = 64;
//   GenerateResult r = model.generate(prompt, &images, opt);
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "glyph/vlm/config.h"
#include "glyph/vlm/image_processor.h"
#include "glyph/vlm/results.h"

namespace glyph::vlm {

struct LoadOptions {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
};

struct GenerateOptions {
  int max_new_tokens = 128;
  bool do_sample = false;  // greedy unless set
  double temperature = 1.0;
  double top_p = 1.0;
  int top_k = 0;                    // 0: off
  double repetition_penalty = 1.0;  // HF semantics: logits of seen tokens / (or *) penalty
  std::uint64_t seed = 0;
  // Generation stops after emitting one of these; empty: the config's eos ids.
  std::vector<std::int64_t> stop_ids;
  // Called with each new token; return false to stop early.
  std::function<bool(std::int64_t)> on_token;
};

// Per-layer key/value buffers [1, capacity, kv_heads, head_dim] (the ops' KV-cache layout,
// vlm/ops/attention.h); the first `length` positions are filled. Capacity grows geometrically,
// so decoding appends in place instead of re-copying.
struct KvCache {
  std::vector<at::Tensor> keys, values;
  std::int64_t length = 0;      // tokens cached
  std::int64_t rope_delta = 0;  // M-RoPE position of the next token = length + rope_delta
  void clear() { keys.clear(); values.clear(); length = 0; rope_delta = 0; }
};

class Glm4vImpl;

class Glm4v {
 public:
  // `dir` holds config.json and the safetensors weights (single or sharded). Every tensor's name,
  // dtype and shape is checked against the config before any weight is read; errors name the
  // offending tensors (ModelLoadError).
  static Glm4v from_pretrained(const std::string& dir, const LoadOptions& opt = {});

  const Glm4vConfig& config() const;
  const ImageProcessor& image_processor() const;
  at::Device device() const;
  at::ScalarType dtype() const;

  // Vision tower + merger: [sum(t*h*w)/4, text hidden] image embeddings.
  at::Tensor image_features(const at::Tensor& pixel_values, const at::Tensor& grid_thw) const;
  // M-RoPE positions [3, seq] and the delta of the next text position (get_rope_index).
  std::pair<at::Tensor, std::int64_t> rope_index(const std::vector<std::int64_t>& ids,
                                                 const at::Tensor& grid_thw) const;
  // Logits [seq, vocab] (float32) for a full prompt; images fill the <|image|> slots in order.
  at::Tensor forward(const std::vector<std::int64_t>& ids, const ImageBatch* images = nullptr) const;
  // Extends `cache` by `ids` and their images (a first turn, or a later turn of the same
  // conversation); returns the logits [vocab] of the last token.
  at::Tensor prefill(const std::vector<std::int64_t>& ids, const ImageBatch* images,
                     KvCache& cache) const;
  at::Tensor decode_step(std::int64_t token, KvCache& cache) const;

  GenerateResult generate(const std::vector<std::int64_t>& ids, const ImageBatch* images,
                          const GenerateOptions& opt) const;

 private:
  std::shared_ptr<Glm4vImpl> impl_;
};

}  // namespace glyph::vlm
