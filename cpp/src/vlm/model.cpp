// GLM-4.1V forward passes (vision tower, M-RoPE decoder), loading and generation. The arithmetic
// follows transformers' modeling_glm4v.py step by step so float32 results agree to rounding.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include <ATen/core/grad_mode.h>

#include "common/check.h"
#include "glyph/vlm/glm4v.h"
#include "glyph/vlm/safetensors.h"
#include "vlm/ops/attention.h"
#include "vlm/ops/patch_embed.h"

namespace glyph::vlm {

namespace fs = std::filesystem;
using at::Tensor;

namespace {

struct VisionBlock {
  Tensor norm1, norm2, qkv_w, qkv_b, proj_w, gate_w, up_w, down_w;
};
struct TextLayer {
  Tensor q_w, q_b, k_w, k_b, v_w, v_b, o_w, gate_up_w, down_w;
  Tensor in_norm, post_self_attn_norm, post_attn_norm, post_mlp_norm;
};

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Checkpoint name -> the canonical name used here: "visual.*", "lm.*" (decoder), "lm_head.weight".
// Accepts both transformers layouts (model.language_model.* and the older model.layers.*).
std::string canonical(const std::string& n) {
  auto starts = [&](const char* p) { return n.rfind(p, 0) == 0; };
  if (starts("model.visual.")) return n.substr(6);
  if (starts("visual.")) return n;
  if (starts("model.language_model.")) return "lm." + n.substr(21);
  if (starts("language_model.")) return "lm." + n.substr(15);
  if (starts("model.")) return "lm." + n.substr(6);
  return n;
}

Tensor rms_norm(const Tensor& x, const Tensor& w, double eps) {
  auto xf = x.to(at::kFloat);
  auto var = xf.pow(2).mean(-1, true);
  xf = xf * at::rsqrt(var + eps);
  return w * xf.to(x.scalar_type());
}

Tensor rotate_half(const Tensor& x) {
  auto h = x.size(-1) / 2;
  return at::cat({-x.slice(-1, h), x.slice(-1, 0, h)}, -1);
}

// GLM's interleaved rotate: pairs (2i, 2i+1) -> (-x[2i+1], x[2i]).
Tensor rotate_pairs(const Tensor& x) {
  auto x1 = x.slice(-1, 0, c10::nullopt, 2);
  auto x2 = x.slice(-1, 1, c10::nullopt, 2);
  return at::stack({-x2, x1}, -1).flatten(-2);
}

}  // namespace

class Glm4vImpl {
 public:
  Glm4vConfig cfg;
  ImageProcessor proc;
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;

  // vision
  Tensor patch_w, patch_b, post_conv_norm, pos_table, post_norm, down_w, down_b;
  Tensor merger_proj, merger_ln_w, merger_ln_b, merger_gate, merger_up, merger_down;
  std::vector<VisionBlock> vblocks;
  Tensor vis_inv_freq;  // float32 [head_dim / 4]
  // text
  Tensor embed, final_norm, lm_head;
  std::vector<TextLayer> layers;
  Tensor txt_inv_freq;  // float32 [rotary_dim / 2]
  std::vector<int> freq_axis;  // M-RoPE: which of (t, h, w) drives each frequency

