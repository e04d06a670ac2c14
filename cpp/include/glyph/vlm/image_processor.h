// GLM-4.1V's image processor (transformers Glm4vImageProcessor) for still images: smart_resize,
// PIL-exact bicubic resize, rescale 1/255, CLIP mean/std normalisation, and the patch order the
// vision tower expects (2x2 merge windows; the image repeated twice in time).
//
//   glyph::vlm::ImageProcessor proc;                 // or ImageProcessor::from_pretrained(dir)
//   auto batch = proc.process({glyph::vlm::ImageView{page.pixels.data(), page.width, page.height}});
//   batch.pixel_values;   // [sum(t*h*w), 3*2*14*14] float32
//   batch.grid_thw;       // [n_images, 3] int64
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "glyph/render/page.h"
#include "glyph/render/vision_tokens.h"

namespace glyph::vlm {

// A borrowed RGB uint8 image, rows packed (3 * width bytes per row).
struct ImageView {
  const std::uint8_t* rgb = nullptr;
  int width = 0;
  int height = 0;
};

inline ImageView view_of(const Page& p) { return {p.pixels.data(), p.width, p.height}; }

struct ImageBatch {
  at::Tensor pixel_values;  // float32 [patches, C * temporal * patch * patch]
  at::Tensor grid_thw;      // int64 [images, 3]
  std::vector<int> tokens_per_image;  // after the 2x2 merge
  // Optional per-image content keys for the model's feature cache, one per image (two 64-bit
  // words of a hash of the page's size and bytes and of pixel_values' dtype). Glm4v::process_images
  // fills them when it makes pixel_values on a device from the uint8 pages; empty otherwise, and
  // the cache then keys CPU pixel_values by their contents (device ones are not cached).
  std::vector<std::array<std::uint64_t, 2>> image_keys;
};

struct ImageProcessorParams {
  SmartResizeParams resize;  // patch 14, merge 2, temporal 2, min/max pixels
  bool do_resize = true;
  bool do_rescale = true;
  bool do_normalize = true;
  double rescale_factor = 1.0 / 255.0;
  std::array<float, 3> image_mean = {0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> image_std = {0.26862954f, 0.26130258f, 0.27577711f};
};

class ImageProcessor {
 public:
  ImageProcessor() = default;
  explicit ImageProcessor(ImageProcessorParams p) : params_(p) {}
  // Reads preprocessor_config.json from `dir` when present; defaults otherwise.
  static ImageProcessor from_pretrained(const std::string& dir);

  ImageBatch process(const std::vector<ImageView>& images) const;
  const ImageProcessorParams& params() const { return params_; }

 private:
  ImageProcessorParams params_;
};

}  // namespace glyph::vlm
