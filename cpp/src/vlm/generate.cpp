// Generation: the sampler (repetition penalty, temperature, top-k, top-p) on device tensors,
// the decode step (replayed from one captured CUDA graph on a CUDA device), and one decode loop
// for a single prompt and for a batch. Per token, the only copy to the host is the chosen ids
// (to test the stop ids and call on_token).
#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>

#ifdef GLYPH_WITH_CUDA
#include <ATen/core/CachingHostAllocator.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

#include "common/check.h"
#include "vlm/model_impl.h"
#include "vlm/ops/attention.h"

namespace glyph::vlm {

using at::Tensor;


namespace {

class Sampler {
 public:
  Sampler(const GenerateOptions& opt, at::Device device, const std::vector<BatchPrompt>& prompts,
          std::int64_t vocab)
      : opt_(opt), gen_(at::globalContext().defaultGenerator(device).clone()) {
    gen_.set_current_seed(opt.seed);
    if (opt.repetition_penalty != 1.0) {
      const auto b = static_cast<std::int64_t>(prompts.size());
      seen_ = at::zeros({b, vocab}, at::TensorOptions().dtype(at::kBool).device(device));
      for (std::int64_t i = 0; i < b; ++i)
        seen_[i].index_fill_(0, at::tensor(prompts[i].ids, at::kLong).to(device), true);
    }
  }

  // logits [B, vocab] float32 -> chosen ids [B] int64, on the logits' device.
  Tensor choose(Tensor l) {
    if (seen_.defined()) {
      const double p = opt_.repetition_penalty;
      l = at::where(seen_, at::where(l < 0, l * p, l / p), l);
    }
    if (!opt_.do_sample) return l.argmax(-1);
    l = l / opt_.temperature;
    const std::int64_t vocab = l.size(-1);
    if (opt_.top_k > 0 && opt_.top_k < vocab) {
      Tensor kth = std::get<0>(l.topk(opt_.top_k, -1)).narrow(-1, opt_.top_k - 1, 1);
      l = l.masked_fill(l < kth, -std::numeric_limits<float>::infinity());
    }
    if (opt_.top_p < 1.0) {  // keep the smallest prefix whose mass reaches top_p (>= 1 token)
      auto [sorted, idx] = l.sort(-1, /*descending=*/true);
      Tensor probs = sorted.softmax(-1);
      Tensor before = probs.cumsum(-1) - probs;
      Tensor drop = before >= opt_.top_p;
      drop.narrow(-1, 0, 1).fill_(false);
      sorted = sorted.masked_fill(drop, -std::numeric_limits<float>::infinity());
      l = at::empty_like(l).scatter_(-1, idx, sorted);
    }
    // One draw per row, as at::multinomial(p, 1) makes it (argmax of p / q, q ~ Exp(1)), without
    // its two checks of p, each of which waits for the device.
    Tensor p = l.softmax(-1);
    return p.div_(at::empty_like(p).exponential_(1, gen_)).argmax(-1);
  }

  void observe(const Tensor& tokens) {
    if (seen_.defined()) seen_.scatter_(1, tokens.unsqueeze(1), true);
  }

 private:
  const GenerateOptions& opt_;
  at::Generator gen_;
  Tensor seen_;  // bool [B, vocab]: tokens each sequence has seen (repetition penalty)
};

void check_options(const GenerateOptions& opt) {
  GLYPH_CHECK(opt.max_new_tokens >= 0, InputError, "max_new_tokens must be >= 0, got {}",
              opt.max_new_tokens);
  GLYPH_CHECK(opt.temperature > 0, InputError, "temperature must be > 0, got {}", opt.temperature);
  GLYPH_CHECK(opt.top_p > 0 && opt.top_p <= 1, InputError, "top_p must be in (0, 1], got {}",
              opt.top_p);
  GLYPH_CHECK(opt.top_k >= 0, InputError, "top_k must be >= 0, got {}", opt.top_k);
  GLYPH_CHECK(opt.repetition_penalty > 0, InputError, "repetition_penalty must be > 0, got {}",
              opt.repetition_penalty);
}

// One decode step of the cache's `batch` sequences: token ids [B] at M-RoPE positions `next_pos`
// [B] (advanced on the device) -> float32 logits [B, vocab], appending to rows [0, B) of a cache
// whose capacity is already enough (its tensors must not move while the step lives).
//
// Every shape is static (the cache is sized once, its lengths live on the device), so on a CUDA
// device with RuntimeOptions::cuda_graphs the step runs eagerly once on a side stream (warm-up:
// cuBLAS handles and workspaces, lazy initialisation), is captured into a CUDA graph on that
// stream the second time, and replays from then on: one launch per token instead of several
// hundred. Replays return the same logits buffer (valid until the next call). A capture is tried
// only when the warm-up's attention did not take the ATen path (float32, or a shape no kernel
// takes: it reads lengths on the host); a step that still cannot be captured warns once, stays
// eager, and the model tries no capture again (Glm4vImpl::graph_capture_failed).
class DecodeStep {
 public:
  DecodeStep(const Glm4vImpl& m, KvCache& cache, Tensor next_pos)
      : m_(m), cache_(cache), next_pos_(std::move(next_pos)), batch_(cache.batch()) {
#ifdef GLYPH_WITH_CUDA
    want_graph_ = m.device.is_cuda() && m.runtime.cuda_graphs && !m.graph_capture_failed;
#endif
  }

