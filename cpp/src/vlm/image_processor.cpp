#include "glyph/vlm/image_processor.h"

#include <filesystem>
#include <type_traits>
#include <nlohmann/json.hpp>

#include "common/check.h"
#include "common/json_number.h"
#include "glyph/common/file.h"
#include "glyph/render/image.h"

namespace glyph::vlm {

namespace fs = std::filesystem;
using nlohmann::json;

ImageProcessor ImageProcessor::from_pretrained(const std::string& dir) {
  ImageProcessorParams p;
  fs::path file = fs::path(dir) / "preprocessor_config.json";
  if (!fs::exists(file)) return ImageProcessor(p);
  std::string text;
  try {
    text = read_file(file.string(), "preprocessor config");
  } catch (const IoError& e) {
    throw ModelLoadError(e.what());
  }
  json j;
  // get<int>() of a float is undefined out of range: whole numbers only (json_whole).
  auto whole = [&](const json& obj, const char* key, auto& out) {
    if (!obj.contains(key)) return;
    const auto w = json_whole<std::remove_reference_t<decltype(out)>>(obj[key]);
    GLYPH_CHECK(w.has_value(), ModelLoadError, "{}: {} must be a whole number in range, got {}",
                file.string(), key, obj[key].dump());
    out = *w;
  };
  try {
    j = json::parse(text);
    if (j.contains("size") && j["size"].is_object()) {
      whole(j["size"], "shortest_edge", p.resize.min_pixels);
      whole(j["size"], "longest_edge", p.resize.max_pixels);
    }
    whole(j, "patch_size", p.resize.patch_size);
    whole(j, "merge_size", p.resize.merge_size);
    whole(j, "temporal_patch_size", p.resize.temporal_patch_size);
    p.do_resize = j.value("do_resize", p.do_resize);
    p.do_rescale = j.value("do_rescale", p.do_rescale);
    p.do_normalize = j.value("do_normalize", p.do_normalize);
    p.rescale_factor = j.value("rescale_factor", p.rescale_factor);
    if (j.contains("image_mean")) {
      auto m = j["image_mean"].get<std::vector<float>>();
      GLYPH_CHECK(m.size() == 3, ModelLoadError, "{}: image_mean needs 3 values", file.string());
      p.image_mean = {m[0], m[1], m[2]};
    }
    if (j.contains("image_std")) {
      auto m = j["image_std"].get<std::vector<float>>();
      GLYPH_CHECK(m.size() == 3, ModelLoadError, "{}: image_std needs 3 values", file.string());
      p.image_std = {m[0], m[1], m[2]};
    }
  } catch (const json::exception& e) {
    GLYPH_THROW(ModelLoadError, "{}: bad preprocessor config ({})", file.string(), e.what());
  }
  return ImageProcessor(p);
}

ImageBatch ImageProcessor::process(const std::vector<ImageView>& images) const {
  const auto& rp = params_.resize;
  const int ps = rp.patch_size, m = rp.merge_size, tps = rp.temporal_patch_size;
  GLYPH_CHECK(!images.empty(), InputError, "ImageProcessor.process: no images given");
  std::vector<at::Tensor> chunks;
  std::vector<std::int64_t> grids;
  ImageBatch out;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const ImageView& im = images[i];
    GLYPH_CHECK(im.rgb && im.width > 0 && im.height > 0, InputError,
                "ImageProcessor.process: image {} is empty ({}x{})", i, im.width, im.height);
    int h = im.height, w = im.width;
    std::vector<std::uint8_t> resized;
    const std::uint8_t* px = im.rgb;
    if (params_.do_resize) {
      ResizedSize s = smart_resize(h, w, rp);
      if (s.height != h || s.width != w) {
        resized = resize_bicubic(im.rgb, w, h, s.width, s.height);
        px = resized.data();
      }
      h = s.height;
      w = s.width;
    }
    GLYPH_CHECK(h % (ps * m) == 0 && w % (ps * m) == 0, InputError,
                "ImageProcessor.process: image {} is {}x{}, not a multiple of {} (enable resize)", i,
                w, h, ps * m);
    // Rescale in double then round to float (numpy's rescale), normalise in float32.
    at::Tensor img = at::empty({3, h, w}, at::kFloat);
    float* d = img.data_ptr<float>();
    const std::size_t plane = static_cast<std::size_t>(h) * w;
    for (std::size_t k = 0; k < plane; ++k) {
      for (int c = 0; c < 3; ++c) {
        float v = px[k * 3 + c];
        if (params_.do_rescale) v = static_cast<float>(px[k * 3 + c] * params_.rescale_factor);
        if (params_.do_normalize) v = (v - params_.image_mean[c]) / params_.image_std[c];
        d[c * plane + k] = v;
      }
    }
    const int gt = 1, gh = h / ps, gw = w / ps;
    // [t*tps, C, H, W] -> (t, tps, C, gh/m, m, ps, gw/m, m, ps) -> patches in merge-window order.
    at::Tensor frames = img.unsqueeze(0).expand({tps, 3, h, w});
    at::Tensor p = frames.reshape({gt, tps, 3, gh / m, m, ps, gw / m, m, ps})
                       .permute({0, 3, 6, 4, 7, 2, 1, 5, 8})
                       .reshape({gt * gh * gw, 3 * tps * ps * ps});
    chunks.push_back(p.contiguous());
    grids.insert(grids.end(), {gt, gh, gw});
    out.tokens_per_image.push_back(gt * gh * gw / (m * m));
  }
  out.pixel_values = at::cat(chunks, 0);
  out.grid_thw = at::tensor(grids, at::kLong).reshape({static_cast<std::int64_t>(images.size()), 3});
  return out;
}

}  // namespace glyph::vlm
