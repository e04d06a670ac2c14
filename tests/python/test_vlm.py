"""GLM-4.1V parity: glyphcpp (C++/LibTorch) vs transformers on tiny random models built here.

Tolerances (float32, CPU): image processor identical to 1e-6; vision features and logits within
1e-4 relative to the largest reference magnitude; greedy tokens identical."""
import json
import os
import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("safetensors")
gv = pytest.importorskip("glyph.vlm")

import glyph  # noqa: E402
import vlm_tiny  # noqa: E402
from vlm_tiny import random_images  # noqa: E402

RTOL = 1e-4


def rel_err(a, b):
    a, b = torch.as_tensor(a).float(), torch.as_tensor(b).float()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def hf_greedy_on_pages(model, ids, pages, max_new_tokens):
    """transformers' greedy continuation of `ids` with rendered pages as the images."""
    ref = vlm_tiny.hf_image_processor()(images=[np.asarray(p.pixels) for p in pages], return_tensors="pt")
    inp = torch.tensor([ids])
    with torch.no_grad():
        out = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp),
                             pixel_values=ref["pixel_values"], image_grid_thw=ref["image_grid_thw"],
                             mm_token_type_ids=(inp == model.config.image_token_id).int(),
                             max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=None,
                             pad_token_id=0)
    return out[0, len(ids):].tolist()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model = vlm_tiny.make_model(seed=3)
    path = str(tmp_path_factory.mktemp("tiny"))
    vlm_tiny.save(model, path)
    return model, path


def hf_logits(model, ids, ref=None):
    inp = torch.tensor([ids])
    kw = {}
    if ref is not None:
        kw = dict(pixel_values=ref["pixel_values"], image_grid_thw=ref["image_grid_thw"],
                  mm_token_type_ids=(inp == model.config.image_token_id).int())
    with torch.no_grad():
        return model(input_ids=inp, **kw).logits[0]


# ---- image processor ----

@pytest.mark.parametrize("sizes", [[(70, 90)], [(20, 300), (57, 57)], [(333, 211), (28, 28), (100, 500)]])
def test_image_processor_matches_transformers(sizes):
    imgs = random_images(sizes, seed=len(sizes))
    ref = vlm_tiny.hf_image_processor()(images=imgs, return_tensors="pt")
    pv, grid = gv.process_images(imgs)
    assert grid.tolist() == ref["image_grid_thw"].tolist()
    assert pv.shape == ref["pixel_values"].shape
    assert (pv - ref["pixel_values"]).abs().max().item() < 1e-6


def test_image_processor_on_rendered_page():
    page = glyph.Renderer().render(glyph.sample_text()[:3000]).pages[0]
    ref = vlm_tiny.hf_image_processor()(images=[np.asarray(page.pixels)], return_tensors="pt")
    pv, grid = gv.process_images([page])
    assert grid.tolist() == ref["image_grid_thw"].tolist()
    assert int(grid[0].prod()) // 4 == page.visual_tokens
    assert (pv - ref["pixel_values"]).abs().max().item() < 1e-6


# ---- model parity ----

SHAPES = [
    dict(heads=4, kv_heads=4),                         # MHA
    dict(heads=4, kv_heads=2),                         # GQA 2
    dict(heads=8, kv_heads=1, hidden=64, layers=3),    # MQA, deeper
    dict(hidden=96, heads=6, kv_heads=2, vision_hidden=48, vision_heads=3, vision_depth=3, image_size=84),
]
IMAGES = [[], [(70, 90)], [(56, 112), (90, 40)], [(60, 60), (30, 140), (84, 84)]]