  Tensor operator()(const Tensor& tok) {
#ifdef GLYPH_WITH_CUDA
    if (want_graph_ && ++calls_ == 1) return warm_up(tok);
    if (want_graph_ && !graph_) capture(tok);
    if (graph_) {
      tok_in_.copy_(tok);
      graph_->replay();
      for (auto& n : cache_.lengths) ++n;  // what the captured decoder's host code did once
      return logits_out_;
    }
#endif
    return eager(tok);
  }

  bool graphed() const {
#ifdef GLYPH_WITH_CUDA
    return graph_ != nullptr;
#else
    return false;
#endif
  }

 private:
  Tensor eager(const Tensor& tok) {
    Tensor x = at::embedding(m_.w.embed, tok.unsqueeze(1));  // [B, 1, D]
    Tensor pos = next_pos_.view({1, batch_, 1}).expand({3, batch_, 1});
    Tensor h = guard_oom("decoding", "the batch size or max_new_tokens",
                         [&] { return m_.decoder(x, pos, cache_, 0); });
    next_pos_.add_(1);
    return m_.logits(h.squeeze(1));
  }

#ifdef GLYPH_WITH_CUDA
  using PoolId = decltype(at::cuda::graph_pool_handle());  // a graph's memory pool

  c10::cuda::CUDAStream main_stream() const {
    return c10::cuda::getCurrentCUDAStream(m_.device.index());
  }

  // The first step runs eagerly on the stream the capture will use, so what the ops create
  // lazily for a stream (cuBLAS workspaces, for one) exists before capturing.
  Tensor warm_up(const Tensor& tok) {
    const c10::cuda::CUDAStream main = main_stream();
    side_ = c10::cuda::getStreamFromPool(false, m_.device.index());
    order(main, *side_);
    Tensor logits;
    try {
      const c10::cuda::CUDAStreamGuard on_side(*side_);
      logits = eager(tok);
    } catch (...) {
      // What the side stream has queued (the cache appends of the layers before the failure)
      // must finish before main reuses the memory the caller frees on the way out.
      try {
        order(*side_, main);
      } catch (...) {
      }
      throw;
    }
    order(*side_, main);
    // Made on the side stream, read on the main one: its memory is not reused before main is done.
    logits.record_stream(main);
    // The ATen attention (float32, or a shape no CUDA kernel takes) reads lengths on the host:
    // the capture would fail.
    if (std::string(ops::last_attention_backend()) == "aten") want_graph_ = false;
    return logits;
  }

  // Records one step into graph_ (nothing runs while capturing). On failure graph_ stays null,
  // want_graph_ false, and the caller runs the step eagerly.
  void capture(const Tensor& tok) {
    const std::vector<std::int64_t> lengths = cache_.lengths;  // the decoder advances them on the host
    tok_in_ = tok.clone();
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    const c10::cuda::CUDAStream main = main_stream();
    const c10::cuda::CUDAStream side = *side_;
    // The graph's memory pool, named here so a failed capture can hand it back (below).
    const PoolId pool = at::cuda::graph_pool_handle();
    try {
      // The side stream sees everything queued so far (tok_in_'s copy included) before capture.
      order(main, side);
      {
        const c10::cuda::CUDAStreamGuard on_side(side);
        // Thread-local: an unsafe call (a host sync) on this thread fails the capture; other
        // threads' work is left alone.
        graph->capture_begin(pool, cudaStreamCaptureModeThreadLocal);
        try {
          logits_out_ = eager(tok_in_);
        } catch (...) {
          try {
            graph->capture_end();  // ends the invalidated capture
          } catch (...) {
          }
          throw;
        }
        graph->capture_end();
      }
      order(side, main);
      cache_.lengths = lengths;
      graph_ = std::move(graph);
    } catch (const std::exception& e) {
      (void)cudaGetLastError();  // the failed capture's error, so later launches do not report it
      cache_.lengths = lengths;
      logits_out_ = Tensor();
      release_failed_capture(pool);
      want_graph_ = false;
      m_.graph_capture_failed = true;
      TORCH_WARN_ONCE("glyph: decoding without a CUDA graph, the step could not be captured (",
                      e.what(), "); this model will not try again, and RuntimeOptions.cuda_graphs "
                      "= false skips the attempt");
    }
  }

