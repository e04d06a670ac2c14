// glyph._vlm: the torch-dependent half of glyphcpp (GLM-4.1V). A separate extension so that
// `import glyph` never needs torch; python/glyph/vlm.py imports torch first, then this module.
#include <pybind11/numpy.h>

#include <array>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <torch/csrc/utils/pybind.h>

#include "glyph/common/error.h"
#include "glyph/render/renderer.h"
#include "glyph/tokenizer/tokenizer.h"
#include "glyph/vlm/glm4v.h"
#include "glyph/vlm/pipeline.h"
#include "glyph/vlm/safetensors.h"
#include "support.h"
#include "vlm/ops/attention.h"
#include "vlm/ops/page_patches.h"
#include "vlm/ops/patch_embed.h"

namespace py = pybind11;
using namespace glyph::vlm;
using namespace glyph::py_support;

namespace {

std::optional<at::ScalarType> parse_dtype_or_auto(const std::string& s);

at::ScalarType parse_dtype(const std::string& s) {
  if (s == "float32" || s == "float" || s == "fp32") return at::kFloat;
  if (s == "bfloat16" || s == "bf16") return at::kBFloat16;
  if (s == "float16" || s == "half" || s == "fp16") return at::kHalf;
  throw glyph::InputError("dtype must be float32, bfloat16 or float16, got '" + s + "'");
}

std::optional<at::ScalarType> parse_dtype_or_auto(const std::string& s) {
  if (s.empty() || s == "auto") return std::nullopt;
  return parse_dtype(s);
}

RuntimeOptions runtime_options(std::int64_t prefill_chunk, int vision_batch_pages,
                               std::int64_t feature_cache_bytes, bool cuda_graphs) {
  RuntimeOptions r;
  r.prefill_chunk = prefill_chunk;
  r.vision_batch_pages = vision_batch_pages;
  r.feature_cache_bytes = feature_cache_bytes;
  r.cuda_graphs = cuda_graphs;
  return r;  // checked by Glm4v (from_pretrained, random, set_runtime_options)
}

py::dict options_dict(const GenerateOptions& o) {
  py::dict d;
  d["do_sample"] = o.do_sample;
  d["temperature"] = o.temperature;
  d["top_p"] = o.top_p;
  d["top_k"] = o.top_k;
  d["repetition_penalty"] = o.repetition_penalty;
  d["stop_ids"] = o.stop_ids;
  return d;
}

std::vector<ImageView> views_of(const std::vector<py::array_t<std::uint8_t, py::array::c_style>>& a) {
  std::vector<ImageView> v;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& x = a[i];
    if (x.ndim() != 3 || x.shape(2) != 3)
      throw glyph::InputError("image " + std::to_string(i) + " must be an (H, W, 3) uint8 array");
    v.push_back({x.data(), static_cast<int>(x.shape(1)), static_cast<int>(x.shape(0))});
  }
  return v;
}

py::dict config_dict(const Glm4vConfig& c) {
  py::dict t, v, d;
  t["vocab_size"] = c.text.vocab_size;
  t["hidden_size"] = c.text.hidden_size;
  t["intermediate_size"] = c.text.intermediate_size;
  t["num_hidden_layers"] = c.text.num_hidden_layers;
  t["num_attention_heads"] = c.text.num_attention_heads;
  t["num_key_value_heads"] = c.text.num_key_value_heads;
  t["head_dim"] = c.text.head_dim;
  t["max_position_embeddings"] = c.text.max_position_embeddings;
  t["rope_theta"] = c.text.rope_theta;
  t["partial_rotary_factor"] = c.text.partial_rotary_factor;
  t["mrope_section"] = c.text.mrope_section;
  v["hidden_size"] = c.vision.hidden_size;
  v["depth"] = c.vision.depth;
  v["num_heads"] = c.vision.num_heads;
  v["out_hidden_size"] = c.vision.out_hidden_size;
  v["patch_size"] = c.vision.patch_size;
  v["spatial_merge_size"] = c.vision.spatial_merge_size;
  v["temporal_patch_size"] = c.vision.temporal_patch_size;
  d["text_config"] = t;
  d["vision_config"] = v;
  d["image_token_id"] = c.image_token_id;
  d["image_start_token_id"] = c.image_start_token_id;
  d["image_end_token_id"] = c.image_end_token_id;
  d["eos_token_ids"] = c.eos_token_ids;
  d["torch_dtype"] = c.torch_dtype;
  return d;
}

