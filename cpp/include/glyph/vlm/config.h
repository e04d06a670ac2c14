// GLM-4.1V configuration as read from a Hugging Face `config.json` (model_type "glm4v").
//
//   glyph::vlm::Glm4vConfig cfg = glyph::vlm::load_config("/models/Glyph");   // a folder or a file
//   cfg.text.num_hidden_layers;   // 40 for GLM-4.1V-9B
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace glyph::vlm {

struct Glm4vTextConfig {
  int vocab_size = 151552;
  int hidden_size = 4096;
  int intermediate_size = 13696;
  int num_hidden_layers = 40;
  int num_attention_heads = 32;
  int num_key_value_heads = 2;
  int head_dim = 128;  // config's head_dim when given, else hidden_size / num_attention_heads
  // Longest sequence (prompt + generated tokens) the positions were trained for; longer prompts
  // are refused.
  std::int64_t max_position_embeddings = 32768;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  double partial_rotary_factor = 0.5;
  std::vector<int> mrope_section = {8, 12, 12};
  bool attention_bias = true;
  std::string hidden_act = "silu";
  bool tie_word_embeddings = false;
};

struct Glm4vVisionConfig {
  int hidden_size = 1536;
  int depth = 24;
  int num_heads = 12;
  int intermediate_size = 13696;  // the merger's SwiGLU width
  int out_hidden_size = 4096;
  int patch_size = 14;
  int temporal_patch_size = 2;
  int spatial_merge_size = 2;
  int in_channels = 3;
  int image_size = 336;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;  // axial 2D RoPE
  bool attention_bias = false;
  std::string hidden_act = "silu";
};

struct Glm4vConfig {
  Glm4vTextConfig text;
  Glm4vVisionConfig vision;
  std::int64_t image_token_id = 151343;
  std::int64_t image_start_token_id = 151339;
  std::int64_t image_end_token_id = 151340;
  std::int64_t video_start_token_id = 151341;
  std::int64_t video_end_token_id = 151342;
  std::vector<std::int64_t> eos_token_ids = {151329, 151336, 151338};
  std::string torch_dtype = "bfloat16";  // the checkpoint's declared dtype
};

// Sampling defaults and stop ids from a checkpoint's generation_config.json (transformers'
// GenerationConfig keys). Absent keys keep these defaults (greedy, no penalty).
struct GenerationDefaults {
  bool do_sample = false;
  double temperature = 1.0;
  double top_p = 1.0;
  int top_k = 0;
  double repetition_penalty = 1.0;
  std::vector<std::int64_t> eos_token_ids;  // empty: config.json's
  bool from_file = false;                   // generation_config.json was found and read
};

// Reads and validates config.json (path to the file or to the folder holding it). Throws
// ModelLoadError naming the file and key for bad JSON, a wrong model_type or impossible values.
Glm4vConfig load_config(const std::string& path);
Glm4vConfig parse_config(const std::string& json_text, const std::string& origin = "config.json");

// generation_config.json from a checkpoint folder (defaults when the file is absent). Throws
// ModelLoadError naming the file and key when it is present but malformed.
GenerationDefaults load_generation_config(const std::string& dir);
GenerationDefaults parse_generation_config(const std::string& json_text,
                                           const std::string& origin = "generation_config.json");

}  // namespace glyph::vlm
