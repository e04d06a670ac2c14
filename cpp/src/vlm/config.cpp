#include "glyph/vlm/config.h"

#include <filesystem>
#include <type_traits>
#include <vector>
#include <nlohmann/json.hpp>

#include "common/check.h"
#include "common/json_number.h"
#include "glyph/common/file.h"

namespace glyph::vlm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

template <typename T>
constexpr bool kWhole = std::is_integral_v<T> && !std::is_same_v<T, bool>;
template <typename T>
struct WholeList : std::false_type {};
template <typename T>
struct WholeList<std::vector<T>> : std::bool_constant<kWhole<T>> {};

template <typename T>
T whole(const json& v, const std::string& origin, const char* section, const char* key) {
  const auto w = json_whole<T>(v);  // get<T>() would cast a float: undefined out of range
  GLYPH_CHECK(w.has_value(), ModelLoadError, "{}: key {}{}{} must be a whole number{}, got {}",
              origin, section, *section ? "." : "", key,
              std::is_signed_v<T> && sizeof(T) == 8 ? "" : " in range", v.dump());
  return *w;
}

template <typename T>
void get(const json& j, const char* key, T& out, const std::string& origin, const char* section) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if constexpr (kWhole<T>) {
    out = whole<T>(*it, origin, section, key);
  } else if constexpr (WholeList<T>::value) {
    GLYPH_CHECK(it->is_array(), ModelLoadError, "{}: key {}{}{} must be a list of whole numbers, got {}",
                origin, section, *section ? "." : "", key, it->dump());
    T v;
    for (const json& e : *it) v.push_back(whole<typename T::value_type>(e, origin, section, key));
    out = std::move(v);
  } else {
    try {
      out = it->get<T>();
    } catch (const json::exception& e) {
      GLYPH_THROW(ModelLoadError, "{}: key {}{}{} has the wrong type ({})", origin, section,
                  *section ? "." : "", key, e.what());
    }
  }
}

void positive(long long v, const char* key, const std::string& origin) {
  GLYPH_CHECK(v > 0, ModelLoadError, "{}: {} must be positive, got {}", origin, key, v);
}

}  // namespace

