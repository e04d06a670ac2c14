"""The runtime around GLM-4.1V: chunked prefill, batched generation, the KV cache's single
allocation, checkpoint fidelity (dtype, generation_config.json, head_dim, position limit), random
models, the vision-feature cache, out-of-memory errors and the reasoning split. Tiny models
written by transformers; CPU."""
import json
import os
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("safetensors")
gv = pytest.importorskip("glyph.vlm")

import glyph  # noqa: E402
import vlm_tiny  # noqa: E402
from vlm_tiny import random_images  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model = vlm_tiny.make_model(seed=21)
    path = str(tmp_path_factory.mktemp("tiny_rt"))
    vlm_tiny.save(model, path)
    return model, path


def image_prompt(g, cfg, sizes, text_lens, seed=0):
    imgs = random_images(sizes, seed=seed)
    counts = g.image_token_counts(imgs) if imgs else []
    return vlm_tiny.prompt_ids(cfg, counts, text_lens, seed=seed), imgs


# ---- chunked prefill ----

@pytest.mark.parametrize("chunk", [1, 3, 7, 16])
def test_chunked_prefill_equals_one_pass(tiny, chunk):
    model, path = tiny
    whole = gv.Glm4v.from_pretrained(path)
    chunked = gv.Glm4v.from_pretrained(path, prefill_chunk=chunk)
    ids, imgs = image_prompt(whole, model.config, [(70, 90), (56, 56)], [5, 4, 6], seed=1)
    a = whole.forward(ids, images=imgs)
    b = chunked.forward(ids, images=imgs)
    assert a.shape == b.shape == (len(ids), model.config.text_config.vocab_size)
    assert ((a - b).abs().max() / a.abs().max()).item() < 1e-5
    ra = whole.generate(ids, images=imgs, max_new_tokens=10, stop_ids=[-1])
    rb = chunked.generate(ids, images=imgs, max_new_tokens=10, stop_ids=[-1])
    assert ra.tokens == rb.tokens


def test_token_ids_as_transformers_returns_them_and_one_stop_id(tiny):
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path)
    ids, _ = image_prompt(g, model.config, [], [9], seed=4)
    want = g.generate(ids, max_new_tokens=6, stop_ids=[-1]).tokens
    for given in (torch.tensor(ids), torch.tensor([ids]), np.array(ids, dtype=np.int64), tuple(ids)):
        assert g.generate(given, max_new_tokens=6, stop_ids=[-1]).tokens == want
    stop = want[2]  # one id, not a list: generation stops on it
    assert g.generate(ids, max_new_tokens=6, stop_ids=stop).tokens == want[:want.index(stop) + 1]
    with pytest.raises(glyph.InputError, match=r"shape \(2, 9\).*generate_batch"):
        g.generate(torch.tensor([ids, ids]), max_new_tokens=2)
    with pytest.raises(TypeError, match="not str.*build_prompt or ask"):
        g.generate("What is on the page?", max_new_tokens=2)
    with pytest.raises(TypeError, match=r"input_ids\[1\]: a token id is an int, got 2.5"):
        g.generate([1, 2.5], max_new_tokens=2)


