"""The VLM's ops (attention, patch embedding, page-to-patch) against references, on every device
present.

Attention error is held to at most 2x PyTorch's own SDPA error at the same precision (STYLE.md)."""
import math
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
_vlm = pytest.importorskip("glyph._vlm")

from attention_diag import describe  # noqa: E402  (a failure's message says where it is wrong)

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no GPU"))]
# (device, attention backend): CPU tensors always take the ATen path; on CUDA every backend is
# checked against the same references (ops/attention.h, AttentionBackend).
# GLYPH_TEST_ATTENTION_TARGETS (comma-separated ids, e.g. "cuda-wgmma") keeps only those: the
# GPU check runs the experimental backends in pytest processes of their own, so that one which
# faults cannot fail the others' tests.
_GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
TARGETS = [pytest.param(("cpu", "auto"), id="cpu")] + [
    pytest.param(("cuda", b), marks=_GPU, id=f"cuda-{b}")
    for b in ("auto", "glyph", "mma", "wgmma", "flash", "aten")]
if os.environ.get("GLYPH_TEST_ATTENTION_TARGETS"):
    _keep = os.environ["GLYPH_TEST_ATTENTION_TARGETS"].split(",")
    TARGETS = [t for t in TARGETS if t.id in _keep]


@pytest.fixture
def target(request):
    """Sets the attention backend of the test's (device, backend) and restores the setting."""
    device, backend = request.param
    before = _vlm.attention_backend()
    _vlm.set_attention_backend(backend)
    yield device, backend
    _vlm.set_attention_backend(before)


def _v1_fits(d):
    """Whether v1's packed kernel (107 KB of shared memory at head_dim 128) fits this GPU."""
    props = torch.cuda.get_device_properties(0)
    need = 2 * (64 * d + 2 * 64 * d + 64 * 64) + 4 * (64 * 64 + 64 * d + 2 * 64)
    return need <= props.shared_memory_per_block_optin


def _check_backend(device, backend, dtype, d, decode=False):
    """The backend the last call ran on is the one the dispatch rules give (ops/attention.h)."""
    ran = _vlm.last_attention_backend()
    half = dtype in (torch.float16, torch.bfloat16)
    flash = half and d % 8 == 0 and d <= 256
    kernels = (half and d in (64, 128) and _vlm.cuda_kernels_built() and device == "cuda"
               and torch.cuda.get_device_capability(0)[0] in (8, 9))
    # v3 (backend wgmma) is sm_90a code: compute capability 9.0 only, 160 KB of shared memory;
    # decode is a split-KV kernel for all of glyph's backends (v1's for glyph, v2's for mma and
    # wgmma), on any sm_80+ card
    hopper = kernels and (decode or (
        _vlm.hopper_kernel_built() and torch.cuda.get_device_capability(0) == (9, 0)
        and 2 * 128 * d * 5 + 1024 <= torch.cuda.get_device_properties(0).shared_memory_per_block_optin))
    glyph = {"glyph": kernels and (decode or _v1_fits(d)), "mma": kernels, "wgmma": hopper}
    if device == "cpu" or backend == "aten":
        want = "aten"
    elif backend == "flash":
        want = "flash" if flash else "aten"
    elif backend in glyph:
        want = backend if glyph[backend] else "aten"
    else:
        want = "glyph" if glyph["glyph"] else "flash" if flash else "aten"
    assert ran == want, (device, backend, dtype, d, ran)


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
    rows_first = lambda t: t.transpose(0, 1)  # noqa: E731  ([heads, L, d] -> describe's [L, heads, d])
    for i, (o, q, k, v) in enumerate(zip(out, q_seqs, k_seqs, v_seqs)):
        lq, lk = q.shape[1], k.shape[1]
        blind = lq if lk == 0 else (lq - lk if causal and lq > lk else 0)
        zeros = torch.zeros_like(o[:, :blind])
        assert torch.equal(o[:, :blind], zeros), f"sequence {i}, rows that see no key: " + describe(
            rows_first(o[:, :blind]), rows_first(zeros), tol=0)
        if blind == lq:
            continue
        q = q[:, blind:]
        ref = ref_attention(q, k, v, causal, scale)
        own = ref_attention(q, k, v, causal, scale, upcast=False)
        own_err = (own.double() - ref).abs().max().item()
        err = (o[:, blind:].double() - ref).abs().max().item()
        bound = 2 * own_err + 1e-6
        # (a str message: pytest shows it whole, where it shortens the repr of other objects)
        # (all rows, the blind ones against their zeros: positions count from the sequence's start)
        full_ref = torch.cat([zeros.to(ref.dtype), ref], dim=1)
        assert err <= bound, f"sequence {i}: error {err:.3g} > 2x SDPA's {own_err:.3g}: " + describe(
            rows_first(o), rows_first(full_ref), tol=bound / ref.abs().max().item())


