// The model's private parts, one file per job:
//   weights.cpp   the weight table (name, shape, slot, init) behind validation, loading and
//                 random initialisation;
//   vision.cpp    the vision tower and merger, pages in bounded batches, the feature cache;
//   text.cpp      M-RoPE positions, prompt embedding and the decoder over a batched KV cache;
//   generate.cpp  sampling on the device, generate and generate_batch;
//   model.cpp     the public API (glyph/vlm/glm4v.h).
#pragma once

#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "glyph/common/error.h"
#include "glyph/vlm/glm4v.h"

namespace glyph::vlm {

struct VisionBlock {
  at::Tensor norm1, norm2, qkv_w, qkv_b, proj_w, gate_w, up_w, down_w;
};
struct TextLayer {
  at::Tensor q_w, q_b, k_w, k_b, v_w, v_b, o_w, gate_up_w, down_w;
  at::Tensor in_norm, post_self_attn_norm, post_attn_norm, post_mlp_norm;
};

struct Weights {
  // vision
  at::Tensor patch_w, patch_b, post_conv_norm, pos_table, post_norm, down_w, down_b;
  at::Tensor merger_proj, merger_ln_w, merger_ln_b, merger_gate, merger_up, merger_down;
  std::vector<VisionBlock> vblocks;
  // text
  at::Tensor embed, final_norm, lm_head;
  std::vector<TextLayer> layers;
};

// One row of the weight table: the canonical name ("visual.*", "lm.*", "lm_head.weight"), the
// shape the config implies, where the tensor goes, and how a random model fills it.
enum class Init { kMatrix, kNormWeight, kBias, kEmbedding };
struct WeightSpec {
  std::string name;
  std::vector<std::int64_t> shape;
  at::Tensor* slot;
  Init init;
};
std::vector<WeightSpec> weight_table(const Glm4vConfig& cfg, Weights& w);

// Checkpoint name -> canonical name (both transformers layouts).
std::string canonical_name(const std::string& checkpoint_name);

struct LoadReport {
  std::vector<std::string> skipped;  // unexpected tensors, left unread
  double seconds = 0;
  double bytes = 0;
};
// Checks every tensor of `dir`'s checkpoint against the table (missing or misshaped: one
// ModelLoadError naming them; unexpected: one warning, skipped), then reads each into its slot
// in `dtype` on `device`, through a bounded pinned staging buffer when the device is not the CPU.
LoadReport load_weights(const std::string& dir, const Glm4vConfig& cfg, at::ScalarType dtype,
                        at::Device device, std::int64_t staging_bytes, Weights& w);
// Random weights made directly on `device` (normal(0, 0.02) matrices, unit norms, zero biases).
void random_weights(const Glm4vConfig& cfg, at::ScalarType dtype, at::Device device,
                    std::uint64_t seed, Weights& w);

// Vision features by page content: key = a 128-bit hash of an image's patch rows and grid.
// Least recently used out once the bytes held pass the bound.
class FeatureCache {
 public:
  struct Key {
    std::uint64_t a = 0, b = 0;
    bool operator==(const Key& o) const { return a == o.a && b == o.b; }
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const { return static_cast<std::size_t>(k.a ^ (k.b * 31)); }
  };
  void set_capacity(std::int64_t bytes);
  std::int64_t capacity() const { return capacity_; }
  bool get(const Key& k, at::Tensor& out);
  void put(const Key& k, const at::Tensor& features);
  std::int64_t bytes() const;
  std::int64_t entries() const;
  std::int64_t hits() const { return hits_; }
  std::int64_t misses() const { return misses_; }
  void clear();

 private:
  void evict_locked();
  mutable std::mutex mu_;
  std::int64_t capacity_ = 0, bytes_ = 0, hits_ = 0, misses_ = 0;
  std::list<std::pair<Key, at::Tensor>> lru_;  // front: most recent
  std::unordered_map<Key, std::list<std::pair<Key, at::Tensor>>::iterator, KeyHash> index_;
};
FeatureCache::Key feature_key(const at::Tensor& patch_rows, const std::int64_t grid[3]);
// Keys from the pages themselves (ImageBatch::image_keys), for patches made on a device from
// uint8 pages: a hash of each page's size and bytes and of the patches' dtype. A different key
// space from feature_key's (the salt differs), so the two never collide by construction.
std::vector<std::array<std::uint64_t, 2>> page_keys(const std::vector<ImageView>& views,
                                                    at::ScalarType dtype);

class Glm4vImpl {
 public:
  Glm4vConfig cfg;
  GenerationDefaults gen;
  ImageProcessor proc;
  RuntimeOptions runtime;
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  Weights w;
  at::Tensor vis_inv_freq;     // float32 [head_dim / 4]
  at::Tensor txt_inv_freq;     // float32 [rotary_dim / 2]
  at::Tensor freq_axis;        // int64 [rotary_dim / 2] on device: M-RoPE axis of each frequency
  mutable FeatureCache features;
  LoadInfo load_info;
  // A decode step of this model failed to be captured into a CUDA graph once (generate.cpp):
  // later generations decode eagerly without trying again.
  mutable std::atomic<bool> graph_capture_failed{false};