@pytest.mark.parametrize("shape_i", range(len(SHAPES)))
@pytest.mark.parametrize("images_i", range(len(IMAGES)))
def test_logits_match_transformers(tmp_path, shape_i, images_i):
    model = vlm_tiny.make_model(seed=10 + shape_i, **SHAPES[shape_i])
    vlm_tiny.save(model, str(tmp_path))
    g = gv.Glm4v.from_pretrained(str(tmp_path))
    sizes = IMAGES[images_i]
    if sizes:
        imgs = random_images(sizes, seed=images_i)
        ref = vlm_tiny.hf_image_processor()(images=imgs, return_tensors="pt")
        pv, grid = g.process_images(imgs)
        counts = [int(r.prod()) // 4 for r in grid]
        with torch.no_grad():
            f_ref = model.model.get_image_features(ref["pixel_values"], ref["image_grid_thw"],
                                                   return_dict=True).pooler_output
        f_ref = torch.cat(list(f_ref), 0)
        assert rel_err(g.image_features(pv, grid), f_ref) < RTOL
        ids = vlm_tiny.prompt_ids(model.config, counts, [4, 3, 2, 5][: len(sizes) + 1], seed=shape_i)
        logits = g.forward(ids, pixel_values=pv, grid_thw=grid)
        expected = hf_logits(model, ids, ref)
    else:
        ids = vlm_tiny.prompt_ids(model.config, [], [17], seed=shape_i)
        logits = g.forward(ids)
        expected = hf_logits(model, ids)
    assert logits.shape == expected.shape
    assert rel_err(logits, expected) < RTOL


def test_rope_index_matches_transformers(tiny):
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path)
    imgs = random_images([(56, 112), (90, 40)])
    ref = vlm_tiny.hf_image_processor()(images=imgs, return_tensors="pt")
    counts = [int(r.prod()) // 4 for r in ref["image_grid_thw"]]
    ids = vlm_tiny.prompt_ids(model.config, counts, [3, 2, 4])
    inp = torch.tensor([ids])
    pos_ref, delta_ref = model.model.get_rope_index(
        inp, mm_token_type_ids=(inp == model.config.image_token_id).int(),
        image_grid_thw=ref["image_grid_thw"])
    pos, delta = g._m.rope_index(ids, ref["image_grid_thw"])
    assert pos.tolist() == pos_ref[:, 0].tolist()
    assert delta == int(delta_ref.flatten()[0])


@pytest.mark.parametrize("n_images", [0, 1, 2])
def test_greedy_generation_matches_transformers(tiny, n_images):
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path)
    imgs = random_images([(70, 90), (60, 100)][:n_images], seed=5)
    kw = {}
    counts = []
    if imgs:
        ref = vlm_tiny.hf_image_processor()(images=imgs, return_tensors="pt")
        counts = [int(r.prod()) // 4 for r in ref["image_grid_thw"]]
        kw = dict(pixel_values=ref["pixel_values"], image_grid_thw=ref["image_grid_thw"])
    ids = vlm_tiny.prompt_ids(model.config, counts, [6, 4, 3][: n_images + 1], seed=n_images)
    inp = torch.tensor([ids])
    with torch.no_grad():
        out = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp),
                             mm_token_type_ids=(inp == model.config.image_token_id).int(),
                             max_new_tokens=12, do_sample=False, eos_token_id=None,
                             pad_token_id=0, **kw)
    expected = out[0, len(ids):].tolist()
    r = g.generate(ids, images=imgs or None, max_new_tokens=12, stop_ids=[-1])
    assert r.tokens == expected
    assert r.stop_reason == "max_new_tokens"
    # The KV-cache path gives the same next-token logits as a full forward.
    full = g.forward(ids + r.tokens[:3], images=imgs or None)
    assert r.tokens[3] == int(full[-1].argmax())