// Glm4v::process_images on numpy pages, the GIL released while it runs.
ImageBatch process_images_nogil(const Glm4v& m,
                                const std::vector<py::array_t<std::uint8_t, py::array::c_style>>& images) {
  auto views = views_of(images);
  py::gil_scoped_release release;
  return m.process_images(views);
}

// GenerateOptions from the keyword arguments generate() and ask() share. `stream(token)` is
// called for each new token; returning False stops generation.
GenerateOptions generate_options(int max_new_tokens, bool do_sample, double temperature,
                                 double top_p, int top_k, double repetition_penalty,
                                 std::uint64_t seed, const std::vector<std::int64_t>& stop_ids,
                                 py::object stream) {
  GenerateOptions o;
  o.max_new_tokens = max_new_tokens;
  o.do_sample = do_sample;
  o.temperature = temperature;
  o.top_p = top_p;
  o.top_k = top_k;
  o.repetition_penalty = repetition_penalty;
  o.seed = seed;
  o.stop_ids = stop_ids;
  if (!stream.is_none()) {
    PyCallable cb(std::move(stream));
    o.on_token = [cb](std::int64_t t) {
      return cb.invoke([](py::object& r) { return r.ptr() != Py_False; }, t);
    };
  }
  return o;
}

using ImageKeys = std::vector<std::array<std::uint64_t, 2>>;

ImageBatch batch_of(const std::optional<at::Tensor>& pv, const std::optional<at::Tensor>& grid,
                    const ImageKeys& keys = {}) {
  if (pv.has_value() != grid.has_value())
    throw glyph::InputError("pixel_values and grid_thw go together");
  if (!keys.empty() && !pv) throw glyph::InputError("image_keys given without pixel_values");
  ImageBatch b;
  if (pv) {
    b.pixel_values = *pv;
    b.grid_thw = *grid;
    b.image_keys = keys;
  }
  return b;
}

}  // namespace

