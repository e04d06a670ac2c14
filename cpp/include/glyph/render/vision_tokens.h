// GLM-4.1V's image-processor arithmetic (transformers Glm4vImageProcessor.smart_resize):
// how many visual tokens a page of a given size costs.
//
//   auto s = glyph::smart_resize(842, 595);   // {840, 588}
//   int n = glyph::visual_tokens(842, 595);    // 630
#pragma once

#include <cstdint>

namespace glyph {

struct SmartResizeParams {
  int patch_size = 14;
  int merge_size = 2;
  int temporal_patch_size = 2;
  std::int64_t min_pixels = 12544;    // size.shortest_edge in the shipped preprocessor config
  std::int64_t max_pixels = 9633792;  // size.longest_edge
  int factor() const { return patch_size * merge_size; }
};

struct ResizedSize {
  int height = 0;
  int width = 0;
};

// Throws InputError for non-positive sizes or an aspect ratio above 200 (as transformers does).
ResizedSize smart_resize(int height, int width, const SmartResizeParams& p = {});
int visual_tokens(int height, int width, const SmartResizeParams& p = {});

}  // namespace glyph
