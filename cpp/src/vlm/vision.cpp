// The vision tower and merger (transformers' Glm4vVisionModel, step by step), run over pages in
// bounded batches, with features cached by page content.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/check.h"
#include "vlm/model_impl.h"
#include "vlm/ops/attention.h"
#include "vlm/ops/patch_embed.h"

namespace glyph::vlm {

using at::Tensor;

namespace {

Tensor rotate_half(const Tensor& x) {
  auto h = x.size(-1) / 2;
  return at::cat({-x.slice(-1, h), x.slice(-1, 0, h)}, -1);
}

// Two independent 64-bit hashes (FNV-1a and a multiply-rotate mix) over the same bytes.
void hash_bytes(const std::uint8_t* p, std::size_t n, std::uint64_t& a, std::uint64_t& b) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    a = (a ^ w) * 0x100000001b3ULL;
    b = ((b ^ w) * 0x9E3779B97F4A7C15ULL);
    b = (b << 29) | (b >> 35);
  }
  for (; i < n; ++i) {
    a = (a ^ p[i]) * 0x100000001b3ULL;
    b = ((b ^ p[i]) * 0x9E3779B97F4A7C15ULL);
    b = (b << 29) | (b >> 35);
  }
}

}  // namespace

FeatureCache::Key feature_key(const Tensor& rows, const std::int64_t grid[3]) {
  Tensor c = rows.contiguous();
  FeatureCache::Key k{0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL};
  hash_bytes(reinterpret_cast<const std::uint8_t*>(grid), 3 * sizeof(std::int64_t), k.a, k.b);
  const auto dt = static_cast<std::int64_t>(c.scalar_type());
  hash_bytes(reinterpret_cast<const std::uint8_t*>(&dt), sizeof dt, k.a, k.b);
  hash_bytes(static_cast<const std::uint8_t*>(c.data_ptr()),
             static_cast<std::size_t>(c.numel() * c.element_size()), k.a, k.b);
  return k;
}

std::vector<std::array<std::uint64_t, 2>> page_keys(const std::vector<ImageView>& views,
                                                    at::ScalarType dtype) {
  std::vector<std::array<std::uint64_t, 2>> keys;
  for (const ImageView& v : views) {
    FeatureCache::Key k{0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL};
    const std::int64_t head[3] = {v.width, v.height, static_cast<std::int64_t>(dtype)};
    hash_bytes(reinterpret_cast<const std::uint8_t*>(head), sizeof head, k.a, k.b);
    hash_bytes(v.rgb, static_cast<std::size_t>(v.width) * v.height * 3, k.a, k.b);
    keys.push_back({k.a, k.b});
  }
  return keys;
}

void FeatureCache::set_capacity(std::int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  capacity_ = std::max<std::int64_t>(bytes, 0);
  evict_locked();
}

bool FeatureCache::get(const Key& k, Tensor& out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(k);
  if (it == index_.end()) {
    ++misses_;
    return false;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  out = it->second->second;
  ++hits_;
  return true;
}

void FeatureCache::put(const Key& k, const Tensor& features) {
  const std::int64_t n = features.numel() * features.element_size();
  std::lock_guard<std::mutex> lock(mu_);
  if (n > capacity_ || index_.count(k)) return;
  lru_.emplace_front(k, features);
  index_[k] = lru_.begin();
  bytes_ += n;
  evict_locked();
}

void FeatureCache::evict_locked() {
  while (bytes_ > capacity_ && !lru_.empty()) {
    const auto& [k, t] = lru_.back();
    bytes_ -= t.numel() * t.element_size();
    index_.erase(k);
    lru_.pop_back();
  }
}

std::int64_t FeatureCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}
std::int64_t FeatureCache::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<std::int64_t>(lru_.size());
}
void FeatureCache::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  lru_.clear();
  index_.clear();
  bytes_ = 0;
}