def test_sharded_checkpoint_loads_identically(tiny, tmp_path):
    model, path = tiny
    vlm_tiny.save(model, str(tmp_path), shard="20KB")
    assert os.path.exists(tmp_path / "model.safetensors.index.json")
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".safetensors")]) > 1
    ids = vlm_tiny.prompt_ids(model.config, [], [9])
    a = gv.Glm4v.from_pretrained(path).forward(ids)
    b = gv.Glm4v.from_pretrained(str(tmp_path)).forward(ids)
    assert torch.equal(a, b)
    assert set(gv.checkpoint_tensors(str(tmp_path))) == set(gv.checkpoint_tensors(path))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_reduced_precision_stays_close(tiny, dtype):
    model, path = tiny
    g32 = gv.Glm4v.from_pretrained(path)
    g = gv.Glm4v.from_pretrained(path, dtype=dtype)
    assert g.dtype in ("BFloat16", "Half")
    imgs = random_images([(70, 90)])
    pv, grid = g32.process_images(imgs)
    ids = vlm_tiny.prompt_ids(model.config, [int(grid[0].prod()) // 4], [5, 4])
    a = g32.forward(ids, pixel_values=pv, grid_thw=grid)
    b = g.forward(ids, pixel_values=pv, grid_thw=grid)
    assert b.dtype == torch.float32
    assert rel_err(b, a) < 5e-2


# ---- generation options ----

def test_sampling_is_seeded_and_options_work(tiny):
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path)
    ids = vlm_tiny.prompt_ids(model.config, [], [8])
    kw = dict(max_new_tokens=10, do_sample=True, temperature=1.5, top_p=0.9, top_k=40, stop_ids=[-1])
    a = g.generate(ids, seed=7, **kw).tokens
    assert a == g.generate(ids, seed=7, **kw).tokens
    others = [tuple(g.generate(ids, seed=s, **kw).tokens) for s in range(8, 12)]
    assert any(o != tuple(a) for o in others)
    # top_k=1 sampling is greedy
    greedy = g.generate(ids, max_new_tokens=10, stop_ids=[-1]).tokens
    assert g.generate(ids, max_new_tokens=10, do_sample=True, top_k=1, seed=3, stop_ids=[-1]).tokens == greedy
    # stop ids end generation and are included
    stop = greedy[4]
    r = g.generate(ids, max_new_tokens=10, stop_ids=[stop])
    assert r.tokens == greedy[: greedy.index(stop) + 1] and r.stop_reason == "stop_id"
    # streaming callback sees every token and can stop early
    seen = []
    r = g.generate(ids, max_new_tokens=10, stop_ids=[-1], stream=lambda t: seen.append(t) or len(seen) < 3)
    assert seen == greedy[:3] and r.tokens == greedy[:3] and r.stop_reason == "callback"
    # a strong repetition penalty changes greedy output of a repetitive model
    pen = g.generate(ids, max_new_tokens=10, stop_ids=[-1], repetition_penalty=50.0).tokens
    assert len(set(pen)) >= len(set(greedy))


def test_repetition_penalty_matches_transformers(tiny):
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path)
    ids = vlm_tiny.prompt_ids(model.config, [], [8], seed=4)
    inp = torch.tensor([ids])
    with torch.no_grad():
        out = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp), max_new_tokens=10,
                             do_sample=False, repetition_penalty=1.8, eos_token_id=None, pad_token_id=0)
    r = g.generate(ids, max_new_tokens=10, repetition_penalty=1.8, stop_ids=[-1])
    assert r.tokens == out[0, len(ids):].tolist()


@pytest.mark.parametrize("kw", [dict(temperature=1.3, top_k=30, top_p=0.9),
                                dict(temperature=0.8, repetition_penalty=1.3),
                                dict(temperature=2.0)])
def test_sampling_matches_transformers(tiny, kw):
    """Sampled tokens equal transformers' for the same seed: the same processors in the same
    order (repetition penalty, temperature, top-k, top-p) and the same draw (torch.multinomial's
    argmax(p / q), q ~ Exp(1), from a generator seeded alike)."""
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path)
    ids = vlm_tiny.prompt_ids(model.config, [], [8], seed=9)
    inp = torch.tensor([ids])
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        with torch.no_grad():
            out = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp),
                                 max_new_tokens=12, do_sample=True, top_k=kw.get("top_k", 0),
                                 eos_token_id=None, pad_token_id=0,
                                 **{k: v for k, v in kw.items() if k != "top_k"})
        r = g.generate(ids, max_new_tokens=12, do_sample=True, seed=seed, stop_ids=[-1], **kw)
        assert r.tokens == out[0, len(ids):].tolist(), (seed, kw)


