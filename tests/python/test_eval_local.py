"""glyph eval's in-process backend (local:CKPT) with a tiny random GLM-4.1V checkpoint: the
predictions equal what glyph.Pipeline (the C++ glyph::vlm::ask) answers on the same pages and
question, and the text baseline runs the same model without pages."""
from __future__ import annotations

import json

import pytest

import glyph
import glyph.eval

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")
pytest.importorskip("langdetect")
gv = pytest.importorskip("glyph.vlm")

import vlm_tiny  # noqa: E402
from eval_helpers import write_jsonl  # noqa: E402

from glyph import chat  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_glyph")
    hf = vlm_tiny.make_glm_tokenizer(glyph.sample_text())
    hf.save(str(d / "tokenizer.json"))
    tok = glyph.Tokenizer.from_file(str(d / "tokenizer.json"))
    ids = [tok.token_to_id(t) for t in ("<|image|>", "<|begin_of_image|>", "<|end_of_image|>")]
    vlm_tiny.save(vlm_tiny.make_model(seed=7, vocab=hf.get_vocab_size(), image_ids=ids), str(d))
    return d


def test_local_backend_matches_the_pipeline(checkpoint, tmp_path):
    text = glyph.sample_text()
    items = [{"id": "a", "context": text[:700], "question": "Who is Alice?", "answers": ["a girl"]},
             {"id": "b", "context": text[700:1500], "question": "What did she see?",
              "answers": ["a rabbit"]}]
    path = write_jsonl(tmp_path / "items.jsonl", items)
    out = tmp_path / "out"
    res = glyph.eval.run("custom", path, f"local:{checkpoint}", out, metric="qa_f1_score",
                         text_baseline="backend", params={"max_tokens": 4}, progress=False,
                         plot=False)
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    texts = [json.loads(x) for x in (out / "predictions_text.jsonl").read_text().splitlines()]
    assert [p["id"] for p in preds] == ["a", "b"] and all("prediction" in p for p in preds)

    model = gv.Glm4v.from_pretrained(str(checkpoint))
    tok = glyph.load_tokenizer(str(checkpoint))
    cfg = glyph.RenderConfig.glyph_default()
    cfg.newline_markup = "<br/>"
    if "paragraph-lines" in glyph.RenderConfig.keys():
        cfg.set("paragraph-lines", "0")
        cfg.set("tab-nbsp", "4")
    renderer = glyph.Renderer(cfg)
    stops = list(chat.STOP_TOKEN_IDS) + model.generation_defaults["stop_ids"]
    for it, p, t in zip(items, preds, texts):
        ans = glyph.Pipeline(renderer, model, tok).ask(
            it["context"], it["question"], max_new_tokens=4, do_sample=False,
            repetition_penalty=1.1, stop_ids=stops)
        toks = [x for x in ans.tokens if x not in stops]
        assert p["text"] == tok.decode(toks, skip_special_tokens=False)
        assert p["prompt_tokens"] == ans.prompt_tokens
        assert (p["pages"], p["visual_tokens"]) == (ans.pages, ans.visual_tokens)
        assert p["text_tokens"] == ans.text_tokens  # counted with the checkpoint's tokenizer
        # the text baseline: the same model, the question after the context, no pages
        ids = model.build_prompt(tok, it["context"] + "\n\n" + it["question"])
        out_t = model.generate(ids, max_new_tokens=4, do_sample=False, repetition_penalty=1.1,
                               stop_ids=stops)
        assert t["text"] == tok.decode([x for x in out_t.tokens if x not in stops],
                                       skip_special_tokens=False)
        assert t["prompt_tokens"] == len(ids) and "pages" not in t
    pages = res["modes"]["pages"]
    assert pages["answered"] == 2 and pages["tokens"]["compression"] > 0
    assert res["backend"] == f"local:{checkpoint}"


def test_local_backend_bad_checkpoint(tmp_path):
    write_jsonl(tmp_path / "x.jsonl", [{"id": "a", "context": "c", "question": "q", "answers": ["a"]}])
    with pytest.raises(glyph.InputError, match="does not exist"):
        glyph.eval.run("custom", tmp_path / "x.jsonl", f"local:{tmp_path / 'nope'}", tmp_path)


def test_local_batches_equal_one_at_a_time(checkpoint, tmp_path):
    text = glyph.sample_text()
    items = [{"id": f"i{k}", "context": text[300 * k: 300 * k + 400 + 50 * k],
              "question": f"Question {k}?", "answers": ["x"]} for k in range(3)]
    path = write_jsonl(tmp_path / "items.jsonl", items)
    from glyph.eval.backends import LocalBackend

    batched = LocalBackend(str(checkpoint), params={"max_tokens": 5}, batch_size=3)
    sizes = []
    real = batched.model.generate_batch

    def spy(prompts, **kw):
        sizes.append(len(prompts))
        return real(prompts, **kw)

    batched.model.generate_batch = spy
    runs = {}
    for n, backend in ((1, f"local:{checkpoint}"), (3, batched)):
        glyph.eval.run("custom", path, backend, tmp_path / f"c{n}",
                       metric="qa_f1_score", params={"max_tokens": 5}, concurrency=n,
                       progress=False, plot=False)
        runs[n] = [{k: v for k, v in json.loads(x).items() if k != "latency_s"}
                   for x in (tmp_path / f"c{n}" / "predictions.jsonl").read_text().splitlines()]
    assert runs[1] == runs[3] and all("prediction" in r for r in runs[1])
    assert max(sizes) > 1  # the three requests in flight were decoded together