def test_counts_flags_and_seeds_are_checked_not_coerced(tiny):
    """int(2.5) is 2 and bool("false") is True: each bad argument is an InputError naming it,
    numpy's ints and bools work as Python's."""
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path)
    ids, _ = image_prompt(g, model.config, [], [7], seed=5)
    want = g.generate(ids, max_new_tokens=4, stop_ids=[-1]).tokens
    assert g.generate(ids, max_new_tokens=np.int64(4), seed=np.uint64(0), do_sample=np.bool_(False),
                      stop_ids=[-1]).tokens == want
    bad = [(dict(max_new_tokens=2.5), "max_new_tokens must be a whole number, not 2.5"),
           (dict(max_new_tokens="4"), "max_new_tokens must be a whole number"),
           (dict(max_new_tokens=1 << 40), r"max_new_tokens must be in \["),
           (dict(top_k="5"), "top_k must be a whole number"),
           (dict(seed=-1), r"seed must be in \[0, "),
           (dict(do_sample="false"), "do_sample must be True or False, not 'false'"),
           (dict(temperature="hot"), "temperature must be a number, not 'hot'")]
    for kw, msg in bad:
        with pytest.raises(glyph.InputError, match=msg):
            g.generate(ids, **{"max_new_tokens": 4, **kw})
        with pytest.raises(glyph.InputError, match=msg):
            g.generate_batch([ids], **{"max_new_tokens": 4, **kw})
    with pytest.raises(glyph.InputError, match="cuda_graphs must be True or False, not 1"):
        gv.Glm4v.from_pretrained(path, cuda_graphs=1)
    with pytest.raises(glyph.InputError, match="prefill_chunk must be a whole number, not 64.0"):
        g.set_runtime_options(prefill_chunk=64.0)
    assert g.runtime_options["prefill_chunk"] != 64.0  # a refused change changes nothing
    with pytest.raises(glyph.InputError, match="steps must be a whole number"):
        g.benchmark_decode(batch=1, context=8, steps=1.5)
    with pytest.raises(glyph.InputError, match=r"positions\[1\] must be a whole number"):
        g.forward(ids, positions=[0, 1.0])
    with pytest.raises(glyph.InputError, match="token must be a whole number"):
        g.decode_step(3.0, g.new_cache())


def test_forward_positions_returns_only_those_rows(tiny):
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path, prefill_chunk=4)
    ids, imgs = image_prompt(g, model.config, [(70, 90)], [6, 5], seed=2)
    full = g.forward(ids, images=imgs)
    rows = [0, 3, len(ids) - 1]
    part = g.forward(ids, images=imgs, positions=rows)
    assert part.shape == (3, full.shape[1])
    assert torch.allclose(part, full[rows], rtol=1e-5, atol=1e-6)
    with pytest.raises(glyph.InputError, match="outside the prompt"):
        g.forward(ids, images=imgs, positions=[len(ids)])


# ---- batched generation ----

def test_batched_greedy_equals_one_by_one(tiny):
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path)
    cfg = model.config
    p0 = image_prompt(g, cfg, [(70, 90)], [5, 3], seed=3)
    p1 = (vlm_tiny.prompt_ids(cfg, [], [11], seed=4), None)
    p2 = image_prompt(g, cfg, [(56, 112), (40, 60)], [2, 6, 4], seed=5)
    prompts = [p0, p1, p2]
    alone = [g.generate(ids, images=im, max_new_tokens=9, stop_ids=[-1]).tokens
             for ids, im in prompts]
    batch = g.generate_batch(prompts, max_new_tokens=9, stop_ids=[-1])
    assert [r.tokens for r in batch] == alone
    assert [r.prompt_tokens for r in batch] == [len(p[0]) for p in prompts]
    # Per-sequence stopping: a stop id that only sequence 1 emits (at its 3rd token) ends it
    # alone; the others run to max_new_tokens.
    stop = alone[1][2]
    stopped = g.generate_batch(prompts, max_new_tokens=9, stop_ids=[stop])
    for r, a in zip(stopped, alone):
        if stop in a:
            assert r.tokens == a[: a.index(stop) + 1] and r.stop_reason == "stop_id"
        else:
            assert r.tokens == a and r.stop_reason == "max_new_tokens"


def test_batched_sampling_is_seeded(tiny):
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path)
    prompts = [vlm_tiny.prompt_ids(model.config, [], [n], seed=n) for n in (4, 9)]
    kw = dict(max_new_tokens=8, do_sample=True, temperature=1.3, top_p=0.9, top_k=30,
              stop_ids=[-1], seed=11)
    a = [r.tokens for r in g.generate_batch(prompts, **kw)]
    assert a == [r.tokens for r in g.generate_batch(prompts, **kw)]
    assert all(len(t) == 8 for t in a)


# ---- the KV cache ----

def test_generate_sizes_the_cache_once(tiny):
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path)
    ids, imgs = image_prompt(g, model.config, [(70, 90)], [5, 3], seed=6)
    r = g.generate(ids, images=imgs, max_new_tokens=20, stop_ids=[-1])
    assert len(r.tokens) == 20
    assert r.kv_capacity == len(ids) + 20
    assert r.kv_reallocations == 0
    # A cache driven by hand grows when it must, and says so.
    cache = g.new_cache()
    g.prefill(ids, cache, images=imgs)
    assert cache.capacity == len(ids) and cache.reallocations == 0
    tok = int(g.forward(ids, images=imgs)[-1].argmax())
    g.decode_step(tok, cache)
    assert cache.length == len(ids) + 1 and cache.reallocations == 1
    assert cache.capacity >= 2 * len(ids)


