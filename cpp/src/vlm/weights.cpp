// The weight table: every tensor GLM-4.1V has, with the shape its config implies. Validation,
// loading and random initialisation all walk this one table.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>

#include <c10/core/Event.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <fmt/format.h>

#include "common/check.h"
#include "glyph/vlm/safetensors.h"
#include "vlm/model_impl.h"

namespace glyph::vlm {

namespace {

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < 20; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > 20) s += fmt::format(" ... ({} in all)", v.size());
  return s;
}

// The safetensors dtypes a weight may be stored in.
std::optional<at::ScalarType> stored_type(const std::string& st) {
  if (st == "F32") return at::kFloat;
  if (st == "BF16") return at::kBFloat16;
  if (st == "F16") return at::kHalf;
  return std::nullopt;
}

// The pinned host buffer weights travel through to a device, as two halves that take turns (see
// load_weights). An event per half, recorded on the stream its copy went to (the device's
// current one), says when the copy engine is done with it.
class Staging {
 public:
  Staging(at::Device device, std::int64_t bytes)
      : device_(device), done_{c10::Event(device.type()), c10::Event(device.type())} {
    // Each half a multiple of 16 bytes, so it views as any dtype.
    const std::int64_t half = std::max<std::int64_t>(bytes, 1 << 20) / 32 * 16;
    buf_ = at::empty({2 * half}, at::TensorOptions().dtype(at::kByte).pinned_memory(true));
    half_[0] = buf_.slice(0, 0, half);
    half_[1] = buf_.slice(0, half, 2 * half);
  }

  // src (host, any dtype) into dst (flat, on the device), converted to dst's dtype on the way.
  void copy(const at::Tensor& src, const at::Tensor& dst) {
    for (std::int64_t i = 0; i < src.numel();) {
      if (pending_[turn_]) done_[turn_].synchronize();  // the copy out of this half is done
      at::Tensor buf = half_[turn_].view(dst.scalar_type());
      const std::int64_t n = std::min(buf.numel(), src.numel() - i);
      buf.slice(0, 0, n).copy_(src.slice(0, i, i + n));  // reads the mapping, converts
      dst.slice(0, i, i + n).copy_(buf.slice(0, 0, n), /*non_blocking=*/true);
      done_[turn_].record(c10::impl::VirtualGuardImpl(device_.type()).getStream(device_));
      pending_[turn_] = true;
      turn_ ^= 1;
      i += n;
    }
  }

  void finish() {
    for (int h = 0; h < 2; ++h)
      if (pending_[h]) done_[h].synchronize();
    pending_[0] = pending_[1] = false;
  }

  ~Staging() {
    // On an error the buffer may still be read by a queued copy: wait for it before it is freed
    // (the caching host allocator would hand it out again).
    try {
      finish();
    } catch (...) {
    }
  }

  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

 private:
  at::Tensor buf_;
  std::array<at::Tensor, 2> half_;
  at::Device device_;
  std::array<c10::Event, 2> done_;
  std::array<bool, 2> pending_{false, false};
  int turn_ = 0;
};

}  // namespace

std::string canonical_name(const std::string& n) {
  auto starts = [&](const char* p) { return n.rfind(p, 0) == 0; };
  if (starts("model.visual.")) return n.substr(6);
  if (starts("visual.")) return n;
  if (starts("model.language_model.")) return "lm." + n.substr(21);
  if (starts("language_model.")) return "lm." + n.substr(15);
  if (starts("model.")) return "lm." + n.substr(6);
  return n;
}