  void load(const std::string& dir, const LoadOptions& opt);
  Tensor vision(const Tensor& pixel_values, const Tensor& grid_thw) const;
  // Positions [3, L] of `ids` whose first token sits at position `start`, and the position
  // after them (max + 1).
  std::pair<Tensor, std::int64_t> rope_index(const std::vector<std::int64_t>& ids,
                                             const Tensor& grid_thw, std::int64_t start = 0) const;
  Tensor text(const Tensor& embeds, const Tensor& positions, KvCache& cache) const;
  Tensor embed_prompt(const std::vector<std::int64_t>& ids, const ImageBatch* images) const;
};

void Glm4vImpl::load(const std::string& dir, const LoadOptions& opt) {
  cfg = load_config(dir);
  proc = ImageProcessor::from_pretrained(dir);
  proc = ImageProcessor([&] {
    auto p = proc.params();
    p.resize.patch_size = cfg.vision.patch_size;
    p.resize.merge_size = cfg.vision.spatial_merge_size;
    p.resize.temporal_patch_size = cfg.vision.temporal_patch_size;
    return p;
  }());
  device = opt.device;
  dtype = opt.dtype;
  GLYPH_CHECK(dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf, ModelLoadError,
              "Glm4v: dtype must be float32, bfloat16 or float16");
  auto ck = SafetensorsCheckpoint::open(dir);

  const auto& v = cfg.vision;
  const auto& t = cfg.text;
  const std::int64_t V = v.hidden_size, O = v.out_hidden_size, m = v.spatial_merge_size;
  const std::int64_t H = t.hidden_size, hd = t.head_dim;
  const std::int64_t side = v.image_size / v.patch_size;
  // Expected tensors (canonical name -> shape), all checked before any weight is read.
  std::map<std::string, std::vector<std::int64_t>> want;
  want["visual.patch_embed.proj.weight"] = {V, v.in_channels, v.temporal_patch_size, v.patch_size,
                                            v.patch_size};
  want["visual.patch_embed.proj.bias"] = {V};
  want["visual.post_conv_layernorm.weight"] = {V};
  want["visual.embeddings.position_embedding.weight"] = {side * side, V};
  for (int i = 0; i < v.depth; ++i) {
    std::string b = "visual.blocks." + std::to_string(i) + ".";
    want[b + "norm1.weight"] = {V};
    want[b + "norm2.weight"] = {V};
    want[b + "attn.qkv.weight"] = {3 * V, V};
    if (v.attention_bias) want[b + "attn.qkv.bias"] = {3 * V};
    want[b + "attn.proj.weight"] = {V, V};
    want[b + "mlp.gate_proj.weight"] = {O, V};
    want[b + "mlp.up_proj.weight"] = {O, V};
    want[b + "mlp.down_proj.weight"] = {V, O};
  }
  want["visual.post_layernorm.weight"] = {V};
  want["visual.downsample.weight"] = {O, V, m, m};
  want["visual.downsample.bias"] = {O};
  want["visual.merger.proj.weight"] = {O, O};
  want["visual.merger.post_projection_norm.weight"] = {O};
  want["visual.merger.post_projection_norm.bias"] = {O};
  want["visual.merger.gate_proj.weight"] = {v.intermediate_size, O};
  want["visual.merger.up_proj.weight"] = {v.intermediate_size, O};
  want["visual.merger.down_proj.weight"] = {O, v.intermediate_size};
  want["lm.embed_tokens.weight"] = {t.vocab_size, H};
  for (int i = 0; i < t.num_hidden_layers; ++i) {
    std::string b = "lm.layers." + std::to_string(i) + ".";
    const std::int64_t q = t.num_attention_heads * hd, kv = t.num_key_value_heads * hd;
    want[b + "self_attn.q_proj.weight"] = {q, H};
    want[b + "self_attn.k_proj.weight"] = {kv, H};
    want[b + "self_attn.v_proj.weight"] = {kv, H};
    if (t.attention_bias) {
      want[b + "self_attn.q_proj.bias"] = {q};
      want[b + "self_attn.k_proj.bias"] = {kv};
      want[b + "self_attn.v_proj.bias"] = {kv};
    }
    want[b + "self_attn.o_proj.weight"] = {H, q};
    want[b + "mlp.gate_up_proj.weight"] = {2 * std::int64_t{t.intermediate_size}, H};
    want[b + "mlp.down_proj.weight"] = {H, t.intermediate_size};
    for (const char* n : {"input_layernorm", "post_self_attn_layernorm", "post_attention_layernorm",
                          "post_mlp_layernorm"})
      want[b + n + ".weight"] = {H};
  }
  want["lm.norm.weight"] = {H};
  if (!t.tie_word_embeddings) want["lm_head.weight"] = {t.vocab_size, H};

  std::map<std::string, std::string> file_name;  // canonical -> checkpoint name
  std::vector<std::string> unexpected, missing, misshaped;
  for (const auto& [name, info] : ck.tensors()) {
    std::string c = canonical(name);
    auto it = want.find(c);
    if (it == want.end()) {
      if (!(t.tie_word_embeddings && c == "lm_head.weight")) unexpected.push_back(name);
      continue;
    }
    file_name[c] = name;
    if (info.shape != it->second)
      misshaped.push_back(name + " " + shape_str(info.shape) + " (config needs " +
                          shape_str(it->second) + ")");
  }
  for (const auto& [c, shape] : want)
    if (!file_name.count(c)) missing.push_back(c);
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size() && i < 20; ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > 20) s += fmt::format(" ... ({} in all)", v.size());
    return s;
  };
  std::string err;
  if (!missing.empty()) err += "missing tensors: " + join(missing) + ". ";
  if (!misshaped.empty()) err += "tensors with the wrong shape: " + join(misshaped) + ". ";
  if (!unexpected.empty()) err += "unexpected tensors: " + join(unexpected) + ". ";
  GLYPH_CHECK(err.empty(), ModelLoadError, "{}: checkpoint does not match config.json: {}", dir,
              err);

  auto get = [&](const std::string& c) { return ck.tensor(file_name.at(c), dtype, device); };
  auto opt_get = [&](const std::string& c) { return file_name.count(c) ? get(c) : Tensor(); };
  patch_w = get("visual.patch_embed.proj.weight");
  patch_b = get("visual.patch_embed.proj.bias");
  post_conv_norm = get("visual.post_conv_layernorm.weight");
  // The position table is resampled in float32 (as transformers does) whatever the model dtype.
  pos_table = ck.tensor(file_name.at("visual.embeddings.position_embedding.weight"), dtype, device);
  for (int i = 0; i < v.depth; ++i) {
    std::string b = "visual.blocks." + std::to_string(i) + ".";
    vblocks.push_back({get(b + "norm1.weight"), get(b + "norm2.weight"), get(b + "attn.qkv.weight"),
                       opt_get(b + "attn.qkv.bias"), get(b + "attn.proj.weight"),
                       get(b + "mlp.gate_proj.weight"), get(b + "mlp.up_proj.weight"),
                       get(b + "mlp.down_proj.weight")});
  }
  post_norm = get("visual.post_layernorm.weight");
  down_w = get("visual.downsample.weight");
  down_b = get("visual.downsample.bias");
  merger_proj = get("visual.merger.proj.weight");
  merger_ln_w = get("visual.merger.post_projection_norm.weight");
  merger_ln_b = get("visual.merger.post_projection_norm.bias");
  merger_gate = get("visual.merger.gate_proj.weight");
  merger_up = get("visual.merger.up_proj.weight");
  merger_down = get("visual.merger.down_proj.weight");
  embed = get("lm.embed_tokens.weight");
  for (int i = 0; i < t.num_hidden_layers; ++i) {
    std::string b = "lm.layers." + std::to_string(i) + ".";
    layers.push_back({get(b + "self_attn.q_proj.weight"), opt_get(b + "self_attn.q_proj.bias"),
                      get(b + "self_attn.k_proj.weight"), opt_get(b + "self_attn.k_proj.bias"),
                      get(b + "self_attn.v_proj.weight"), opt_get(b + "self_attn.v_proj.bias"),
                      get(b + "self_attn.o_proj.weight"), get(b + "mlp.gate_up_proj.weight"),
                      get(b + "mlp.down_proj.weight"), get(b + "input_layernorm.weight"),
                      get(b + "post_self_attn_layernorm.weight"),
                      get(b + "post_attention_layernorm.weight"),
                      get(b + "post_mlp_layernorm.weight")});
  }
  final_norm = get("lm.norm.weight");
  lm_head = t.tie_word_embeddings ? embed : get("lm_head.weight");

  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  const std::int64_t vdim = V / v.num_heads / 2;  // rotary dims per axis pair
  vis_inv_freq = 1.0 / at::pow(v.rope_theta, at::arange(0, vdim, 2, f32) / static_cast<double>(vdim));
  const std::int64_t rot = static_cast<std::int64_t>(hd * t.partial_rotary_factor);
  txt_inv_freq = 1.0 / at::pow(t.rope_theta, at::arange(0, rot, 2, f32) / static_cast<double>(rot));
  for (int a = 0; a < 3; ++a)
    for (int k = 0; k < t.mrope_section[a]; ++k) freq_axis.push_back(a);
}

