// GLM-4.1V's public API (glyph/vlm/glm4v.h) over the parts in model_impl.h. The arithmetic
// follows transformers' modeling_glm4v.py step by step so float32 results agree to rounding.
#include <filesystem>
#include <optional>

#include <ATen/core/grad_mode.h>

#include "common/check.h"
#include "vlm/model_impl.h"
#include "vlm/ops/page_patches.h"

namespace glyph::vlm {

namespace fs = std::filesystem;
using at::Tensor;


namespace {

at::ScalarType dtype_named(const std::string& s, const std::string& origin) {
  if (s == "float32" || s == "float") return at::kFloat;
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "float16" || s == "half") return at::kHalf;
  GLYPH_THROW(ModelLoadError, "{}: torch_dtype '{}' is not one glyphcpp runs (float32, "
              "bfloat16, float16); pass a dtype", origin, s);
}

void check_dtype(at::ScalarType d) {
  GLYPH_CHECK(d == at::kFloat || d == at::kBFloat16 || d == at::kHalf, ModelLoadError,
              "Glm4v: dtype must be float32, bfloat16 or float16");
}

}  // namespace

at::Device concrete_device(at::Device d) {
  if (d.is_cpu()) return d;
  GLYPH_CHECK(d.is_cuda(), InputError,
              "device '{}': glyphcpp runs GLM-4.1V on 'cpu' or 'cuda' ('cuda:N')", d.str());
  // hasCUDA: a CUDA build of PyTorch that finds a driver and at least one GPU
  GLYPH_CHECK(at::hasCUDA(), InputError,
              "device '{}': PyTorch finds no CUDA device here (no GPU or driver, or a CPU-only "
              "torch: torch.cuda.is_available() is False); use 'cpu' or 'auto'", d.str());
  const auto count = static_cast<std::int64_t>(at::getNumGPUs());
  GLYPH_CHECK(!d.has_index() || d.index() < count, InputError,
              "device '{}': this machine has {} CUDA device(s), 'cuda:0' to 'cuda:{}'", d.str(),
              count, count - 1);
  if (d.has_index()) return d;
  return at::empty({0}, at::TensorOptions().device(d)).device();
}

at::Device parse_device(const std::string& name) {
  if (name == "auto") return at::hasCUDA() ? concrete_device(at::kCUDA) : at::Device(at::kCPU);
  std::optional<at::Device> d;
  try {
    d = at::Device(name);
  } catch (const c10::Error&) {
  }
  GLYPH_CHECK(d && (d->is_cpu() || d->is_cuda()), InputError,
              "device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got '{}'", name);
  return concrete_device(*d);
}

void Glm4vImpl::finish_setup() {
  auto p = proc.params();
  p.resize.patch_size = cfg.vision.patch_size;
  p.resize.merge_size = cfg.vision.spatial_merge_size;
  p.resize.temporal_patch_size = cfg.vision.temporal_patch_size;
  proc = ImageProcessor(p);
  const auto& v = cfg.vision;
  const auto& t = cfg.text;
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  const std::int64_t vdim = v.hidden_size / v.num_heads / 2;  // rotary dims per axis pair
  vis_inv_freq = 1.0 / at::pow(v.rope_theta, at::arange(0, vdim, 2, f32) / static_cast<double>(vdim));
  const std::int64_t rot = static_cast<std::int64_t>(t.head_dim * t.partial_rotary_factor);
  txt_inv_freq = 1.0 / at::pow(t.rope_theta, at::arange(0, rot, 2, f32) / static_cast<double>(rot));
  std::vector<std::int64_t> axis;
  for (int a = 0; a < 3; ++a)
    for (int k = 0; k < t.mrope_section[a]; ++k) axis.push_back(a);
  freq_axis = at::tensor(axis, at::kLong).to(device);
  features.set_capacity(runtime.feature_cache_bytes);
}

GenerateOptions GenerateOptions::glyph_preset() {
  GenerateOptions o;
  o.do_sample = false;
  o.repetition_penalty = 1.1;
  o.stop_ids = {151329, 151348, 151336};
  return o;
}