std::vector<WeightSpec> weight_table(const Glm4vConfig& cfg, Weights& w) {
  const auto& v = cfg.vision;
  const auto& t = cfg.text;
  const std::int64_t V = v.hidden_size, O = v.out_hidden_size, m = v.spatial_merge_size;
  const std::int64_t H = t.hidden_size, hd = t.head_dim;
  const std::int64_t side = v.image_size / v.patch_size;
  std::vector<WeightSpec> table;
  auto add = [&](std::string name, std::vector<std::int64_t> shape, at::Tensor* slot, Init init) {
    table.push_back({std::move(name), std::move(shape), slot, init});
  };
  add("visual.patch_embed.proj.weight",
      {V, v.in_channels, v.temporal_patch_size, v.patch_size, v.patch_size}, &w.patch_w,
      Init::kMatrix);
  add("visual.patch_embed.proj.bias", {V}, &w.patch_b, Init::kBias);
  add("visual.post_conv_layernorm.weight", {V}, &w.post_conv_norm, Init::kNormWeight);
  add("visual.embeddings.position_embedding.weight", {side * side, V}, &w.pos_table,
      Init::kEmbedding);
  w.vblocks.assign(v.depth, {});
  for (int i = 0; i < v.depth; ++i) {
    std::string b = "visual.blocks." + std::to_string(i) + ".";
    VisionBlock& k = w.vblocks[i];
    add(b + "norm1.weight", {V}, &k.norm1, Init::kNormWeight);
    add(b + "norm2.weight", {V}, &k.norm2, Init::kNormWeight);
    add(b + "attn.qkv.weight", {3 * V, V}, &k.qkv_w, Init::kMatrix);
    if (v.attention_bias) add(b + "attn.qkv.bias", {3 * V}, &k.qkv_b, Init::kBias);
    add(b + "attn.proj.weight", {V, V}, &k.proj_w, Init::kMatrix);
    add(b + "mlp.gate_proj.weight", {O, V}, &k.gate_w, Init::kMatrix);
    add(b + "mlp.up_proj.weight", {O, V}, &k.up_w, Init::kMatrix);
    add(b + "mlp.down_proj.weight", {V, O}, &k.down_w, Init::kMatrix);
  }
  add("visual.post_layernorm.weight", {V}, &w.post_norm, Init::kNormWeight);
  add("visual.downsample.weight", {O, V, m, m}, &w.down_w, Init::kMatrix);
  add("visual.downsample.bias", {O}, &w.down_b, Init::kBias);
  add("visual.merger.proj.weight", {O, O}, &w.merger_proj, Init::kMatrix);
  add("visual.merger.post_projection_norm.weight", {O}, &w.merger_ln_w, Init::kNormWeight);
  add("visual.merger.post_projection_norm.bias", {O}, &w.merger_ln_b, Init::kBias);
  add("visual.merger.gate_proj.weight", {v.intermediate_size, O}, &w.merger_gate, Init::kMatrix);
  add("visual.merger.up_proj.weight", {v.intermediate_size, O}, &w.merger_up, Init::kMatrix);
  add("visual.merger.down_proj.weight", {O, v.intermediate_size}, &w.merger_down, Init::kMatrix);
  add("lm.embed_tokens.weight", {t.vocab_size, H}, &w.embed, Init::kEmbedding);
  w.layers.assign(t.num_hidden_layers, {});
  for (int i = 0; i < t.num_hidden_layers; ++i) {
    std::string b = "lm.layers." + std::to_string(i) + ".";
    TextLayer& L = w.layers[i];
    const std::int64_t q = t.num_attention_heads * hd, kv = t.num_key_value_heads * hd;
    add(b + "self_attn.q_proj.weight", {q, H}, &L.q_w, Init::kMatrix);
    add(b + "self_attn.k_proj.weight", {kv, H}, &L.k_w, Init::kMatrix);
    add(b + "self_attn.v_proj.weight", {kv, H}, &L.v_w, Init::kMatrix);
    if (t.attention_bias) {
      add(b + "self_attn.q_proj.bias", {q}, &L.q_b, Init::kBias);
      add(b + "self_attn.k_proj.bias", {kv}, &L.k_b, Init::kBias);
      add(b + "self_attn.v_proj.bias", {kv}, &L.v_b, Init::kBias);
    }
    add(b + "self_attn.o_proj.weight", {H, q}, &L.o_w, Init::kMatrix);
    add(b + "mlp.gate_up_proj.weight", {2 * std::int64_t{t.intermediate_size}, H}, &L.gate_up_w,
        Init::kMatrix);
    add(b + "mlp.down_proj.weight", {H, t.intermediate_size}, &L.down_w, Init::kMatrix);
    add(b + "input_layernorm.weight", {H}, &L.in_norm, Init::kNormWeight);
    add(b + "post_self_attn_layernorm.weight", {H}, &L.post_self_attn_norm, Init::kNormWeight);
    add(b + "post_attention_layernorm.weight", {H}, &L.post_attn_norm, Init::kNormWeight);
    add(b + "post_mlp_layernorm.weight", {H}, &L.post_mlp_norm, Init::kNormWeight);
  }
  add("lm.norm.weight", {H}, &w.final_norm, Init::kNormWeight);
  if (!t.tie_word_embeddings) add("lm_head.weight", {t.vocab_size, H}, &w.lm_head, Init::kMatrix);
  return table;
}