  // A capture that CUDA invalidated makes capture_end throw before it stops routing allocations
  // to the graph's pool (device and, in torch versions that have it, pinned host) and before the
  // pool can be released: left so, the allocators would count a capture underway for good
  // (memory freed after record_stream never reclaimed, a capture check in every allocation).
  // Only where the routing is still on (capture_begin started it, capture_end did not end it):
  // past that point capture_end, or the graph's destructor, releases the pool itself, and
  // releasing it twice would fail an assert there.
  void release_failed_capture(const PoolId& pool) {
    const c10::DeviceIndex dev = m_.device.index();
    try {
      c10::cuda::CUDACachingAllocator::endAllocateToPool(dev, pool);
    } catch (...) {
      return;  // capture_end got past it
    }
    end_host_pool(at::getHostAllocator(at::kCUDA), pool);
    try {
      c10::cuda::CUDACachingAllocator::releasePool(dev, pool);
    } catch (...) {
    }
  }

  // The pinned-host allocator's pool routing, where this torch has it (not every version does).
  template <class HostAllocator>
  static auto end_host_pool(HostAllocator* host, const PoolId& pool)
      -> decltype(host->end_allocate_to_pool(pool), void()) {
    try {
      host->end_allocate_to_pool(pool);
    } catch (...) {
      return;  // not routed to (this torch's capture_begin does not) or already ended
    }
    try {
      host->release_pool(pool);
    } catch (...) {
    }
  }
  static void end_host_pool(...) {}

  // Work queued on `later` waits for what is queued on `first` now. The event is made on the
  // streams' device, whichever device is current.
  static void order(const c10::cuda::CUDAStream& first, const c10::cuda::CUDAStream& later) {
    at::cuda::CUDAEvent ev;
    ev.record(first);
    ev.block(later);
  }