Glm4v Glm4v::from_pretrained(const std::string& dir, const LoadOptions& opt) {
  GLYPH_CHECK(fs::is_directory(dir), ModelLoadError, "{} is not a checkpoint folder", dir);
  check_runtime_options(opt.runtime);
  const at::Device device = concrete_device(opt.device);
  EntryGuard guard(device);
  auto impl = std::make_shared<Glm4vImpl>();
  impl->cfg = load_config(dir);
  impl->gen = load_generation_config(dir);
  impl->proc = ImageProcessor::from_pretrained(dir);
  impl->runtime = opt.runtime;
  impl->device = device;
  impl->dtype = opt.dtype ? *opt.dtype
                          : dtype_named(impl->cfg.torch_dtype, (fs::path(dir) / "config.json").string());
  check_dtype(impl->dtype);
  LoadReport r = guard_oom("loading the weights", "the model size (a smaller dtype) or free memory",
                           [&] {
                             return load_weights(dir, impl->cfg, impl->dtype, impl->device,
                                                 opt.staging_bytes, impl->w);
                           });
  impl->load_info.skipped_tensors = std::move(r.skipped);
  impl->load_info.seconds = r.seconds;
  impl->load_info.bytes = r.bytes;
  impl->finish_setup();
  Glm4v m;
  m.impl_ = std::move(impl);
  return m;
}

Glm4v Glm4v::random(const Glm4vConfig& config, const LoadOptions& opt, std::uint64_t seed) {
  check_runtime_options(opt.runtime);
  const at::Device device = concrete_device(opt.device);
  EntryGuard guard(device);
  auto impl = std::make_shared<Glm4vImpl>();
  impl->cfg = config;
  impl->runtime = opt.runtime;
  impl->device = device;
  impl->dtype = opt.dtype ? *opt.dtype : dtype_named(config.torch_dtype, "config");
  check_dtype(impl->dtype);
  guard_oom("building random weights", "the model size (a smaller dtype) or free memory", [&] {
    random_weights(impl->cfg, impl->dtype, impl->device, seed, impl->w);
    return 0;
  });
  impl->finish_setup();
  Glm4v m;
  m.impl_ = std::move(impl);
  return m;
}

const Glm4vConfig& Glm4v::config() const { return impl_->cfg; }
const ImageProcessor& Glm4v::image_processor() const { return impl_->proc; }

ImageBatch Glm4v::process_images(const std::vector<ImageView>& views) const {
  // Where the patches are made is a placement choice (float32 on the host for a CPU model, whose
  // pixel_values the parity tests compare with transformers'); which kernel makes them on a
  // device is ops::page_patches' choice.
  if (impl_->device.is_cpu()) return impl_->proc.process(views);
  GLYPH_CHECK(!views.empty(), InputError, "process_images: no images given");
  EntryGuard guard(impl_->device);
  auto [pixels, sizes] = ops::pack_pages(views, /*pinned=*/impl_->device.is_cuda());
  ImageBatch b = ops::page_patches(pixels.to(impl_->device, /*non_blocking=*/true), sizes,
                                   impl_->proc.params(), impl_->dtype);
  b.image_keys = page_keys(views, impl_->dtype);
  return b;
}
at::Device Glm4v::device() const { return impl_->device; }
at::ScalarType Glm4v::dtype() const { return impl_->dtype; }
const LoadInfo& Glm4v::load_info() const { return impl_->load_info; }
const RuntimeOptions& Glm4v::runtime_options() const { return impl_->runtime; }

void check_runtime_options(const RuntimeOptions& r) {
  GLYPH_CHECK(r.prefill_chunk > 0, InputError, "prefill_chunk must be > 0, got {}", r.prefill_chunk);
  GLYPH_CHECK(r.vision_batch_pages > 0, InputError, "vision_batch_pages must be > 0, got {}",
              r.vision_batch_pages);
  GLYPH_CHECK(r.feature_cache_bytes >= 0, InputError, "feature_cache_bytes must be >= 0, got {}",
              r.feature_cache_bytes);
}

void Glm4v::set_runtime_options(const RuntimeOptions& r) {
  check_runtime_options(r);
  impl_->runtime = r;
  impl_->features.set_capacity(r.feature_cache_bytes);
}

std::array<std::int64_t, 4> Glm4v::feature_cache_stats() const {
  const auto& f = impl_->features;
  return {f.bytes(), f.entries(), f.hits(), f.misses()};
}

void Glm4v::clear_feature_cache() const { impl_->features.clear(); }