# ---- checkpoint fidelity ----

def test_dtype_and_eos_come_from_the_checkpoint(tmp_path):
    model = vlm_tiny.make_model(seed=4).to(torch.bfloat16)
    path = str(tmp_path / "bf16")
    vlm_tiny.save(model, path)
    cfg = json.load(open(os.path.join(path, "config.json")))
    assert (cfg.get("torch_dtype") or cfg.get("dtype")) == "bfloat16"
    ref = gv.Glm4v.from_pretrained(path, dtype="float32")
    ids = vlm_tiny.prompt_ids(model.config, [], [8], seed=2)
    greedy = ref.generate(ids, max_new_tokens=8, stop_ids=[-1]).tokens
    # generation_config.json: a stop id and sampling defaults of its own.
    stop = greedy[3]
    with open(os.path.join(path, "generation_config.json"), "w") as f:
        json.dump({"eos_token_id": [stop], "temperature": 0.7, "top_k": 5, "do_sample": False,
                   "repetition_penalty": 1.0}, f)
    g = gv.Glm4v.from_pretrained(path)
    assert g.dtype == "BFloat16"
    d = g.generation_defaults
    assert d["stop_ids"] == [stop] and d["temperature"] == 0.7 and d["top_k"] == 5
    g32 = gv.Glm4v.from_pretrained(path, dtype="float32")
    r = g32.generate(ids, max_new_tokens=8)
    assert r.stop_reason == "stop_id" and r.tokens == greedy[: greedy.index(stop) + 1]
    # A malformed generation_config.json is named.
    with open(os.path.join(path, "generation_config.json"), "w") as f:
        f.write('{"top_p": 7}')
    with pytest.raises(glyph.ModelLoadError, match="generation_config.json.*top_p"):
        gv.Glm4v.from_pretrained(path)


def test_glyph_preset():
    assert gv.GLYPH_PRESET == {"do_sample": False, "temperature": 1.0, "top_p": 1.0, "top_k": 0,
                               "repetition_penalty": 1.1, "stop_ids": [151329, 151348, 151336]}