Tensor Glm4vImpl::vision(const Tensor& pixel_values, const Tensor& grid_thw_in) const {
  const auto& v = cfg.vision;
  const std::int64_t m = v.spatial_merge_size;
  Tensor grid = grid_thw_in.to(at::kCPU, at::kLong).contiguous();
  GLYPH_CHECK(grid.dim() == 2 && grid.size(1) == 3, InputError, "grid_thw must be [images, 3]");
  const auto* g = grid.data_ptr<std::int64_t>();
  std::vector<std::int64_t> cu{0}, hpos, wpos;
  std::vector<float> th, tw;
  std::int64_t max_side = 0;
  for (std::int64_t i = 0; i < grid.size(0); ++i) {
    const auto gt = g[3 * i], gh = g[3 * i + 1], gw = g[3 * i + 2];
    GLYPH_CHECK(gt > 0 && gh > 0 && gw > 0 && gh % m == 0 && gw % m == 0, InputError,
                "grid_thw row {} = ({}, {}, {}) is not a valid merge grid", i, gt, gh, gw);
    max_side = std::max({max_side, gh, gw});
    for (std::int64_t f = 0; f < gt; ++f) {
      cu.push_back(cu.back() + gh * gw);
      for (std::int64_t bh = 0; bh < gh / m; ++bh)
        for (std::int64_t bw = 0; bw < gw / m; ++bw)
          for (std::int64_t ih = 0; ih < m; ++ih)
            for (std::int64_t iw = 0; iw < m; ++iw) {
              hpos.push_back(bh * m + ih);
              wpos.push_back(bw * m + iw);
              th.push_back(static_cast<float>(gh));
              tw.push_back(static_cast<float>(gw));
            }
    }
  }
  const std::int64_t n = cu.back();
  GLYPH_CHECK(pixel_values.dim() == 2 && pixel_values.size(0) == n, InputError,
              "pixel_values has {} patches but grid_thw describes {}",
              pixel_values.dim() ? pixel_values.size(0) : 0, n);

  Tensor x = ops::patch_embed(pixel_values.to(device), patch_w, patch_b);
  x = rms_norm(x, post_conv_norm, v.rms_norm_eps);

  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  Tensor hp = at::tensor(hpos, i64).to(device), wp = at::tensor(wpos, i64).to(device);
  Tensor table = at::outer(at::arange(max_side, f32), vis_inv_freq);  // [side, hd/4]
  Tensor rpe = at::cat({table.index_select(0, hp), table.index_select(0, wp)}, -1);
  Tensor emb = at::cat({rpe, rpe}, -1);
  Tensor cos = emb.cos().unsqueeze(-2), sin = emb.sin().unsqueeze(-2);  // [n, 1, hd]

  // Learned 2D position table resampled bicubically to each image's patch grid.
  const std::int64_t side = static_cast<std::int64_t>(std::lround(std::sqrt(pos_table.size(0))));
  Tensor table2d = pos_table.view({side, side, -1}).permute({2, 0, 1}).unsqueeze(0).to(at::kFloat);
  Tensor nw = ((wp.to(at::kFloat) + 0.5) / at::tensor(tw, at::kFloat).to(device)) * 2 - 1;
  Tensor nh = ((hp.to(at::kFloat) + 0.5) / at::tensor(th, at::kFloat).to(device)) * 2 - 1;
  Tensor sgrid = at::stack({nw, nh}, -1).unsqueeze(0).unsqueeze(2);
  Tensor pos = at::grid_sampler(table2d, sgrid, /*bicubic*/ 2, /*border*/ 1, false);
  x = x + pos.squeeze(0).squeeze(-1).permute({1, 0}).to(x.scalar_type());

  const std::int64_t heads = v.num_heads, hd = v.hidden_size / v.num_heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // Every image's patches in one packed attention, bidirectional within each image.
  std::int64_t max_len = 0;
  for (std::size_t i = 0; i + 1 < cu.size(); ++i) max_len = std::max(max_len, cu[i + 1] - cu[i]);
  const Tensor cu_seqlens =
      at::tensor(std::vector<std::int32_t>(cu.begin(), cu.end()), at::kInt).to(device);
  for (const auto& b : vblocks) {
    Tensor h = rms_norm(x, b.norm1, v.rms_norm_eps);
    Tensor qkv = at::linear(h, b.qkv_w, b.qkv_b).view({n, 3, heads, hd}).permute({1, 0, 2, 3});
    Tensor q = qkv[0].to(at::kFloat), k = qkv[1].to(at::kFloat), vv = qkv[2];  // [n, heads, hd]
    q = (q * cos + rotate_half(q) * sin).to(x.scalar_type());
    k = (k * cos + rotate_half(k) * sin).to(x.scalar_type());
    Tensor a = ops::attention_varlen(q, k, vv, cu_seqlens, cu_seqlens, max_len, max_len,
                                     /*causal=*/false, scale);
    x = x + at::linear(a.reshape({n, -1}), b.proj_w);
    h = rms_norm(x, b.norm2, v.rms_norm_eps);
    x = x + at::linear(at::silu(at::linear(h, b.gate_w)) * at::linear(h, b.up_w), b.down_w);
  }
  x = rms_norm(x, post_norm, v.rms_norm_eps);
  x = x.view({-1, m, m, x.size(-1)}).permute({0, 3, 1, 2});
  x = at::conv2d(x, down_w, down_b, {m, m}).view({-1, v.out_hidden_size});
  x = at::linear(x, merger_proj);
  x = at::gelu(at::layer_norm(x, {v.out_hidden_size}, merger_ln_w, merger_ln_b, 1e-5));
  return at::linear(at::silu(at::linear(x, merger_gate)) * at::linear(x, merger_up), merger_down);
}

