// Device code both packed attention kernels share (attention_kernel.cu's v1 and
// attention_mma.cu's v2): where sequence b's queries and keys are. nvcc only.
#pragma once

#include "vlm/ops/cuda/attention_cuda.h"

namespace glyph::vlm::ops::cuda {

struct SeqBounds {
  long long q_begin = 0, k_begin = 0;  // first query / key row
  int lq = 0, lk = 0;                  // queries, visible keys
};

__device__ __forceinline__ SeqBounds seq_bounds(const VarlenParams& p, int b) {
  SeqBounds s;
  if (p.seqused_k) {  // a prefill chunk against a cache (attention_cuda.h)
    s.q_begin = static_cast<long long>(b) * p.fixed_lq;
    s.lq = p.fixed_lq;
    s.k_begin = b * p.k_rows;
    s.lk = static_cast<int>(min(static_cast<long long>(p.seqused_k[b] + p.k_extra), p.k_rows));
  } else {
    s.q_begin = p.cu_q[b];
    s.lq = p.cu_q[b + 1] - p.cu_q[b];
    s.k_begin = p.cu_k[b];
    s.lk = p.cu_k[b + 1] - p.cu_k[b];
  }
  return s;
}

}  // namespace glyph::vlm::ops::cuda
