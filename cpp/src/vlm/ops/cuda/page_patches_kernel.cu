// CUDA kernel behind ops::page_patches: rendered uint8 RGB pages -> GLM-4.1V's patch matrix in
// the model dtype, in one launch for a batch of pages of any sizes.
//
// One block per patch row (transformers' merge-window order), one thread per pixel of the patch.
// The block stages the horizontal pass of the source rows its patch needs (the resized width of
// the patch's columns only, uint8 after Pillow's clamp) in shared memory, then each thread runs
// the vertical pass for its pixel's three channels, looks the byte up in the value table (rescale
// and normalise, computed on the host exactly as ImageProcessor::process does) and writes it
// `temporal` times, rounded to the output type. A patch whose source rows do not fit the stage
// (a downscale by more than ~20x) recomputes the horizontal taps per vertical tap instead: the
// same integer arithmetic, so the same bytes. The arithmetic is page_patches_core.h, shared with
// the CPU kernel (ops/cpu/page_patches_kernel.cpp), which is the reference it is tested against
// (tests/python/test_vlm_ops.py, scripts/gpu_check.py).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "vlm/ops/cuda/page_patches_cuda.h"
#include "vlm/ops/page_patches_core.h"

namespace glyph::vlm::ops::cuda {

namespace {

// The plan's meta columns (ops::MetaCol in page_patches.h, which holds torch headers).
enum : int { kSrcOffset = 0, kSrcH, kSrcW, kDstH, kDstW, kPatchBegin, kYTable, kYKsize, kXTable,
             kXKsize, kMetaCols };

constexpr int kThreads = 256;
constexpr int kStageBytes = 24 * 1024;

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
  __shared__ long long md[kMetaCols];
  __shared__ std::uint8_t stage[kStageBytes];
  const int tid = threadIdx.x;
  const long long r = blockIdx.x;  // patch row
  for (int i = tid; i < pp::kLutSize; i += kThreads) lut[i] = __int_as_float(p.tables[i]);
  if (tid == 0) {  // the page holding row r: the last one starting at or before it
    long long lo = 0, hi = p.pages - 1;
    while (lo < hi) {
      const long long mid = (lo + hi + 1) / 2;
      if (p.meta[mid * kMetaCols + kPatchBegin] <= r) lo = mid; else hi = mid - 1;
    }
    for (int c = 0; c < kMetaCols; ++c) md[c] = p.meta[lo * kMetaCols + c];
  }
  __syncthreads();
  const int ps = p.patch, tps = p.temporal;
  const long long sw = md[kSrcW], dw = md[kDstW];
  const std::uint8_t* src = p.pixels + md[kSrcOffset];
  const int* ytab = p.tables + md[kYTable];
  const int* xtab = p.tables + md[kXTable];
  const int yrec = 2 + static_cast<int>(md[kYKsize]), xrec = 2 + static_cast<int>(md[kXKsize]);
  std::int64_t y0 = 0, x0 = 0;
  pp::patch_origin(r - md[kPatchBegin], dw / ps, p.merge, ps, &y0, &x0);
  // Source rows the patch's vertical taps read: [ylo, yhi) (first and count grow with the row).
  const int* first_rec = ytab + y0 * yrec;
  const int* last_rec = ytab + (y0 + ps - 1) * yrec;
  const int ylo = first_rec[0], yhi = last_rec[0] + last_rec[1];
  const int width3 = ps * 3;
  const bool staged = (yhi - ylo) * width3 <= kStageBytes;  // the same for the whole block
  if (staged) {
    for (int i = tid; i < (yhi - ylo) * width3; i += kThreads) {
      const int row = i / width3, rem = i % width3, xo = rem / 3, c = rem % 3;
      const std::uint8_t* line = src + (ylo + row) * sw * 3;
      stage[i] = pp::resample(xtab + (x0 + xo) * xrec, [&](int j) { return line[3 * j + c]; });
    }
    __syncthreads();
  }
  if (tid >= ps * ps) return;
  const int py = tid / ps, pxi = tid % ps;
  const int* yr = ytab + (y0 + py) * yrec;
  const int* xr = xtab + (x0 + pxi) * xrec;
  T* out = static_cast<T*>(p.out) + r * (3LL * tps * ps * ps);
  for (int c = 0; c < 3; ++c) {
    std::uint8_t v;
    if (staged) {
      v = pp::resample(yr, [&](int j) { return stage[(j - ylo) * width3 + pxi * 3 + c]; });
    } else {
      v = pp::resample(yr, [&](int j) {
        const std::uint8_t* line = src + j * sw * 3;
        return pp::resample(xr, [&](int i) { return line[3 * i + c]; });
      });
    }
    const T f = Out<T>::from(lut[c * 256 + v]);
    for (int t = 0; t < tps; ++t) out[pp::patch_col(c, t, py, pxi, tps, ps)] = f;
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