std::pair<Tensor, std::int64_t> Glm4vImpl::rope_index(const std::vector<std::int64_t>& ids,
                                                      const Tensor& grid_thw,
                                                      std::int64_t start) const {
  const std::int64_t L = static_cast<std::int64_t>(ids.size());
  std::vector<std::int64_t> pos(3 * L);
  std::int64_t next = start;  // st_idx: max position so far + 1
  std::int64_t img = 0;
  Tensor grid;
  if (grid_thw.defined()) grid = grid_thw.to(at::kCPU, at::kLong).contiguous();
  const std::int64_t m = cfg.vision.spatial_merge_size;
  bool in_video = false;
  std::int64_t i = 0;
  while (i < L) {
    if (ids[i] == cfg.video_start_token_id) in_video = true;
    if (ids[i] == cfg.video_end_token_id) in_video = false;
    if (ids[i] == cfg.image_token_id && !in_video) {
      GLYPH_CHECK(grid.defined() && img < grid.size(0), InputError,
                  "prompt has more <|image|> runs than images given ({})",
                  grid.defined() ? grid.size(0) : 0);
      const auto* g = grid.data_ptr<std::int64_t>() + 3 * img;
      const std::int64_t gt = g[0], gh = g[1] / m, gw = g[2] / m, count = gt * gh * gw;
      GLYPH_CHECK(i + count <= L, InputError,
                  "image {} needs {} <|image|> tokens but the prompt ends after {}", img, count,
                  L - i);
      std::int64_t mx = next - 1;
      for (std::int64_t k = 0; k < count; ++k) {
        GLYPH_CHECK(ids[i + k] == cfg.image_token_id, InputError,
                    "image {} needs {} <|image|> tokens, the run holds {}", img, count, k);
        std::int64_t p[3] = {next + k / (gh * gw), next + (k / gw) % gh, next + k % gw};
        for (int a = 0; a < 3; ++a) {
          pos[a * L + i + k] = p[a];
          mx = std::max(mx, p[a]);
        }
      }
      next = mx + 1;
      i += count;
      ++img;
      continue;
    }
    GLYPH_CHECK(ids[i] != cfg.image_token_id, NotImplementedError,
                "video inputs are not implemented (image token inside a video span)");
    for (int a = 0; a < 3; ++a) pos[a * L + i] = next;
    ++next;
    ++i;
  }
  GLYPH_CHECK(!grid.defined() || img == grid.size(0), InputError,
              "{} images given but the prompt has {} <|image|> runs", grid.size(0), img);
  return {at::tensor(pos, at::kLong).view({3, L}), next};
}

