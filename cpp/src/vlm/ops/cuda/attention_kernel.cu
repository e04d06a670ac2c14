// CUDA attention kernels behind ops::attention_varlen and ops::attention_with_kvcache.
//
// varlen_kernel: packed sequences (the vision tower's pages, a text prefill), tiled with an online
//   softmax so no score matrix of a whole sequence exists. One block = 64 query rows of one head
//   of one sequence, four warps of 16 rows each; K/V tiles of 64 keys are staged in shared memory
//   with 16-byte loads; Q.K^T and P.V run on the tensor cores (WMMA 16x16x16, fp16/bf16 in,
//   fp32 accumulate: mma.sync on sm_80 and sm_90). The running output stays in fp32 in shared
//   memory, rescaled per row as the maximum moves (FlashAttention-2's recurrence). Causal masking
//   is bottom-right aligned (query i of lq sees keys j <= i + lk - lq); rows that see no key get
//   zeros. GQA: query head h reads KV head h / (H / Hkv), nothing copied.
//
//   The same kernel takes a prefill chunk against a KV cache (queries at an offset into the
//   cached keys, the cache's lengths read on the device; attention_cuda.h).
//
// decode_kernel + combine_kernel: one new token per sequence against its cache (flash-decoding).
//   The cache lengths are read on the device, so a decode step has static shapes (capturable in a
//   CUDA graph). Each block takes one KV head and its group of query heads for one split of the
//   keys; the splits' partial results (unnormalised output, max, sum) are combined by a second
//   kernel. The optional new K/V token is written into the cache first (append_kernel).
//
// The reference each is checked against: ops/cpu/attention_kernel.cpp (SDPA per sequence) and the
// float64 attention of tests/python/test_vlm_ops.py.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <cfloat>
#include <cstdint>

#include "vlm/ops/cuda/attention_cuda.h"
#include "vlm/ops/cuda/varlen_common.cuh"

