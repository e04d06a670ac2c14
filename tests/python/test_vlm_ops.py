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
