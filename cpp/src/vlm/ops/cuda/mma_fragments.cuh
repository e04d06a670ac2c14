// What the register-resident attention kernels share (attention_mma.cu and
// attention_decode_mma.cu: mma.sync on sm_80/sm_90; attention_wgmma.cu: wgmma on sm_90a):
// asynchronous 16-byte copies into shared memory, ldmatrix and the m16n8k16 MMA, and the online
// softmax over score fragments in the accumulator layout both instructions use.
//
// That layout (mma.sync m16n8's C fragment; per warp, a wgmma m64nN accumulator's): a warp holds
// 16 rows; lane l holds rows g = l / 4 and g + 8, and in each 8-column tile j the columns
// 8j + 2t and 8j + 2t + 1 (t = l % 4) as tile[j][0..1] (row g) and tile[j][2..3] (row g + 8).
// Two adjacent tiles of scores are then exactly the A fragment of the next 16-deep MMA step
// (p_fragment), so P never touches shared memory. nvcc only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>

namespace glyph::vlm::ops::cuda {

constexpr float kLog2eFrag = 1.4426950408889634f;

__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, asynchronously; `bytes` 0 writes zeros (a row past the sequence).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(bytes));
}
// ("memory": the compiler must not move shared-memory accesses across a commit or a wait.)
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// ldmatrix: four 8x8 matrices of 16-bit elements from shared memory, lanes 8i..8i+7 giving the
// row addresses of matrix i; lane l receives row l / 4, elements 2 (l % 4) and 2 (l % 4) + 1 of
// each (with .trans, of each transposed: column l / 4, rows 2 (l % 4) and 2 (l % 4) + 1).
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

// D[16x8] += A[16x16] B[16x8]: A row-major (4 registers), B column-major (2), D fp32 (4).
template <typename T>
__device__ __forceinline__ void mma16816(float (&d)[4], const unsigned (&a)[4], unsigned b0,
                                         unsigned b1);
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&d)[4], const unsigned (&a)[4],
                                                        unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__half>(float (&d)[4], const unsigned (&a)[4],
                                                 unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as one register of two 16-bit values, `lo` in the low half (the lower column).
template <typename T>
__device__ __forceinline__ unsigned pack2(float lo, float hi);
template <>
__device__ __forceinline__ unsigned pack2<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const unsigned*>(&v);
}
template <>
__device__ __forceinline__ unsigned pack2<__half>(float lo, float hi) {
  const __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const unsigned*>(&v);
}

// The A fragment (16 rows x 16 keys, four registers) of keys [16 kc, 16 kc + 16) from the
// probabilities in score tiles 2 kc and 2 kc + 1.
template <typename T, int kTiles>
__device__ __forceinline__ void p_fragment(unsigned (&pa)[4], const float (&s)[kTiles][4], int kc) {
  pa[0] = pack2<T>(s[2 * kc][0], s[2 * kc][1]);
  pa[1] = pack2<T>(s[2 * kc][2], s[2 * kc][3]);
  pa[2] = pack2<T>(s[2 * kc + 1][0], s[2 * kc + 1][1]);
  pa[3] = pack2<T>(s[2 * kc + 1][2], s[2 * kc + 1][3]);
}

// 2^x as one MUFU.EX2, flushing results below 2^-126 to zero (what --use_fast_math makes of
// exp2f; exp2f itself adds instructions to keep subnormals, which a softmax does not need).
__device__ __forceinline__ float exp2_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// The running softmax state of this lane's two rows (FlashAttention-2's recurrence in the log2
// domain): row maxima m, and this lane's share of the row sums l (reduced across the four lanes
// of a row once, at the end).
struct RowPair {
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;
};

