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

#include <array>
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

// Memory bounds of a loaded model; change them any time with Glm4v::set_runtime_options.
struct RuntimeOptions {
  // Tokens per decoder pass when prefilling: activations stay bounded at any prompt length.
  std::int64_t prefill_chunk = 4096;
  // Pages per vision-tower pass (all pages of a pass attend in one packed call).
  int vision_batch_pages = 8;
  // Bytes of vision features kept by page content, least recently used out (0: no cache), so a
  // second question about the same pages does not encode them again.
  std::int64_t feature_cache_bytes = std::int64_t{256} << 20;
  // On a CUDA device (in a build with GLYPH_WITH_CUDA, a bfloat16 or float16 model), generate and
  // benchmark_decode capture the decode step into one CUDA graph after a first eager step and
  // replay it for every later token (one launch a token instead of one per op). A step that
  // cannot be captured warns once and runs eagerly; GenerateResult::decode_cuda_graph says which
  // ran. Ignored on other devices.
  bool cuda_graphs = true;
};

// A device by name, for LoadOptions::device: "auto" (the current CUDA device when PyTorch sees
// one, else the CPU), "cpu", "cuda" or "cuda:N". InputError naming the value when it is not one
// of those or this machine does not have it (no CUDA device, an index past the last).
at::Device parse_device(const std::string& name);

struct LoadOptions {
  // The CPU or a CUDA device; from_pretrained and random refuse another kind, or a CUDA device
  // this machine does not have, with an InputError before reading anything.
  at::Device device = at::kCPU;
  std::optional<at::ScalarType> dtype;  // default: the checkpoint's torch_dtype
  RuntimeOptions runtime;
  // Weights travel to a non-CPU device through a pinned host buffer of this size (at least 1 MB),
  // its two halves taking turns: the checkpoint is read into one while the other is copied.
  std::int64_t staging_bytes = std::int64_t{64} << 20;
};

struct GenerateOptions {
  int max_new_tokens = 128;
  bool do_sample = false;  // greedy unless set
  double temperature = 1.0;
  double top_p = 1.0;
  int top_k = 0;                    // 0: off
  double repetition_penalty = 1.0;  // HF semantics: logits of seen tokens / (or *) penalty
  std::uint64_t seed = 0;
  // Generation stops after emitting one of these; empty: generation_config.json's eos ids, else
  // config.json's.
  std::vector<std::int64_t> stop_ids;
  // Called with each new token; return false to stop early (generate only).
  std::function<bool(std::int64_t)> on_token;

  // Glyph's recommended request settings: greedy, repetition penalty 1.1, stop at
  // <|user|> (151336), <|endoftext|> (151329) and <|observation|> (151348).
  static GenerateOptions glyph_preset();
};

// Per-layer key/value buffers [batch, capacity, kv_heads, head_dim] (the ops' KV-cache layout,
// vlm/ops/attention.h). generate sizes them once for prompt + max_new_tokens; prefill and
// decode_step on a cache of your own grow them when needed (counted in `reallocations`).
struct KvCache {
  std::vector<at::Tensor> keys, values;
  std::vector<std::int64_t> lengths;      // tokens cached, per sequence
  std::vector<std::int64_t> rope_deltas;  // M-RoPE position of the next token = length + delta
  at::Tensor seqlens;                     // int32 [batch] on the model's device (= lengths)
  int reallocations = 0;

  std::int64_t batch() const { return static_cast<std::int64_t>(lengths.size()); }
  std::int64_t capacity() const { return keys.empty() ? 0 : keys[0].size(1); }
  std::int64_t length(std::int64_t seq = 0) const { return seq < batch() ? lengths[seq] : 0; }
  std::int64_t rope_delta(std::int64_t seq = 0) const {
    return seq < batch() ? rope_deltas[seq] : 0;
  }
  void clear() { *this = KvCache(); }
};

// One prompt of a batch: ids holding the images' <|image|> runs, and the images (may be null).
struct BatchPrompt {
  std::vector<std::int64_t> ids;
  const ImageBatch* images = nullptr;
};