namespace glyph::vlm::ops::cuda {

namespace {

using namespace nvcuda;

constexpr float kLog2e = 1.4426950408889634f;

template <typename T>
struct Num;
template <>
struct Num<__half> {
  static __device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
  static __device__ __forceinline__ __half from_float(float x) { return __float2half_rn(x); }
};
template <>
struct Num<__nv_bfloat16> {
  static __device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
  static __device__ __forceinline__ __nv_bfloat16 from_float(float x) {
    return __float2bfloat16_rn(x);
  }
};

// Eight 16-bit elements: one 16-byte load or store.
union Vec8 {
  uint4 u;
  unsigned short s[8];
};

template <typename T>
__device__ __forceinline__ float elem(const Vec8& v, int i);
template <>
__device__ __forceinline__ float elem<__half>(const Vec8& v, int i) {
  return __half2float(__ushort_as_half(v.s[i]));
}
template <>
__device__ __forceinline__ float elem<__nv_bfloat16>(const Vec8& v, int i) {
  return __bfloat162float(__ushort_as_bfloat16(v.s[i]));
}
__device__ __forceinline__ unsigned short bits(__half x) { return __half_as_ushort(x); }
__device__ __forceinline__ unsigned short bits(__nv_bfloat16 x) { return __bfloat16_as_ushort(x); }

// ---------------------------------------------------------------------------------------------
// Packed (varlen) attention.

constexpr int kBM = 64;      // query rows per block
constexpr int kBN = 64;      // keys per tile
constexpr int kWarps = 4;    // 16 query rows each
constexpr int kThreads = kWarps * 32;

template <int D>
constexpr std::size_t varlen_smem_bytes(std::size_t elem_bytes) {
  return elem_bytes * (kBM * D + 2 * kBN * D + kBM * kBN)  // Q, K, V, P
         + sizeof(float) * (kBM * kBN + kBM * D + 2 * kBM);  // S, O, m, l
}

// Copies `rows` x D elements (row r at base + r * stride) into shared memory (dense, row-major),
// zero-filling rows past `valid`. D is a multiple of 8 and every row starts 16-byte aligned.
template <typename T, int D, int Rows>
__device__ __forceinline__ void load_tile(T* dst, const T* base, long long stride, int valid) {
  constexpr int kVecs = Rows * D / 8;
  for (int i = threadIdx.x; i < kVecs; i += kThreads) {
    const int r = i / (D / 8), c = (i % (D / 8)) * 8;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (r < valid) v = *reinterpret_cast<const uint4*>(base + r * stride + c);
    *reinterpret_cast<uint4*>(dst + r * D + c) = v;
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) varlen_kernel(VarlenParams p) {
  const int b = blockIdx.z, h = blockIdx.y, row0 = blockIdx.x * kBM;
  const SeqBounds sb = seq_bounds(p, b);
  const long long q_begin = sb.q_begin, k_begin = sb.k_begin;
  const int lq = sb.lq, lk = sb.lk, shift = sb.shift;
  if (row0 >= lq) return;
  const int kvh = h / (p.heads / p.kv_heads);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  extern __shared__ __align__(128) unsigned char smem[];
  T* sQ = reinterpret_cast<T*>(smem);
  T* sK = sQ + kBM * D;
  T* sV = sK + kBN * D;
  T* sP = sV + kBN * D;
  float* sS = reinterpret_cast<float*>(sP + kBM * kBN);
  float* sO = sS + kBM * kBN;
  float* sM = sO + kBM * D;
  float* sL = sM + kBM;

  const T* q = static_cast<const T*>(p.q) + (q_begin + row0) * p.q_tok + h * p.q_head;
  load_tile<T, D, kBM>(sQ, q, p.q_tok, lq - row0);
  for (int i = threadIdx.x; i < kBM * D; i += kThreads) sO[i] = 0.f;
  for (int i = threadIdx.x; i < kBM; i += kThreads) {
    sM[i] = -INFINITY;
    sL[i] = 0.f;
  }

  // Keys any row of this block may see.
  const int last_row = min(row0 + kBM, lq) - 1;
  const int k_end = p.causal ? min(lk, last_row + shift + 1) : lk;
  const float scale_log2 = p.scale * kLog2e;

  // This lane's row of the softmax step and its half of the row's columns.
  const int my_row = warp * 16 + lane / 2;
  const int my_half = lane % 2;
  const int my_q = row0 + my_row;  // query index within the sequence
  const int my_limit = p.causal ? my_q + shift : lk - 1;  // last key it may see

  const T* kbase = static_cast<const T*>(p.k) + k_begin * p.k_tok + kvh * p.k_head;
  const T* vbase = static_cast<const T*>(p.v) + k_begin * p.v_tok + kvh * p.v_head;
  __syncthreads();

  for (int n0 = 0; n0 < k_end; n0 += kBN) {
    load_tile<T, D, kBN>(sK, kbase + n0 * p.k_tok, p.k_tok, lk - n0);
    load_tile<T, D, kBN>(sV, vbase + n0 * p.v_tok, p.v_tok, lk - n0);
    __syncthreads();

    // S[warp rows, 64 keys] = Q K^T on the tensor cores.
    for (int c = 0; c < kBN / 16; ++c) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.f);
      for (int kk = 0; kk < D / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> bk;
        wmma::load_matrix_sync(a, sQ + warp * 16 * D + kk * 16, D);
        wmma::load_matrix_sync(bk, sK + c * 16 * D + kk * 16, D);  // K rows = B's columns
        wmma::mma_sync(acc, a, bk, acc);
      }
      wmma::store_matrix_sync(sS + warp * 16 * kBN + c * 16, acc, kBN, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax, two lanes per row (32 columns each), in the log2 domain. Lane L starts its
    // columns at L (mod 32): every row starts on bank 0 (rows are 64 floats), so lanes walking
    // their columns in step would all hit one bank (a 32-way conflict); rotated, each hits its own.
    float* srow = sS + my_row * kBN + my_half * (kBN / 2);
    T* prow = sP + my_row * kBN + my_half * (kBN / 2);
    float mx = -INFINITY;
    for (int jj = 0; jj < kBN / 2; ++jj) {
      const int j = (jj + lane) % (kBN / 2);
      const int key = n0 + my_half * (kBN / 2) + j;
      const float s = (key < lk && key <= my_limit) ? srow[j] * scale_log2 : -INFINITY;
      srow[j] = s;
      mx = fmaxf(mx, s);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    const float m_old = sM[my_row];
    const float m_new = fmaxf(m_old, mx);
    float alpha = 1.f, sum = 0.f;
    if (m_new == -INFINITY) {  // nothing visible yet: P = 0, O stays 0
      for (int jj = 0; jj < kBN / 2; ++jj) prow[(jj + lane) % (kBN / 2)] = Num<T>::from_float(0.f);
    } else {
      alpha = exp2f(m_old - m_new);  // 0 when m_old is -inf
      for (int jj = 0; jj < kBN / 2; ++jj) {
        const int j = (jj + lane) % (kBN / 2);
        const float e = exp2f(srow[j] - m_new);
        prow[j] = Num<T>::from_float(e);
        sum += e;
      }
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    __syncwarp();
    if (my_half == 0) {
      sL[my_row] = sL[my_row] * alpha + sum;
      sM[my_row] = m_new;
    }
    float* orow = sO + my_row * D + my_half * (D / 2);
    for (int dd = 0; dd < D / 2; ++dd) orow[(dd + lane) % (D / 2)] *= alpha;  // rotated, as above
    __syncwarp();

    // O[warp rows] += P V on the tensor cores, accumulating into the fp32 rows in shared memory.
    for (int c = 0; c < D / 16; ++c) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::load_matrix_sync(acc, sO + warp * 16 * D + c * 16, D, wmma::mem_row_major);
      for (int kk = 0; kk < kBN / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> bv;
        wmma::load_matrix_sync(a, sP + warp * 16 * kBN + kk * 16, kBN);
        wmma::load_matrix_sync(bv, sV + kk * 16 * D + c * 16, D);
        wmma::mma_sync(acc, a, bv, acc);
      }
      wmma::store_matrix_sync(sO + warp * 16 * D + c * 16, acc, D, wmma::mem_row_major);
    }
    __syncthreads();  // every warp is done with this K/V tile before the next one is loaded
  }

  // out = O / l; rows that saw no key (l == 0) get zeros.
  if (my_q < lq) {
    const float l = sL[my_row];
    const float inv = l > 0.f ? 1.f / l : 0.f;
    T* o = static_cast<T*>(p.out) + (q_begin + my_q) * p.o_tok + h * p.o_head + my_half * (D / 2);
    const float* orow = sO + my_row * D + my_half * (D / 2);
    for (int d = 0; d < D / 2; d += 8) {
      Vec8 v;
      for (int i = 0; i < 8; ++i) {
        v.s[i] = bits(Num<T>::from_float(orow[d + i] * inv));
      }
      *reinterpret_cast<uint4*>(o + d) = v.u;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decode: one query token per sequence, split-KV.

constexpr int kDecodeTile = 64;            // keys per shared-memory tile
constexpr int kDecodeThreads = 128;
constexpr int kPad = 8;                    // elements of padding per K/V row: no bank conflicts

template <int D>
constexpr std::size_t decode_smem_bytes(std::size_t elem_bytes) {
  return elem_bytes * 2 * kDecodeTile * (D + kPad)                       // K, V tiles
         + sizeof(float) * (kMaxDecodeGroup * D                          // q (scaled)
                            + kMaxDecodeGroup * kDecodeTile              // scores / P
                            + 3 * kMaxDecodeGroup);                      // m, l, alpha
}

// Token t of sequence b's new K/V goes to cache position seqlens[b] + t: blocks (b, y) take the
// tokens y, y + gridDim.y, ...
template <typename T, int D>
__global__ void __launch_bounds__(128) append_kernel(DecodeParams p) {
  const int b = blockIdx.x;
  for (int t = blockIdx.y; t < p.new_tokens; t += gridDim.y) {
    const int pos = p.seqlens[b] + t;
    if (pos < 0 || pos >= p.capacity) continue;  // the op's caller sized the cache (KvCache::reserve)
    const T* kn = static_cast<const T*>(p.k_new) + b * p.kn_b + t * p.kn_tok;
    const T* vn = static_cast<const T*>(p.v_new) + b * p.vn_b + t * p.vn_tok;
    T* kc = static_cast<T*>(p.k_cache) + b * p.kc_b + pos * p.kc_tok;
    T* vc = static_cast<T*>(p.v_cache) + b * p.vc_b + pos * p.vc_tok;
    for (int i = threadIdx.x; i < p.kv_heads * (D / 8); i += blockDim.x) {
      const int hk = i / (D / 8), c = (i % (D / 8)) * 8;
      *reinterpret_cast<uint4*>(kc + hk * p.kc_head + c) =
          *reinterpret_cast<const uint4*>(kn + hk * p.kn_head + c);
      *reinterpret_cast<uint4*>(vc + hk * p.vc_head + c) =
          *reinterpret_cast<const uint4*>(vn + hk * p.vn_head + c);
    }
  }
}

template <typename T, int D>
void append_launch(const DecodeParams& p, cudaStream_t stream) {
  const dim3 grid(p.batch, p.new_tokens < 65535 ? p.new_tokens : 65535);
  append_kernel<T, D><<<grid, 128, 0, stream>>>(p);
}

template <typename T, int D>
__device__ __forceinline__ void load_padded(T* dst, const T* base, long long stride, int valid) {
  for (int i = threadIdx.x; i < kDecodeTile * (D / 8); i += kDecodeThreads) {
    const int r = i / (D / 8), c = (i % (D / 8)) * 8;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (r < valid) v = *reinterpret_cast<const uint4*>(base + r * stride + c);
    *reinterpret_cast<uint4*>(dst + r * (D + kPad) + c) = v;
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kDecodeThreads) decode_kernel(DecodeParams p) {
  const int split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
  const int group = p.heads / p.kv_heads;  // <= kMaxDecodeGroup (checked by the launcher)
  const int h0 = kvh * group;
  // Never past the cache, whatever the lengths say (the op's caller sizes it; like the varlen
  // cache form's clamp).
  const int total = min(p.seqlens[b] + (p.k_new ? 1 : 0), p.capacity);
  // This split's keys: an equal share, rounded up to whole tiles.
  const int per = ((total + p.splits - 1) / p.splits + kDecodeTile - 1) / kDecodeTile * kDecodeTile;
  const int begin = split * per, end = min(total, begin + per);

  extern __shared__ __align__(128) unsigned char smem[];
  T* sK = reinterpret_cast<T*>(smem);
  T* sV = sK + kDecodeTile * (D + kPad);
  float* sQ = reinterpret_cast<float*>(sV + kDecodeTile * (D + kPad));
  float* sS = sQ + kMaxDecodeGroup * D;
  float* sM = sS + kMaxDecodeGroup * kDecodeTile;
  float* sL = sM + kMaxDecodeGroup;
  float* sA = sL + kMaxDecodeGroup;

  const float scale_log2 = p.scale * kLog2e;
  const T* q = static_cast<const T*>(p.q) + b * p.q_b;
  for (int i = threadIdx.x; i < group * D; i += kDecodeThreads) {
    const int g = i / D, d = i % D;
    sQ[i] = Num<T>::to_float(q[(h0 + g) * p.q_head + d]) * scale_log2;
  }
  for (int i = threadIdx.x; i < group; i += kDecodeThreads) {
    sM[i] = -INFINITY;
    sL[i] = 0.f;
  }

  // P.V ownership: column d of heads g = hg, hg + G, ... (G = threads / D head groups).
  constexpr int G = kDecodeThreads / D;
  const int my_d = threadIdx.x % D, my_g = threadIdx.x / D;
  float acc[kMaxDecodeGroup / G];
  for (int i = 0; i < kMaxDecodeGroup / G; ++i) acc[i] = 0.f;

  // Scores: key j = thread % 64 against heads g = thread / 64, + 2, + 4, ...
  constexpr int kKeyGroups = kDecodeThreads / kDecodeTile;  // 2
  const int my_key = threadIdx.x % kDecodeTile, my_kg = threadIdx.x / kDecodeTile;

  const T* kbase = static_cast<const T*>(p.k_cache) + b * p.kc_b + kvh * p.kc_head;
  const T* vbase = static_cast<const T*>(p.v_cache) + b * p.vc_b + kvh * p.vc_head;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();

  for (int n0 = begin; n0 < end; n0 += kDecodeTile) {
    load_padded<T, D>(sK, kbase + n0 * p.kc_tok, p.kc_tok, end - n0);
    load_padded<T, D>(sV, vbase + n0 * p.vc_tok, p.vc_tok, end - n0);
    __syncthreads();

    float s[kMaxDecodeGroup / kKeyGroups];
    for (int i = 0; i < kMaxDecodeGroup / kKeyGroups; ++i) s[i] = 0.f;
    const T* krow = sK + my_key * (D + kPad);
    for (int c = 0; c < D; c += 8) {
      Vec8 kv;
      kv.u = *reinterpret_cast<const uint4*>(krow + c);
      float kf[8];
      for (int e = 0; e < 8; ++e) kf[e] = elem<T>(kv, e);
      for (int i = 0; i < kMaxDecodeGroup / kKeyGroups; ++i) {
        const int g = my_kg + i * kKeyGroups;
        if (g >= group) break;
        const float* qg = sQ + g * D + c;
        float t = 0.f;
        for (int e = 0; e < 8; ++e) t += qg[e] * kf[e];
        s[i] += t;
      }
    }
    const bool visible = n0 + my_key < end;
    for (int i = 0; i < kMaxDecodeGroup / kKeyGroups; ++i) {
      const int g = my_kg + i * kKeyGroups;
      if (g >= group) break;
      sS[g * kDecodeTile + my_key] = visible ? s[i] : -INFINITY;
    }
    __syncthreads();

    // Softmax update: one warp per head (heads warp, warp + 4, ...), two keys per lane.
    for (int g = warp; g < group; g += kDecodeThreads / 32) {
      float* row = sS + g * kDecodeTile;
      const float a = row[lane], c = row[lane + 32];
      float mx = fmaxf(a, c);
      for (int o = 16; o > 0; o /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
      const float m_old = sM[g], m_new = fmaxf(m_old, mx);
      float ea = 0.f, ec = 0.f, alpha = 1.f;
      if (m_new != -INFINITY) {
        ea = exp2f(a - m_new);
        ec = exp2f(c - m_new);
        alpha = exp2f(m_old - m_new);
      }
      row[lane] = ea;
      row[lane + 32] = ec;
      float sum = ea + ec;
      for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
      if (lane == 0) {
        sL[g] = sL[g] * alpha + sum;
        sM[g] = m_new;
        sA[g] = alpha;
      }
    }
    __syncthreads();

    for (int i = 0; i < kMaxDecodeGroup / G; ++i) {
      const int g = my_g + i * G;
      if (g >= group) break;
      const float* prow = sS + g * kDecodeTile;
      float t = acc[i] * sA[g];
      for (int j = 0; j < kDecodeTile; ++j)
        t += prow[j] * Num<T>::to_float(sV[j * (D + kPad) + my_d]);
      acc[i] = t;
    }
    __syncthreads();
  }

  const long long slot = (static_cast<long long>(b) * p.splits + split) * p.heads;
  for (int i = 0; i < kMaxDecodeGroup / G; ++i) {
    const int g = my_g + i * G;
    if (g >= group) break;
    p.partial_o[(slot + h0 + g) * D + my_d] = acc[i];
  }
  for (int g = threadIdx.x; g < group; g += kDecodeThreads) {
    p.partial_ml[(slot + h0 + g) * 2] = sM[g];
    p.partial_ml[(slot + h0 + g) * 2 + 1] = sL[g];
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(D) combine_kernel(DecodeParams p) {
  const int h = blockIdx.x, b = blockIdx.y, d = threadIdx.x;
  const long long base = static_cast<long long>(b) * p.splits * p.heads + h;
  float m = -INFINITY;
  for (int s = 0; s < p.splits; ++s) m = fmaxf(m, p.partial_ml[(base + s * p.heads) * 2]);
  float l = 0.f, o = 0.f;
  if (m != -INFINITY) {
    for (int s = 0; s < p.splits; ++s) {
      const long long slot = base + s * p.heads;
      const float ms = p.partial_ml[slot * 2];
      if (ms == -INFINITY) continue;
      const float w = exp2f(ms - m);
      l += p.partial_ml[slot * 2 + 1] * w;
      o += p.partial_o[slot * D + d] * w;
    }
  }
  T* out = static_cast<T*>(p.out) + b * p.o_b + h * p.o_head;
  out[d] = Num<T>::from_float(l > 0.f ? o / l : 0.f);
}

// ---------------------------------------------------------------------------------------------

template <typename T, int D>
const char* varlen_launch(const VarlenParams& p, cudaStream_t stream) {
  const dim3 grid((p.max_seqlen_q + kBM - 1) / kBM, p.heads, p.batch);
  return launch_with_smem(varlen_kernel<T, D>, grid, kThreads, varlen_smem_bytes<D>(sizeof(T)),
                          stream, p);
}

// The splits' reduction, shared by decode v1 here and v2 (launch_decode_combine).
template <typename T, int D>
const char* combine_launch(const DecodeParams& p, cudaStream_t stream) {
  combine_kernel<T, D><<<dim3(p.heads, p.batch), D, 0, stream>>>(p);
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

template <typename T, int D>
const char* decode_launch(const DecodeParams& p, cudaStream_t stream) {
  if (p.k_new) append_launch<T, D>(p, stream);
  const char* err = launch_with_smem(decode_kernel<T, D>, dim3(p.splits, p.kv_heads, p.batch),
                                     kDecodeThreads, decode_smem_bytes<D>(sizeof(T)), stream, p);
  if (err) return err;
  return combine_launch<T, D>(p, stream);
}

}  // namespace

const char* launch_varlen(const VarlenParams& p, cudaStream_t stream) {
  return by_type_and_dim(p.dtype, p.head_dim,
                         "attention_varlen: the CUDA kernel takes head_dim 64 or 128",
                         [&](auto t, auto d) {
                           return varlen_launch<decltype(t), decltype(d)::value>(p, stream);
                         });
}

const char* launch_decode(const DecodeParams& p, cudaStream_t stream) {
  return by_type_and_dim(p.dtype, p.head_dim,
                         "attention_with_kvcache: the CUDA kernel takes head_dim 64 or 128",
                         [&](auto t, auto d) {
                           return decode_launch<decltype(t), decltype(d)::value>(p, stream);
                         });
}

const char* launch_decode_combine(const DecodeParams& p, cudaStream_t stream) {
  return by_type_and_dim(p.dtype, p.head_dim,
                         "attention_with_kvcache: the CUDA kernel takes head_dim 64 or 128",
                         [&](auto t, auto d) {
                           return combine_launch<decltype(t), decltype(d)::value>(p, stream);
                         });
}

const char* launch_append(const DecodeParams& p, cudaStream_t stream) {
  return by_type_and_dim(p.dtype, p.head_dim,
                         "attention_with_kvcache: the CUDA kernel takes head_dim 64 or 128",
                         [&](auto t, auto d) -> const char* {
                           append_launch<decltype(t), decltype(d)::value>(p, stream);
                           const cudaError_t e = cudaGetLastError();
                           return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
                         });
}

int decode_key_tile() { return kDecodeTile; }

std::size_t varlen_shared_bytes(int head_dim, int elem_bytes) {
  return head_dim == 128 ? varlen_smem_bytes<128>(elem_bytes) : varlen_smem_bytes<64>(elem_bytes);
}

}  // namespace glyph::vlm::ops::cuda
