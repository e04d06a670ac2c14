// The text side: M-RoPE positions (get_rope_index), prompt embedding with the image features
// in place, and the decoder over the batched KV cache, prefilled in bounded chunks.
#include <algorithm>
#include <cmath>

#include "common/check.h"
#include "vlm/model_impl.h"
#include "vlm/ops/attention.h"

namespace glyph::vlm {

using at::Tensor;

namespace {

// GLM's interleaved rotate: pairs (2i, 2i+1) -> (-x[2i+1], x[2i]).
Tensor rotate_pairs(const Tensor& x) {
  auto x1 = x.slice(-1, 0, c10::nullopt, 2);
  auto x2 = x.slice(-1, 1, c10::nullopt, 2);
  return at::stack({-x2, x1}, -1).flatten(-2);
}

// Makes room for `needed` tokens in every sequence of `cache` (batch `batch`): allocates once, or
// grows geometrically (copying what is cached; counted as a reallocation).
void ensure_capacity(KvCache& cache, std::int64_t batch, std::int64_t needed, std::size_t layers,
                     std::int64_t kvh, std::int64_t hd, const at::TensorOptions& opts) {
  if (cache.lengths.empty()) {
    cache.lengths.assign(batch, 0);
    cache.rope_deltas.assign(batch, 0);
    cache.seqlens = at::zeros({batch}, opts.dtype(at::kInt));
  }
  GLYPH_CHECK(cache.batch() == batch, InputError, "the KV cache holds {} sequences, not {}",
              cache.batch(), batch);
  const std::int64_t cap = cache.capacity();
  if (!cache.keys.empty() && cap >= needed) return;
  const std::int64_t new_cap = cache.keys.empty() ? needed : std::max(needed, 2 * cap);
  const std::int64_t used = cache.keys.empty()
                                ? 0
                                : *std::max_element(cache.lengths.begin(), cache.lengths.end());
  std::vector<Tensor> nk(layers), nv(layers);
  for (std::size_t l = 0; l < layers; ++l) {
    nk[l] = at::empty({batch, new_cap, kvh, hd}, opts);
    nv[l] = at::empty({batch, new_cap, kvh, hd}, opts);
    if (used > 0) {
      nk[l].slice(1, 0, used).copy_(cache.keys[l].slice(1, 0, used));
      nv[l].slice(1, 0, used).copy_(cache.values[l].slice(1, 0, used));
    }
  }
  if (!cache.keys.empty()) ++cache.reallocations;
  cache.keys = std::move(nk);
  cache.values = std::move(nv);
}

}  // namespace

void reserve_cache(const Glm4vImpl& m, KvCache& cache, std::int64_t batch, std::int64_t tokens) {
  const auto& t = m.cfg.text;
  ensure_capacity(cache, batch, tokens, m.w.layers.size(), t.num_key_value_heads, t.head_dim,
                  at::TensorOptions().dtype(m.dtype).device(m.device));
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

Tensor Glm4vImpl::prompt_features(const std::vector<std::int64_t>& ids,
                                  const ImageBatch* images) const {
  std::int64_t n_img_tokens = 0;
  for (auto t : ids) {
    GLYPH_CHECK(t >= 0 && t < cfg.text.vocab_size, InputError,
                "token id {} outside the vocabulary [0, {})", t, cfg.text.vocab_size);
    n_img_tokens += (t == cfg.image_token_id);
  }
  if (!images || !images->pixel_values.defined()) {
    GLYPH_CHECK(n_img_tokens == 0, InputError,
                "the prompt has {} <|image|> tokens but no images were given", n_img_tokens);
    return Tensor();
  }
  Tensor feats = guard_oom("the vision tower", "the pages per request or vision_batch_pages",
                           [&] { return vision(images->pixel_values, images->grid_thw, images->image_keys); });
  GLYPH_CHECK(feats.size(0) == n_img_tokens, InputError,
              "images give {} visual tokens but the prompt has {} <|image|> tokens", feats.size(0),
              n_img_tokens);
  return feats.to(dtype);
}

Tensor Glm4vImpl::embed_tokens(const std::vector<std::int64_t>& ids, const Tensor& ids_device,
                               std::int64_t begin, std::int64_t end, const Tensor& features,
                               std::int64_t& image_offset) const {
  Tensor x = at::embedding(w.embed, ids_device.slice(0, begin, end));
  if (!features.defined()) return x;
  std::vector<std::int64_t> slots;
  for (std::int64_t i = begin; i < end; ++i)
    if (ids[i] == cfg.image_token_id) slots.push_back(i - begin);
  const auto n = static_cast<std::int64_t>(slots.size());
  if (n > 0)
    x.index_copy_(0, at::tensor(slots, at::kLong).to(device),
                  features.slice(0, image_offset, image_offset + n));
  image_offset += n;
  return x;
}

Tensor Glm4vImpl::decoder(const Tensor& embeds, const Tensor& positions, KvCache& cache,
                          std::int64_t slot) const {
  const auto& t = cfg.text;
  const std::int64_t B = embeds.size(0), L = embeds.size(1), hd = t.head_dim;
  const std::int64_t nh = t.num_attention_heads, kvh = t.num_key_value_heads;
  // M-RoPE: frequency j rotates by the position on axis freq_axis[j]; pairs are interleaved.
  Tensor pos = positions.to(device).to(at::kFloat);  // [3, B, L]
  Tensor freqs = pos.unsqueeze(-1) * txt_inv_freq;   // [3, B, L, rot/2]
  const std::int64_t half = txt_inv_freq.size(0);
  Tensor sel = freqs.permute({1, 2, 3, 0})             // [B, L, rot/2, 3]
                   .gather(3, freq_axis.view({1, 1, half, 1}).expand({B, L, half, 1}))
                   .squeeze(-1);                       // [B, L, rot/2]
  Tensor cos = sel.cos().to(embeds.scalar_type()).repeat_interleave(2, -1).unsqueeze(2);
  Tensor sin = sel.sin().to(embeds.scalar_type()).repeat_interleave(2, -1).unsqueeze(2);
  const std::int64_t rot = 2 * half;
  auto rope = [&](const Tensor& x) {  // x [B, L, heads, hd]
    Tensor xr = x.slice(-1, 0, rot);
    return at::cat({xr * cos + rotate_pairs(xr) * sin, x.slice(-1, rot)}, -1);
  };
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // The op appends this chunk's keys and values at each sequence's length and attends over the
  // cache: rows [slot, slot + B) of the batched buffers.
  const Tensor seqlens = cache.seqlens.slice(0, slot, slot + B);
  Tensor x = embeds;
  for (std::size_t li = 0; li < w.layers.size(); ++li) {
    const auto& lw = w.layers[li];
    Tensor h = rms_norm(x, lw.in_norm, t.rms_norm_eps);
    Tensor q = rope(at::linear(h, lw.q_w, lw.q_b).view({B, L, nh, hd}));
    Tensor k = rope(at::linear(h, lw.k_w, lw.k_b).view({B, L, kvh, hd}));
    Tensor v = at::linear(h, lw.v_w, lw.v_b).view({B, L, kvh, hd});
    Tensor a = ops::attention_with_kvcache(q, cache.keys[li].slice(0, slot, slot + B),
                                           cache.values[li].slice(0, slot, slot + B), seqlens, k,
                                           v, /*causal=*/true, scale);
    h = at::linear(a.view({B, L, nh * hd}), lw.o_w);
    x = x + rms_norm(h, lw.post_self_attn_norm, t.rms_norm_eps);
    h = rms_norm(x, lw.post_attn_norm, t.rms_norm_eps);
    Tensor gu = at::linear(h, lw.gate_up_w);
    auto parts = gu.chunk(2, -1);
    h = at::linear(parts[1] * at::silu(parts[0]), lw.down_w);
    x = x + rms_norm(h, lw.post_mlp_norm, t.rms_norm_eps);
  }
  for (std::int64_t b = 0; b < B; ++b) cache.lengths[slot + b] += L;
  cache.seqlens.slice(0, slot, slot + B).add_(L);
  return rms_norm(x, w.final_norm, t.rms_norm_eps);
}

Tensor Glm4vImpl::prefill_sequence(const std::vector<std::int64_t>& ids, const ImageBatch* images,
                                   KvCache& cache, std::int64_t slot,
                                   const std::vector<std::int64_t>* keep) const {
  GLYPH_CHECK(!ids.empty(), InputError, "prefill: empty prompt");
  const std::int64_t L = static_cast<std::int64_t>(ids.size());
  const std::int64_t past = cache.length(slot);
  GLYPH_CHECK(past + L <= cfg.text.max_position_embeddings, InputError,
              "the prompt needs {} positions ({} cached + {} new) but this model was trained for "
              "at most {} (text_config.max_position_embeddings): shorten the text or render it "
              "into pages",
              past + L, past, L, cfg.text.max_position_embeddings);
  std::vector<std::int64_t> rows = keep ? *keep : std::vector<std::int64_t>{L - 1};
  for (auto r : rows)
    GLYPH_CHECK(r >= 0 && r < L, InputError, "position {} outside the prompt (length {})", r, L);
  Tensor grid = images ? images->grid_thw : Tensor();
  Tensor feats = prompt_features(ids, images);
  // A later turn continues where the cached one stopped (its images included): positions start
  // at length + delta, exactly as get_rope_index gives them for the whole conversation.
  const std::int64_t start = past + cache.rope_delta(slot);
  auto [pos, next] = rope_index(ids, grid, start);
  Tensor pos_dev = pos.to(device);
  Tensor idt = at::tensor(ids, at::kLong).to(device);
  const std::int64_t chunk = std::max<std::int64_t>(1, runtime.prefill_chunk);
  // The rows kept are copied out of each chunk as it passes, so no chunk's activations outlive it.
  Tensor kept;
  const Tensor row_index = at::tensor(rows, at::kLong);
  std::int64_t image_offset = 0;
  try {
    for (std::int64_t s = 0; s < L; s += chunk) {
      const std::int64_t e = std::min(L, s + chunk);
      Tensor x = embed_tokens(ids, idt, s, e, feats, image_offset);
      Tensor h = guard_oom("prefill", "RuntimeOptions.prefill_chunk or the prompt length", [&] {
        return decoder(x.unsqueeze(0), pos_dev.slice(1, s, e).unsqueeze(1), cache, slot);
      });
      if (!kept.defined())
        kept = at::empty({static_cast<std::int64_t>(rows.size()), h.size(2)}, h.options());
      Tensor here = ((row_index >= s) & (row_index < e)).nonzero().squeeze(1);
      if (here.numel() > 0) {
        Tensor local = row_index.index_select(0, here) - s;
        kept.index_copy_(0, here.to(device), h[0].index_select(0, local.to(device)));
      }
    }
  } catch (...) {
    // A chunk that failed (out of memory, most likely) leaves the cache as it was before this
    // prompt: the chunks already appended are forgotten, so the caller can retry on the same
    // cache with a smaller prefill_chunk. (Their keys stay in the buffers past the length, unread.)
    cache.lengths[slot] = past;
    cache.seqlens.slice(0, slot, slot + 1).fill_(past);
    throw;
  }
  cache.rope_deltas[slot] = next - (past + L);
  return kept;
}

Tensor Glm4vImpl::logits(const Tensor& hidden) const {
  return at::linear(hidden, w.lm_head).to(at::kFloat);
}

}  // namespace glyph::vlm