Tensor Glm4vImpl::embed_prompt(const std::vector<std::int64_t>& ids,
                               const ImageBatch* images) const {
  Tensor idt = at::tensor(ids, at::kLong).to(device);
  GLYPH_CHECK(idt.numel() == 0 || (idt.min().item<std::int64_t>() >= 0 &&
                                   idt.max().item<std::int64_t>() < cfg.text.vocab_size),
              InputError, "token ids must lie in [0, {})", cfg.text.vocab_size);
  Tensor x = at::embedding(embed, idt);
  std::int64_t n_img_tokens = 0;
  for (auto t : ids) n_img_tokens += (t == cfg.image_token_id);
  if (images && images->pixel_values.defined()) {
    Tensor feats = vision(images->pixel_values, images->grid_thw).to(x.scalar_type());
    GLYPH_CHECK(feats.size(0) == n_img_tokens, InputError,
                "images give {} visual tokens but the prompt has {} <|image|> tokens",
                feats.size(0), n_img_tokens);
    Tensor mask = (idt == cfg.image_token_id);
    x.index_put_({mask}, feats);
  } else {
    GLYPH_CHECK(n_img_tokens == 0, InputError,
                "the prompt has {} <|image|> tokens but no images were given", n_img_tokens);
  }
  return x;
}