def test_prompt_image_count_mismatch_is_an_error(tiny):
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path)
    imgs = random_images([(70, 90)])
    ids = vlm_tiny.prompt_ids(model.config, [3], [4, 2])  # wrong number of image tokens
    with pytest.raises(glyph.InputError):
        g.forward(ids, images=imgs)
    with pytest.raises(glyph.InputError):
        g.forward(ids)


def test_image_files_that_cannot_be_read_are_named(tmp_path):
    pytest.importorskip("PIL")
    (tmp_path / "notes.png").write_text("not an image")
    for bad in (tmp_path / "missing.png", tmp_path / "notes.png", tmp_path):
        with pytest.raises(glyph.IoError, match=f"cannot read image '{bad}'"):
            gv.process_images([random_images([(30, 40)])[0], bad])
    good = tmp_path / "good.png"
    glyph.Renderer().render("a page").pages[0].save(str(good))
    np.testing.assert_array_equal(gv.process_images([good])[0],
                                  gv.process_images([glyph.Renderer().render("a page").pages[0]])[0])


# ---- bad checkpoints ----

def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return str(dst)


def _rewrite_safetensors(path, edit):
    from safetensors.torch import load_file, save_file

    f = os.path.join(path, "model.safetensors")
    sd = load_file(f)
    edit(sd)
    save_file(sd, f, metadata={"format": "pt"})


def test_missing_tensor_is_named(tiny, tmp_path):
    p = _copy(tiny[1], tmp_path / "m")
    _rewrite_safetensors(p, lambda sd: sd.pop("model.language_model.layers.1.mlp.down_proj.weight"))
    with pytest.raises(glyph.ModelLoadError, match=r"missing tensors: .*layers\.1\.mlp\.down_proj"):
        gv.Glm4v.from_pretrained(p)


def test_wrong_shape_is_named(tiny, tmp_path):
    p = _copy(tiny[1], tmp_path / "m")

    def edit(sd):
        sd["model.visual.post_layernorm.weight"] = torch.ones(7)

    _rewrite_safetensors(p, edit)
    with pytest.raises(glyph.ModelLoadError) as e:
        gv.Glm4v.from_pretrained(p)
    assert "post_layernorm.weight [7] (config needs [32])" in str(e.value)


def test_unexpected_tensors_warn_once_and_load(tiny, tmp_path):
    p = _copy(tiny[1], tmp_path / "m")

    def edit(sd):
        sd["model.extra.weight"] = torch.ones(2)
        sd["mtp.layers.0.weight"] = torch.ones(3)

    _rewrite_safetensors(p, edit)
    with pytest.warns(RuntimeWarning, match=r"skipped 2 tensor\(s\).*model\.extra\.weight") as rec:
        m = gv.Glm4v.from_pretrained(p)
    assert len([w for w in rec if "skipped" in str(w.message)]) == 1
    assert sorted(m.load_info["skipped_tensors"]) == ["model.extra.weight", "mtp.layers.0.weight"]
    ref = gv.Glm4v.from_pretrained(tiny[1])
    ids = [5, 6, 7, 8]
    assert torch.equal(m.forward(ids), ref.forward(ids))