def test_head_dim_is_read_from_the_config(tiny, tmp_path):
    """text_config.head_dim sizes the attention (heads x head_dim, as vLLM reads it). transformers'
    Glm4v sizes q/k/v by hidden / heads whatever head_dim says, so parity is checked where the
    two agree, and a head_dim that disagrees with the stored weights is refused by shape."""
    model, path = tiny
    hidden = model.config.text_config.hidden_size
    heads = model.config.text_config.num_attention_heads
    same = _with_config(path, tmp_path / "same",
                        lambda c: c["text_config"].update(head_dim=hidden // heads))
    ids = vlm_tiny.prompt_ids(model.config, [], [9], seed=3)
    assert torch.equal(gv.Glm4v.from_pretrained(same).forward(ids),
                       gv.Glm4v.from_pretrained(path).forward(ids))
    def wider(c):  # twice the head size, and M-RoPE sections to match its rotary half
        t = c["text_config"]
        t["head_dim"] = 2 * hidden // heads
        rope = t.get("rope_parameters") or t.get("rope_scaling")
        rope["mrope_section"] = [2 * x for x in rope["mrope_section"]]

    other = _with_config(path, tmp_path / "other", wider)
    assert gv.parse_config(other)["text_config"]["head_dim"] == 2 * hidden // heads
    with pytest.raises(glyph.ModelLoadError,
                       match=rf"q_proj.weight \[{hidden}, {hidden}\] \(config needs \[{2 * hidden}, {hidden}\]\)"):
        gv.Glm4v.from_pretrained(other)


def _with_config(src, dst, edit):
    shutil.copytree(src, dst)
    p = os.path.join(dst, "config.json")
    cfg = json.load(open(p))
    edit(cfg)
    json.dump(cfg, open(p, "w"))
    return str(dst)


def test_over_long_prompt_is_refused(tiny, tmp_path):
    model, path = tiny
    p = _with_config(path, tmp_path / "short",
                     lambda c: c["text_config"].update(max_position_embeddings=32))
    g = gv.Glm4v.from_pretrained(p)
    ids = vlm_tiny.prompt_ids(model.config, [], [40])
    with pytest.raises(glyph.InputError, match="max_position_embeddings"):
        g.generate(ids, max_new_tokens=4)
    with pytest.raises(glyph.InputError, match="max_position_embeddings"):
        g.forward(ids)
    # A prompt that fits generates up to the limit and says why it stopped.
    r = g.generate(ids[:30], max_new_tokens=10, stop_ids=[-1])
    assert len(r.tokens) == 3 and r.stop_reason == "max_position_embeddings"


def test_allocation_failure_is_a_clear_error(tiny, tmp_path):
    model, path = tiny
    p = _with_config(path, tmp_path / "long",
                     lambda c: c["text_config"].update(max_position_embeddings=2**40))
    g = gv.Glm4v.from_pretrained(p)
    ids = vlm_tiny.prompt_ids(model.config, [], [6])
    # A KV cache for 2**31 tokens is ~500 GB: the allocator refuses it.
    with pytest.raises(glyph.OutOfMemoryError, match="max_new_tokens") as e:
        g.generate(ids, max_new_tokens=2**31 - 1, stop_ids=[-1])
    assert isinstance(e.value, MemoryError)
    # The model still works afterwards.
    assert len(g.generate(ids, max_new_tokens=3, stop_ids=[-1]).tokens) == 3


# ---- random models ----

def test_random_model_from_a_config(tiny):
    model, path = tiny
    cfg = model.config.to_dict()
    a = gv.Glm4v.random(cfg, dtype="float32", seed=1)
    b = gv.Glm4v.random(json.dumps(cfg), dtype="float32", seed=1)
    c = gv.Glm4v.random(path, dtype="float32", seed=2)
    assert a.config == gv.Glm4v.from_pretrained(path).config
    ids, imgs = image_prompt(a, model.config, [(70, 90)], [4, 3], seed=7)
    la, lb, lc = (m.forward(ids, images=imgs) for m in (a, b, c))
    assert torch.equal(la, lb) and not torch.equal(la, lc)
    assert torch.isfinite(la).all()
    assert len(a.generate(ids, images=imgs, max_new_tokens=5, stop_ids=[-1]).tokens) == 5


def test_random_default_is_glm41v_9b_shapes():
    """Glm4v.random(None) builds GLM-4.1V-9B: the config it parses equals transformers'
    Glm4vConfig() defaults (checked without building 20 GB of weights)."""
    from transformers import Glm4vConfig

    hf = Glm4vConfig()
    t, v = hf.text_config, hf.vision_config
    c = gv.parse_config(None)
    tc, vc = c["text_config"], c["vision_config"]
    for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
              "num_attention_heads", "num_key_value_heads"):
        assert tc[k] == getattr(t, k), k
    for k in ("hidden_size", "depth", "num_heads", "out_hidden_size", "patch_size",
              "spatial_merge_size", "temporal_patch_size"):
        assert vc[k] == getattr(v, k), k
    assert c["torch_dtype"] == "bfloat16"
    small = {"model_type": "glm4v", "text_config": {"num_hidden_layers": 1, "vocab_size": 64,
                                                    "hidden_size": 128, "intermediate_size": 64,
                                                    "num_attention_heads": 1,
                                                    "num_key_value_heads": 1},
             "vision_config": {"depth": 1, "hidden_size": 64, "num_heads": 2,
                               "out_hidden_size": 128, "intermediate_size": 64}}
    m = gv.Glm4v.random(small)
    assert m.dtype == "BFloat16"


# ---- the vision-feature cache ----

def test_feature_cache_reuses_pages_and_respects_its_bound(tiny):
    model, path = tiny
    uncached = gv.Glm4v.from_pretrained(path, feature_cache_bytes=0)
    imgs = random_images([(70, 90), (56, 112), (84, 84)], seed=9)
    pv, grid = uncached.process_images(imgs)
    ref = uncached.image_features(pv, grid)
    assert uncached.feature_cache_stats["entries"] == 0
    hidden = model.config.text_config.hidden_size
    counts = uncached.image_token_counts(imgs)
    # Room for the two smallest pages' features, not all three.
    bound = (sorted(counts)[0] + sorted(counts)[1]) * hidden * 4
    g = gv.Glm4v.from_pretrained(path, feature_cache_bytes=bound, vision_batch_pages=2)
    def close(a, b):  # batches of other sizes round differently (GEMM blocking)
        return ((a - b).abs().max() / b.abs().max()).item() < 1e-5

    first = g.image_features(pv, grid)
    assert close(first, ref)
    s = g.feature_cache_stats
    assert 0 < s["bytes"] <= bound and s["misses"] == 3 and s["hits"] == 0
    second = g.image_features(pv, grid)
    assert close(second, ref)
    s2 = g.feature_cache_stats
    assert s2["hits"] >= 1 and s2["bytes"] <= bound
    # A second question about the same page reads the features from the cache.
    ids = vlm_tiny.prompt_ids(model.config, counts[:1], [3, 2], seed=1)
    hits = g.feature_cache_stats["hits"]
    a = g.generate(ids, images=imgs[:1], max_new_tokens=4, stop_ids=[-1])
    b = g.generate(ids, images=imgs[:1], max_new_tokens=4, stop_ids=[-1])
    assert a.tokens == b.tokens
    assert g.feature_cache_stats["hits"] >= hits + 1
    g.clear_feature_cache()
    assert g.feature_cache_stats["bytes"] == 0


def test_vision_batches_give_the_same_features(tiny):
    model, path = tiny
    imgs = random_images([(70, 90), (56, 112), (84, 84), (40, 40)], seed=10)
    one = gv.Glm4v.from_pretrained(path, vision_batch_pages=1, feature_cache_bytes=0)
    all_ = gv.Glm4v.from_pretrained(path, vision_batch_pages=8, feature_cache_bytes=0)
    pv, grid = one.process_images(imgs)
    a, b = one.image_features(pv, grid), all_.image_features(pv, grid)
    assert ((a - b).abs().max() / a.abs().max()).item() < 1e-5


def test_runtime_options_are_checked(tiny):
    g = gv.Glm4v.from_pretrained(tiny[1])
    g.set_runtime_options(prefill_chunk=2)
    assert g.runtime_options["prefill_chunk"] == 2
    with pytest.raises(glyph.InputError, match="prefill_chunk"):
        g.set_runtime_options(prefill_chunk=0)
    with pytest.raises(glyph.InputError, match="unknown runtime option"):
        g.set_runtime_options(chunk=3)
    with pytest.raises(glyph.InputError, match="cuda_graphs must be True or False"):
        g.set_runtime_options(cuda_graphs="no")


def test_cuda_graphs_option_and_what_generate_reports(tiny):
    """The option travels both ways; on the CPU decoding is always eager (a graph is CUDA's), and
    turning graphs off changes nothing there. gpu_check.py checks the CUDA replay's tokens."""
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path, cuda_graphs=False)
    assert g.runtime_options["cuda_graphs"] is False
    g.set_runtime_options(cuda_graphs=True)
    assert g.runtime_options["cuda_graphs"] is True
    ids = vlm_tiny.prompt_ids(model.config, [], [9])
    on = g.generate(ids, max_new_tokens=5, stop_ids=[-1])
    g.set_runtime_options(cuda_graphs=False)
    off = g.generate(ids, max_new_tokens=5, stop_ids=[-1])
    assert on.decode_cuda_graph is False and off.decode_cuda_graph is False
    assert on.tokens == off.tokens and len(on.tokens) == 5
    assert "decode_cuda_graph" in on.to_dict()