def _unwritten(out, starts):
    """Where `out` (poisoned with NaN before the call) still holds NaN, for a failure message."""
    rows = out.reshape(-1, *out.shape[-2:])
    return "unwritten: " + describe(rows, torch.nan_to_num(rows), starts, tol=0)


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
    # v3's 128-row blocks and 128-key tiles (backend wgmma): a chunk deep into its keys over
    # four tiles and both stages twice, and a short one beside it.
    (32, 2, 128, [390, 17], [520, 17], True),
    # One very long sequence (33 of v3's key tiles, 65 of v1/v2's), bidirectional and causal
    # beside short ones: on CUDA only (its float64 reference is too big for the CPU suite).
    (4, 2, 128, [4100, 3], None, False),
    (4, 2, 128, [4100, 3], None, True),
]
_LONG = 2000  # query tokens above which a VARLEN case runs on CUDA only


@pytest.mark.parametrize("target", TARGETS, indirect=True)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("case", range(len(VARLEN)))
def test_attention_varlen(target, dtype, case):
    device, backend = target
    heads, kv, d, lq, lk, causal = VARLEN[case]
    if device == "cpu" and sum(lq) > _LONG:
        pytest.skip("the long cases run on CUDA only")
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
    _check_backend(device, backend, dtype, d)
    assert out.data_ptr() == poisoned.data_ptr()
    assert not out.isnan().any(), _unwritten(out, cq[:-1].tolist())
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
    # an odd group (3) over four KV heads in a batch of three, and plain multi-head (group 1): the
    # decode kernels' padded group rows and their per-KV-head blocks off GLM-4's shape
    (12, 4, 64, 100, [99, 3, 50]),
    (4, 4, 128, 90, [17, 89, 0]),
    # A long cache (decode on CUDA only): each split spans several rounds of its warps' 16-key
    # tiles, so v2's per-warp double buffer wraps over and over before the four warps merge.
    (32, 2, 128, 32768, [32767, 20000]),
]
_LONG_CACHE = 4096  # cache capacity above which a KVCACHE case runs on CUDA only


@pytest.mark.parametrize("target", TARGETS, indirect=True)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("new_tokens", [1, 9, 70])  # a decode step; prefill chunks (70: two query tiles)
@pytest.mark.parametrize("shape", range(len(KVCACHE)))
def test_attention_with_kvcache(target, dtype, new_tokens, shape):
    device, backend = target
    heads, kv, d, capacity, lens = KVCACHE[shape]
    if capacity > _LONG_CACHE and (device == "cpu" or new_tokens > 1):
        pytest.skip("the long cache is for the decode kernels, on CUDA only")
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
    _check_backend(device, backend, dtype, d, decode=new_tokens == 1)
    assert out.shape == q.shape
    assert not out.isnan().any(), _unwritten(out, range(0, b * new_tokens, new_tokens))
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
    # Causal over fewer cached keys than queries (an empty cache among them): the first queries
    # of such a sequence see no key and must come out as zeros, whichever backend ran.
    out3 = _vlm.op_attention_kvcache(q, kc, vc, seqlens, causal=True, scale=scale,
                                     out=torch.full_like(q, float("nan")))
    _check_backend(device, backend, dtype, d, decode=new_tokens == 1)
    assert not out3.isnan().any(), _unwritten(out3, range(0, b * new_tokens, new_tokens))
    _check_close([heads_first(out3[i]) for i in range(b)], [heads_first(q[i]) for i in range(b)],
                 [heads_first(kc[i, :s]) for i, s in enumerate(lens)],
                 [heads_first(vc[i, :s]) for i, s in enumerate(lens)], True, scale)


