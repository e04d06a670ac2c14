// What the attention kernels of attention_kernel.cu (v1, decode) and attention_mma.cu (v2) share:
// where sequence b's queries and keys are, and the launchers' choice of instantiation. nvcc only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <type_traits>

#include "vlm/ops/cuda/attention_cuda.h"

namespace glyph::vlm::ops::cuda {

struct SeqBounds {
  long long q_begin = 0, k_begin = 0;  // first query / key row
  int lq = 0, lk = 0;                  // queries, visible keys
  // Causal alignment: query i sees keys j <= i + shift. lk - lq, except in the cache form when
  // the caller overran the capacity: lk is then clamped to it, and shift still counts every
  // token, so the queries within the capacity see what they would have (attention.h).
  int shift = 0;
};

__device__ __forceinline__ SeqBounds seq_bounds(const VarlenParams& p, int b) {
  SeqBounds s;
  if (p.seqused_k) {  // a prefill chunk against a cache (attention_cuda.h)
    s.q_begin = static_cast<long long>(b) * p.fixed_lq;
    s.lq = p.fixed_lq;
    s.k_begin = b * p.k_rows;
    const long long total = static_cast<long long>(p.seqused_k[b]) + p.k_extra;
    s.lk = static_cast<int>(min(total, static_cast<long long>(p.k_rows)));
    s.shift = static_cast<int>(total - s.lq);
  } else {
    s.q_begin = p.cu_q[b];
    s.lq = p.cu_q[b + 1] - p.cu_q[b];
    s.k_begin = p.cu_k[b];
    s.lk = p.cu_k[b + 1] - p.cu_k[b];
    s.shift = s.lk - s.lq;
  }
  return s;
}

// Launches kernel<<<grid, threads, smem, stream>>>(params) after opting it in to `smem` bytes of
// dynamic shared memory (needed above 48 KB); nullptr, or the CUDA error's text.
template <class Params>
const char* launch_with_smem(void (*kernel)(Params), dim3 grid, int threads, std::size_t smem,
                             cudaStream_t stream, const Params& params) {
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(smem));
  if (e != cudaSuccess) return cudaGetErrorString(e);
  kernel<<<grid, threads, smem, stream>>>(params);
  e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

// Calls launch(T{}, std::integral_constant<int, D>{}) for the element type and head dimension
// (fp16/bf16, 64/128: the instantiations the kernels are built for); `op` names the op in the
// message for any other head dimension.
template <class Launch>
const char* by_type_and_dim(DType dtype, int head_dim, const char* op, Launch&& launch) {
  using D64 = std::integral_constant<int, 64>;
  using D128 = std::integral_constant<int, 128>;
  const bool bf16 = dtype == DType::kBFloat16;
  if (head_dim == 128) return bf16 ? launch(__nv_bfloat16{}, D128{}) : launch(__half{}, D128{});
  if (head_dim == 64) return bf16 ? launch(__nv_bfloat16{}, D64{}) : launch(__half{}, D64{});
  return op;
}

}  // namespace glyph::vlm::ops::cuda