def test_benchmark_decode_reports_the_step(tiny):
    """benchmark_decode times the steady step over random caches and says how it ran (no CUDA
    graph on the CPU); bad sizes are named."""
    _, path = tiny
    g = gv.Glm4v.from_pretrained(path)
    b = g.benchmark_decode(2, 40, steps=3)
    assert isinstance(b, gv.DecodeBenchmark)
    assert b.step_seconds > 0 and b.cuda_graph is False
    assert b.to_dict() == {"step_seconds": b.step_seconds, "cuda_graph": False}
    with pytest.raises(glyph.InputError, match="batch, context and steps must be > 0"):
        g.benchmark_decode(0, 40)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
@pytest.mark.parametrize("heads,kv_heads", [(8, 2), (4, 4)])  # head_dim 64: glyph's kernels
def test_cuda_graph_decode_gives_the_eager_tokens(heads, kv_heads):
    """On a GPU, a bf16 model decodes from one captured CUDA graph, token for token as eagerly
    (batch 1 and a batch of two of different lengths)."""
    cfg = vlm_tiny.tiny_config(hidden=64 * heads, heads=heads, kv_heads=kv_heads,
                               vision_hidden=128, vision_heads=2, intermediate=256,
                               vision_intermediate=256)
    g = gv.Glm4v.random(cfg, device="cuda", dtype="bfloat16", seed=7)
    one = vlm_tiny.prompt_ids(cfg, [], [33], seed=1)
    two = vlm_tiny.prompt_ids(cfg, [], [70], seed=2)
    on = g.generate(one, max_new_tokens=16, stop_ids=[-1])
    on_b = g.generate_batch([one, two], max_new_tokens=16, stop_ids=[-1])
    g.set_runtime_options(cuda_graphs=False)
    off = g.generate(one, max_new_tokens=16, stop_ids=[-1])
    off_b = g.generate_batch([one, two], max_new_tokens=16, stop_ids=[-1])
    assert on.decode_cuda_graph and not off.decode_cuda_graph
    assert on.tokens == off.tokens
    assert [r.tokens for r in on_b] == [r.tokens for r in off_b]
    # "cuda" became the concrete device it was loaded on; benchmark_decode says a graph ran
    assert g.device == f"cuda:{torch.cuda.current_device()}"
    g.set_runtime_options(cuda_graphs=True)
    assert g.benchmark_decode(2, 100, steps=2).cuda_graph


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_cuda_load_through_the_smallest_staging(tmp_path, dtype):
    """Weights reach the GPU through a pinned buffer whose two halves take turns (the host fills
    one while the other is copied). Through the smallest buffer (1 MB, halves of 512 KB) the
    larger tensors travel in several pieces (and a float32 checkpoint loaded as bf16 is converted
    piece by piece); the model must compute exactly what a load through the default buffer (one
    piece a tensor) does. The second such load starts while the stream is held busy, so every
    copy queues behind it and the host runs ahead: a half refilled before its copy ran would
    corrupt the weights."""
    model = vlm_tiny.make_model(seed=5, hidden=256, vocab=1200, intermediate=1024)
    path = str(tmp_path)
    vlm_tiny.save(model, path)
    assert model.model.language_model.embed_tokens.weight.numel() * 4 > 2 * (512 << 10)
    ids, imgs = image_prompt(gv.Glm4v.from_pretrained(path), model.config, [(70, 90)], [5, 6],
                             seed=3)
    want = gv.Glm4v.from_pretrained(path, device="cuda", dtype=dtype).forward(ids, images=imgs)
    g = gv.Glm4v.from_pretrained(path, device="cuda", dtype=dtype, staging_bytes=1)
    assert g.load_info["bytes"] == sum(p.numel() for p in model.parameters()) * (
        4 if dtype == "float32" else 2)
    assert torch.equal(g.forward(ids, images=imgs), want)
    # Again, behind a busy stream (the first load left its pinned and device blocks in the
    # caching allocators, so nothing in this one waits for the device before its copies).
    del g
    torch.cuda.synchronize()
    torch.cuda._sleep(200_000_000)  # ~0.1 s of the current stream, the loader's
    g = gv.Glm4v.from_pretrained(path, device="cuda", dtype=dtype, staging_bytes=1)
    assert torch.equal(g.forward(ids, images=imgs), want)
    if dtype == "float32":
        # ... and what the CPU computes, within the CPU tolerance (cuDNN's float32 convolution,
        # the patch embedding, would use TF32 by default).
        cpu = gv.Glm4v.from_pretrained(path).forward(ids, images=imgs)
        tf32 = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False
        try:
            dev = g.forward(ids, images=imgs).cpu()
        finally:
            torch.backends.cudnn.allow_tf32 = tf32
        err = ((dev - cpu).abs().max() / cpu.abs().max()).item()
        assert err < 1e-4, err