// One key tile of the online softmax: scales and masks the raw scores of keys [n0, n0 + 8 kTiles)
// (a key is visible to row 0 / 1 when below lk and at most lim0 / lim1), turns them into
// probabilities against the new row maxima (reduced over the four lanes sharing a row), and
// rescales the output accumulator o and the sums by the change of the maxima. A row with nothing
// visible so far keeps base 0, so -inf - -inf never happens and it ends with l == 0.
// `mask` false skips the mask: the caller knows every key of the tile is visible to both rows
// (whole_tile), as it is for all but the last tile or two of a block. It is the same for every
// thread of the block, so the branch diverges nowhere.
template <int kTiles, int kOTiles>
__device__ __forceinline__ void softmax_tile(float (&s)[kTiles][4], float (&o)[kOTiles][4],
                                             RowPair& r, int n0, int t, int lk, int lim0,
                                             int lim1, float scale_log2, bool mask = true) {
  #pragma unroll
  for (auto& tile : s)
    #pragma unroll
    for (float& x : tile) x *= scale_log2;
  if (mask) {
    #pragma unroll
    for (int j = 0; j < kTiles; ++j) {
      #pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int key = n0 + j * 8 + 2 * t + e;
        if (!(key < lk && key <= lim0)) s[j][e] = -INFINITY;
        if (!(key < lk && key <= lim1)) s[j][2 + e] = -INFINITY;
      }
    }
  }
  float mx0 = -INFINITY, mx1 = -INFINITY;
  #pragma unroll
  for (int j = 0; j < kTiles; ++j) {
    #pragma unroll
    for (int e = 0; e < 2; ++e) {
      mx0 = fmaxf(mx0, s[j][e]);
      mx1 = fmaxf(mx1, s[j][2 + e]);
    }
  }
  #pragma unroll
  for (int off = 1; off < 4; off *= 2) {
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, off));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, off));
  }
  const float n_m0 = fmaxf(r.m0, mx0), n_m1 = fmaxf(r.m1, mx1);
  const float base0 = n_m0 == -INFINITY ? 0.f : n_m0;
  const float base1 = n_m1 == -INFINITY ? 0.f : n_m1;
  const float a0 = exp2_ftz(r.m0 - base0), a1 = exp2_ftz(r.m1 - base1);
  r.m0 = n_m0;
  r.m1 = n_m1;
  float sum0 = 0.f, sum1 = 0.f;
  #pragma unroll
  for (int j = 0; j < kTiles; ++j) {
    #pragma unroll
    for (int e = 0; e < 2; ++e) {
      s[j][e] = exp2_ftz(s[j][e] - base0);
      s[j][2 + e] = exp2_ftz(s[j][2 + e] - base1);
      sum0 += s[j][e];
      sum1 += s[j][2 + e];
    }
  }
  r.l0 = r.l0 * a0 + sum0;
  r.l1 = r.l1 * a1 + sum1;
  #pragma unroll
  for (auto& tile : o) {
    tile[0] *= a0;
    tile[1] *= a0;
    tile[2] *= a1;
    tile[3] *= a1;
  }
}

// Whether every key of [n0, n0 + keys) is visible to every query row from row0 on: below lk and,
// causal, at most row0 + shift (the block's first row sees the fewest keys).
__device__ __forceinline__ bool whole_tile(int n0, int keys, int lk, bool causal, int row0,
                                           int shift) {
  return n0 + keys <= lk && (!causal || n0 + keys - 1 <= row0 + shift);
}

// out = O / l for this lane's rows q0 and q0 + 8 (written where below lq; `out` points at row 0,
// this head, column 2t; rows o_tok apart); a row that saw no key (l == 0) gets zeros.
template <typename T, int kOTiles>
__device__ __forceinline__ void store_rows(T* out, long long o_tok, const float (&o)[kOTiles][4],
                                           RowPair r, int q0, int lq) {
  #pragma unroll
  for (int off = 1; off < 4; off *= 2) {
    r.l0 += __shfl_xor_sync(0xffffffffu, r.l0, off);
    r.l1 += __shfl_xor_sync(0xffffffffu, r.l1, off);
  }
  const float inv0 = r.l0 > 0.f ? 1.f / r.l0 : 0.f, inv1 = r.l1 > 0.f ? 1.f / r.l1 : 0.f;
  const int q1 = q0 + 8;
  #pragma unroll
  for (int j = 0; j < kOTiles; ++j) {
    if (q0 < lq)
      *reinterpret_cast<unsigned*>(out + q0 * o_tok + j * 8) =
          pack2<T>(o[j][0] * inv0, o[j][1] * inv0);
    if (q1 < lq)
      *reinterpret_cast<unsigned*>(out + q1 * o_tok + j * 8) =
          pack2<T>(o[j][2] * inv1, o[j][3] * inv1);
  }
}

}  // namespace glyph::vlm::ops::cuda