Tensor Glm4vImpl::text(const Tensor& embeds, const Tensor& positions, KvCache& cache) const {
  const auto& t = cfg.text;
  const std::int64_t L = embeds.size(0), hd = t.head_dim;
  const std::int64_t nh = t.num_attention_heads, kvh = t.num_key_value_heads;
  // M-RoPE: frequency j rotates by the position on axis freq_axis[j]; pairs are interleaved.
  Tensor pos = positions.to(device).to(at::kFloat);  // [3, L]
  Tensor freqs = pos.unsqueeze(-1) * txt_inv_freq;   // [3, L, rot/2]
  const std::int64_t half = txt_inv_freq.size(0);
  Tensor axis_idx = at::tensor(std::vector<std::int64_t>(freq_axis.begin(), freq_axis.end()),
                               at::kLong).to(device);
  // select freqs[axis[j], :, j]
  Tensor sel = freqs.permute({1, 2, 0})                       // [L, rot/2, 3]
                   .gather(2, axis_idx.view({1, half, 1}).expand({L, half, 1}))
                   .squeeze(-1);                              // [L, rot/2]
  Tensor cos = sel.cos().to(embeds.scalar_type()).repeat_interleave(2, -1).unsqueeze(1);
  Tensor sin = sel.sin().to(embeds.scalar_type()).repeat_interleave(2, -1).unsqueeze(1);
  const std::int64_t rot = 2 * half;
  auto rope = [&](const Tensor& x) {  // x [L, heads, hd]
    Tensor xr = x.slice(-1, 0, rot);
    return at::cat({xr * cos + rotate_pairs(xr) * sin, x.slice(-1, rot)}, -1);
  };
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  if (cache.keys.empty()) {
    cache.keys.resize(layers.size());
    cache.values.resize(layers.size());
  }
  const std::int64_t past = cache.length, total = past + L;
  // The op appends this chunk's keys and values at `past` and attends over the whole cache.
  const Tensor cache_seqlens =
      at::tensor(std::vector<std::int32_t>{static_cast<std::int32_t>(past)}, at::kInt).to(device);
  Tensor x = embeds;
  for (std::size_t li = 0; li < layers.size(); ++li) {
    const auto& w = layers[li];
    Tensor h = rms_norm(x, w.in_norm, t.rms_norm_eps);
    Tensor q = rope(at::linear(h, w.q_w, w.q_b).view({L, nh, hd}));
    Tensor k = rope(at::linear(h, w.k_w, w.k_b).view({L, kvh, hd}));
    Tensor v = at::linear(h, w.v_w, w.v_b).view({L, kvh, hd});
    at::Tensor& kb = cache.keys[li];
    at::Tensor& vb = cache.values[li];
    if (!kb.defined() || kb.size(1) < total) {  // [1, capacity, kv_heads, hd] (ops/attention.h)
      const std::int64_t cap = std::max<std::int64_t>(
          {total, kb.defined() ? 2 * kb.size(1) : 0, total + 256});
      at::Tensor nk = at::empty({1, cap, kvh, hd}, k.options()),
                 nv = at::empty({1, cap, kvh, hd}, v.options());
      if (past > 0) {
        nk.slice(1, 0, past).copy_(kb.slice(1, 0, past));
        nv.slice(1, 0, past).copy_(vb.slice(1, 0, past));
      }
      kb = nk;
      vb = nv;
    }
    Tensor a = ops::attention_with_kvcache(q.unsqueeze(0), kb, vb, cache_seqlens, k.unsqueeze(0),
                                           v.unsqueeze(0), /*causal=*/true, scale);
    h = at::linear(a.view({L, nh * hd}), w.o_w);
    x = x + rms_norm(h, w.post_self_attn_norm, t.rms_norm_eps);
    h = rms_norm(x, w.post_attn_norm, t.rms_norm_eps);
    Tensor gu = at::linear(h, w.gate_up_w);
    auto parts = gu.chunk(2, -1);
    h = at::linear(parts[1] * at::silu(parts[0]), w.down_w);
    x = x + rms_norm(h, w.post_mlp_norm, t.rms_norm_eps);
  }
  cache.length += L;
  return rms_norm(x, final_norm, t.rms_norm_eps);
}