@pytest.mark.parametrize("target", [t for t in TARGETS if t.id in ("cpu", "cuda-glyph", "cuda-mma",
                                                                    "cuda-wgmma")], indirect=True)
def test_kvcache_past_the_capacity(target):
    """A chunk that overruns its cache (the caller's contract, ops/attention.h): the CPU path
    raises; glyph's kernels, which cannot see the lengths on the host, write no token past the
    capacity, and the queries within it get their exact result (the ones past it see every cached
    key but their own)."""
    device, backend = target
    heads, kv, d, capacity, lens, new = 8, 2, 64, 100, [95, 20], 9  # sequence 0 overruns by 4
    g = torch.Generator().manual_seed(5)
    dtype = torch.bfloat16
    q = torch.randn(2, new, heads, d, generator=g).to(device, dtype)
    kc = torch.randn(2, capacity, kv, d, generator=g).to(device, dtype)
    vc = torch.randn(2, capacity, kv, d, generator=g).to(device, dtype)
    kn = torch.randn(2, new, kv, d, generator=g).to(device, dtype)
    vn = torch.randn(2, new, kv, d, generator=g).to(device, dtype)
    seqlens = torch.tensor(lens, dtype=torch.int32, device=device)
    scale = 1 / math.sqrt(d)
    if device == "cpu":
        with pytest.raises(RuntimeError, match="more than the cache's 100"):
            _vlm.op_attention_kvcache(q, kc, vc, seqlens, kn, vn, True, scale)
        return
    try:
        out = _vlm.op_attention_kvcache(q, kc, vc, seqlens, kn, vn, True, scale,
                                        torch.full_like(q, float("nan")))
    except Exception as e:  # the backend's kernel is not on this card: the ATen path refuses
        assert "more than the cache's 100" in str(e)
        pytest.skip(f"backend {backend} has no kernel on this GPU (the ATen path refused)")
    _check_backend(device, backend, dtype, d, decode=False)
    assert not out.isnan().any(), _unwritten(out, range(0, 2 * new, new))
    fits = capacity - lens[0]  # sequence 0's new tokens that fit
    assert torch.equal(kc[0, lens[0]:], kn[0, :fits]) and torch.equal(vc[0, lens[0]:], vn[0, :fits])
    hf = lambda t: t.transpose(0, 1)  # noqa: E731
    # within the capacity: causal over the cache as written; sequence 1 as usual
    _check_close([hf(out[0, :fits]), hf(out[1])], [hf(q[0, :fits]), hf(q[1])],
                 [hf(kc[0]), hf(kc[1, :lens[1] + new])], [hf(vc[0]), hf(vc[1, :lens[1] + new])],
                 True, scale)
    # past it: every cached key
    _check_close([hf(out[0, fits:])], [hf(q[0, fits:])], [hf(kc[0])], [hf(vc[0])], False, scale)