LoadReport load_weights(const std::string& dir, const Glm4vConfig& cfg, at::ScalarType dtype,
                        at::Device device, std::int64_t staging_bytes, Weights& w) {
  const auto t0 = std::chrono::steady_clock::now();
  auto ck = SafetensorsCheckpoint::open(dir);
  std::vector<WeightSpec> table = weight_table(cfg, w);
  std::map<std::string, const WeightSpec*> want;
  for (const auto& s : table) want[s.name] = &s;

  std::map<std::string, std::string> file_name;  // canonical -> checkpoint name
  LoadReport report;
  std::vector<std::string> missing, misshaped;
  for (const auto& [name, info] : ck.tensors()) {
    std::string c = canonical_name(name);
    auto it = want.find(c);
    if (it == want.end()) {
      // A tied lm_head stored anyway is the embedding again: nothing to warn about.
      if (!(cfg.text.tie_word_embeddings && c == "lm_head.weight")) report.skipped.push_back(name);
      continue;
    }
    file_name[c] = name;
    if (info.shape != it->second->shape)
      misshaped.push_back(name + " " + shape_str(info.shape) + " (config needs " +
                          shape_str(it->second->shape) + ")");
  }
  for (const auto& s : table)
    if (!file_name.count(s.name)) missing.push_back(s.name);
  std::string err;
  if (!missing.empty()) err += "missing tensors: " + join(missing) + ". ";
  if (!misshaped.empty()) err += "tensors with the wrong shape: " + join(misshaped) + ". ";
  GLYPH_CHECK(err.empty(), ModelLoadError, "{}: checkpoint does not match config.json: {}", dir,
              err);

  // To the CPU: the checkpoint's converted (or mapped) tensor. Elsewhere: the mapped tensor is
  // converted a piece at a time into a pinned host buffer and copied over from there, so host
  // memory stays at the buffer's size whatever the checkpoint's. The buffer's two halves take
  // turns: the host reads and converts the next piece into one half while the copy engine moves
  // the last one from the other (asynchronous copies on the device's current stream, an event
  // each), so reading the disk and the transfer overlap instead of adding up.
  const bool staged = !device.is_cpu();
  std::optional<Staging> staging;
  if (staged) staging.emplace(device, staging_bytes);
  for (const auto& s : table) {
    const std::string& name = file_name.at(s.name);
    const std::optional<at::ScalarType> stored = stored_type(ck.info(name).dtype);
    if (!staged || !stored) {
      *s.slot = ck.tensor(name, dtype, device);
    } else {
      at::Tensor src = ck.tensor(name, *stored, at::kCPU).reshape({-1});  // the mapping itself
      at::Tensor dst = at::empty(s.shape, at::TensorOptions().dtype(dtype).device(device));
      staging->copy(src, dst.view({-1}));
      *s.slot = dst;
    }
    report.bytes += static_cast<double>(s.slot->numel() * s.slot->element_size());
  }
  if (staging) staging->finish();  // every copy has landed before the model is used
  if (cfg.text.tie_word_embeddings) w.lm_head = w.embed;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

void random_weights(const Glm4vConfig& cfg, at::ScalarType dtype, at::Device device,
                    std::uint64_t seed, Weights& w) {
  at::Generator gen = at::globalContext().defaultGenerator(device).clone();
  gen.set_current_seed(seed);
  const auto opts = at::TensorOptions().dtype(dtype).device(device);
  for (const auto& s : weight_table(cfg, w)) {
    switch (s.init) {
      case Init::kMatrix:
      case Init::kEmbedding:
        *s.slot = at::empty(s.shape, opts);
        s.slot->normal_(0.0, 0.02, gen);
        break;
      case Init::kNormWeight:
        *s.slot = at::ones(s.shape, opts);
        break;
      case Init::kBias:
        *s.slot = at::zeros(s.shape, opts);
        break;
    }
  }
  if (cfg.text.tie_word_embeddings) w.lm_head = w.embed;
}

}  // namespace glyph::vlm