Glm4vConfig parse_config(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
    GLYPH_THROW(ModelLoadError, "{}: not valid JSON ({})", origin, e.what());
  }
  GLYPH_CHECK(j.is_object(), ModelLoadError, "{}: expected a JSON object", origin);
  std::string model_type = j.value("model_type", std::string());
  GLYPH_CHECK(model_type == "glm4v", ModelLoadError,
              "{}: model_type is '{}', glyphcpp loads 'glm4v' (GLM-4.1V / Glyph) checkpoints", origin,
              model_type);
  GLYPH_CHECK(j.contains("text_config") && j["text_config"].is_object(), ModelLoadError,
              "{}: missing object text_config", origin);
  GLYPH_CHECK(j.contains("vision_config") && j["vision_config"].is_object(), ModelLoadError,
              "{}: missing object vision_config", origin);

  Glm4vConfig c;
  const json& t = j["text_config"];
  auto& tc = c.text;
  get(t, "vocab_size", tc.vocab_size, origin, "text_config");
  get(t, "hidden_size", tc.hidden_size, origin, "text_config");
  get(t, "intermediate_size", tc.intermediate_size, origin, "text_config");
  get(t, "num_hidden_layers", tc.num_hidden_layers, origin, "text_config");
  get(t, "num_attention_heads", tc.num_attention_heads, origin, "text_config");
  get(t, "num_key_value_heads", tc.num_key_value_heads, origin, "text_config");
  get(t, "rms_norm_eps", tc.rms_norm_eps, origin, "text_config");
  get(t, "rope_theta", tc.rope_theta, origin, "text_config");
  get(t, "partial_rotary_factor", tc.partial_rotary_factor, origin, "text_config");
  get(t, "attention_bias", tc.attention_bias, origin, "text_config");
  get(t, "hidden_act", tc.hidden_act, origin, "text_config");
  get(t, "max_position_embeddings", tc.max_position_embeddings, origin, "text_config");
  int head_dim = 0;
  get(t, "head_dim", head_dim, origin, "text_config");
  // rope settings live in rope_scaling (transformers 4.x) or rope_parameters (5.x).
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (t.contains(key) && t[key].is_object()) {
      const json& r = t[key];
      get(r, "mrope_section", tc.mrope_section, origin, key);
      get(r, "rope_theta", tc.rope_theta, origin, key);
      get(r, "partial_rotary_factor", tc.partial_rotary_factor, origin, key);
      std::string type = r.value("rope_type", r.value("type", std::string("default")));
      GLYPH_CHECK(type == "default" || type == "mrope", NotImplementedError,
                  "{}: text_config.{}.rope_type '{}' is not implemented (only default M-RoPE)",
                  origin, key, type);
    }
  }
  c.text.tie_word_embeddings = j.value("tie_word_embeddings", t.value("tie_word_embeddings", false));
  positive(tc.vocab_size, "text_config.vocab_size", origin);
  positive(tc.hidden_size, "text_config.hidden_size", origin);
  positive(tc.intermediate_size, "text_config.intermediate_size", origin);
  positive(tc.num_hidden_layers, "text_config.num_hidden_layers", origin);
  positive(tc.num_attention_heads, "text_config.num_attention_heads", origin);
  positive(tc.num_key_value_heads, "text_config.num_key_value_heads", origin);
  positive(tc.max_position_embeddings, "text_config.max_position_embeddings", origin);
  if (head_dim > 0) {
    tc.head_dim = head_dim;  // may differ from hidden / heads (q/o projections are heads x head_dim)
  } else {
    GLYPH_CHECK(tc.hidden_size % tc.num_attention_heads == 0, ModelLoadError,
                "{}: text_config.hidden_size {} is not a multiple of num_attention_heads {} (and "
                "no head_dim is given)",
                origin, tc.hidden_size, tc.num_attention_heads);
    tc.head_dim = tc.hidden_size / tc.num_attention_heads;
  }
  GLYPH_CHECK(tc.head_dim % 4 == 0, ModelLoadError,
              "{}: text_config head_dim {} must be a multiple of 4 (M-RoPE rotates pairs of half "
              "the dims)", origin, tc.head_dim);
  GLYPH_CHECK(tc.num_attention_heads % tc.num_key_value_heads == 0, ModelLoadError,
              "{}: text_config.num_attention_heads {} is not a multiple of num_key_value_heads {}",
              origin, tc.num_attention_heads, tc.num_key_value_heads);
  GLYPH_CHECK(tc.hidden_act == "silu", NotImplementedError,
              "{}: text_config.hidden_act '{}' is not implemented (silu only)", origin, tc.hidden_act);
  int rot = static_cast<int>(tc.head_dim * tc.partial_rotary_factor);
  int sec = 0;
  for (int s : tc.mrope_section) sec += s;
  GLYPH_CHECK(tc.mrope_section.size() == 3 && 2 * sec == rot, ModelLoadError,
              "{}: text_config mrope_section must be 3 numbers summing to rotary_dim/2 = {}, got sum {}",
              origin, rot / 2, sec);

  const json& v = j["vision_config"];
  auto& vc = c.vision;
  get(v, "hidden_size", vc.hidden_size, origin, "vision_config");
  get(v, "depth", vc.depth, origin, "vision_config");
  get(v, "num_heads", vc.num_heads, origin, "vision_config");
  get(v, "intermediate_size", vc.intermediate_size, origin, "vision_config");
  get(v, "out_hidden_size", vc.out_hidden_size, origin, "vision_config");
  get(v, "patch_size", vc.patch_size, origin, "vision_config");
  get(v, "temporal_patch_size", vc.temporal_patch_size, origin, "vision_config");
  get(v, "spatial_merge_size", vc.spatial_merge_size, origin, "vision_config");
  get(v, "in_channels", vc.in_channels, origin, "vision_config");
  get(v, "image_size", vc.image_size, origin, "vision_config");
  get(v, "rms_norm_eps", vc.rms_norm_eps, origin, "vision_config");
  get(v, "attention_bias", vc.attention_bias, origin, "vision_config");
  get(v, "hidden_act", vc.hidden_act, origin, "vision_config");
  for (const char* key : {"rope_scaling", "rope_parameters"})
    if (v.contains(key) && v[key].is_object()) get(v[key], "rope_theta", vc.rope_theta, origin, key);
  for (auto [val, key] : {std::pair{vc.hidden_size, "hidden_size"}, {vc.depth, "depth"},
                          {vc.num_heads, "num_heads"}, {vc.patch_size, "patch_size"},
                          {vc.out_hidden_size, "out_hidden_size"},
                          {vc.intermediate_size, "intermediate_size"},
                          {vc.image_size, "image_size"}})
    positive(val, (std::string("vision_config.") + key).c_str(), origin);
  GLYPH_CHECK(vc.hidden_size % vc.num_heads == 0, ModelLoadError,
              "{}: vision_config.hidden_size {} is not a multiple of num_heads {}", origin,
              vc.hidden_size, vc.num_heads);
  GLYPH_CHECK(vc.out_hidden_size == tc.hidden_size, ModelLoadError,
              "{}: vision_config.out_hidden_size {} must equal text_config.hidden_size {}", origin,
              vc.out_hidden_size, tc.hidden_size);
  GLYPH_CHECK(vc.hidden_act == "silu", NotImplementedError,
              "{}: vision_config.hidden_act '{}' is not implemented (silu only)", origin,
              vc.hidden_act);

  get(j, "image_token_id", c.image_token_id, origin, "");
  get(j, "image_start_token_id", c.image_start_token_id, origin, "");
  get(j, "image_end_token_id", c.image_end_token_id, origin, "");
  get(j, "video_start_token_id", c.video_start_token_id, origin, "");
  get(j, "video_end_token_id", c.video_end_token_id, origin, "");
  const json* eos = nullptr;
  if (t.contains("eos_token_id")) eos = &t["eos_token_id"];
  if (j.contains("eos_token_id")) eos = &j["eos_token_id"];
  if (eos && eos->is_number_integer())
    c.eos_token_ids = {whole<std::int64_t>(*eos, origin, "", "eos_token_id")};
  if (eos && eos->is_array()) {
    c.eos_token_ids.clear();
    for (const json& e : *eos) c.eos_token_ids.push_back(whole<std::int64_t>(e, origin, "", "eos_token_id"));
  }
  if (j.contains("torch_dtype") && j["torch_dtype"].is_string()) c.torch_dtype = j["torch_dtype"];
  if (j.contains("dtype") && j["dtype"].is_string()) c.torch_dtype = j["dtype"];
  return c;
}

