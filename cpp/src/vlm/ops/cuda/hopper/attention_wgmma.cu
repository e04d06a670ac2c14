// The packed (varlen) attention, version 3 (docs/kernel-notes.md), for Hopper only (sm_90a: this
// file is compiled for that architecture alone, see CMakeLists.txt beside it). The contract and
// VarlenParams of the other two versions (packed sequences, or a prefill chunk in the cache
// form); the matrix products on warpgroup MMA (`wgmma.mma_async`), which reads its B operand (and
// for Q.K^T its A operand) straight from shared memory:
//
//   - one block = 128 query rows of one head of one sequence, two warpgroups of 64 rows (the
//     wgmma M); the key tiles are 128 keys, so S = Q.K^T is one m64n128k16 chain per warpgroup
//     (D / 16 instructions, both operands in shared memory) and O += P.V is one m64nDk16 chain
//     (128 / 16 instructions, P from registers, V transposed by the instruction);
//   - Q, K and V tiles sit in shared memory in the layout wgmma's 128-byte swizzle expects:
//     columns in blocks of 64 elements (128 bytes), each block `rows` rows of 128 bytes, the
//     16-byte chunk c of row r stored at chunk c ^ (r % 8) (every tile 1024-byte aligned);
//   - K and V are double-buffered: tile i + 1 is copied by `cp.async` while tile i is computed;
//   - the softmax, masking and P-from-scores steps are mma_fragments.cuh's, shared with version 2
//     (a warp's share of a wgmma accumulator has mma.sync's fragment layout).
//
// Shared memory: Q (128 x D) and two stages of K and V (128 x D each): 160 KB at D = 128 (Hopper
// gives a block up to 227 KB). Never run on a GPU yet: the op tests run it as backend "wgmma".
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "vlm/ops/cuda/attention_cuda.h"
#include "vlm/ops/cuda/mma_fragments.cuh"
#include "vlm/ops/cuda/varlen_common.cuh"