# ---- reasoning ----

CASES = [
    ("<think>6*7 is 42</think><answer>42</answer>", "6*7 is 42", "42", True, True),
    ("\n<think>\nplan\n</think>\n\nThe answer is B.", "plan", "The answer is B.", True, True),
    ("<think>still thinking when cut off", "still thinking when cut off", "", True, False),
    ("Just an answer.", "", "Just an answer.", False, False),
    ("<answer>only tags</answer>", "", "only tags", False, False),
    ("no think here </think> tail", "", "no think here </think> tail", False, False),
    ("<think></think>x", "", "x", True, True),
    ("<thin", "", "<thin", False, False),
    ("中文<think>不是开头</think>", "", "中文<think>不是开头</think>", False, False),
    ("<think>推理</think><answer>答案</answer>", "推理", "答案", True, True),
]


@pytest.mark.parametrize("text,reasoning,content,has,done", CASES)
def test_split_reasoning(text, reasoning, content, has, done):
    s = glyph.split_reasoning(text)
    assert (s.reasoning, s.content, s.has_reasoning, s.reasoning_done) == (reasoning, content, has, done)


@pytest.mark.parametrize("text", [c[0] for c in CASES])
def test_streamed_reasoning_equals_whole(text):
    whole = glyph.split_reasoning(text)
    for step in (1, 2, 3, 5):
        p = glyph.ReasoningParser()
        r = c = ""
        for i in range(0, len(text), step):
            dr, dc = p.feed(text[i:i + step])
            r, c = r + dr, c + dc
        dr, dc = p.finish()
        r, c = r + dr, c + dc
        assert (r.strip(), c.strip()) == (whole.reasoning, whole.content), step


