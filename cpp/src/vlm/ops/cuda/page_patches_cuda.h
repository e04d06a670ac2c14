// What the CUDA page-to-patch kernel receives: a plain struct of device pointers and sizes, filled
// by page_patches_launch.cpp from the plan the op's entry built (ops/page_patches.{h,cpp}). No
// torch header, so the .cu file compiles with nvcc alone.
#pragma once

#include <cuda_runtime_api.h>

namespace glyph::vlm::ops::cuda {

enum class PatchType : int { kFloat = 0, kHalf = 1, kBFloat16 = 2 };

struct PagePatchParams {
  const unsigned char* pixels = nullptr;  // the pages' RGB bytes back to back
  const long long* meta = nullptr;        // [pages, pp::kMetaCols] (pp::MetaCol, page_patches_core.h)
  const int* tables = nullptr;            // value table (768 float bits), then resampling records
  void* out = nullptr;                    // [patches, 3 * temporal * patch * patch], contiguous
  long long pages = 0, patches = 0;
  int patch = 14, merge = 2, temporal = 2;
  PatchType type = PatchType::kBFloat16;
};

constexpr int kMaxPatchSide = 16;  // one thread per pixel of a patch: patch * patch <= 256

// nullptr on success, else the CUDA error string.
const char* launch_page_patches(const PagePatchParams& p, cudaStream_t stream);

}  // namespace glyph::vlm::ops::cuda