Tensor Glm4vImpl::vision(const Tensor& pixel_values, const Tensor& grid_thw_in,
                         const std::vector<std::array<std::uint64_t, 2>>& image_keys) const {
  const auto& v = cfg.vision;
  const std::int64_t m = v.spatial_merge_size;
  Tensor grid = grid_thw_in.to(at::kCPU, at::kLong).contiguous();
  GLYPH_CHECK(grid.dim() == 2 && grid.size(1) == 3, InputError, "grid_thw must be [images, 3]");
  const auto* g = grid.data_ptr<std::int64_t>();
  const std::int64_t n_images = grid.size(0);
  std::vector<std::int64_t> begin{0};  // patch row where each image starts
  for (std::int64_t i = 0; i < n_images; ++i) {
    const auto gt = g[3 * i], gh = g[3 * i + 1], gw = g[3 * i + 2];
    GLYPH_CHECK(gt > 0 && gh > 0 && gw > 0 && gh % m == 0 && gw % m == 0, InputError,
                "grid_thw row {} = ({}, {}, {}) is not a valid merge grid", i, gt, gh, gw);
    begin.push_back(begin.back() + gt * gh * gw);
  }
  GLYPH_CHECK(pixel_values.dim() == 2 && pixel_values.size(0) == begin.back(), InputError,
              "pixel_values has {} patches but grid_thw describes {}",
              pixel_values.dim() ? pixel_values.size(0) : 0, begin.back());

  // Cached images come from the cache; the rest go through the tower in batches of at most
  // vision_batch_pages images (one packed attention call per block per batch).
  GLYPH_CHECK(image_keys.empty() || static_cast<std::int64_t>(image_keys.size()) == n_images,
              InputError, "image_keys has {} keys for {} images", image_keys.size(), n_images);
  const bool keyed = !image_keys.empty();
  const bool cacheable = features.capacity() > 0 && (keyed || pixel_values.device().is_cpu());
  std::vector<Tensor> out(n_images);
  std::vector<FeatureCache::Key> keys(n_images);
  std::vector<std::int64_t> todo;
  for (std::int64_t i = 0; i < n_images; ++i) {
    if (cacheable) {
      keys[i] = keyed ? FeatureCache::Key{image_keys[i][0], image_keys[i][1]}
                      : feature_key(pixel_values.slice(0, begin[i], begin[i + 1]), g + 3 * i);
      if (features.get(keys[i], out[i])) continue;
    }
    todo.push_back(i);
  }
  const std::size_t per = static_cast<std::size_t>(std::max(1, runtime.vision_batch_pages));
  for (std::size_t s = 0; s < todo.size(); s += per) {
    const std::size_t e = std::min(todo.size(), s + per);
    std::vector<Tensor> rows;
    std::vector<std::int64_t> sub_grid;
    for (std::size_t j = s; j < e; ++j) {
      const std::int64_t i = todo[j];
      rows.push_back(pixel_values.slice(0, begin[i], begin[i + 1]));
      sub_grid.insert(sub_grid.end(), g + 3 * i, g + 3 * i + 3);
    }
    Tensor feats = vision_uncached(rows.size() == 1 ? rows[0] : at::cat(rows, 0), sub_grid);
    std::int64_t at_row = 0;
    for (std::size_t j = s; j < e; ++j) {
      const std::int64_t i = todo[j];
      const std::int64_t tokens = g[3 * i] * g[3 * i + 1] * g[3 * i + 2] / (m * m);
      out[i] = feats.slice(0, at_row, at_row + tokens);
      at_row += tokens;
      if (cacheable) features.put(keys[i], out[i].clone());
    }
  }
  if (n_images == 1) return out[0];
  return at::cat(out, 0);
}

Tensor Glm4vImpl::vision_uncached(const Tensor& pixel_values,
                                  const std::vector<std::int64_t>& grid) const {
  const auto& v = cfg.vision;
  const std::int64_t m = v.spatial_merge_size;
  std::vector<std::int64_t> cu{0}, hpos, wpos;
  std::vector<float> th, tw;
  std::int64_t max_side = 0;
  for (std::size_t i = 0; i + 2 < grid.size(); i += 3) {
    const auto gt = grid[i], gh = grid[i + 1], gw = grid[i + 2];
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
  Tensor x = ops::patch_embed(pixel_values.to(device, dtype), w.patch_w, w.patch_b);
  x = rms_norm(x, w.post_conv_norm, v.rms_norm_eps);

  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  Tensor hp = at::tensor(hpos, i64).to(device), wp = at::tensor(wpos, i64).to(device);
  Tensor table = at::outer(at::arange(max_side, f32), vis_inv_freq);  // [side, hd/4]
  Tensor rpe = at::cat({table.index_select(0, hp), table.index_select(0, wp)}, -1);
  Tensor emb = at::cat({rpe, rpe}, -1);
  Tensor cos = emb.cos().unsqueeze(-2), sin = emb.sin().unsqueeze(-2);  // [n, 1, hd]

  // Learned 2D position table resampled bicubically to each image's patch grid.
  const std::int64_t side = static_cast<std::int64_t>(std::lround(std::sqrt(w.pos_table.size(0))));
  Tensor table2d = w.pos_table.view({side, side, -1}).permute({2, 0, 1}).unsqueeze(0).to(at::kFloat);
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
  for (const auto& b : w.vblocks) {
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
  x = rms_norm(x, w.post_norm, v.rms_norm_eps);
  x = x.view({-1, m, m, x.size(-1)}).permute({0, 3, 1, 2});
  x = at::conv2d(x, w.down_w, w.down_b, {m, m}).view({-1, v.out_hidden_size});
  x = at::linear(x, w.merger_proj);
  x = at::gelu(at::layer_norm(x, {v.out_hidden_size}, w.merger_ln_w, w.merger_ln_b, 1e-5));
  return at::linear(at::silu(at::linear(x, w.merger_gate)) * at::linear(x, w.merger_up),
                    w.merger_down);
}

}  // namespace glyph::vlm