def test_number_beyond_double_in_config_is_named(tiny, tmp_path):
    """1e400 is valid JSON syntax but no double: the loader names the file (found by fuzzing the
    other JSON readers)."""
    model, path = tiny
    d = tmp_path / "huge"
    shutil.copytree(path, d)
    if not (d / "generation_config.json").exists():
        (d / "generation_config.json").write_text('{"do_sample": false}')
    for name in ("config.json", "generation_config.json"):
        p = d / name
        original = p.read_text()
        p.write_text(original.replace("{", '{"x_huge": 1e400, ', 1))
        with pytest.raises(glyph.ModelLoadError, match=rf"{name}: not valid JSON"):
            gv.Glm4v.from_pretrained(str(d))
        p.write_text(original)


@pytest.mark.parametrize("value", [1e300, 4096.5, 2 ** 40, "64"])
def test_whole_numbers_in_model_configs_are_checked(tiny, tmp_path, value):
    """A float where a whole number belongs (get<int>() of 1e300 is undefined behaviour, 4096.5
    would be truncated), or one beyond int (2^40 would wrap): each is a ModelLoadError naming the
    file and the key, in config.json, generation_config.json and preprocessor_config.json."""
    model, path = tiny

    def text(c):
        c["text_config"]["num_hidden_layers"] = value

    d = _with_config(path, tmp_path / "text", text)
    with pytest.raises(glyph.ModelLoadError, match=r"config.json: key text_config.num_hidden_layers "):
        gv.Glm4v.from_pretrained(d)

    def eos(c):
        c["eos_token_id"] = [1, value]

    if isinstance(value, float):  # 2^40 is a valid int64 id
        d = _with_config(path, tmp_path / "eos", eos)
        with pytest.raises(glyph.ModelLoadError, match=r"config.json: key eos_token_id must be a whole"):
            gv.Glm4v.from_pretrained(d)
    d = tmp_path / "pre"
    shutil.copytree(path, d)
    pre = d / "preprocessor_config.json"
    cfg = json.loads(pre.read_text()) if pre.exists() else {}
    cfg["patch_size"] = value
    pre.write_text(json.dumps(cfg))
    with pytest.raises(glyph.ModelLoadError, match=r"preprocessor_config.json: patch_size must be a whole"):
        gv.Glm4v.from_pretrained(str(d))
    gen = d / "generation_config.json"
    pre.unlink()
    gen.write_text(json.dumps({"top_k": value}))
    with pytest.raises(glyph.ModelLoadError, match=r"generation_config.json: key top_k "):
        gv.Glm4v.from_pretrained(str(d))