// How from_pretrained went. Unexpected tensors (not in GLM-4.1V's weight table) are skipped and
// listed here; the Python binding turns the list into one warning.
struct LoadInfo {
  std::vector<std::string> skipped_tensors;
  double seconds = 0;
  double bytes = 0;  // weight bytes placed on the device
  double gb_per_second() const { return seconds > 0 ? bytes / seconds / 1e9 : 0.0; }
};

class Glm4vImpl;

class Glm4v {
 public:
  // `dir` holds config.json and the safetensors weights (single or sharded). Every tensor's name,
  // dtype and shape is checked against the config before any weight is read; errors name the
  // offending tensors (ModelLoadError).
  static Glm4v from_pretrained(const std::string& dir, const LoadOptions& opt = {});
  // Random weights built directly on opt.device from any config (transformers' Glm4vConfig()
  // defaults are GLM-4.1V-9B's shapes): full-size benchmarks without a download. dtype default:
  // the config's torch_dtype.
  static Glm4v random(const Glm4vConfig& config, const LoadOptions& opt = {},
                      std::uint64_t seed = 0);

  const Glm4vConfig& config() const;
  const ImageProcessor& image_processor() const;
  // The model's image input for these pages. On the CPU: image_processor().process(views)
  // (float32 pixel_values, the transformers-exact path). On another device the pages travel there
  // as uint8 (3 bytes a pixel, through pinned memory) and ops::page_patches makes the patches
  // there in the model's dtype (the CUDA kernel when built; the same values as process, rounded to
  // the dtype), with image_keys for the feature cache.
  ImageBatch process_images(const std::vector<ImageView>& views) const;
  at::Device device() const;
  at::ScalarType dtype() const;
  // generation_config.json's sampling defaults and stop ids as options (greedy without it).
  GenerateOptions generation_defaults() const;
  const LoadInfo& load_info() const;
  const RuntimeOptions& runtime_options() const;
  void set_runtime_options(const RuntimeOptions& r);
  // The vision-feature cache: {bytes held, entries, hits, misses}.
  std::array<std::int64_t, 4> feature_cache_stats() const;
  void clear_feature_cache() const;

  // Vision tower + merger: [sum(t*h*w)/4, text hidden] image embeddings.
  at::Tensor image_features(const at::Tensor& pixel_values, const at::Tensor& grid_thw) const;
  // M-RoPE positions [3, seq] and the delta of the next text position (get_rope_index).
  std::pair<at::Tensor, std::int64_t> rope_index(const std::vector<std::int64_t>& ids,
                                                 const at::Tensor& grid_thw) const;
  // Logits (float32) for a full prompt; images fill the <|image|> slots in order. `positions`:
  // the rows wanted ([n, vocab]); empty: every row ([seq, vocab], which at long prompts is
  // large: vocab x 4 bytes a token). Runs in prefill chunks like generate.
  at::Tensor forward(const std::vector<std::int64_t>& ids, const ImageBatch* images = nullptr,
                     const std::vector<std::int64_t>& positions = {}) const;
  // Extends `cache` by `ids` and their images (a first turn, or a later turn of the same
  // conversation); returns the logits [vocab] of the last token.
  at::Tensor prefill(const std::vector<std::int64_t>& ids, const ImageBatch* images,
                     KvCache& cache) const;
  at::Tensor decode_step(std::int64_t token, KvCache& cache) const;

  GenerateResult generate(const std::vector<std::int64_t>& ids, const ImageBatch* images,
                          const GenerateOptions& opt) const;
  // Several prompts at once (each with its own pages), decoded together with per-sequence
  // stopping; greedy tokens equal generating each alone. on_token is not called.
  std::vector<GenerateResult> generate_batch(const std::vector<BatchPrompt>& prompts,
                                             const GenerateOptions& opt) const;

  // For benchmarks: seconds per greedy decode step of `batch` sequences over caches holding
  // `context` random keys and values each (decode speed does not depend on their content), as
  // generate runs it (one host copy of the chosen ids per step); `steps` timed after 2 warm-up
  // steps (on a CUDA device: the eager warm-up and the graph's capture), and whether the timed
  // steps replayed a CUDA graph.
  DecodeBenchmark benchmark_decode(std::int64_t batch, std::int64_t context, int steps,
                                   std::uint64_t seed = 0) const;

 private:
  std::shared_ptr<Glm4vImpl> impl_;
};

}  // namespace glyph::vlm