PYBIND11_MODULE(_vlm, m) {
  m.doc() = "glyphcpp VLM (GLM-4.1V in LibTorch); loaded by glyph.vlm after torch";

  // glyph._core's exception classes, translated the same way.
  register_errors_in(m);
  // Renderer, Tokenizer, Answer, ... are glyph._core's types; pybind11 shares them only between
  // modules built with the same pybind11 (torch vendors its own copy).
  if (!py::detail::get_type_info(typeid(glyph::Renderer)))
    throw py::import_error(
        "glyph._vlm cannot see glyph._core's types: the two were built against different "
        "pybind11 versions (torch ships its own); rebuild glyphcpp with the pybind11 your torch "
        "was built with");

  m.def(
      "process_images",
      [](const std::vector<py::array_t<std::uint8_t, py::array::c_style>>& images,
         std::int64_t min_pixels, std::int64_t max_pixels, int patch_size, int merge_size,
         int temporal_patch_size) {
        ImageProcessorParams p;
        p.resize.min_pixels = min_pixels;
        p.resize.max_pixels = max_pixels;
        p.resize.patch_size = patch_size;
        p.resize.merge_size = merge_size;
        p.resize.temporal_patch_size = temporal_patch_size;
        auto views = views_of(images);
        ImageBatch b;
        {
          py::gil_scoped_release release;
          b = ImageProcessor(p).process(views);
        }
        return py::make_tuple(b.pixel_values, b.grid_thw);
      },
      py::arg("images"), py::arg("min_pixels") = 12544, py::arg("max_pixels") = 9633792,
      py::arg("patch_size") = 14, py::arg("merge_size") = 2, py::arg("temporal_patch_size") = 2,
      "GLM-4.1V image processor: list of (H, W, 3) uint8 arrays -> (pixel_values, grid_thw)");

  m.def(
      "checkpoint_tensors",
      [](const PathArg& path) {
        auto ck = SafetensorsCheckpoint::open(path_arg(path));
        py::dict d;
        for (const auto& [name, info] : ck.tensors()) d[py::str(name)] = py::make_tuple(info.dtype, info.shape);
        return d;
      },
      py::arg("path"), "Names -> (dtype, shape) of a safetensors checkpoint (single or sharded)");

  // The ops behind the model, exposed for their tests (tests/python/test_vlm_ops.py).
  m.def(
      "op_attention",
      [](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal, double scale,
         const std::vector<std::int64_t>& segments) {
        return glyph::vlm::ops::attention(q, k, v, causal, scale, segments);
      },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("causal"), py::arg("scale"),
      py::arg("segments") = std::vector<std::int64_t>{});
  m.def(
      "op_attention_varlen",
      [](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
         const at::Tensor& cu_seqlens_q, const at::Tensor& cu_seqlens_k, std::int64_t max_seqlen_q,
         std::int64_t max_seqlen_k, bool causal, double scale,
         const std::optional<at::Tensor>& out) {
        py::gil_scoped_release release;
        return glyph::vlm::ops::attention_varlen(q, k, v, cu_seqlens_q, cu_seqlens_k,
                                                 max_seqlen_q, max_seqlen_k, causal, scale, out);
      },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("cu_seqlens_q"), py::arg("cu_seqlens_k"),
      py::arg("max_seqlen_q"), py::arg("max_seqlen_k"), py::arg("causal"), py::arg("scale"),
      py::arg("out") = py::none(),
      "Attention over packed sequences: q [Tq, H, d], k/v [Tk, Hkv, d], int32 cu_seqlens.");
  m.def(
      "op_attention_kvcache",
      [](const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache,
         const at::Tensor& cache_seqlens, const std::optional<at::Tensor>& k_new,
         const std::optional<at::Tensor>& v_new, bool causal, double scale,
         const std::optional<at::Tensor>& out) {
        py::gil_scoped_release release;
        return glyph::vlm::ops::attention_with_kvcache(q, k_cache, v_cache, cache_seqlens, k_new,
                                                       v_new, causal, scale, out);
      },
      py::arg("q"), py::arg("k_cache"), py::arg("v_cache"), py::arg("cache_seqlens"),
      py::arg("k_new") = py::none(), py::arg("v_new") = py::none(), py::arg("causal") = true,
      py::arg("scale") = 1.0, py::arg("out") = py::none(),
      "New queries q [B, Lq, H, d] against caches [B, capacity, Hkv, d] holding cache_seqlens "
      "tokens; k_new/v_new are written into the caches first.");
  m.def("op_patch_embed", &glyph::vlm::ops::patch_embed, py::arg("patches"), py::arg("weight"),
        py::arg("bias"));
  auto proc_params = [](std::int64_t min_pixels, std::int64_t max_pixels, int patch_size,
                        int merge_size, int temporal_patch_size, bool do_resize) {
    ImageProcessorParams p;
    p.resize.min_pixels = min_pixels;
    p.resize.max_pixels = max_pixels;
    p.resize.patch_size = patch_size;
    p.resize.merge_size = merge_size;
    p.resize.temporal_patch_size = temporal_patch_size;
    p.do_resize = do_resize;
    return p;
  };
  m.def(
      "op_page_patches",
      [proc_params](const at::Tensor& pixels, const at::Tensor& sizes, const std::string& dtype,
                    std::int64_t min_pixels, std::int64_t max_pixels, int patch_size,
                    int merge_size, int temporal_patch_size, bool do_resize) {
        const ImageProcessorParams p =
            proc_params(min_pixels, max_pixels, patch_size, merge_size, temporal_patch_size, do_resize);
        const at::ScalarType t = parse_dtype(dtype);
        py::gil_scoped_release release;
        ImageBatch b = glyph::vlm::ops::page_patches(pixels, sizes, p, t);
        return std::make_tuple(b.pixel_values, b.grid_thw);
      },
      py::arg("pixels"), py::arg("sizes"), py::arg("dtype") = "float32",
      py::arg("min_pixels") = 12544, py::arg("max_pixels") = 9633792, py::arg("patch_size") = 14,
      py::arg("merge_size") = 2, py::arg("temporal_patch_size") = 2, py::arg("do_resize") = true,
      "Pages -> (patches [N, 3*T*P*P] in dtype on pixels' device, grid_thw): pixels uint8 [bytes] "
      "holds the pages' RGB bytes back to back, sizes int64 [pages, 2] (height, width) on the "
      "CPU. Equal to process_images(...)[0].to(dtype).");
  m.def(
      "op_page_patch_embed",
      [proc_params](const at::Tensor& pixels, const at::Tensor& sizes, const at::Tensor& weight,
                    const std::optional<at::Tensor>& bias, std::int64_t min_pixels,
                    std::int64_t max_pixels, int patch_size, int merge_size,
                    int temporal_patch_size) {
        const ImageProcessorParams p =
            proc_params(min_pixels, max_pixels, patch_size, merge_size, temporal_patch_size, true);
        py::gil_scoped_release release;
        auto e = glyph::vlm::ops::page_patch_embed(pixels, sizes, p, weight,
                                                   bias ? *bias : at::Tensor());
        return std::make_tuple(e.embeddings, e.grid_thw);
      },
      py::arg("pixels"), py::arg("sizes"), py::arg("weight"), py::arg("bias") = py::none(),
      py::arg("min_pixels") = 12544, py::arg("max_pixels") = 9633792, py::arg("patch_size") = 14,
      py::arg("merge_size") = 2, py::arg("temporal_patch_size") = 2,
      "op_page_patches then the patch-embedding GEMM with its bias, in the weight's dtype: "
      "(embeddings [N, D], grid_thw).");
  m.def(
      "op_pack_pages",
      [](const std::vector<py::array_t<std::uint8_t, py::array::c_style>>& images, bool pinned) {
        auto views = views_of(images);
        return glyph::vlm::ops::pack_pages(views, pinned);
      },
      py::arg("images"), py::arg("pinned") = false,
      "(H, W, 3) uint8 arrays -> (pixels uint8 [bytes], sizes int64 [pages, 2]): op_page_patches' "
      "input form; pinned: page-locked pixels for an asynchronous upload.");

  m.def("cuda_kernels_built", &glyph::vlm::ops::cuda_kernels_built,
        "Whether this build holds glyphcpp's CUDA attention kernels (GLYPH_WITH_CUDA); without "
        "them CUDA tensors take PyTorch's flash kernel where it applies, else the ATen path.");
  m.def("hopper_kernel_built", &glyph::vlm::ops::cuda_hopper_kernel_built,
        "Whether this build also holds version 3 of the packed attention kernel (sm_90a, backend "
        "'wgmma', run on compute capability 9.0 only).");
  m.def(
      "set_attention_backend",
      [](const std::string& name) {
        glyph::vlm::ops::set_attention_backend(glyph::vlm::ops::parse_attention_backend(name));
      },
      py::arg("name"),
      "Which implementation serves attention on CUDA tensors, process-wide: 'auto' (the measured "
      "dispatch table, else glyphcpp's kernels), 'glyph', 'mma' (glyphcpp's kernels with version "
      "2 of the packed kernel), 'wgmma' (the same with version 3, Hopper's warpgroup MMA; "
      "compute capability 9.0 only), 'flash' (PyTorch's FlashAttention-2) or 'aten'. A backend "
      "that cannot take a call passes it on. Initial value: the environment variable "
      "GLYPH_ATTENTION_BACKEND, else 'auto'.");
  m.def(
      "attention_backend",
      [] { return std::string(glyph::vlm::ops::attention_backend_name(glyph::vlm::ops::attention_backend())); },
      "The attention backend setting (set_attention_backend).");
  m.def(
      "set_attention_dispatch",
      [](const std::optional<std::vector<std::tuple<std::string, std::int64_t, std::string>>>&
             rules) {
        namespace ops = glyph::vlm::ops;
        if (!rules) return ops::set_attention_dispatch(std::nullopt);
        std::vector<ops::DispatchRule> table;
        for (const auto& [form, max_keys, backend] : *rules)
          table.push_back({ops::parse_attention_form(form), max_keys,
                           ops::parse_attention_backend(backend)});
        ops::set_attention_dispatch(table);
      },
      py::arg("rules"),
      "Replaces the dispatch table the 'auto' backend follows, process-wide: a list of (form, "
      "max_keys, backend) rules, form one of 'vision', 'prefill', 'chunk', 'decode'; a call takes "
      "the first rule of its form with at most max_keys keys (max_seqlen_k; a KV cache's "
      "capacity), then glyph, then flash. None restores the built-in (measured) table. For a table "
      "measured on this GPU, as scripts/gpu_check.py derives one.");
  m.def(
      "attention_dispatch",
      [] {
        namespace ops = glyph::vlm::ops;
        std::vector<std::tuple<std::string, std::int64_t, std::string>> out;
        for (const ops::DispatchRule& r : ops::attention_dispatch())
          out.emplace_back(ops::attention_form_name(r.form), r.max_keys,
                           ops::attention_backend_name(r.backend));
        return out;
      },
      "The dispatch table in force (set_attention_dispatch): a list of (form, max_keys, backend).");
  m.def(
      "last_attention_backend", [] { return std::string(glyph::vlm::ops::last_attention_backend()); },
      "The backend this thread's last attention call ran on: 'glyph', 'mma', 'wgmma', 'flash', "
      "'aten' ('' before any).");
  m.attr("GLYPH_PRESET") = options_dict(GenerateOptions::glyph_preset());
  m.def(
      "parse_config", [](const std::string& json_text) { return config_dict(parse_config(json_text)); },
      py::arg("json_text"), "config.json text -> the config as glyphcpp reads it (dict)");

  py::class_<KvCache>(m, "KvCache")
      .def(py::init<>())
      .def_property_readonly("length", [](const KvCache& c) { return c.length(); })
      .def_property_readonly("rope_delta", [](const KvCache& c) { return c.rope_delta(); })
      .def_property_readonly("capacity", &KvCache::capacity,
                             "tokens each sequence has room for")
      .def_property_readonly("batch", &KvCache::batch)
      .def_readonly("reallocations", &KvCache::reallocations,
                    "times the buffers grew after their first allocation")
      .def("clear", &KvCache::clear);

  py::class_<Glm4v>(m, "Glm4v")
      .def_static(
          "from_pretrained",
          [](const PathArg& path, const std::string& device, const std::string& dtype,
             std::int64_t prefill_chunk, int vision_batch_pages, std::int64_t feature_cache_bytes,
             std::int64_t staging_bytes, bool cuda_graphs) {
            LoadOptions o;
            o.device = parse_device(device);
            o.dtype = parse_dtype_or_auto(dtype);
            o.runtime = runtime_options(prefill_chunk, vision_batch_pages, feature_cache_bytes,
                                        cuda_graphs);
            o.staging_bytes = staging_bytes;
            py::gil_scoped_release release;
            return Glm4v::from_pretrained(path_arg(path), o);
          },
          py::arg("path"), py::arg("device") = "cpu", py::arg("dtype") = "auto",
          py::arg("prefill_chunk") = 4096, py::arg("vision_batch_pages") = 8,
          py::arg("feature_cache_bytes") = std::int64_t{256} << 20,
          py::arg("staging_bytes") = std::int64_t{64} << 20, py::arg("cuda_graphs") = true)
      .def_static(
          "random",
          [](const std::string& config_json, const std::string& device, const std::string& dtype,
             std::uint64_t seed, std::int64_t prefill_chunk, int vision_batch_pages,
             std::int64_t feature_cache_bytes, bool cuda_graphs) {
            LoadOptions o;
            o.device = parse_device(device);
            o.dtype = parse_dtype_or_auto(dtype);
            o.runtime = runtime_options(prefill_chunk, vision_batch_pages, feature_cache_bytes,
                                        cuda_graphs);
            Glm4vConfig cfg = parse_config(config_json, "config");
            py::gil_scoped_release release;
            return Glm4v::random(cfg, o, seed);
          },
          py::arg("config_json"), py::arg("device") = "cpu", py::arg("dtype") = "auto",
          py::arg("seed") = 0, py::arg("prefill_chunk") = 4096, py::arg("vision_batch_pages") = 8,
          py::arg("feature_cache_bytes") = std::int64_t{256} << 20, py::arg("cuda_graphs") = true)
      .def_property_readonly("load_info",
                             [](const Glm4v& m) {
                               const LoadInfo& i = m.load_info();
                               py::dict d;
                               d["skipped_tensors"] = i.skipped_tensors;
                               d["seconds"] = i.seconds;
                               d["bytes"] = i.bytes;
                               d["gb_per_second"] = i.gb_per_second();
                               return d;
                             })
      .def_property_readonly("generation_defaults",
                             [](const Glm4v& m) { return options_dict(m.generation_defaults()); })
      .def_property_readonly("runtime_options",
                             [](const Glm4v& m) {
                               const RuntimeOptions& r = m.runtime_options();
                               py::dict d;
                               d["prefill_chunk"] = r.prefill_chunk;
                               d["vision_batch_pages"] = r.vision_batch_pages;
                               d["feature_cache_bytes"] = r.feature_cache_bytes;
                               d["cuda_graphs"] = r.cuda_graphs;
                               return d;
                             })
      .def(
          "set_runtime_options",
          [](Glm4v& m, std::int64_t prefill_chunk, int vision_batch_pages,
             std::int64_t feature_cache_bytes, bool cuda_graphs) {
            m.set_runtime_options(runtime_options(prefill_chunk, vision_batch_pages,
                                                  feature_cache_bytes, cuda_graphs));
          },
          py::arg("prefill_chunk"), py::arg("vision_batch_pages"), py::arg("feature_cache_bytes"),
          py::arg("cuda_graphs") = true)
      .def_property_readonly("feature_cache_stats",
                             [](const Glm4v& m) {
                               auto s = m.feature_cache_stats();
                               py::dict d;
                               d["bytes"] = s[0];
                               d["entries"] = s[1];
                               d["hits"] = s[2];
                               d["misses"] = s[3];
                               return d;
                             })
      .def("clear_feature_cache", &Glm4v::clear_feature_cache)
      .def(
          "benchmark_decode",
          [](const Glm4v& m, std::int64_t batch, std::int64_t context, int steps,
             std::uint64_t seed) {
            py::gil_scoped_release release;
            return m.benchmark_decode(batch, context, steps, seed);
          },
          py::arg("batch"), py::arg("context"), py::arg("steps") = 8, py::arg("seed") = 0,
          "The greedy decode step of `batch` sequences over `context` random cached tokens each "
          "(for benchmarks; after 2 warm-up steps): DecodeBenchmark (step_seconds, cuda_graph).")
      .def_property_readonly("config", [](const Glm4v& m) { return config_dict(m.config()); })
      .def_property_readonly("device", [](const Glm4v& m) { return m.device().str(); })
      .def_property_readonly("dtype", [](const Glm4v& m) {
        return std::string(c10::toString(m.dtype()));
      })
      .def(
          "process_images",
          [](const Glm4v& m, const std::vector<py::array_t<std::uint8_t, py::array::c_style>>& images) {
            const ImageBatch b = process_images_nogil(m, images);
            return py::make_tuple(b.pixel_values, b.grid_thw);
          },
          py::arg("images"),
          "Images -> (pixel_values, grid_thw): float32 on the host for a CPU model; on a device, "
          "made there from the uint8 pages in the model's dtype (ops::page_patches).")
      .def(
          "process_images_keyed",
          [](const Glm4v& m, const std::vector<py::array_t<std::uint8_t, py::array::c_style>>& images) {
            const ImageBatch b = process_images_nogil(m, images);
            return py::make_tuple(b.pixel_values, b.grid_thw, b.image_keys);
          },
          py::arg("images"),
          "process_images and the feature-cache keys of the pages (empty for a CPU model, whose "
          "pixel_values are keyed by content): pass them on as image_keys.")
      .def(
          "image_features",
          [](const Glm4v& m, const at::Tensor& pv, const at::Tensor& grid) {
            py::gil_scoped_release release;
            return m.image_features(pv, grid);
          },
          py::arg("pixel_values"), py::arg("grid_thw"))
      .def(
          "rope_index",
          [](const Glm4v& m, const std::vector<std::int64_t>& ids,
             const std::optional<at::Tensor>& grid) {
            auto r = m.rope_index(ids, grid ? *grid : at::Tensor());
            return py::make_tuple(r.first, r.second);
          },
          py::arg("input_ids"), py::arg("grid_thw") = py::none())
      .def(
          "forward",
          [](const Glm4v& m, const std::vector<std::int64_t>& ids,
             const std::optional<at::Tensor>& pv, const std::optional<at::Tensor>& grid,
             const std::vector<std::int64_t>& positions, const ImageKeys& keys) {
            ImageBatch b = batch_of(pv, grid, keys);
            py::gil_scoped_release release;
            return m.forward(ids, pv ? &b : nullptr, positions);
          },
          py::arg("input_ids"), py::arg("pixel_values") = py::none(),
          py::arg("grid_thw") = py::none(), py::arg("positions") = std::vector<std::int64_t>{},
          py::arg("image_keys") = ImageKeys{})
      .def(
          "prefill",
          [](const Glm4v& m, const std::vector<std::int64_t>& ids, KvCache& cache,
             const std::optional<at::Tensor>& pv, const std::optional<at::Tensor>& grid,
             const ImageKeys& keys) {
            ImageBatch b = batch_of(pv, grid, keys);
            py::gil_scoped_release release;
            return m.prefill(ids, pv ? &b : nullptr, cache);
          },
          py::arg("input_ids"), py::arg("cache"), py::arg("pixel_values") = py::none(),
          py::arg("grid_thw") = py::none(), py::arg("image_keys") = ImageKeys{})
      .def(
          "decode_step",
          [](const Glm4v& m, std::int64_t token, KvCache& cache) {
            py::gil_scoped_release release;
            return m.decode_step(token, cache);
          },
          py::arg("token"), py::arg("cache"))
      .def(
          "generate",
          [](const Glm4v& m, const std::vector<std::int64_t>& ids,
             const std::optional<at::Tensor>& pv, const std::optional<at::Tensor>& grid,
             int max_new_tokens, bool do_sample, double temperature, double top_p, int top_k,
             double repetition_penalty, std::uint64_t seed,
             const std::vector<std::int64_t>& stop_ids, py::object stream, const ImageKeys& keys) {
            ImageBatch b = batch_of(pv, grid, keys);
            GenerateOptions o = generate_options(max_new_tokens, do_sample, temperature, top_p,
                                                 top_k, repetition_penalty, seed, stop_ids,
                                                 std::move(stream));
            py::gil_scoped_release release;
            return m.generate(ids, pv ? &b : nullptr, o);
          },
          py::arg("input_ids"), py::arg("pixel_values") = py::none(),
          py::arg("grid_thw") = py::none(), py::arg("max_new_tokens") = 128,
          py::arg("do_sample") = false, py::arg("temperature") = 1.0, py::arg("top_p") = 1.0,
          py::arg("top_k") = 0, py::arg("repetition_penalty") = 1.0, py::arg("seed") = 0,
          py::arg("stop_ids") = std::vector<std::int64_t>{}, py::arg("stream") = py::none(),
          py::arg("image_keys") = ImageKeys{})
      .def(
          "generate_batch",
          [](const Glm4v& m, const std::vector<std::vector<std::int64_t>>& ids,
             const std::vector<std::optional<at::Tensor>>& pvs,
             const std::vector<std::optional<at::Tensor>>& grids, int max_new_tokens,
             bool do_sample, double temperature, double top_p, int top_k,
             double repetition_penalty, std::uint64_t seed,
             const std::vector<std::int64_t>& stop_ids, const std::vector<ImageKeys>& keys) {
            if (pvs.size() != ids.size() || grids.size() != ids.size())
              throw glyph::InputError("generate_batch: one (pixel_values, grid_thw) per prompt");
            if (!keys.empty() && keys.size() != ids.size())
              throw glyph::InputError("generate_batch: one image_keys list per prompt");
            std::vector<ImageBatch> batches(ids.size());
            std::vector<BatchPrompt> prompts(ids.size());
            for (std::size_t i = 0; i < ids.size(); ++i) {
              batches[i] = batch_of(pvs[i], grids[i], keys.empty() ? ImageKeys{} : keys[i]);
              prompts[i] = {ids[i], pvs[i] ? &batches[i] : nullptr};
            }
            GenerateOptions o = generate_options(max_new_tokens, do_sample, temperature, top_p,
                                                 top_k, repetition_penalty, seed, stop_ids,
                                                 py::none());
            py::gil_scoped_release release;
            return m.generate_batch(prompts, o);
          },
          py::arg("input_ids"), py::arg("pixel_values"), py::arg("grid_thw"),
          py::arg("max_new_tokens") = 128, py::arg("do_sample") = false,
          py::arg("temperature") = 1.0, py::arg("top_p") = 1.0, py::arg("top_k") = 0,
          py::arg("repetition_penalty") = 1.0, py::arg("seed") = 0,
          py::arg("stop_ids") = std::vector<std::int64_t>{},
          py::arg("image_keys") = std::vector<ImageKeys>{});

  // The render-and-ask pipeline (glyph::vlm::ask). `tokenizer` is a glyph.Tokenizer or any
  // tokenizer glyph._tokenizers adapts; renderer and model are the shared pybind11 types.
  m.def(
      "ask",
      [](const glyph::Renderer& renderer, const Glm4v& model, py::handle tokenizer,
         py::handle text, const std::string& question, int max_new_tokens, bool do_sample,
         double temperature, double top_p, int top_k, double repetition_penalty,
         std::uint64_t seed, const std::vector<std::int64_t>& stop_ids, py::object stream,
         const std::string& prompt_template) {
        std::unique_ptr<glyph::TextCodec> codec = codec_of(tokenizer);
        Utf8 context(text, TextPolicy::kReplaceSurrogates);
        GenerateOptions o = generate_options(max_new_tokens, do_sample, temperature, top_p, top_k,
                                             repetition_penalty, seed, stop_ids, std::move(stream));
        py::gil_scoped_release release;
        return ask(renderer, model, *codec, context.view(), question, o, prompt_template);
      },
      py::arg("renderer"), py::arg("model"), py::arg("tokenizer"), py::arg("text"),
      py::arg("question"), py::arg("max_new_tokens") = 128, py::arg("do_sample") = false,
      py::arg("temperature") = 1.0, py::arg("top_p") = 1.0, py::arg("top_k") = 0,
      py::arg("repetition_penalty") = 1.0, py::arg("seed") = 0,
      py::arg("stop_ids") = std::vector<std::int64_t>{}, py::arg("stream") = py::none(),
      py::arg("prompt_template") = std::string(glyph::kGlm4vPromptTemplate));
  m.def(
      "prompt_ids",
      [](const Glm4v& model, py::handle tokenizer, const std::vector<int>& tokens_per_image,
         const std::string& question, const std::string& prompt_template) {
        std::unique_ptr<glyph::TextCodec> codec = codec_of(tokenizer);
        py::gil_scoped_release release;
        return prompt_ids(model, *codec, tokens_per_image, question, prompt_template);
      },
      py::arg("model"), py::arg("tokenizer"), py::arg("tokens_per_image"), py::arg("question"),
      py::arg("prompt_template") = std::string(glyph::kGlm4vPromptTemplate));
}
