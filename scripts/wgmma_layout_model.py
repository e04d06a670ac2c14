"""A model check of the shared-memory layout of the Hopper attention kernel
(cpp/src/vlm/ops/cuda/hopper/attention_wgmma.cu, docs/kernel-notes.md "v3").

The kernel writes each tile with `swizzled()` and hands wgmma descriptors (start address, LBO,
SBO, 128-byte swizzle). This script replays that arithmetic against the canonical wgmma
shared-memory layouts, as CUTLASS documents them for its GMMA descriptors:

  K-major, 128-byte swizzle:  element (mn, k) at (mn % 8) * 128 + (mn // 8) * SBO + 2k
  MN-major, 128-byte swizzle: element (k, mn) at 2 (mn % 64) + (mn // 64) * LBO
                                                 + (k % 8) * 128 + (k // 8) * SBO

The swizzle is then applied to the shared address (bits 4-6 XOR bits 7-9). For both warpgroups,
every k-step and head_dim 64 and 128, each byte an instruction reads must hold the intended Q, K
or V element. This checks the model of the hardware, not the hardware. Keep the constants in step
with the kernel.

    python scripts/wgmma_layout_model.py
"""
ROWS_Q = KEYS = 128  # kRowsW, kKeysW
ROW = 128            # kSwizzleRow: bytes per row of a 64-column block
SBO = 8 * ROW        # 8 rows of 128 bytes
LBO_V = KEYS * ROW   # between the 64-column blocks of a V tile


def swizzle(addr):
    return addr ^ (((addr >> 7) & 7) << 4)


def written(rows, r, c):
    """Where the kernel's load_tile_async puts element (r, c) of a tile (swizzled() + 2 (c % 8))."""
    return (c // 64) * rows * ROW + r * ROW + (((c % 64) // 8) ^ (r % 8)) * 16 + (c % 8) * 2


def k_major(start, mn, k):
    return swizzle(start + (mn % 8) * ROW + (mn // 8) * SBO + k * 2)


def mn_major(start, k, mn, lbo):
    return swizzle(start + (mn % 64) * 2 + (mn // 64) * lbo + (k % 8) * ROW + (k // 8) * SBO)


def check(d):
    q_tile = {written(ROWS_Q, r, c): (r, c) for r in range(ROWS_Q) for c in range(d)}
    kv_tile = {written(KEYS, r, c): (r, c) for r in range(KEYS) for c in range(d)}
    assert len(q_tile) == ROWS_Q * d and len(kv_tile) == KEYS * d  # no two elements share bytes
    for kk in range(d // 16):  # S = Q K^T, one k-step of 16 columns
        col = kk * 16
        block, within = col // 64, (col % 64) * 2
        for wg in (0, 1):
            start_q = wg * 64 * ROW + block * ROWS_Q * ROW + within
            for m in range(64):
                for k in range(16):
                    assert q_tile[k_major(start_q, m, k)] == (wg * 64 + m, col + k), (d, kk, wg, m, k)
        start_k = block * KEYS * ROW + within
        for n in range(KEYS):
            for k in range(16):
                assert kv_tile[k_major(start_k, n, k)] == (n, col + k), (d, kk, n, k)
    for kc in range(KEYS // 16):  # O += P V, one k-step of 16 keys
        start_v = kc * 16 * ROW
        for k in range(16):
            for n in range(d):
                assert kv_tile[mn_major(start_v, k, n, LBO_V)] == (kc * 16 + k, n), (d, kc, k, n)


if __name__ == "__main__":
    for d in (64, 128):
        check(d)
    print("wgmma layout model: every operand byte holds its element (head_dim 64 and 128)")