namespace glyph::vlm::ops::cuda {

namespace {

constexpr int kRowsW = 128;    // query rows per block (two warpgroups)
constexpr int kKeysW = 128;    // keys per tile
constexpr int kThreadsW = 256;
constexpr int kSwizzleRow = 128;  // bytes per row of a 64-column block
constexpr int kAlign = 1024;      // the swizzle pattern repeats every 8 rows of 128 bytes

// Bytes of a tile of `rows` rows of D 16-bit elements; the kernel's dynamic shared memory (Q, two
// stages of K and V, and room to align the first tile).
template <int D>
__host__ __device__ constexpr int tile_bytes(int rows) {
  return rows * D * 2;
}
template <int D>
constexpr std::size_t wgmma_smem_bytes() {
  return tile_bytes<D>(kRowsW) + 4 * tile_bytes<D>(kKeysW) + kAlign;
}

// Byte offset of the 16-byte chunk holding columns [c, c + 8) of row r in a swizzled tile of
// `rows` rows (see the top of the file).
__device__ __forceinline__ int swizzled(int rows, int r, int c) {
  return (c / 64) * rows * kSwizzleRow + r * kSwizzleRow + (((c % 64) / 8) ^ (r % 8)) * 16;
}

// ROWS rows of D elements, row r at src + r * stride, into a swizzled tile; rows from `valid` on
// are zero-filled (so the masked keys' values are zeros, never stale data).
template <typename T, int D, int ROWS>
__device__ __forceinline__ void load_tile_async(unsigned char* dst, const T* src,
                                                long long stride, int valid) {
  constexpr int kChunks = D / 8;
  for (int i = threadIdx.x; i < ROWS * kChunks; i += kThreadsW) {
    const int r = i / kChunks, c = (i % kChunks) * 8;
    const bool in = r < valid;
    cp_async16(dst + swizzled(ROWS, r, c), in ? src + r * stride + c : src, in ? 16 : 0);
  }
}

// A shared-memory matrix descriptor (PTX ISA, "matrix descriptor"): start address, leading and
// stride byte offsets (all in 16-byte units), base offset 0 (tiles are 1024-byte aligned and the
// k-steps move within a 128-byte row), layout 1 = 128-byte swizzle.
__device__ __forceinline__ std::uint64_t smem_desc(const void* p, int lead_bytes,
                                                   int stride_bytes) {
  std::uint64_t d = (smem_addr(p) & 0x3FFFF) >> 4;
  d |= static_cast<std::uint64_t>((lead_bytes >> 4) & 0x3FFF) << 16;
  d |= static_cast<std::uint64_t>((stride_bytes >> 4) & 0x3FFF) << 32;
  d |= 1ull << 62;
  return d;
}

__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_wait_all() {
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
}
// Shared memory written by cp.async (the generic proxy) becomes visible to wgmma (the async
// proxy) after this fence and a barrier.
__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
// Keeps the compiler from moving reads or writes of accumulator registers across the
// asynchronous MMAs that own them between issue and wait.
template <typename E, int N>
__device__ __forceinline__ void fence_registers(E (&r)[N][4]) {
  #pragma unroll
  for (auto& tile : r)
    #pragma unroll
    for (E& x : tile) {
      if constexpr (std::is_same_v<E, float>)
        asm volatile("" : "+f"(x)::"memory");
      else
        asm volatile("" : "+r"(x)::"memory");
    }
}

#define GLYPH_WG_REGS_0_31                                                              \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, " \
  "%19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define GLYPH_WG_REGS_32_63                                                                  \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, " \
  "%50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define GLYPH_WG_D2(j) "+f"(d[j][0]), "+f"(d[j][1]), "+f"(d[j][2]), "+f"(d[j][3]), \
                       "+f"(d[j + 1][0]), "+f"(d[j + 1][1]), "+f"(d[j + 1][2]), "+f"(d[j + 1][3])
#define GLYPH_WG_D8 GLYPH_WG_D2(0), GLYPH_WG_D2(2), GLYPH_WG_D2(4), GLYPH_WG_D2(6)
#define GLYPH_WG_D16 GLYPH_WG_D8, GLYPH_WG_D2(8), GLYPH_WG_D2(10), GLYPH_WG_D2(12), GLYPH_WG_D2(14)

// d[64 x 128] (+)= A[64 x 16] B[16 x 128], A and B in shared memory, both K-major (the key tile
// is [keys][d]: B = K^T needs no transpose); scale_d 0 overwrites d.
#define GLYPH_WGMMA_SS_N128(TYPE)                                                          \
  asm volatile(                                                                            \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                         \
      "wgmma.mma_async.sync.aligned.m64n128k16.f32." TYPE "." TYPE " {" GLYPH_WG_REGS_0_31 \
      ", " GLYPH_WG_REGS_32_63 "}, %64, %65, p, 1, 1, 0, 0;\n}\n"                          \
      : GLYPH_WG_D16                                                                       \
      : "l"(da), "l"(db), "r"(scale_d))
template <typename T>
__device__ __forceinline__ void wgmma_ss_n128(float (&d)[16][4], std::uint64_t da,
                                              std::uint64_t db, int scale_d) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    GLYPH_WGMMA_SS_N128("bf16");
  else
    GLYPH_WGMMA_SS_N128("f16");
}

// d[64 x N] += A[64 x 16] B[16 x N], A in registers (the probabilities), B in shared memory
// MN-major (the value tile is [keys][d], so the instruction transposes it: imm-trans-b 1).
#define GLYPH_WGMMA_RS_N128(TYPE)                                                          \
  asm volatile(                                                                            \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                                         \
      "wgmma.mma_async.sync.aligned.m64n128k16.f32." TYPE "." TYPE " {" GLYPH_WG_REGS_0_31 \
      ", " GLYPH_WG_REGS_32_63 "}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"           \
      : GLYPH_WG_D16                                                                       \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1))
