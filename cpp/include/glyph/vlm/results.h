// What generation and the render-and-ask pipeline return. Plain data, no torch: the Python
// package binds these in glyph._core, so `glyph.Answer` exists without torch installed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace glyph::vlm {

struct GenerateResult {
  std::vector<std::int64_t> tokens;  // new tokens only (the stop token included when hit)
  int prompt_tokens = 0;
  double prefill_seconds = 0;
  // Every decode step; on a CUDA device the first two also hold the one-off warm-up and the CUDA
  // graph's capture (Glm4v::benchmark_decode times the steady step).
  double decode_seconds = 0;
  std::string stop_reason;  // "stop_id", "max_new_tokens", "callback"
  std::int64_t kv_capacity = 0;  // tokens the KV cache was sized for (prompt + max_new_tokens)
  int kv_reallocations = 0;      // times the cache had to grow after that (0 in generate)
  bool decode_cuda_graph = false;  // decode steps replayed a captured CUDA graph (RuntimeOptions)
};

// What Glm4v::benchmark_decode measured: the steady decode step, and how it ran.
struct DecodeBenchmark {
  double step_seconds = 0;  // seconds per decode step (the chosen ids copied to the host)
  bool cuda_graph = false;  // the timed steps replayed a captured CUDA graph
};

struct Answer {
  std::string text;                  // decoded new tokens (the stop token left out), raw
  std::string reasoning;             // text's <think> part (glyph/common/reasoning.h), trimmed
  std::string content;               // the answer without the reasoning and <answer> tags
  std::vector<std::int64_t> tokens;  // new tokens, the stop token included when hit
  int pages = 0;
  std::int64_t text_tokens = 0;      // what the context costs as text (this tokenizer)
  std::int64_t visual_tokens = 0;    // what it costs as pages
  int prompt_tokens = 0;             // the whole multimodal prompt
  double render_seconds = 0, prefill_seconds = 0, decode_seconds = 0;
  std::string stop_reason;
  // Text tokens per visual token (the paper's rho); 0 without pages.
  double compression() const {
    return visual_tokens ? static_cast<double>(text_tokens) / static_cast<double>(visual_tokens)
                         : 0.0;
  }
};

}  // namespace glyph::vlm
