"""The VLM's ops (attention, patch embedding) against float64 references, on every device present.

Attention error is held to at most 2x PyTorch's own SDPA error at the same precision (STYLE.md)."""
import math

import pytest

torch = pytest.importorskip("torch")
_vlm = pytest.importorskip("glyph._vlm")

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no GPU"))]


def ref_attention(q, k, v, causal, scale, segments=(), upcast=True):
    """Eager attention; upcast=True: in float64 (the truth), False: in the inputs' dtype."""
    if upcast:
        q, k, v = q.double(), k.double(), v.double()
    rep = q.shape[0] // k.shape[0]
    k, v = k.repeat_interleave(rep, 0), v.repeat_interleave(rep, 0)
    s = (q @ k.transpose(1, 2)) * scale
    lq, lk = q.shape[1], k.shape[1]
    allowed = torch.ones(lq, lk, dtype=torch.bool, device=q.device)
    if causal:
        allowed = torch.arange(lk, device=q.device)[None] <= torch.arange(lq, device=q.device)[:, None] + (lk - lq)
    if segments:
        seg = torch.zeros(lq, dtype=torch.long, device=q.device)
        for i in range(len(segments) - 1):
            seg[segments[i]:segments[i + 1]] = i
        allowed = allowed & (seg[:, None] == seg[None])
    s = s.masked_fill(~allowed, float("-inf"))
    return torch.softmax(s, -1).to(v.dtype) @ v


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("heads,kv,lq,lk,causal,segments", [
    (4, 4, 17, 17, False, ()),
    (8, 2, 33, 33, True, ()),          # GQA prefill
    (8, 1, 1, 40, True, ()),           # MQA decode step
    (4, 2, 5, 21, True, ()),           # a chunk appended to a cache
    (2, 2, 30, 30, False, (0, 12, 20, 30)),  # three images, bidirectional within each
])
def test_attention(device, dtype, heads, kv, lq, lk, causal, segments):
    g = torch.Generator().manual_seed(heads * 100 + lq)
    q = torch.randn(heads, lq, 32, generator=g).to(device, dtype)
    k = torch.randn(kv, lk, 32, generator=g).to(device, dtype)
    v = torch.randn(kv, lk, 32, generator=g).to(device, dtype)
    scale = 1 / math.sqrt(32)
    out = _vlm.op_attention(q, k, v, causal, scale, list(segments))
    ref = ref_attention(q, k, v, causal, scale, segments)
    assert out.dtype == dtype and out.shape == q.shape
    # PyTorch's own error at this precision: eager attention computed in `dtype`
    own = ref_attention(q, k, v, causal, scale, segments, upcast=False)
    own_err = (own.double() - ref).abs().max().item()
    err = (out.double() - ref).abs().max().item()
    assert err <= 2 * own_err + 1e-6, (err, own_err)


@pytest.mark.parametrize("device", DEVICES)
def test_patch_embed_matches_conv3d(device):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(24, 3, 2, 14, 14, generator=g, dtype=torch.float64)
    b = torch.randn(24, generator=g, dtype=torch.float64)
    x = torch.randn(10, 3 * 2 * 14 * 14, generator=g, dtype=torch.float64)
    ref = torch.nn.functional.conv3d(x.view(-1, 3, 2, 14, 14), w, b, stride=(2, 14, 14)).view(10, 24)
    out = _vlm.op_patch_embed(x.float().to(device), w.float().to(device), b.float().to(device))
    assert ((out.double().cpu() - ref).abs().max() / ref.abs().max()).item() < 1e-5
    with pytest.raises(RuntimeError, match="patch_embed"):
        _vlm.op_patch_embed(x[:, :10].float(), w.float(), b.float())


# ---- the packed (varlen) and KV-cache forms ----