  bool want_graph_ = false;
  int calls_ = 0;
  std::optional<c10::cuda::CUDAStream> side_;  // the warm-up's and the capture's stream
  std::unique_ptr<at::cuda::CUDAGraph> graph_;
  Tensor tok_in_, logits_out_;  // the graph's static input and output
#endif
  const Glm4vImpl& m_;
  KvCache& cache_;
  Tensor next_pos_;
  std::int64_t batch_;
};

// Waits for the device (a tiny copy to the host), so the clock reads the work's end.
void sync(const Tensor& t) {
  if (!t.device().is_cpu()) (void)t.reshape({-1}).narrow(0, 0, 1).to(at::kCPU);
}

}  // namespace

std::vector<GenerateResult> run_generation(const Glm4vImpl& m,
                                           const std::vector<BatchPrompt>& prompts,
                                           const GenerateOptions& opt) {
  using clock = std::chrono::steady_clock;
  check_options(opt);
  const std::int64_t B = static_cast<std::int64_t>(prompts.size());
  GLYPH_CHECK(B > 0, InputError, "generate_batch: no prompts");
  std::vector<GenerateResult> res(B);
  std::int64_t longest = 0;
  for (std::int64_t b = 0; b < B; ++b) {
    GLYPH_CHECK(!prompts[b].ids.empty(), InputError, "prompt {} is empty", b);
    res[b].prompt_tokens = static_cast<int>(prompts[b].ids.size());
    res[b].stop_reason = "max_new_tokens";
    longest = std::max<std::int64_t>(longest, prompts[b].ids.size());
  }
  const std::int64_t max_pos = m.cfg.text.max_position_embeddings;
  GLYPH_CHECK(longest <= max_pos, InputError,
              "a prompt of {} tokens is longer than this model's {} positions "
              "(text_config.max_position_embeddings): shorten the text or render it into pages",
              longest, max_pos);
  if (opt.max_new_tokens == 0) return res;
  // Tokens beyond the model's positions are not generated (stop_reason "max_position_embeddings").
  const std::int64_t budget = std::min<std::int64_t>(opt.max_new_tokens, max_pos - longest + 1);
  std::vector<std::int64_t> stops = opt.stop_ids;
  if (stops.empty()) stops = m.gen.eos_token_ids.empty() ? m.cfg.eos_token_ids : m.gen.eos_token_ids;
  const std::set<std::int64_t> stop(stops.begin(), stops.end());

  KvCache cache;
  // One allocation for the whole generation: the longest prompt plus every new token.
  guard_oom("KV cache allocation", "max_new_tokens, the batch size or the prompt length", [&] {
    reserve_cache(m, cache, B, longest + budget);
    return 0;
  });
  const std::int64_t capacity = cache.capacity();

  std::vector<Tensor> last(B);
  for (std::int64_t b = 0; b < B; ++b) {
    const auto t0 = clock::now();
    last[b] = m.logits(m.prefill_sequence(prompts[b].ids, prompts[b].images, cache, b));
    sync(last[b]);
    res[b].prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  }
  Tensor logits = B == 1 ? last[0] : at::cat(last, 0);  // [B, vocab]
  Sampler sampler(opt, m.device, prompts, m.cfg.text.vocab_size);
  std::vector<std::int64_t> next_host(B);
  for (std::int64_t b = 0; b < B; ++b) next_host[b] = cache.lengths[b] + cache.rope_deltas[b];
  Tensor next_pos = at::tensor(next_host, at::kLong).to(m.device);  // M-RoPE position, per sequence

  DecodeStep step_fn(m, cache, next_pos);
  const auto t1 = clock::now();
  std::vector<bool> active(B, true);
  std::int64_t n_active = B;
  for (std::int64_t step = 0; step < budget && n_active > 0; ++step) {
    Tensor tok = sampler.choose(logits);
    Tensor tok_host = tok.to(at::kCPU);  // the one copy to the host per token
    const auto* th = tok_host.data_ptr<std::int64_t>();
    for (std::int64_t b = 0; b < B; ++b) {
      if (!active[b]) continue;
      res[b].tokens.push_back(th[b]);
      const char* why = nullptr;
      if (opt.on_token && !opt.on_token(th[b])) why = "callback";
      else if (stop.count(th[b])) why = "stop_id";
      else if (step + 1 == budget)
        why = budget < opt.max_new_tokens ? "max_position_embeddings" : "max_new_tokens";
      if (why) {
        res[b].stop_reason = why;
        active[b] = false;
        --n_active;
      }
    }
    if (n_active == 0) break;
    sampler.observe(tok);
    logits = step_fn(tok);
  }
  const double decode = std::chrono::duration<double>(clock::now() - t1).count();
  for (auto& r : res) {
    r.decode_seconds = decode;
    r.decode_cuda_graph = step_fn.graphed();
    r.kv_capacity = capacity;
    r.kv_reallocations = cache.reallocations;
  }
  return res;
}

DecodeBenchmark benchmark_decode(const Glm4vImpl& m, std::int64_t batch, std::int64_t context,
                                 int steps, std::uint64_t seed) {
  using clock = std::chrono::steady_clock;
  GLYPH_CHECK(batch > 0 && context > 0 && steps > 0, InputError,
              "benchmark_decode: batch, context and steps must be > 0");
  constexpr int kWarmup = 2;
  KvCache cache;
  guard_oom("the decode benchmark's KV cache", "the batch or the context", [&] {
    reserve_cache(m, cache, batch, context + steps + kWarmup);
    return 0;
  });
  at::Generator gen = at::globalContext().defaultGenerator(m.device).clone();
  gen.set_current_seed(seed);
  for (std::size_t l = 0; l < cache.keys.size(); ++l) {
    cache.keys[l].slice(1, 0, context).normal_(0.0, 1.0, gen);
    cache.values[l].slice(1, 0, context).normal_(0.0, 1.0, gen);
  }
  std::fill(cache.lengths.begin(), cache.lengths.end(), context);
  cache.seqlens.fill_(context);
  const auto dev_long = at::TensorOptions().dtype(at::kLong).device(m.device);
  Tensor tok = at::randint(m.cfg.text.vocab_size, {batch}, gen, dev_long);
  Tensor next_pos = at::full({batch}, context, dev_long);
  DecodeStep decode(m, cache, next_pos);
  auto step = [&] {
    tok = decode(tok).argmax(-1);
    (void)tok.to(at::kCPU);  // generate's one copy per token
  };
  for (int i = 0; i < kWarmup; ++i) step();
  const auto t0 = clock::now();
  for (int i = 0; i < steps; ++i) step();
  DecodeBenchmark r;
  r.step_seconds = std::chrono::duration<double>(clock::now() - t0).count() / steps;
  r.cuda_graph = decode.graphed();
  return r;
}

}  // namespace glyph::vlm