GenerationDefaults parse_generation_config(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
    GLYPH_THROW(ModelLoadError, "{}: not valid JSON ({})", origin, e.what());
  }
  GLYPH_CHECK(j.is_object(), ModelLoadError, "{}: expected a JSON object", origin);
  GenerationDefaults g;
  g.from_file = true;
  get(j, "do_sample", g.do_sample, origin, "");
  get(j, "temperature", g.temperature, origin, "");
  get(j, "top_p", g.top_p, origin, "");
  get(j, "top_k", g.top_k, origin, "");
  get(j, "repetition_penalty", g.repetition_penalty, origin, "");
  if (j.contains("eos_token_id")) {
    const json& e = j["eos_token_id"];
    if (e.is_number_integer()) g.eos_token_ids = {whole<std::int64_t>(e, origin, "", "eos_token_id")};
    else if (e.is_array()) get(j, "eos_token_id", g.eos_token_ids, origin, "");
    else if (!e.is_null())
      GLYPH_THROW(ModelLoadError, "{}: eos_token_id must be an id or a list of ids", origin);
  }
  GLYPH_CHECK(g.temperature > 0, ModelLoadError, "{}: temperature must be > 0, got {}", origin,
              g.temperature);
  GLYPH_CHECK(g.top_p > 0 && g.top_p <= 1, ModelLoadError, "{}: top_p must be in (0, 1], got {}",
              origin, g.top_p);
  GLYPH_CHECK(g.top_k >= 0, ModelLoadError, "{}: top_k must be >= 0, got {}", origin, g.top_k);
  GLYPH_CHECK(g.repetition_penalty > 0, ModelLoadError,
              "{}: repetition_penalty must be > 0, got {}", origin, g.repetition_penalty);
  return g;
}

GenerationDefaults load_generation_config(const std::string& dir) {
  fs::path p = fs::path(dir) / "generation_config.json";
  if (!fs::exists(p)) return {};
  return parse_generation_config(read_file(p.string(), "generation config"), p.string());
}

Glm4vConfig load_config(const std::string& path) {
  fs::path p(path);
  if (fs::is_directory(p)) p /= "config.json";
  std::string text;
  try {
    text = read_file(p.string(), "model config");
  } catch (const IoError& e) {
    GLYPH_THROW(ModelLoadError, "{} (a GLM-4.1V checkpoint needs config.json)", e.what());
  }
  return parse_config(text, p.string());
}

}  // namespace glyph::vlm