GenerateOptions Glm4v::generation_defaults() const {
  GenerateOptions o;
  const auto& g = impl_->gen;
  o.do_sample = g.do_sample;
  o.temperature = g.temperature;
  o.top_p = g.top_p;
  o.top_k = g.top_k;
  o.repetition_penalty = g.repetition_penalty;
  o.stop_ids = g.eos_token_ids.empty() ? impl_->cfg.eos_token_ids : g.eos_token_ids;
  return o;
}

at::Tensor Glm4v::image_features(const at::Tensor& pixel_values, const at::Tensor& grid_thw) const {
  EntryGuard guard(impl_->device);
  return impl_->vision(pixel_values, grid_thw);
}

std::pair<at::Tensor, std::int64_t> Glm4v::rope_index(const std::vector<std::int64_t>& ids,
                                                      const at::Tensor& grid_thw) const {
  auto [pos, next] = impl_->rope_index(ids, grid_thw);
  return {pos, next - static_cast<std::int64_t>(ids.size())};
}

at::Tensor Glm4v::prefill(const std::vector<std::int64_t>& ids, const ImageBatch* images,
                          KvCache& cache) const {
  EntryGuard guard(impl_->device);
  GLYPH_CHECK(cache.batch() <= 1, InputError,
              "prefill: this cache holds {} sequences (generate_batch's); use a new one",
              cache.batch());
  reserve_cache(*impl_, cache, 1, cache.length() + static_cast<std::int64_t>(ids.size()));
  return impl_->logits(impl_->prefill_sequence(ids, images, cache, 0)).squeeze(0);
}

at::Tensor Glm4v::decode_step(std::int64_t token, KvCache& cache) const {
  EntryGuard guard(impl_->device);
  GLYPH_CHECK(cache.length() > 0 && cache.batch() == 1, InputError,
              "decode_step: call prefill first (one sequence per cache)");
  GLYPH_CHECK(token >= 0 && token < impl_->cfg.text.vocab_size, InputError,
              "token id {} outside the vocabulary", token);
  const std::int64_t len = cache.length();
  GLYPH_CHECK(len + 1 <= impl_->cfg.text.max_position_embeddings, InputError,
              "the conversation reached this model's {} positions "
              "(text_config.max_position_embeddings)",
              impl_->cfg.text.max_position_embeddings);
  reserve_cache(*impl_, cache, 1, len + 1);
  Tensor x = at::embedding(impl_->w.embed, at::tensor({token}, at::kLong).to(impl_->device));
  Tensor pos = at::full({3, 1, 1}, len + cache.rope_delta(), at::kLong);
  Tensor h = impl_->decoder(x.unsqueeze(0), pos, cache, 0);
  return impl_->logits(h[0][0]);
}

at::Tensor Glm4v::forward(const std::vector<std::int64_t>& ids, const ImageBatch* images,
                          const std::vector<std::int64_t>& positions) const {
  EntryGuard guard(impl_->device);
  GLYPH_CHECK(!ids.empty(), InputError, "forward: empty prompt");
  std::vector<std::int64_t> rows = positions;
  if (rows.empty())
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(ids.size()); ++i) rows.push_back(i);
  KvCache cache;
  reserve_cache(*impl_, cache, 1, static_cast<std::int64_t>(ids.size()));
  Tensor h = impl_->prefill_sequence(ids, images, cache, 0, &rows);
  return guard_oom("forward", "the positions asked for (logits are vocab x 4 bytes each)",
                   [&] { return impl_->logits(h); });
}

GenerateResult Glm4v::generate(const std::vector<std::int64_t>& ids, const ImageBatch* images,
                               const GenerateOptions& opt) const {
  EntryGuard guard(impl_->device);
  return run_generation(*impl_, {BatchPrompt{ids, images}}, opt)[0];
}

std::vector<GenerateResult> Glm4v::generate_batch(const std::vector<BatchPrompt>& prompts,
                                                  const GenerateOptions& opt) const {
  EntryGuard guard(impl_->device);
  GenerateOptions o = opt;
  o.on_token = nullptr;
  return run_generation(*impl_, prompts, o);
}

}  // namespace glyph::vlm

namespace glyph::vlm {

DecodeBenchmark Glm4v::benchmark_decode(std::int64_t batch, std::int64_t context, int steps,
                                        std::uint64_t seed) const {
  EntryGuard guard(impl_->device);
  return vlm::benchmark_decode(*impl_, batch, context, steps, seed);
}

}  // namespace glyph::vlm