def _check_close(out, q_seqs, k_seqs, v_seqs, causal, scale):
    """Each sequence's rows of `out` against float64 eager attention, within 2x the error of eager
    attention at the inputs' precision; rows that see no key must be zeros."""
    for o, q, k, v in zip(out, q_seqs, k_seqs, v_seqs):
        lq, lk = q.shape[1], k.shape[1]
        blind = lq if lk == 0 else (lq - lk if causal and lq > lk else 0)
        assert torch.equal(o[:, :blind], torch.zeros_like(o[:, :blind]))
        if blind == lq:
            continue
        q = q[:, blind:]
        ref = ref_attention(q, k, v, causal, scale)
        own = ref_attention(q, k, v, causal, scale, upcast=False)
        own_err = (own.double() - ref).abs().max().item()
        err = (o[:, blind:].double() - ref).abs().max().item()
        assert err <= 2 * own_err + 1e-6, (err, own_err)


VARLEN = [
    # heads, kv_heads, d, query lengths, key lengths, causal
    (4, 2, 32, [1, 5, 17, 1, 33, 2], None, False),   # many short sequences, 1-token ones
    (12, 12, 64, [36, 64, 100], None, False),         # pages of the vision tower, MHA
    (8, 1, 32, [257], None, True),                    # one long causal prefill, MQA
    (8, 2, 32, [3, 9, 1], [10, 9, 6], True),          # chunks at an offset into their keys
    (4, 4, 16, [5, 2], [3, 0], True),                 # more queries than keys; no keys at all
    # Shapes the CUDA kernels take (head_dim 64 or 128, fp16/bf16; others use the ATen path):
    # lengths off the 64-row tiles, 1-token sequences, GQA, MQA, chunks at an offset, no keys.
    (12, 12, 128, [300, 1, 64, 65, 129], None, False),
    (8, 2, 128, [200], None, True),
    (8, 2, 64, [3, 70, 1], [140, 70, 66], True),
    (16, 1, 128, [65, 64], [0, 130], True),
    (4, 4, 64, [130, 2], [60, 1], True),               # more queries than keys, across tiles
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("case", range(len(VARLEN)))
def test_attention_varlen(device, dtype, case):
    heads, kv, d, lq, lk, causal = VARLEN[case]
    lk = lk or lq
    g = torch.Generator().manual_seed(31 + case)
    q = torch.randn(sum(lq), heads, d, generator=g).to(device, dtype)
    k = torch.randn(sum(lk), kv, d, generator=g).to(device, dtype)
    v = torch.randn(sum(lk), kv, d, generator=g).to(device, dtype)
    cq = torch.tensor([0] + list(torch.tensor(lq).cumsum(0)), dtype=torch.int32, device=device)
    ck = torch.tensor([0] + list(torch.tensor(lk).cumsum(0)), dtype=torch.int32, device=device)
    scale = 1 / math.sqrt(d)
    poisoned = torch.full_like(q, float("nan"))
    out = _vlm.op_attention_varlen(q, k, v, cq, ck, max(lq), max(lk), causal, scale, poisoned)
    assert out.data_ptr() == poisoned.data_ptr() and not out.isnan().any()
    assert torch.equal(out, _vlm.op_attention_varlen(q, k, v, cq, ck, max(lq), max(lk), causal,
                                                     scale))
    split = lambda t, lens: [s.transpose(0, 1) for s in t.split(lens)]  # noqa: E731
    _check_close([o for o in split(out, lq)], split(q, lq), split(k, lk), split(v, lk), causal,
                 scale)


KVCACHE = [
    # heads, kv_heads, d, capacity, cache lengths (different in one batch)
    (8, 2, 32, 80, [0, 7, 33, 60]),
    # the decode kernel's shapes (GLM-4's 16 query heads per KV head, head_dim 128; 64): lengths
    # off the 64-key tiles, an empty cache, a cache filled to its last slot by the new token
    (32, 2, 128, 300, [0, 1, 64, 200, 299]),
    (8, 1, 64, 140, [139, 5]),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("new_tokens", [1, 9, 70])  # a decode step; prefill chunks (70: two query tiles)
@pytest.mark.parametrize("shape", range(len(KVCACHE)))
def test_attention_with_kvcache(device, dtype, new_tokens, shape):
    heads, kv, d, capacity, lens = KVCACHE[shape]
    if max(lens) + new_tokens > capacity:
        lens = [min(n, capacity - new_tokens) for n in lens]
    g = torch.Generator().manual_seed(new_tokens)
    b = len(lens)
    q = torch.randn(b, new_tokens, heads, d, generator=g).to(device, dtype)
    kc = torch.randn(b, capacity, kv, d, generator=g).to(device, dtype)
    vc = torch.randn(b, capacity, kv, d, generator=g).to(device, dtype)
    kn = torch.randn(b, new_tokens, kv, d, generator=g).to(device, dtype)
    vn = torch.randn(b, new_tokens, kv, d, generator=g).to(device, dtype)
    before_k, before_v = kc.clone(), vc.clone()
    seqlens = torch.tensor(lens, dtype=torch.int32, device=device)
    scale = 1 / math.sqrt(d)
    out = _vlm.op_attention_kvcache(q, kc, vc, seqlens, kn, vn, True, scale,
                                    torch.full_like(q, float("nan")))
    assert out.shape == q.shape and not out.isnan().any()
    for i, s in enumerate(lens):  # the new tokens went in at their offset, nothing else moved
        assert torch.equal(kc[i, s:s + new_tokens], kn[i]) and torch.equal(vc[i, s:s + new_tokens], vn[i])
        assert torch.equal(kc[i, :s], before_k[i, :s]) and torch.equal(kc[i, s + new_tokens:], before_k[i, s + new_tokens:])
        assert torch.equal(vc[i, :s], before_v[i, :s]) and torch.equal(vc[i, s + new_tokens:], before_v[i, s + new_tokens:])
    heads_first = lambda t: t.transpose(0, 1)  # noqa: E731
    _check_close([heads_first(out[i]) for i in range(b)], [heads_first(q[i]) for i in range(b)],
                 [heads_first(kc[i, :s + new_tokens]) for i, s in enumerate(lens)],
                 [heads_first(vc[i, :s + new_tokens]) for i, s in enumerate(lens)], True, scale)
    # Without new tokens: attention over what is cached (here bidirectional).
    out2 = _vlm.op_attention_kvcache(q, kc, vc, seqlens + new_tokens, causal=False, scale=scale)
    _check_close([heads_first(out2[i]) for i in range(b)], [heads_first(q[i]) for i in range(b)],
                 [heads_first(kc[i, :s + new_tokens]) for i, s in enumerate(lens)],
                 [heads_first(vc[i, :s + new_tokens]) for i, s in enumerate(lens)], False, scale)


def test_attention_ops_name_what_is_wrong():
    q, k = torch.randn(6, 4, 8), torch.randn(6, 3, 8)
    cu = torch.tensor([0, 6], dtype=torch.int32)
    with pytest.raises(RuntimeError, match="multiple of kv heads"):
        _vlm.op_attention_varlen(q, k, k, cu, cu, 6, 6, False, 1.0)
    with pytest.raises(RuntimeError, match="int32"):
        _vlm.op_attention_varlen(q, q, q, cu.long(), cu, 6, 6, False, 1.0)
    with pytest.raises(RuntimeError, match="cu_seqlens end at 5"):
        _vlm.op_attention_varlen(q, q, q, torch.tensor([0, 5], dtype=torch.int32), cu, 6, 6,
                                 False, 1.0)
    with pytest.raises(RuntimeError, match="exceeds max_seqlen"):
        _vlm.op_attention_varlen(q, q, q, cu, cu, 4, 6, False, 1.0)
    cache = torch.randn(1, 4, 2, 8)
    with pytest.raises(RuntimeError, match="capacity|more than the cache"):
        _vlm.op_attention_kvcache(torch.randn(1, 2, 4, 8), cache, cache.clone(),
                                  torch.tensor([3], dtype=torch.int32), torch.randn(1, 2, 2, 8),
                                  torch.randn(1, 2, 2, 8), True, 1.0)
    with pytest.raises(RuntimeError, match="k_new and v_new"):
        _vlm.op_attention_kvcache(torch.randn(1, 2, 4, 8), cache, cache.clone(),
                                  torch.tensor([0], dtype=torch.int32), k_new=torch.randn(1, 2, 2, 8))