#define GLYPH_WGMMA_RS_N64(TYPE)                                                          \
  asm volatile(                                                                           \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                        \
      "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPE "." TYPE " {" GLYPH_WG_REGS_0_31 \
      "}, {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"                                   \
      : GLYPH_WG_D8                                                                       \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1))
template <typename T, int N>
__device__ __forceinline__ void wgmma_rs(float (&d)[N / 8][4], const unsigned (&a)[4],
                                         std::uint64_t db) {
  constexpr bool bf16 = std::is_same_v<T, __nv_bfloat16>;
  if constexpr (N == 128) {
    if constexpr (bf16)
      GLYPH_WGMMA_RS_N128("bf16");
    else
      GLYPH_WGMMA_RS_N128("f16");
  } else {
    static_assert(N == 64, "wgmma_rs: N is the head dimension, 64 or 128");
    if constexpr (bf16)
      GLYPH_WGMMA_RS_N64("bf16");
    else
      GLYPH_WGMMA_RS_N64("f16");
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreadsW, 1) varlen_wgmma_kernel(VarlenParams p) {
#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __trap();  // built for sm_90a only (CMakeLists.txt); never reached elsewhere
#else
  static_assert(D == 64 || D == 128, "head_dim 64 or 128");
  constexpr int kQBytes = tile_bytes<D>(kRowsW), kKVBytes = tile_bytes<D>(kKeysW);
  constexpr int kDSteps = D / 16;  // k-steps of Q.K^T
  const int b = blockIdx.z, h = blockIdx.y, row0 = blockIdx.x * kRowsW;
  const SeqBounds sb = seq_bounds(p, b);
  const long long q_begin = sb.q_begin, k_begin = sb.k_begin;
  const int lq = sb.lq, lk = sb.lk, shift = sb.shift;
  if (row0 >= lq) return;
  const int kvh = h / (p.heads / p.kv_heads);
  const int wg = threadIdx.x / 128, warp = (threadIdx.x % 128) / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;

  // The swizzle works on shared-memory addresses: the first tile starts at the first one that
  // is a multiple of 1024 (the allocation has room for that).
  extern __shared__ unsigned char smem_wgmma[];
  unsigned char* const sQ = smem_wgmma + ((kAlign - smem_addr(smem_wgmma) % kAlign) % kAlign);
  unsigned char* const sK = sQ + kQBytes;      // stage s at sK + s * kKVBytes
  unsigned char* const sV = sK + 2 * kKVBytes;  // likewise

  const int last_row = min(row0 + kRowsW, lq) - 1;
  const int k_end = p.causal ? min(lk, last_row + shift + 1) : lk;
  const T* kbase = static_cast<const T*>(p.k) + k_begin * p.k_tok + kvh * p.k_head;
  const T* vbase = static_cast<const T*>(p.v) + k_begin * p.v_tok + kvh * p.v_head;
  const T* q = static_cast<const T*>(p.q) + (q_begin + row0) * p.q_tok + h * p.q_head;

  // Q and the first K/V tile, one group.
  load_tile_async<T, D, kRowsW>(sQ, q, p.q_tok, lq - row0);
  if (k_end > 0) {
    load_tile_async<T, D, kKeysW>(sK, kbase, p.k_tok, lk);
    load_tile_async<T, D, kKeysW>(sV, vbase, p.v_tok, lk);
  }
  cp_async_commit();

  // This lane's two rows (g and g + 8 of its warp's 16 in its warpgroup's 64).
  const int q0 = row0 + wg * 64 + warp * 16 + g;
  const int lim0 = p.causal ? q0 + shift : lk - 1;
  const int lim1 = p.causal ? q0 + 8 + shift : lk - 1;
  const float scale_log2 = p.scale * kLog2eFrag;

  float o[D / 8][4];
  #pragma unroll
  for (auto& tile : o)
    #pragma unroll
    for (float& x : tile) x = 0.f;
  RowPair rows;
  // This warpgroup's 64 rows of Q: 64 rows x 128 bytes into each column block.
  const unsigned char* const sQwg = sQ + wg * 64 * kSwizzleRow;

  for (int n0 = 0, i = 0; n0 < k_end; n0 += kKeysW, ++i) {
    const int st = i % 2;
    // Tile i + 1 into the other stage (last read by tile i - 1, before its closing barrier).
    if (n0 + kKeysW < k_end) {
      load_tile_async<T, D, kKeysW>(sK + (st ^ 1) * kKVBytes, kbase + (n0 + kKeysW) * p.k_tok,
                                    p.k_tok, lk - n0 - kKeysW);
      load_tile_async<T, D, kKeysW>(sV + (st ^ 1) * kKVBytes, vbase + (n0 + kKeysW) * p.v_tok,
                                    p.v_tok, lk - n0 - kKeysW);
    }
    cp_async_commit();   // (an empty group on the last tile: the count below stays right)
    cp_async_wait<1>();  // every group but the newest: tile i (and Q) have arrived
    fence_proxy_async();
    __syncthreads();

    // S = Q K^T: 64 rows x 128 keys per warpgroup.
    float s[kKeysW / 8][4];  // not zeroed: the first step overwrites them (scale_d 0); zeroing
                             // them costs ~46 registers (ptxas: 246 instead of 200 at D = 128)
    wgmma_fence();
    #pragma unroll
    for (int kk = 0; kk < kDSteps; ++kk) {
      const int col = kk * 16;  // the step's first column of Q and K
      const int block = col / 64, within = (col % 64) * 2;
      const std::uint64_t da =
          smem_desc(sQwg + block * kRowsW * kSwizzleRow + within, 16, 8 * kSwizzleRow);
      const std::uint64_t db = smem_desc(sK + st * kKVBytes + block * kKeysW * kSwizzleRow +
                                             within, 16, 8 * kSwizzleRow);
      wgmma_ss_n128<T>(s, da, db, kk > 0 ? 1 : 0);
    }
    wgmma_commit();
    wgmma_wait_all();
    fence_registers(s);

    softmax_tile(s, o, rows, n0, t, lk, lim0, lim1, scale_log2,
                 !whole_tile(n0, kKeysW, lk, p.causal, row0, shift));

    // O += P V: P's fragments straight from the score registers (16 keys per k-step); V's 16
    // rows of a step start at row 16 kc of each column block, the blocks kKeysW rows apart.
    unsigned pa[kKeysW / 16][4];
    #pragma unroll
    for (int kc = 0; kc < kKeysW / 16; ++kc) p_fragment<T>(pa[kc], s, kc);
    fence_registers(o);  // the rescale and the packing stay before the MMAs that read them
    fence_registers(pa);
    wgmma_fence();
    #pragma unroll
    for (int kc = 0; kc < kKeysW / 16; ++kc) {
      const std::uint64_t db = smem_desc(sV + st * kKVBytes + kc * 16 * kSwizzleRow,
                                         kKeysW * kSwizzleRow, 8 * kSwizzleRow);
      wgmma_rs<T, D>(o, pa[kc], db);
    }
    wgmma_commit();
    wgmma_wait_all();
    fence_registers(o);
    __syncthreads();  // both warpgroups are done with stage st before it is refilled
  }
  cp_async_wait<0>();  // (Q's copy is still in flight when there was no key)

  store_rows<T>(static_cast<T*>(p.out) + q_begin * p.o_tok + h * p.o_head + 2 * t, p.o_tok, o,
                rows, q0, lq);
#endif
}

template <typename T, int D>
const char* varlen_wgmma_launch(const VarlenParams& p, cudaStream_t stream) {
  const dim3 grid((p.max_seqlen_q + kRowsW - 1) / kRowsW, p.heads, p.batch);
  return launch_with_smem(varlen_wgmma_kernel<T, D>, grid, kThreadsW, wgmma_smem_bytes<D>(),
                          stream, p);
}

}  // namespace

std::size_t varlen_wgmma_shared_bytes(int head_dim) {
  return head_dim == 64 ? wgmma_smem_bytes<64>() : wgmma_smem_bytes<128>();
}

const char* launch_varlen_wgmma(const VarlenParams& p, cudaStream_t stream) {
  return by_type_and_dim(p.dtype, p.head_dim,
                         "attention_varlen: the CUDA kernel takes head_dim 64 or 128",
                         [&](auto t, auto d) {
                           return varlen_wgmma_launch<decltype(t), decltype(d)::value>(p, stream);
                         });
}

}  // namespace glyph::vlm::ops::cuda
