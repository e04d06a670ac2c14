// CUDA kernel behind ops::page_patches: rendered uint8 RGB pages -> GLM-4.1V's patch matrix in
// the model dtype, in one launch for a batch of pages of any sizes.
//
// One block per patch row (transformers' merge-window order), one thread per element. Phase 1:
// the block stages the horizontal pass of the source rows its patch needs (the patch's columns
// only, uint8 after Pillow's clamp) in shared memory; phase 2: each of patch * patch threads runs
// the vertical pass for its pixel's three channels, looks the byte up in the value table
// (rescale and normalise, computed on the host exactly as ImageProcessor::process does) and
// writes it `temporal` times, rounded to the output type (round to nearest even, as ATen's
// conversion). Both phases are page_patches_core.h, which the CPU kernel runs in loops, so the
// CPU tests run the same indices and taps; a patch whose source rows do not fit the stage (a
// downscale by more than ~20x) recomputes the horizontal taps per vertical tap, as on the CPU.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "vlm/ops/cuda/page_patches_cuda.h"
#include "vlm/ops/page_patches_core.h"

namespace glyph::vlm::ops::cuda {

namespace {

constexpr int kThreads = 256;

template <typename T>
struct Out;
template <>
struct Out<float> {
  static __device__ __forceinline__ float from(float x) { return x; }
};
template <>
struct Out<__half> {
  static __device__ __forceinline__ __half from(float x) { return __float2half_rn(x); }
};
template <>
struct Out<__nv_bfloat16> {
  static __device__ __forceinline__ __nv_bfloat16 from(float x) { return __float2bfloat16_rn(x); }
};

template <typename T>
__global__ void __launch_bounds__(kThreads) page_patches_kernel(const PagePatchParams p) {
  __shared__ float lut[pp::kLutSize];
  __shared__ std::int64_t md[pp::kMetaCols];
  __shared__ std::uint8_t stage[pp::kStageBytes];
  const int tid = threadIdx.x;
  const std::int64_t r = blockIdx.x;  // patch row
  for (int i = tid; i < pp::kLutSize; i += kThreads) lut[i] = __int_as_float(p.tables[i]);
  if (tid < pp::kMetaCols) {
    const std::int64_t* meta = reinterpret_cast<const std::int64_t*>(p.meta);
    md[tid] = meta[pp::find_page(meta, p.pages, r) * pp::kMetaCols + tid];
  }
  __syncthreads();
  const int ps = p.patch, tps = p.temporal;
  const pp::Row w = pp::make_row(md, p.pixels, p.tables, r, ps, p.merge);
  if (w.staged) {  // the same for the whole block
    for (int i = tid; i < w.rows * ps * 3; i += kThreads) stage[i] = pp::stage_value(w, ps, i);
    __syncthreads();
  }
  if (tid >= ps * ps) return;
  T* out = static_cast<T*>(p.out) + r * (3LL * tps * ps * ps);
  for (int c = 0; c < 3; ++c) {
    const T v = Out<T>::from(lut[c * 256 + pp::pixel_value(w, stage, ps, tid, c)]);
    for (int t = 0; t < tps; ++t) out[pp::patch_col(c, t, tid, tps, ps)] = v;
  }
}

}  // namespace

const char* launch_page_patches(const PagePatchParams& p, cudaStream_t stream) {
  if (p.patches == 0) return nullptr;
  const dim3 grid(static_cast<unsigned>(p.patches));
  switch (p.type) {
    case PatchType::kFloat: page_patches_kernel<float><<<grid, kThreads, 0, stream>>>(p); break;
    case PatchType::kHalf: page_patches_kernel<__half><<<grid, kThreads, 0, stream>>>(p); break;
    case PatchType::kBFloat16:
      page_patches_kernel<__nv_bfloat16><<<grid, kThreads, 0, stream>>>(p);
      break;
  }
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

}  // namespace glyph::vlm::ops::cuda