def test_attention_backend_setting(tmp_path):
    """The setting round-trips, names its choices when wrong, starts from GLYPH_ATTENTION_BACKEND
    (checked in a fresh process), and CPU tensors take the ATen path whatever it says."""
    import subprocess
    import sys

    import glyph
    before = _vlm.attention_backend()
    try:
        for name in ("glyph", "mma", "wgmma", "flash", "aten", "auto"):
            _vlm.set_attention_backend(name)
            assert _vlm.attention_backend() == name
            q = torch.randn(5, 2, 8)
            cu = torch.tensor([0, 5], dtype=torch.int32)
            _vlm.op_attention_varlen(q, q, q, cu, cu, 5, 5, True, 1.0)
            assert _vlm.last_attention_backend() == "aten"
        with pytest.raises(glyph.InputError, match="unknown attention backend 'cudnn'.*auto, glyph, mma, wgmma, flash or aten"):
            _vlm.set_attention_backend("cudnn")
        assert _vlm.attention_backend() == "auto"
    finally:
        _vlm.set_attention_backend(before)
    code = "import glyph._vlm as v; print(v.attention_backend())"
    env = {**__import__("os").environ, "GLYPH_ATTENTION_BACKEND": "flash"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "flash", out.stderr
    env["GLYPH_ATTENTION_BACKEND"] = "fastest"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "GLYPH_ATTENTION_BACKEND: unknown attention backend 'fastest'" in out.stderr


def test_attention_dispatch_table():
    """The table 'auto' follows is replaced and read back, a wrong rule is refused by name with
    nothing changed, None restores the built-in table, and CPU tensors take the ATen path
    whatever it says."""
    import glyph
    builtin = _vlm.attention_dispatch()
    rules = [("vision", 4096, "flash"), ("chunk", 0, "mma"), ("decode", 2 ** 63 - 1, "glyph")]
    try:
        _vlm.set_attention_dispatch(rules)
        assert _vlm.attention_dispatch() == rules
        q = torch.randn(5, 2, 8)
        cu = torch.tensor([0, 5], dtype=torch.int32)
        _vlm.op_attention_varlen(q, q, q, cu, cu, 5, 5, False, 1.0)
        assert _vlm.last_attention_backend() == "aten"
        for bad, match in [([("page", 1, "glyph")], "unknown attention form 'page'.*vision, prefill, chunk or decode"),
                           ([("vision", 1, "cudnn")], "unknown attention backend 'cudnn'"),
                           ([("vision", 1, "glyph"), ("decode", 1, "auto")], "rule 1 \\(decode\\): 'auto' cannot"),
                           ([("prefill", -1, "flash")], "rule 0 \\(prefill\\): max_keys must be >= 0, got -1")]:
            with pytest.raises(glyph.InputError, match=match):
                _vlm.set_attention_dispatch(bad)
            assert _vlm.attention_dispatch() == rules
    finally:
        _vlm.set_attention_dispatch(None)
    assert _vlm.attention_dispatch() == builtin


@_GPU
def test_dispatch_rules_route_auto_calls():
    """Under 'auto' a rule of the call's form covering its key count names the backend; a rule of
    another form, or below the count, leaves the default order."""
    q = torch.randn(300, 4, 64, generator=torch.Generator().manual_seed(3)).to("cuda", torch.bfloat16)
    cu = torch.tensor([0, 300], dtype=torch.int32, device="cuda")
    before = _vlm.attention_backend()
    _vlm.set_attention_backend("auto")
    try:
        for rules, routed in [([("vision", 300, "aten")], True), ([("vision", 299, "aten")], False),
                              ([("prefill", 300, "aten")], False)]:
            _vlm.set_attention_dispatch(rules)
            _vlm.op_attention_varlen(q, q, q, cu, cu, 300, 300, False, 0.125)
            if routed:
                assert _vlm.last_attention_backend() == "aten"
            else:
                _check_backend("cuda", "auto", torch.bfloat16, 64)
    finally:
        _vlm.set_attention_dispatch(None)
        _vlm.set_attention_backend(before)


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
    with pytest.raises(RuntimeError, match="out has elements that share memory"):
        _vlm.op_attention_varlen(q, q, q, cu, cu, 6, 6, False, 1.0,
                                 torch.empty(1, 4, 8).expand(6, 4, 8))
    cache = torch.randn(1, 4, 2, 8)
    with pytest.raises(RuntimeError, match="capacity|more than the cache"):
        _vlm.op_attention_kvcache(torch.randn(1, 2, 4, 8), cache, cache.clone(),
                                  torch.tensor([3], dtype=torch.int32), torch.randn(1, 2, 2, 8),
                                  torch.randn(1, 2, 2, 8), True, 1.0)
    with pytest.raises(RuntimeError, match="k_new and v_new"):
        _vlm.op_attention_kvcache(torch.randn(1, 2, 4, 8), cache, cache.clone(),
                                  torch.tensor([0], dtype=torch.int32), k_new=torch.randn(1, 2, 2, 8))


# ---- the page-to-patch op (uint8 pages -> patches, fused with the patch embedding) ----
#
# Exact: the op's CPU kernel against ImageProcessor.process (itself exact against transformers,
# test_vlm.py) rounded to the dtype, bit for bit; the CUDA kernel (run only where a GPU is) against
# the CPU kernel, bit for bit too (the same integer arithmetic, the same value table).

def _rendered_pages():
    """Real rendered pages of several sizes, all but at most one off the 28-pixel grid: a page
    of the default config, a 96-dpi page, a small page size (two pages), strips cut from a page."""
    import glyph
    text = glyph.sample_text()[:6000]
    def renderer(**changes):
        cfg = glyph.Renderer().config  # Glyph's searched config with the shipped font
        for k, v in changes.items():
            setattr(cfg, k, v)
        return glyph.Renderer(cfg)
    full = glyph.Renderer().render(text).pages[0]
    big = renderer(dpi=96.0).render(text[:2500]).pages[0]
    small = renderer(page_size=(300.0, 200.0)).render(text[:1500]).pages
    arr = np.ascontiguousarray(np.asarray(full.pixels))
    pages = [arr, np.asarray(big.pixels), np.asarray(small[0].pixels), np.asarray(small[-1].pixels),
             np.ascontiguousarray(arr[5:31, 3:303]),   # 300x26: below min side, upscaled
             np.ascontiguousarray(arr[100:157, 40:97])]  # 57x57
    return [np.ascontiguousarray(p) for p in pages]


@pytest.fixture(scope="module")
def pages():
    return _rendered_pages()


# (min_pixels, max_pixels): Glyph's defaults (each side rounded to the grid, up or down),
# a small max_pixels (every page downscaled ~2-4x), a large min_pixels (every page upscaled)
RESIZE_CASES = [(12544, 9633792), (12544, 120_000), (1_500_000, 9633792)]


@pytest.mark.parametrize("resize", RESIZE_CASES)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_page_patches_equal_the_image_processor(pages, resize, dtype):
    import glyph.vlm as gv
    lo, hi = resize
    assert len({p.shape for p in pages}) == len(pages)  # every page a different size
    off_grid = [p for p in pages if p.shape[0] % 28 or p.shape[1] % 28]
    assert len(off_grid) >= len(pages) - 1  # the default page may sit on the grid (kept as is)
    ref, ref_grid = gv.process_images(pages, min_pixels=lo, max_pixels=hi)
    pixels, sizes = _vlm.op_pack_pages(pages)
    assert pixels.dtype == torch.uint8 and pixels.numel() == sum(p.size for p in pages)
    assert sizes.tolist() == [list(p.shape[:2]) for p in pages]
    out, grid = _vlm.op_page_patches(pixels, sizes, dtype, min_pixels=lo, max_pixels=hi)
    assert torch.equal(grid, ref_grid)
    want = ref.to(getattr(torch, dtype))
    assert out.dtype == want.dtype and out.shape == want.shape
    assert torch.equal(out, want)  # bit for bit
    if resize == RESIZE_CASES[1]:  # the case really resizes down and up
        src = [p.shape[0] * p.shape[1] for p in pages]
        dst = [h * w * 196 for _, h, w in grid.tolist()]
        assert any(d < s / 2 for d, s in zip(dst, src)) and any(d > s for d, s in zip(dst, src))


def _tall_page(pages):
    """A very tall page (48 copies of a rendered page: 16128 x 588) and a max_pixels that shrinks
    it about 41x in height: more source rows per patch row than the kernel stages, so its
    unstaged path runs (the horizontal taps recomputed per vertical tap)."""
    return np.ascontiguousarray(np.tile(pages[0], (48, 1, 1))), 12544


def test_page_patches_large_downscale_unstaged_path(pages):
    import glyph.vlm as gv
    tall, hi = _tall_page(pages)
    ref, ref_grid = gv.process_images([tall], max_pixels=hi)
    (_, gh, gw), = ref_grid.tolist()
    scale = tall.shape[0] / (gh * 14)
    assert 18 * scale * 14 * 3 > 24 * 1024  # rows needed (14 + 2 x 2 supports) x 42 bytes > stage
    pixels, sizes = _vlm.op_pack_pages([tall])
    out, grid = _vlm.op_page_patches(pixels, sizes, "bfloat16", max_pixels=hi)
    assert torch.equal(grid, ref_grid) and torch.equal(out, ref.bfloat16())


def test_page_patches_without_resize_on_the_grid(pages):
    import glyph.vlm as gv
    crops = [np.ascontiguousarray(pages[0][:112, :140]), np.ascontiguousarray(pages[1][28:168, 0:112])]
    pixels, sizes = _vlm.op_pack_pages(crops)
    out, grid = _vlm.op_page_patches(pixels, sizes, "float32", do_resize=False)
    ref, ref_grid = gv.process_images(crops)  # on the grid already: process does not resize
    assert torch.equal(grid, ref_grid) and torch.equal(out, ref)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_page_patch_embed_equals_process_then_patch_embed(pages, dtype):
    import glyph.vlm as gv
    g = torch.Generator().manual_seed(5)
    w = (torch.randn(40, 3, 2, 14, 14, generator=g) * 0.02).to(dtype)
    b = torch.randn(40, generator=g).to(dtype)
    pixels, sizes = _vlm.op_pack_pages(pages[2:])
    emb, grid = _vlm.op_page_patch_embed(pixels, sizes, w, b)
    pv, ref_grid = gv.process_images(pages[2:])
    ref = _vlm.op_patch_embed(pv.to(dtype), w, b)  # the model's unfused path
    assert torch.equal(grid, ref_grid) and emb.dtype == dtype
    assert torch.equal(emb, ref)  # same patches, the same GEMM call
    nobias, _ = _vlm.op_page_patch_embed(pixels, sizes, w)
    assert torch.equal(nobias, torch.mm(pv.to(dtype), w.reshape(40, -1).t()))


def test_page_patches_name_what_is_wrong(pages):
    pixels, sizes = _vlm.op_pack_pages(pages[4:])
    with pytest.raises(RuntimeError, match="pixels must be a 1-D uint8"):
        _vlm.op_page_patches(pixels.float(), sizes)
    with pytest.raises(RuntimeError, match="pixels must be a 1-D uint8"):
        _vlm.op_page_patches(pixels.view(-1, 3), sizes)
    with pytest.raises(RuntimeError, match=r"sizes must be an int64 \[pages, 2\]"):
        _vlm.op_page_patches(pixels, sizes.flatten())
    with pytest.raises(RuntimeError, match="no pages given"):
        _vlm.op_page_patches(pixels[:0], sizes[:0])
    with pytest.raises(RuntimeError, match="but pixels holds"):
        _vlm.op_page_patches(pixels[:-3], sizes)
    bad = sizes.clone()
    bad[1, 0] = 0
    with pytest.raises(RuntimeError, match="page 1 is"):
        _vlm.op_page_patches(pixels, bad)
    with pytest.raises(RuntimeError, match="not a multiple of 28"):
        _vlm.op_page_patches(pixels, sizes, do_resize=False)
    with pytest.raises(RuntimeError, match="patch_size, merge_size and temporal_patch_size"):
        _vlm.op_page_patches(pixels, sizes, merge_size=0)
    with pytest.raises(Exception, match="dtype must be"):
        _vlm.op_page_patches(pixels, sizes, "int8")
    with pytest.raises(Exception, match="aspect ratio"):
        _vlm.op_page_patches(*_vlm.op_pack_pages([np.zeros((1, 300, 3), np.uint8)]))
    w = torch.randn(8, 3, 2, 14, 14)
    with pytest.raises(RuntimeError, match="patch_embed: patches have"):
        _vlm.op_page_patch_embed(pixels, sizes, w[:, :, :1])


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")


def _poison_cuda_cache(nbytes):
    """Fill freed blocks of the caching allocator with NaN, so an output element the kernel
    leaves unwritten fails the comparison."""
    t = torch.full((nbytes // 4 + 1,), float("nan"), device="cuda")
    del t


@CUDA
@pytest.mark.parametrize("resize", RESIZE_CASES)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_page_patches_cuda_kernel_equals_the_cpu_kernel(pages, resize, dtype):
    lo, hi = resize
    pixels, sizes = _vlm.op_pack_pages(pages, pinned=True)
    ref, ref_grid = _vlm.op_page_patches(pixels, sizes, dtype, min_pixels=lo, max_pixels=hi)
    _poison_cuda_cache(ref.numel() * 4 * 2)
    out, grid = _vlm.op_page_patches(pixels.cuda(), sizes, dtype, min_pixels=lo, max_pixels=hi)
    assert out.is_cuda and out.dtype == ref.dtype
    assert torch.equal(grid, ref_grid)
    assert torch.equal(out.cpu(), ref)  # bit for bit: integer resampling, the same value table


@CUDA
def test_page_patches_cuda_large_downscale_and_many_pages(pages):
    """A downscale by more than the kernel's shared-memory stage holds (its direct path), and
    many small pages in one launch."""
    tall, hi = _tall_page(pages)
    many = [np.ascontiguousarray(pages[0][i * 7:i * 7 + 40 + i, 0:50 + 3 * i]) for i in range(40)]
    for imgs, lo, hi in (([tall], 12544, hi), (many, 12544, 9633792)):
        pixels, sizes = _vlm.op_pack_pages(imgs)
        ref, _ = _vlm.op_page_patches(pixels, sizes, "bfloat16", min_pixels=lo, max_pixels=hi)
        _poison_cuda_cache(ref.numel() * 4 * 2)
        out, _ = _vlm.op_page_patches(pixels.cuda(), sizes, "bfloat16", min_pixels=lo, max_pixels=hi)
        assert torch.equal(out.cpu(), ref)


@CUDA
def test_page_patch_embed_cuda_within_bf16_rounding(pages):
    g = torch.Generator().manual_seed(6)
    w = torch.randn(64, 3, 2, 14, 14, generator=g) * 0.02
    b = torch.randn(64, generator=g)
    pixels, sizes = _vlm.op_pack_pages(pages)
    ref, _ = _vlm.op_page_patch_embed(pixels, sizes, w, b)  # float32 on the CPU
    out, _ = _vlm.op_page_patch_embed(pixels.cuda(), sizes, w.cuda().bfloat16(), b.cuda().bfloat16())
    # the patches are bit-identical; the GEMM is cuBLAS's in bf16 (bf16 inputs and output)
    err = ((out.float().cpu() - ref).abs().max() / ref.abs().max()).item()
    assert err < 2 ** -7, err


@CUDA
def test_model_on_cuda_takes_pages_as_uint8(tmp_path, pages):
    """Glm4v.process_images on a CUDA model: the pages go up as uint8 and the kernel makes the
    patches in the model's dtype: the same patches, so the same vision features, as the CPU
    image processor's float32 patches given to the same model."""
    pytest.importorskip("transformers")
    import glyph.vlm as gv
    import vlm_tiny
    vlm_tiny.save(vlm_tiny.make_model(seed=3), str(tmp_path))
    g = gv.Glm4v.from_pretrained(str(tmp_path), device="cuda", dtype="bfloat16")
    imgs = pages[2:4]
    pv, grid = g.process_images(imgs)
    ref, ref_grid = gv.process_images(imgs)
    assert pv.is_cuda and pv.dtype == torch.bfloat16 and torch.equal(grid, ref_grid)
    assert torch.equal(pv.cpu(), ref.bfloat16())
    assert torch.equal(g.image_features(pv, grid), g.image_features(ref, ref_grid))


def test_image_keys_reach_the_feature_cache(tmp_path, pages):
    """The page keys a device model's process_images makes (ImageBatch::image_keys) go through
    the bindings to the vision tower's cache: given keys, the cache is keyed by them and not by
    the patch contents. (On the CPU no keys are made; here they are given by hand.)"""
    pytest.importorskip("transformers")
    import glyph.vlm as gv
    import vlm_tiny
    hf = vlm_tiny.make_model(seed=3)
    vlm_tiny.save(hf, str(tmp_path))
    g = gv.Glm4v.from_pretrained(str(tmp_path))
    imgs = [pages[5]]
    pv, grid, keys = g._m.process_images_keyed(imgs)
    assert keys == [] and torch.equal(pv, g.process_images(imgs)[0])  # CPU: keyed by content
    ids = vlm_tiny.prompt_ids(hf.config, [int(grid[0].prod()) // 4], [6, 5], seed=1)
    a = g._m.forward(ids, pv, grid, [], [(1, 2)])
    b = g._m.forward(ids, torch.zeros_like(pv), grid, [], [(1, 2)])  # other pixels, same key
    assert torch.equal(a, b)  # the features came from the cache, by the key
    c = g._m.forward(ids, torch.zeros_like(pv), grid)  # no key: by content, a miss
    assert not torch.equal(a, c)
    with pytest.raises(Exception, match="image_keys has 2 keys for 1 images"):
        g._m.forward(ids, pv, grid, [], [(1, 2), (3, 4)])
    with pytest.raises(Exception, match="image_keys given without pixel_values"):
        g._m.forward(ids[:3], None, None, [], [(1, 2)])
