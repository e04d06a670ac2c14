#include "glyph/render/vision_tokens.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace glyph {

namespace {
// Python's round(): half to even (nearbyint under the default rounding mode).
std::int64_t py_round(double x) { return static_cast<std::int64_t>(std::nearbyint(x)); }
}  // namespace

ResizedSize smart_resize(int height, int width, const SmartResizeParams& p) {
  GLYPH_CHECK(height > 0 && width > 0, InputError, "smart_resize: image size {}x{} (h x w) is empty",
              height, width);
  const int factor = p.factor();
  const int num_frames = p.temporal_patch_size;  // a still image is repeated to fill one patch
  double h = height, w = width;
  if (height < factor || width < factor) {
    double scale = std::max(static_cast<double>(factor) / height, static_cast<double>(factor) / width);
    h = std::trunc(height * scale);
    w = std::trunc(width * scale);
  }
  GLYPH_CHECK(std::max(h, w) / std::min(h, w) <= 200, InputError,
              "smart_resize: absolute aspect ratio must be at most 200, got {} for {}x{}",
              std::max(h, w) / std::min(h, w), height, width);
  std::int64_t h_bar = py_round(h / factor) * factor;
  std::int64_t w_bar = py_round(w / factor) * factor;
  const std::int64_t t_bar = py_round(static_cast<double>(num_frames) / p.temporal_patch_size) *
                             p.temporal_patch_size;
  if (t_bar * h_bar * w_bar > p.max_pixels) {
    double beta = std::sqrt(num_frames * h * w / static_cast<double>(p.max_pixels));
    h_bar = std::max<std::int64_t>(factor, static_cast<std::int64_t>(std::floor(h / beta / factor)) * factor);
    w_bar = std::max<std::int64_t>(factor, static_cast<std::int64_t>(std::floor(w / beta / factor)) * factor);
  } else if (t_bar * h_bar * w_bar < p.min_pixels) {
    double beta = std::sqrt(static_cast<double>(p.min_pixels) / (num_frames * h * w));
    h_bar = static_cast<std::int64_t>(std::ceil(h * beta / factor)) * factor;
    w_bar = static_cast<std::int64_t>(std::ceil(w * beta / factor)) * factor;
  }
  return {static_cast<int>(h_bar), static_cast<int>(w_bar)};
}

int visual_tokens(int height, int width, const SmartResizeParams& p) {
  ResizedSize s = smart_resize(height, width, p);
  const int f = p.factor();
  return (s.height / f) * (s.width / f);
}

}  // namespace glyph
