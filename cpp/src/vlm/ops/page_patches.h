// The page-to-patch op: rendered uint8 RGB pages -> GLM-4.1V's patch matrix (and, fused, its patch
// embedding), so pages travel to the device as 3 bytes a pixel instead of float32 patches
// (3 * 2 * 4 = 24 bytes a pixel: 8x less). Validated once at its entry (page_patches.cpp), which
// builds a small plan on the host; ops/cpu/page_patches_kernel.cpp is always built, the CUDA kernel
// of ops/cuda/page_patches_kernel.cu takes CUDA pages when built with GLYPH_WITH_CUDA.
//
// Input form (a batch of pages of different sizes):
//   pixels  uint8 [total bytes], contiguous, on any device: the pages back to back, each
//           H * W * 3 bytes (rows packed, RGB interleaved: Page::pixels as rendered);
//   sizes   int64 [pages, 2] on the CPU: (height, width) of each page, so page i starts at byte
//           3 * sum_{j<i} H_j * W_j of pixels. The sizes stay on the host: the resize plan is
//           made there, from the same code as the CPU image processor.
// Output: ImageBatch with pixel_values [sum(t*h*w), 3 * temporal * patch * patch] in `dtype` on
// pixels' device (the rows and columns ImageProcessor::process gives), grid_thw int64 [pages, 3]
// on the CPU, tokens_per_image.
//
// Arithmetic (all of it reproduces ImageProcessor::process exactly; the patches equal
// process(...).pixel_values.to(dtype) bit for bit): smart_resize picks each page's size; Pillow's
// bicubic resize in 22-bit fixed point, horizontal pass then vertical pass, each clamped to uint8
// (glyph::bicubic_coeffs: the weights resize_bicubic uses), a pass skipped when its side keeps
// its size; rescale and normalise through a 256-entry table per channel computed on the host
// exactly as process does (double multiply, float subtract and divide); the value repeated over
// the temporal patch; transformers' merge-window patch order; rounding to `dtype` last.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "glyph/vlm/image_processor.h"
#include "vlm/ops/page_patches_core.h"

namespace glyph::vlm::ops {

ImageBatch page_patches(const at::Tensor& pixels, const at::Tensor& sizes,
                        const ImageProcessorParams& params, at::ScalarType dtype);

// page_patches then the patch-embedding GEMM with its bias (ops::patch_embed: ATen, cuBLAS on
// CUDA), in the weight's dtype: embeddings [patches, D] on the weight's device (pixels must be
// there too).
struct PageEmbedding {
  at::Tensor embeddings;  // [sum(t*h*w), D]
  at::Tensor grid_thw;    // int64 [pages, 3], CPU
  std::vector<int> tokens_per_image;
};
PageEmbedding page_patch_embed(const at::Tensor& pixels, const at::Tensor& sizes,
                               const ImageProcessorParams& params, const at::Tensor& weight,
                               const at::Tensor& bias);

// Packs host images into the op's input form: (pixels uint8 [bytes], sizes int64 [n, 2]), both
// on the CPU; `pinned` puts pixels in page-locked memory (for an asynchronous upload).
std::pair<at::Tensor, at::Tensor> pack_pages(const std::vector<ImageView>& images,
                                             bool pinned = false);

// The plan the backends receive, built on the host by the op's entry.
//   meta int64 [pages, pp::kMetaCols] (columns pp::MetaCol): per page its byte offset in pixels,
//     source height and width, resized height and width, first patch row, and the offset and
//     kernel size of its vertical and horizontal resampling tables in `tables`.
//   tables int32: [0, 768) the per-channel value table (float bits, channel-major: value of byte
//     b in channel c at c * 256 + b), then each page's tables: one record per output row (or
//     column) of (first input, count, ksize weights). A side that keeps its size gets identity
//     records (count 1, weight 1 << 22), which reproduce a skipped pass exactly.
struct PagePatchPlan {
  at::Tensor pixels, meta, tables, out;  // out: [patches, K] in the output dtype, to fill
  std::int64_t pages = 0, patches = 0;
  int patch = 14, merge = 2, temporal = 2;
};

namespace cpu {
void page_patches_kernel(const PagePatchPlan& p);
}  // namespace cpu
#ifdef GLYPH_WITH_CUDA
namespace cuda {
bool page_patches_supported(const PagePatchPlan& p);
void page_patches_kernel(const PagePatchPlan& p);  // meta and tables already on pixels' device
}  // namespace cuda
#endif

}  // namespace glyph::vlm::ops