// ---- public API ----

Glm4v Glm4v::from_pretrained(const std::string& dir, const LoadOptions& opt) {
  GLYPH_CHECK(fs::is_directory(dir), ModelLoadError, "{} is not a checkpoint folder", dir);
  Glm4v m;
  auto impl = std::make_shared<Glm4vImpl>();
  at::NoGradGuard no_grad;
  impl->load(dir, opt);
  m.impl_ = std::move(impl);
  return m;
}

const Glm4vConfig& Glm4v::config() const { return impl_->cfg; }
const ImageProcessor& Glm4v::image_processor() const { return impl_->proc; }
at::Device Glm4v::device() const { return impl_->device; }
at::ScalarType Glm4v::dtype() const { return impl_->dtype; }

at::Tensor Glm4v::image_features(const at::Tensor& pixel_values, const at::Tensor& grid_thw) const {
  at::NoGradGuard no_grad;
  return impl_->vision(pixel_values.to(impl_->dtype), grid_thw);
}

std::pair<at::Tensor, std::int64_t> Glm4v::rope_index(const std::vector<std::int64_t>& ids,
                                                      const at::Tensor& grid_thw) const {
  auto [pos, next] = impl_->rope_index(ids, grid_thw);
  return {pos, next - static_cast<std::int64_t>(ids.size())};
}

at::Tensor Glm4v::prefill(const std::vector<std::int64_t>& ids, const ImageBatch* images,
                          KvCache& cache) const {
  at::NoGradGuard no_grad;
  GLYPH_CHECK(!ids.empty(), InputError, "prefill: empty prompt");
  Tensor grid = images ? images->grid_thw : Tensor();
  Tensor x = impl_->embed_prompt(ids, images);
  // A later turn continues where the cached one stopped (its images included): positions start
  // at length + delta, exactly as get_rope_index gives them for the whole conversation.
  const std::int64_t start = cache.length + cache.rope_delta;
  auto [pos, next] = impl_->rope_index(ids, grid, start);
  cache.rope_delta = next - (cache.length + static_cast<std::int64_t>(ids.size()));
  Tensor h = impl_->text(x, pos, cache);
  return at::linear(h.slice(0, -1), impl_->lm_head).to(at::kFloat).squeeze(0);
}

at::Tensor Glm4v::decode_step(std::int64_t token, KvCache& cache) const {
  at::NoGradGuard no_grad;
  GLYPH_CHECK(cache.length > 0, InputError, "decode_step: call prefill first");
  GLYPH_CHECK(token >= 0 && token < impl_->cfg.text.vocab_size, InputError,
              "token id {} outside the vocabulary", token);
  Tensor x = at::embedding(impl_->embed, at::tensor({token}, at::kLong).to(impl_->device));
  Tensor pos = at::full({3, 1}, cache.length + cache.rope_delta, at::kLong);
  Tensor h = impl_->text(x, pos, cache);
  return at::linear(h, impl_->lm_head).to(at::kFloat).squeeze(0);
}