def test_truncated_safetensors(tiny, tmp_path):
    p = _copy(tiny[1], tmp_path / "m")
    f = os.path.join(p, "model.safetensors")
    data = open(f, "rb").read()
    open(f, "wb").write(data[: len(data) // 2])
    with pytest.raises(glyph.ModelLoadError, match="truncated"):
        gv.Glm4v.from_pretrained(p)
    open(f, "wb").write(struct.pack("<Q", 10**9) + b"{}")
    with pytest.raises(glyph.ModelLoadError, match="header length"):
        gv.Glm4v.from_pretrained(p)


def test_bad_config(tiny, tmp_path):
    p = _copy(tiny[1], tmp_path / "m")
    cfg_path = os.path.join(p, "config.json")
    cfg = json.load(open(cfg_path))
    json.dump(dict(cfg, model_type="qwen2_vl"), open(cfg_path, "w"))
    with pytest.raises(glyph.ModelLoadError, match="model_type is 'qwen2_vl'"):
        gv.Glm4v.from_pretrained(p)
    open(cfg_path, "w").write('{"model_type": "glm4v", ')
    with pytest.raises(glyph.ModelLoadError, match="not valid JSON"):
        gv.Glm4v.from_pretrained(p)
    os.remove(cfg_path)
    with pytest.raises(glyph.ModelLoadError, match="config.json"):
        gv.Glm4v.from_pretrained(p)
    cfg["text_config"]["num_hidden_layers"] = 3  # more layers than the weights hold
    json.dump(cfg, open(cfg_path, "w"))
    with pytest.raises(glyph.ModelLoadError, match=r"missing tensors: lm\.layers\.2\."):
        gv.Glm4v.from_pretrained(p)


def test_device_names_are_checked(tiny):
    """A device is checked before anything is read: errors name it; "auto" takes the GPU when
    PyTorch sees one."""
    cfg = tiny[1]
    has_cuda = torch.cuda.is_available()
    for bad in ("banana", "mps", "meta", "cuda:x"):
        with pytest.raises(glyph.InputError, match=f"'{bad}'"):
            gv.Glm4v.from_pretrained(cfg, device=bad)
        with pytest.raises(glyph.InputError, match=f"'{bad}'"):
            gv.Glm4v.random(cfg, device=bad, dtype="float32")
    beyond = f"cuda:{torch.cuda.device_count() if has_cuda else 0}"
    with pytest.raises(glyph.InputError, match=beyond + ("'.*CUDA device" if has_cuda
                                                          else "'.*no CUDA device")):
        gv.Glm4v.random(cfg, device=beyond, dtype="float32")
    if not has_cuda:
        with pytest.raises(glyph.InputError, match="'cuda'.*no CUDA device.*'cpu' or 'auto'"):
            gv.Glm4v.from_pretrained(cfg, device="cuda")
    m = gv.Glm4v.from_pretrained(cfg, device="auto", dtype="float32")
    assert m.device == ("cuda:0" if has_cuda else "cpu")
    assert gv.Glm4v.from_pretrained(cfg, device=torch.device("cpu")).device == "cpu"


def test_missing_shard_is_named(tiny, tmp_path):
    vlm_tiny.save(tiny[0], str(tmp_path), shard="20KB")
    shard = sorted(f for f in os.listdir(tmp_path) if f.endswith(".safetensors"))[-1]
    os.remove(tmp_path / shard)
    with pytest.raises(glyph.ModelLoadError, match=shard):
        gv.Glm4v.from_pretrained(str(tmp_path))


# ---- pipeline: render -> prompt -> generate ----

def test_pipeline_ask_matches_transformers(tiny):
    pytest.importorskip("tokenizers")
    model, path = tiny
    text = glyph.sample_text()[:1500]
    tok = vlm_tiny.make_tokenizer(text)
    g = gv.Glm4v.from_pretrained(path)
    renderer = glyph.Renderer()
    pages = renderer.render(text).pages
    streamed = []
    ans = glyph.Pipeline(renderer, g, tok).ask(text, "who is it about ?", max_new_tokens=6,
                                                stream=streamed.append, stop_ids=[-1])
    assert ans.pages == len(pages) and ans.visual_tokens == sum(p.visual_tokens for p in pages)
    assert ans.text_tokens == len(tok.encode(text).ids) and ans.compression > 0
    assert streamed == ans.tokens and len(ans.tokens) == 6
    ids = g.build_prompt(tok, "who is it about ?", images=pages)
    assert ids[:2] == [tok.token_to_id("[gMASK]"), tok.token_to_id("<sop>")]
    assert ans.tokens == hf_greedy_on_pages(model, ids, pages, 6)
    assert ans.text == tok.decode(ans.tokens)


def test_cli_parser_builds():
    import argparse

    from glyph import vlm_cli

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    vlm_cli.add_parser(sub)
    args = parser.parse_args(["ask", "--model", "m", "--text", "t.txt", "--question", "q"])
    assert args.func is vlm_cli.run and args.dtype == "auto" and args.preset is None
    assert args.device == "auto" and args.top_k is None and args.repetition_penalty is None
    args = parser.parse_args(["ask", "--model", "m", "--text", "t", "--question", "q",
                              "--preset", "glyph", "--raw"])
    assert args.preset == "glyph" and args.raw


def test_cli_ask_runs(tiny, tmp_path, capsys):
    pytest.importorskip("tokenizers")
    from glyph import vlm_cli

    text = glyph.sample_text()[:800]
    model_dir = tmp_path / "model"
    import shutil

    shutil.copytree(tiny[1], model_dir)
    vlm_tiny.make_tokenizer(text).save(str(model_dir / "tokenizer.json"))
    (tmp_path / "ctx.txt").write_text(text)
    rc = vlm_cli.main(["ask", "--model", str(model_dir), "--text", str(tmp_path / "ctx.txt"),
                       "--question", "why ?", "--dtype", "float32", "--max-new-tokens", "3", "--stats"])
    assert rc == 0
    err = capsys.readouterr().err
    assert '"visual_tokens"' in err and '"compression"' in err


def test_cli_ask_bad_inputs(tiny, tmp_path, capsys):
    """glyph ask: what cannot be read is one error line naming it (checked before the weights
    are read); invalid UTF-8 is replaced with a warning; the sampling flags reach generate."""
    pytest.importorskip("tokenizers")
    from glyph import cli

    text = glyph.sample_text()[:600]
    model_dir = tmp_path / "model"
    import shutil

    shutil.copytree(tiny[1], model_dir)
    vlm_tiny.make_tokenizer(text).save(str(model_dir / "tokenizer.json"))
    ctx = tmp_path / "ctx.txt"
    ctx.write_bytes(text.encode() + b" \xff\xfe tail \xc3")
    base = ["ask", "--model", str(model_dir), "--question", "why ?", "--dtype", "float32",
            "--device", "cpu", "--max-new-tokens", "2"]
    for argv, named in [(["--text", str(tmp_path / "nope.txt")], "cannot read text file"),
                        (["--text", str(tmp_path)], "cannot read text file"),
                        (["--text", str(ctx), "--config", str(tmp_path / "no.json")], "no.json"),
                        (["--text", str(ctx), "--tokenizer", str(tmp_path / "none")], "none"),
                        (["--text", str(ctx), "--device", "cuda:banana"], "cuda:banana")]:
        assert cli.main(base + argv) == 1, argv
        err = capsys.readouterr().err
        last = err.splitlines()[-1]
        assert last.startswith("error: ") and named in last and "Traceback" not in err, err
    assert cli.main(base + ["--text", str(ctx), "--temperature", "0.8", "--top-k", "5",
                            "--top-p", "0.9", "--repetition-penalty", "1.2", "--seed", "3"]) == 0
    err = capsys.readouterr().err
    assert "3 invalid UTF-8 sequence(s) replaced" in err, err


def test_transformers_4x_layout_loads(tiny, tmp_path):
    """Checkpoints saved by transformers 4.x (GLM-4.1V / Glyph on the Hub): rope settings in
    text_config.rope_scaling + top-level keys, decoder tensors named model.layers.*."""
    from safetensors.torch import load_file, save_file

    model, path = tiny
    p = _copy(path, tmp_path / "m")
    cfg = json.load(open(os.path.join(p, "config.json")))
    t = cfg["text_config"]
    rp = t.pop("rope_parameters")
    t["rope_scaling"] = {"type": "default", "rope_type": "default", "mrope_section": rp["mrope_section"]}
    t["rope_theta"] = rp["rope_theta"]
    t["partial_rotary_factor"] = rp["partial_rotary_factor"]
    t["attention_bias"] = True
    cfg["vision_config"].pop("rope_parameters", None)
    json.dump(cfg, open(os.path.join(p, "config.json"), "w"))
    f = os.path.join(p, "model.safetensors")
    sd = {k.replace("model.language_model.", "model."): v for k, v in load_file(f).items()}
    assert "model.layers.0.mlp.down_proj.weight" in sd
    save_file(sd, f, metadata={"format": "pt"})
    ids = vlm_tiny.prompt_ids(model.config, [], [11])
    a = gv.Glm4v.from_pretrained(path).forward(ids)
    b = gv.Glm4v.from_pretrained(p).forward(ids)
    assert torch.equal(a, b)


def test_bf16_checkpoint(tmp_path):
    """A bf16-stored checkpoint (as Glyph ships) loads in float32 exactly as its rounded weights,
    and in bfloat16 (weights aliased from the mapping) close to it."""
    model = vlm_tiny.make_model(seed=21).to(torch.bfloat16)
    vlm_tiny.save(model, str(tmp_path))
    assert {d for d, _ in gv.checkpoint_tensors(str(tmp_path)).values()} == {"BF16"}
    model = model.to(torch.float32)
    imgs = random_images([(70, 90)])
    ref = vlm_tiny.hf_image_processor()(images=imgs, return_tensors="pt")
    ids = vlm_tiny.prompt_ids(model.config, [int(ref["image_grid_thw"][0].prod()) // 4], [5, 4])
    expected = hf_logits(model, ids, ref)
    g32 = gv.Glm4v.from_pretrained(str(tmp_path), dtype="float32")
    assert rel_err(g32.forward(ids, images=imgs), expected) < RTOL
    g16 = gv.Glm4v.from_pretrained(str(tmp_path))  # the checkpoint's torch_dtype by default
    assert g16.dtype == "BFloat16"
    assert rel_err(g16.forward(ids, images=imgs), expected) < 5e-2
    assert torch.equal(g16.forward(ids, images=imgs),
                       gv.Glm4v.from_pretrained(str(tmp_path), dtype=torch.bfloat16).forward(
                           ids, images=imgs))


def test_pipeline_with_glyph_tokenizer(tmp_path):
    """glyph.Tokenizer (C++) + the tokenizer part's GLM-4.1V prompt builder, end to end, against
    transformers generating from the same prompt."""
    text = glyph.sample_text()[:1200]
    hf_tok = vlm_tiny.make_glm_tokenizer(glyph.sample_text())
    tok_path = tmp_path / "tokenizer.json"
    hf_tok.save(str(tok_path))
    tok = glyph.Tokenizer.from_file(str(tok_path))
    ids_of = [tok.token_to_id(t) for t in ("<|image|>", "<|begin_of_image|>", "<|end_of_image|>")]
    model = vlm_tiny.make_model(seed=5, vocab=hf_tok.get_vocab_size(), image_ids=ids_of)
    vlm_tiny.save(model, str(tmp_path))
    g = gv.Glm4v.from_pretrained(str(tmp_path))
    renderer = glyph.Renderer()
    pages = renderer.render(text).pages
    ids = g.build_prompt(tok, "Who is it about?", images=pages)
    assert ids == glyph.glm4v_prompt_ids(tok, pages, "Who is it about?")
    assert ids == gv._encode(hf_tok, glyph.glm4v_prompt(pages, "Who is it about?"))
    ans = glyph.Pipeline(renderer, g, tok).ask(text, "Who is it about?", max_new_tokens=5, stop_ids=[-1])
    assert ans.text_tokens == len(tok.encode(text))
    assert ans.tokens == hf_greedy_on_pages(model, ids, pages, 5)
    assert type(glyph.load_tokenizer(str(tmp_path))).__name__ == "Tokenizer"
    # the C++ pipeline (glyph::vlm::ask) gives the same answer and statistics
    c = gv.ask(renderer, g, tok, text, "Who is it about?", max_new_tokens=5, stop_ids=[-1])
    assert c.tokens == ans.tokens and c.text == ans.text
    assert (c.pages, c.visual_tokens, c.text_tokens) == (ans.pages, ans.visual_tokens, ans.text_tokens)


def test_importing_vlm_keeps_core_error_types():
    # glyph._vlm's exception translator is module-local: glyph._core's errors keep their types.
    with pytest.raises(glyph.ConfigError):
        glyph.Renderer({"font-size": -3})


def test_multi_turn_cache_with_images(tiny):
    """prefill(turn 1 + image) then prefill(turn 2 + another image) = one forward over both,
    and decode_step continues from there."""
    model, path = tiny
    g = gv.Glm4v.from_pretrained(path)
    im1, im2 = random_images([(70, 90), (56, 112)], seed=9)
    c1, c2 = (g.image_token_counts([im])[0] for im in (im1, im2))
    turn1 = vlm_tiny.prompt_ids(model.config, [c1], [4, 3], seed=1)
    turn2 = vlm_tiny.prompt_ids(model.config, [c2], [2, 5], seed=2)
    cache = g.new_cache()
    g.prefill(turn1, cache, images=[im1])
    last = g.prefill(turn2, cache, images=[im2])
    full = g.forward(turn1 + turn2, images=[im1, im2])
    assert rel_err(last, full[-1]) < RTOL
    assert cache.length == len(turn1) + len(turn2)
    tok = int(last.argmax())
    nxt = g.decode_step(tok, cache)
    assert rel_err(nxt, g.forward(turn1 + turn2 + [tok], images=[im1, im2])[-1]) < RTOL
    # and the whole conversation matches transformers
    ref = vlm_tiny.hf_image_processor()(images=[im1, im2], return_tensors="pt")
    assert rel_err(full, hf_logits(model, turn1 + turn2, ref)) < RTOL


def test_vlm_evaluator_scores_answers_for_the_search(tmp_path):
    """The search's VLM evaluator: the model's greedy answer on the rendered pages is scored
    against the sample's expected answer (contains / exact), through evaluate_config."""
    text = glyph.sample_text()[:800]
    hf_tok = vlm_tiny.make_glm_tokenizer(glyph.sample_text())
    hf_tok.save(str(tmp_path / "tokenizer.json"))
    tok = glyph.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    ids_of = [tok.token_to_id(t) for t in ("<|image|>", "<|begin_of_image|>", "<|end_of_image|>")]
    model = vlm_tiny.make_model(seed=3, vocab=hf_tok.get_vocab_size(), image_ids=ids_of)
    vlm_tiny.save(model, str(tmp_path))
    g = gv.Glm4v.from_pretrained(str(tmp_path))
    ev = glyph.VlmEvaluator(g, tok, max_new_tokens=4, stop_ids=[-1])
    pages = glyph.Renderer().render(text).pages
    said = ev.answer(pages, "Who?")
    assert ev(None, pages, {"id": "a", "text": text, "question": "Who?", "answer": said}) == 1.0
    assert ev(None, pages, {"id": "b", "text": text, "question": "Who?", "answer": said + " zq"}) == 0.0
    qa = [{"question": "Who?", "answer": said}, {"question": "Who?", "answer": "\u2603\u2603"}]
    assert ev(None, pages, {"id": "c", "text": text, "qa": qa}) == 0.5
    with pytest.raises(ValueError, match="question"):
        ev(None, pages, {"id": "d", "text": text})
    sample = {"id": "e", "text": text, "question": "Who?", "answer": said}
    res = glyph.search.evaluate_config(glyph.RenderConfig.glyph_default(), [sample], ev, text_tokens=tok.count)
    assert res["accuracy"] == 1.0 and res["visual_tokens"] == sum(p.visual_tokens for p in pages)
