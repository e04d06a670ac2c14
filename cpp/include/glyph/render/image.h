// Image operations shared by the renderer and the VLM image processor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "glyph/render/page.h"

namespace glyph {

// Resizes an RGB uint8 image with Pillow's BICUBIC resampling (a = -0.5, support scaled when
// downsampling, 22-bit fixed-point coefficients, horizontal pass first), so results match
// PIL.Image.resize(..., Image.BICUBIC) exactly.
std::vector<std::uint8_t> resize_bicubic(const std::uint8_t* rgb, int width, int height,
                                         int new_width, int new_height);

// The fixed-point weights resize_bicubic uses along one axis (in_size -> out_size), for code that
// must reproduce it exactly (the VLM's fused page-to-patch op). Output o reads inputs
// [bounds[2o], bounds[2o] + bounds[2o+1]) with weights k[o * ksize + j]; a pass sums
// (1 << (kResizePrecisionBits - 1)) + sum_j in[j] * k[j] in int and clamps (sum >> bits) to
// [0, 255]. resize_bicubic runs the horizontal pass first (only when the width changes), stores
// uint8, then the vertical pass (only when the height changes).
constexpr int kResizePrecisionBits = 32 - 8 - 2;
struct BicubicCoeffs {
  int ksize = 0;
  std::vector<int> bounds;  // (first input, count) per output
  std::vector<int> k;       // ksize weights per output
};
BicubicCoeffs bicubic_coeffs(int in_size, int out_size);

// PIL's RGB -> L conversion (ITU-R 601-2 luma, rounded).
inline std::uint8_t luma(const std::uint8_t* px) {
  return static_cast<std::uint8_t>((px[0] * 19595 + px[1] * 38470 + px[2] * 7471 + 0x8000) >> 16);
}

// Where Glyph's auto-crop cuts an image of `channels` (1: gray, where luma is the value itself;
// 3: RGB) with rows `stride` bytes apart: the kept width and height. A side that is not cropped,
// or an image without ink, keeps its full size.
struct CropSize {
  int width = 0, height = 0;
};
CropSize auto_crop_size(const std::uint8_t* data, int width, int height, std::size_t stride,
                        int channels, bool crop_width, bool crop_height, double margin_x_px,
                        double margin_y_px);

// Glyph's auto-crop. Background = median of the top-left 2x2 luma values; ink = |luma - bg| > 5.
// crop_width keeps columns up to the last ink column + 1 + margin_x; crop_height keeps rows up to
// the last ink row + margin_y (Glyph's formulas; margins in points used as pixels). Both use one
// ink mask computed before either crop. A page without ink is left as it is.
void auto_crop(Page& page, bool crop_width, bool crop_height, double margin_x_px,
               double margin_y_px);

}  // namespace glyph