at::Tensor Glm4v::forward(const std::vector<std::int64_t>& ids, const ImageBatch* images) const {
  at::NoGradGuard no_grad;
  GLYPH_CHECK(!ids.empty(), InputError, "forward: empty prompt");
  KvCache cache;
  Tensor x = impl_->embed_prompt(ids, images);
  Tensor pos = impl_->rope_index(ids, images ? images->grid_thw : Tensor()).first;
  Tensor h = impl_->text(x, pos, cache);
  return at::linear(h, impl_->lm_head).to(at::kFloat);
}

GenerateResult Glm4v::generate(const std::vector<std::int64_t>& ids, const ImageBatch* images,
                               const GenerateOptions& opt) const {
  using clock = std::chrono::steady_clock;
  GLYPH_CHECK(opt.max_new_tokens >= 0, InputError, "max_new_tokens must be >= 0");
  GLYPH_CHECK(opt.temperature > 0, InputError, "temperature must be > 0, got {}", opt.temperature);
  GLYPH_CHECK(opt.top_p > 0 && opt.top_p <= 1, InputError, "top_p must be in (0, 1]");
  GLYPH_CHECK(opt.repetition_penalty > 0, InputError, "repetition_penalty must be > 0");
  GenerateResult r;
  r.prompt_tokens = static_cast<int>(ids.size());
  r.stop_reason = "max_new_tokens";
  if (opt.max_new_tokens == 0) return r;
  const auto& stops = opt.stop_ids.empty() ? impl_->cfg.eos_token_ids : opt.stop_ids;
  std::set<std::int64_t> stop(stops.begin(), stops.end());
  std::set<std::int64_t> seen(ids.begin(), ids.end());
  std::mt19937_64 rng(opt.seed);
  KvCache cache;

  auto choose = [&](Tensor logits) -> std::int64_t {
    logits = logits.to(at::kCPU, at::kFloat).contiguous();
    float* l = logits.data_ptr<float>();
    const std::int64_t n = logits.numel();
    if (opt.repetition_penalty != 1.0) {
      const float p = static_cast<float>(opt.repetition_penalty);
      for (auto t : seen)
        if (t >= 0 && t < n) l[t] = l[t] < 0 ? l[t] * p : l[t] / p;
    }
    if (!opt.do_sample) return std::max_element(l, l + n) - l;
    std::vector<std::int64_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](auto a, auto b) { return l[a] > l[b]; });
    std::int64_t keep = n;
    if (opt.top_k > 0) keep = std::min<std::int64_t>(keep, opt.top_k);
    std::vector<double> prob(keep);
    const double mx = l[idx[0]] / opt.temperature;
    double sum = 0;
    for (std::int64_t i = 0; i < keep; ++i) sum += prob[i] = std::exp(l[idx[i]] / opt.temperature - mx);
    if (opt.top_p < 1.0) {  // smallest prefix whose mass reaches top_p (at least one token)
      double acc = 0;
      std::int64_t k = 0;
      while (k < keep) {
        acc += prob[k] / sum;
        ++k;
        if (acc >= opt.top_p) break;
      }
      keep = k;
      prob.resize(keep);
    }
    std::discrete_distribution<std::int64_t> dist(prob.begin(), prob.end());
    return idx[dist(rng)];
  };

  auto t0 = clock::now();
  Tensor logits = prefill(ids, images, cache);
  auto t1 = clock::now();
  r.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  for (int step = 0; step < opt.max_new_tokens; ++step) {
    std::int64_t tok = choose(logits);
    r.tokens.push_back(tok);
    seen.insert(tok);
    if (opt.on_token && !opt.on_token(tok)) {
      r.stop_reason = "callback";
      break;
    }
    if (stop.count(tok)) {
      r.stop_reason = "stop_id";
      break;
    }
    if (step + 1 == opt.max_new_tokens) break;
    logits = decode_step(tok, cache);
  }
  r.decode_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  return r;
}

}  // namespace glyph::vlm
