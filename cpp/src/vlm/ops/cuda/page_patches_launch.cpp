// From the plan of ops/page_patches.cpp to the parameter struct of page_patches_kernel.cu, and
// the plans the kernel takes (anything else runs on the CPU kernel). Built only with
// GLYPH_WITH_CUDA.
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>

#include "vlm/ops/cuda/page_patches_cuda.h"
#include "vlm/ops/page_patches.h"

namespace glyph::vlm::ops::cuda {

bool page_patches_supported(const PagePatchPlan& p) {
  const auto t = p.out.scalar_type();
  return (t == at::kFloat || t == at::kHalf || t == at::kBFloat16) && p.patch <= kMaxPatchSide &&
         p.patches <= 0x7fffffffLL && p.pixels.numel() < (1LL << 40) && p.out.is_contiguous();
}

void page_patches_kernel(const PagePatchPlan& p) {
  const c10::cuda::CUDAGuard guard(p.pixels.device());
  PagePatchParams k;
  k.pixels = p.pixels.data_ptr<std::uint8_t>();
  k.meta = reinterpret_cast<const long long*>(p.meta.data_ptr<std::int64_t>());
  k.tables = p.tables.data_ptr<std::int32_t>();
  k.out = p.out.data_ptr();
  k.pages = p.pages;
  k.patches = p.patches;
  k.patch = p.patch;
  k.merge = p.merge;
  k.temporal = p.temporal;
  const auto t = p.out.scalar_type();
  k.type = t == at::kFloat ? PatchType::kFloat : t == at::kHalf ? PatchType::kHalf : PatchType::kBFloat16;
  const char* err = launch_page_patches(k, c10::cuda::getCurrentCUDAStream(p.pixels.get_device()).stream());
  TORCH_CHECK(err == nullptr, "page_patches: CUDA kernel launch failed: ", err);
}

}  // namespace glyph::vlm::ops::cuda