  // After the weights are in place: rotary tables, the image processor's grid settings.
  void finish_setup();

  // vision.cpp: the tower for every image of the batch, in bounded batches of pages, cached.
  // image_keys: ImageBatch::image_keys (empty: key CPU pixel_values by content, no cache for
  // device pixel_values).
  at::Tensor vision(const at::Tensor& pixel_values, const at::Tensor& grid_thw,
                    const std::vector<std::array<std::uint64_t, 2>>& image_keys = {}) const;
  at::Tensor vision_uncached(const at::Tensor& pixel_values, const std::vector<std::int64_t>& grid) const;

  // text.cpp
  // Positions [3, L] of `ids` whose first token sits at position `start`, and the position
  // after them (max + 1).
  std::pair<at::Tensor, std::int64_t> rope_index(const std::vector<std::int64_t>& ids,
                                                 const at::Tensor& grid_thw,
                                                 std::int64_t start = 0) const;
  // Embeddings of ids[begin, end) (ids_device: the same ids on the device), with the image
  // features from row image_offset on put in the <|image|> slots, image_offset advanced past
  // them. The slots are found on the host, so the device is never waited for.
  at::Tensor embed_tokens(const std::vector<std::int64_t>& ids, const at::Tensor& ids_device,
                          std::int64_t begin, std::int64_t end, const at::Tensor& features,
                          std::int64_t& image_offset) const;
  // Features of all images of a prompt, checked against its <|image|> count.
  at::Tensor prompt_features(const std::vector<std::int64_t>& ids, const ImageBatch* images) const;
  // Runs `embeds` [B, L, D] at `positions` [3, B, L] through the decoder, appending to `cache`
  // (rows `slot`.. of a batched cache); returns the final-norm hidden states [B, L, D].
  at::Tensor decoder(const at::Tensor& embeds, const at::Tensor& positions, KvCache& cache,
                     std::int64_t slot) const;
  // Prefills one sequence into row `slot` of `cache` chunk by chunk; returns the hidden state
  // of the rows in `keep` (default: the last), [n, D].
  at::Tensor prefill_sequence(const std::vector<std::int64_t>& ids, const ImageBatch* images,
                              KvCache& cache, std::int64_t slot,
                              const std::vector<std::int64_t>* keep = nullptr) const;
  at::Tensor logits(const at::Tensor& hidden) const;  // float32 [.., vocab]
};

// What each public entry point (model.cpp) holds while it runs: inference mode, and the model's
// device made current, so whatever it allocates (caches, generators, streams, events) lands on the
// model's device whichever one the caller has current.
struct EntryGuard {
  explicit EntryGuard(at::Device d) : device(d) {}
  at::InferenceMode inference;
  c10::OptionalDeviceGuard device;
};

// `d` checked against this machine (InputError: not the CPU or CUDA, no CUDA device, an index
// past the last) and with its index filled in ("cuda" -> the current CUDA device), so a model
// stays on the device it was loaded on.
at::Device concrete_device(at::Device d);

// RMSNorm as transformers computes it: in float32, scaled by the weight in the input's dtype.
inline at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
  at::Tensor xf = x.to(at::kFloat);
  xf = xf * at::rsqrt(xf.pow(2).mean(-1, true) + eps);
  return w * xf.to(x.scalar_type());
}

// Checks a RuntimeOptions (InputError naming the field); used wherever options come in.
void check_runtime_options(const RuntimeOptions& r);

// text.cpp: room for `tokens` in each of `batch` sequences (allocated once, else grown).
void reserve_cache(const Glm4vImpl& m, KvCache& cache, std::int64_t batch, std::int64_t tokens);
// generate.cpp: generate and generate_batch.
std::vector<GenerateResult> run_generation(const Glm4vImpl& m,
                                           const std::vector<BatchPrompt>& prompts,
                                           const GenerateOptions& opt);

DecodeBenchmark benchmark_decode(const Glm4vImpl& m, std::int64_t batch, std::int64_t context,
                                 int steps, std::uint64_t seed);

// Runs f(); an out-of-memory error from torch (host or device) becomes glyph::OutOfMemoryError
// saying what ran out during `what` and what to reduce, instead of a c10::Error.
template <typename F>
auto guard_oom(const char* what, const char* what_to_reduce, F&& f) -> decltype(f()) {
  auto fail = [&](const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (msg.size() > 300) msg = msg.substr(0, 300) + "...";
    return OutOfMemoryError(std::string("out of memory during ") + what + ": reduce " +
                            what_to_reduce + " (" + msg + ")");
  };
  try {
    return f();
  } catch (const c10::OutOfMemoryError& e) {  // a device allocator
    throw fail(e);
  } catch (const c10::Error& e) {
    // Failed allocations reported as plain errors: the CPU allocator's, a CUDA call's own
    // (pinned host memory, memory outside torch's allocator) and cuBLAS's workspace.
    const std::string msg = e.what_without_backtrace();
    for (const char* sign : {"can't allocate memory", "not enough memory", "out of memory",
                             "CUBLAS_STATUS_ALLOC_FAILED"})
      if (msg.find(sign) != std::string::npos) throw fail(e);
    throw;
  }
}

}  // namespace glyph::vlm
