"""glyph.sft: records -> rendered pages + conversations (docs/sft.md). Real texts, real PNGs,
the renderer's own spans as the reference for OCR targets."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import glyph
import glyph.sft
from glyph.sft.targets import newline_rule, page_text
from glyph.sft.tasks import spans_of

from sft_helpers import (check_json_rows, png_pixels, qa_records, real_texts, rows, tree,
                         write_jsonl)

SMALL = {"dpi": 48}  # smaller pages: the same layout code, less pixel work in the tests


def small_config():
    cfg = glyph.RenderConfig.glyph_default().to_dict()
    cfg.update(SMALL)
    return cfg


def test_qa_llamafactory_rows_images_and_configs(tmp_path):
    recs = qa_records()
    res = glyph.sft.build(recs, tmp_path, task="qa", config=small_config(), progress=False)
    assert res.exit_code == 0, res.failures
    assert res.records == len(recs)
    rs = check_json_rows(tmp_path)
    assert [r["glyph"]["record_id"] for r in rs] == [r["id"] for r in recs]  # input order
    by_id = {r["id"]: r for r in recs}
    for r in rs:
        src = by_id[r["glyph"]["record_id"]]
        assert r["messages"][0] == {"role": "user",
                                    "content": "<image>" * len(r["images"]) + src["question"]}
        assert r["messages"][1] == {"role": "assistant", "content": src["answer"]}
        # the config stored with the row reproduces its pages, pixel for pixel
        cfg = json.loads(r["glyph"]["config"])
        pages = glyph.Renderer(cfg).render(src["context"]).pages
        assert len(pages) == len(r["images"])
        for page, span, img, meta in zip(pages, spans_of(pages), r["images"], r["glyph"]["pages"]):
            assert (meta["char_begin"], meta["char_end"]) == span
            assert meta["visual_tokens"] == page.visual_tokens
            np.testing.assert_array_equal(png_pixels(tmp_path / img), page.pixels)
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["glyph_sft"]["formatting"] == "sharegpt"
    assert info["glyph_sft"]["file_name"] == "data"
    assert info["glyph_sft"]["columns"] == {"messages": "messages", "images": "images"}
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["records"] == len(recs)
    assert stats["pages_per_record"]["total"] == sum(len(r["images"]) for r in rs)
    assert (tmp_path / "stats.md").read_text().startswith("# SFT build statistics")
    if stats["plot"]:
        assert (tmp_path / "stats.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "failures.jsonl").read_text() == ""


@pytest.mark.parametrize("markup", ["<br/>", '<font color="#FF0000">&#x23CE;</font>'])
def test_ocr_targets_are_the_page_spans(tmp_path, markup):
    texts = real_texts()
    # 40 short lines: with inline markup, the 30th newline is a paragraph break ('\n')
    texts["lines"] = "".join(f"line {i}: soft\u00adhyphen and a\u0007bell\n" for i in range(40))
    recs = [{"id": k, "context": v} for k, v in texts.items()]
    cfg = small_config()
    cfg["newline-markup"] = markup
    res = glyph.sft.build(recs, tmp_path, task="ocr", format="swift", config=cfg, progress=False, plot=False)
    assert res.exit_code == 0, res.failures
    rs = check_json_rows(tmp_path)
    renderer = glyph.Renderer(cfg)
    by_id = {r["id"]: r["context"] for r in recs}
    seen = 0
    for rid, text in by_id.items():
        mine = [r for r in rs if r["glyph"]["record_id"] == rid]
        pages = renderer.render(text).pages  # the renderer's spans, independently of glyph.sft
        assert len(mine) == len(pages)
        for r, (b, e) in zip(mine, spans_of(pages)):
            span = text[b:e]
            expected = span.replace("\u00ad", "").replace("\u0007", "")
            if markup != "<br/>":  # the marker where the page draws it, '\n' at paragraph breaks
                before = text.count("\n", 0, b)
                parts = expected.split("\n")
                expected = parts[0]
                for i, part in enumerate(parts[1:], 1):
                    expected += ("\n" if (before + i) % 30 == 0 else "\u23ce") + part
            assert r["messages"][-1]["content"] == expected
            assert r["glyph"]["pages"][0]["char_begin"] == b
            seen += 1
    assert seen == len(rs)
    if markup != "<br/>":
        lines = [r for r in rs if r["glyph"]["record_id"] == "lines"]
        joined = "".join(r["messages"][-1]["content"] for r in lines)
        assert joined.count("\u23ce") == 40 - 1 and joined.count("\n") == 1


def test_page_spans_tile_the_text():
    """Each page's span starts where the previous one ended, whatever the renderer reports for a
    page that opens with the continuation's empty line (it says char_begin 0 there)."""
    text = (real_texts().get("gpl3") or glyph.sample_text()) * 3
    pages = glyph.Renderer(small_config()).render(text).pages
    spans = spans_of(pages)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    for (b0, e0), (b1, e1) in zip(spans, spans[1:]):
        assert e0 <= b1 <= e1
        assert text[e0:b1].strip() == ""  # only the line breaks between pages are left out
    assert sum(e - b for b, e in spans) > 0.99 * len(text)


def test_ocr_record_unit_and_page_text_rule():
    rule = newline_rule('<font color="#FF0000">&lt;NL&gt;</font>')
    assert rule.marker == "<NL>"
    assert newline_rule("<br/>").marker is None
    text = "a\nb\u00ad\n" * 20
    assert page_text(text, 0, 4, rule) == "a<NL>b"
    full = page_text(text, 0, len(text), rule)
    assert full.count("\n") == 1 and full.count("<NL>") == 39


def test_budget_split_drop_truncate(tmp_path):
    text = (real_texts().get("gpl3") or glyph.sample_text()) * 2
    recs = [{"id": "long", "context": text, "question": "q?", "answer": "a"},
            {"id": "short", "context": "a short text", "question": "q?", "answer": "a"}]
    cfg = small_config()
    n = len(glyph.Renderer(cfg).render(text).pages)
    assert n > 3
    split = glyph.sft.build(recs, tmp_path / "split", config=cfg, max_pages=2, over_budget="split",
                            progress=False, plot=False)
    rs = check_json_rows(tmp_path / "split")
    long_rows = [r for r in rs if r["glyph"]["record_id"] == "long"]
    assert len(long_rows) == (n + 1) // 2 and all(len(r["images"]) <= 2 for r in long_rows)
    assert [r["glyph"]["id"] for r in long_rows] == [f"long#{k}" for k in range(len(long_rows))]
    assert split.exit_code == 0
    drop = glyph.sft.build(recs, tmp_path / "drop", config=cfg, max_pages=2, progress=False, plot=False)  # qa: drop
    assert drop.exit_code == 0 and drop.dropped == 1
    assert [r["glyph"]["record_id"] for r in rows(tmp_path / "drop")] == ["short"]
    dropped = [json.loads(l) for l in (tmp_path / "drop" / "dropped.jsonl").read_text().splitlines()]
    assert dropped[0]["id"] == "long" and "max_pages=2" in dropped[0]["reason"]
    assert not (tmp_path / "drop" / "images" / "long").exists()
    tokens = [p.visual_tokens for p in glyph.Renderer(cfg).render(text).pages]
    budget = sum(tokens[:3])
    trunc = glyph.sft.build(recs, tmp_path / "trunc", config=cfg, max_visual_tokens=budget,
                            over_budget="truncate", progress=False, plot=False)
    assert trunc.exit_code == 0
    first = rows(tmp_path / "trunc")[0]
    assert [p["visual_tokens"] for p in first["glyph"]["pages"]] == tokens[:3]


def test_sampled_configs_are_seeded_and_recorded(tmp_path):
    recs = qa_records()
    style = {"font-size": {"min": 7, "max": 11, "step": 1}, "dpi": [48, 60],
             "alignment": {"choices": ["LEFT", "JUSTIFY"]},
             "theme": {"choices": [{"font-color": "#000000", "page-bg-color": "#FFFFFF"},
                                   {"font-color": "#E0E0E0", "page-bg-color": "#202020"}]}}
    a = glyph.sft.build(recs, tmp_path / "a", style=style, seed=7, workers=1, progress=False, plot=False)
    b = glyph.sft.build(recs, tmp_path / "b", style=style, seed=7, workers=3, progress=False, plot=False)
    c = glyph.sft.build(recs, tmp_path / "c", style=style, seed=8, workers=2, progress=False, plot=False)
    assert a.exit_code == b.exit_code == c.exit_code == 0
    assert tree(tmp_path / "a") == tree(tmp_path / "b")  # same seed, any worker count
    cfg_a = [json.loads(r["glyph"]["config"]) for r in rows(tmp_path / "a")]
    cfg_c = [json.loads(r["glyph"]["config"]) for r in rows(tmp_path / "c")]
    assert cfg_a != cfg_c
    assert len({json.dumps(c, sort_keys=True) for c in cfg_a}) > 1  # drawn per record
    for r, cfg in zip(rows(tmp_path / "a"), cfg_a):
        assert cfg["font-size"] in (7, 8, 9, 10, 11) and cfg["dpi"] in (48, 60)
        src = next(x for x in recs if x["id"] == r["glyph"]["record_id"])
        page = glyph.Renderer(cfg).render(src["context"]).pages[0]
        np.testing.assert_array_equal(png_pixels(tmp_path / "a" / r["images"][0]), page.pixels)


def test_completion_interleaved_and_user_task(tmp_path):
    text = real_texts().get("gpl3") or glyph.sample_text()
    recs = [{"id": "d1", "context": text}]
    cfg = small_config()
    glyph.sft.build(recs, tmp_path / "c", task="completion", config=cfg, completion_chars=300,
                    progress=False, plot=False)
    (row,) = check_json_rows(tmp_path / "c")
    end = row["glyph"]["pages"][-1]["char_end"]
    assert row["messages"][-1]["content"] == text[end:end + 300]
    res = glyph.sft.build(recs, tmp_path / "i", task="interleaved", config=cfg, segment_chars=1500,
                          render_ratio=0.5, seed=3, progress=False, plot=False)
    assert res.exit_code == 0
    rs = check_json_rows(tmp_path / "i")
    assert len(rs) == 1
    user = rs[0]["messages"][0]["content"]
    assert "<image>" in user and user.replace("<image>", "").strip()  # images and text mixed
    # document order: each text part and each image's span follows the one before
    pos, pages = 0, iter(rs[0]["glyph"]["pages"])
    for k, piece in enumerate(user.split("<image>")):
        if k:
            p = next(pages)
            assert p["char_begin"] == 0 and p["part"].startswith("seg")  # spans are per segment
        if piece:
            found = text.find(piece, pos)
            assert found >= pos, piece[:40]
            pos = found + len(piece)
    target = rs[0]["messages"][-1]["content"]
    assert target and text.endswith(target) and len(target) <= 2000

    def summary_task(ctx):
        chunks = ctx.render(ctx.context())
        return [ctx.sample([chunks[0], "How many characters are shown?"],
                           str(chunks[0].end - chunks[0].begin))]

    res = glyph.sft.build(recs, tmp_path / "u", task=summary_task, config=cfg, progress=False, plot=False)
    (row,) = check_json_rows(tmp_path / "u")
    assert row["glyph"]["task"].endswith("summary_task")
    p = row["glyph"]["pages"]
    assert row["messages"][-1]["content"] == str(p[-1]["char_end"] - p[0]["char_begin"])


def test_reasoning_fields_and_prompt(tmp_path):
    recs = [{"doc": "Alice was beginning to get very tired.", "q": "Who?", "a": "Alice",
             "why": "The text names her.", "uid": 17}]
    glyph.sft.build(recs, tmp_path / "g", config=small_config(), reasoning_format="glm",
                    fields={"context": "doc", "question": "q", "answer": "a", "reasoning": "why",
                            "id": "uid"}, prompt="Question: {question}\nAnswer:", system="Be brief.",
                    progress=False, plot=False)
    (row,) = check_json_rows(tmp_path / "g")
    assert row["glyph"]["id"] == "17"
    assert row["messages"][0] == {"role": "system", "content": "Be brief."}
    assert row["messages"][1]["content"] == "<image>Question: Who?\nAnswer:"
    assert row["messages"][2]["content"] == "<think>The text names her.</think><answer>Alice</answer>"


def test_parquet_loads_with_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    recs = qa_records()[:3]
    res = glyph.sft.build(recs, tmp_path / "p", format="parquet", config=small_config(),
                          shard_size=2, progress=False, plot=False)
    assert res.exit_code == 0 and len(res.shards) == 2
    ds = datasets.load_dataset("parquet", data_files=[str(s) for s in res.shards], split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert len(ds) == 3
    assert isinstance(ds.features["images"], datasets.Sequence) or isinstance(ds.features["images"], list)
    for row, rec in zip(ds, recs):
        blocks = row["messages"][0]["content"]
        n_img = sum(b["type"] == "image" for b in blocks)
        assert n_img == len(row["images"]) >= 1
        assert blocks[-1] == {"type": "text", "text": rec["question"]}
        assert row["messages"][1]["content"] == [{"type": "text", "text": rec["answer"]}]
        cfg = json.loads(row["glyph"]["config"])
        page = glyph.Renderer(cfg).render(rec["context"]).pages[0]
        img = row["images"][0]  # a PIL image decoded from the embedded PNG bytes
        np.testing.assert_array_equal(np.asarray(img.convert("RGB")), page.pixels)
    # paths instead of bytes, absolute: datasets opens the files
    res = glyph.sft.build(recs, tmp_path / "q", format="parquet", config=small_config(),
                          embed_images=False, image_paths="absolute", progress=False, plot=False)
    ds = datasets.load_dataset("parquet", data_files=[str(s) for s in res.shards], split="train",
                               cache_dir=str(tmp_path / "cache2"))
    assert ds[0]["images"][0].size == glyph.Renderer(small_config()).render(recs[0]["context"]).pages[0].size


def test_inputs_json_parquet_and_datasets(tmp_path):
    recs = qa_records()[:2]
    write_jsonl(tmp_path / "in.jsonl", recs)
    (tmp_path / "in.json").write_text(json.dumps(recs, ensure_ascii=False), encoding="utf-8")
    ref = glyph.sft.build(str(tmp_path / "in.jsonl"), tmp_path / "o1", config=small_config(),
                          progress=False, plot=False)
    assert ref.records == 2
    j = glyph.sft.build(str(tmp_path / "in.json"), tmp_path / "o2", config=small_config(),
                        progress=False, plot=False)
    assert j.records == 2
    assert [r["messages"] for r in rows(tmp_path / "o1")] == [r["messages"] for r in rows(tmp_path / "o2")]
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(recs), tmp_path / "in.parquet")
    p = glyph.sft.build(str(tmp_path / "in.parquet"), tmp_path / "o3", config=small_config(),
                        progress=False, plot=False)
    assert [r["messages"] for r in rows(tmp_path / "o3")] == [r["messages"] for r in rows(tmp_path / "o1")]
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list(recs)
    m = glyph.sft.build(ds, tmp_path / "o4", config=small_config(), progress=False, plot=False)
    ds.save_to_disk(str(tmp_path / "saved"))
    d = glyph.sft.build(str(tmp_path / "saved"), tmp_path / "o5", config=small_config(), progress=False, plot=False)
    assert m.records == d.records == 2
    assert [r["messages"] for r in rows(tmp_path / "o4")] == [r["messages"] for r in rows(tmp_path / "o1")]
    assert [r["messages"] for r in rows(tmp_path / "o5")] == [r["messages"] for r in rows(tmp_path / "o1")]
    assert [r["glyph"]["record_id"] for r in rows(tmp_path / "o5")] == [r["id"] for r in recs]


def test_resume_refuses_other_options(tmp_path):
    recs = qa_records()[:1]
    glyph.sft.build(recs, tmp_path, config=small_config(), progress=False, plot=False)
    with pytest.raises(glyph.InputError, match="other options.*seed"):
        glyph.sft.build(recs, tmp_path, config=small_config(), seed=5, progress=False, plot=False)
    again = glyph.sft.build(recs, tmp_path, config=small_config(), progress=False, plot=False)
    assert again.skipped == 1 and again.new_records == 0 and again.records == 1


def test_cli_sft(tmp_path, capsys):
    from glyph.cli import main

    src = write_jsonl(tmp_path / "in.jsonl", qa_records()[:2])
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(small_config()))
    rc = main(["sft", "--input", str(src), "--task", "qa", "--config", str(cfg), "--format",
               "llamafactory", "--out", str(tmp_path / "out"), "--quiet", "--no-plot"])
    assert rc == 0
    assert "2 records" in capsys.readouterr().err
    check_json_rows(tmp_path / "out")
    rc = main(["sft", "--input", str(src), "--out", str(tmp_path / "bad"), "--max-pages", "-1"])
    assert rc == 1
    assert "max_pages must be a whole number >= 0, not -1" in capsys.readouterr().err


def test_edited_journal_is_an_error_naming_the_line(tmp_path):
    recs = qa_records()[:2]
    glyph.sft.build(recs, tmp_path, config=small_config(), progress=False, plot=False)
    journal = tmp_path / ".glyph-sft" / "journal.jsonl"
    lines = journal.read_text(encoding="utf-8").splitlines()
    journal.write_text("\n".join([lines[0], "garbage", *lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(glyph.InputError, match=r"journal.jsonl:2: not a journal line"):
        glyph.sft.build(recs, tmp_path, config=small_config(), progress=False, plot=False)
    res = glyph.sft.build(recs, tmp_path, config=small_config(), progress=False, plot=False,
                          overwrite=True)
    assert res.records == 2 and res.skipped == 0


def test_shard_bytes_and_image_tag(tmp_path):
    recs = qa_records()[:3]
    tag = "<|begin_of_image|><|image|><|end_of_image|>"
    res = glyph.sft.build(recs, tmp_path, config=small_config(), format="swift", shard_bytes=1,
                          image_tag=tag, progress=False, plot=False)
    assert len(res.shards) == 3  # every row passes one byte: one row a shard
    rs = check_json_rows(tmp_path, tag=tag)
    assert [r["glyph"]["record_id"] for r in rs] == [r["id"] for r in recs]
    assert all(len(Path(s).read_text(encoding="utf-8").splitlines()) == 1 for s in res.shards)


def test_stats_count_text_tokens_with_a_tokenizer(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import decoders, models, pre_tokenizers, trainers

    recs = qa_records()[:2]
    tok = tokenizers.Tokenizer(models.BPE())  # a small byte-level BPE, as GLM's tokenizer.json
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["\n".join(r["context"] for r in recs)], trainers.BpeTrainer(
        vocab_size=500, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    res = glyph.sft.build(recs, tmp_path / "out", config=small_config(), tokenizer=str(path),
                          progress=False, plot=False)
    assert res.exit_code == 0
    journal = [json.loads(l) for l in (tmp_path / "out" / ".glyph-sft" / "journal.jsonl").read_text().splitlines()]
    for entry, rec in zip(journal, recs):
        pages = glyph.Renderer(small_config()).render(rec["context"]).pages
        b, e = spans_of(pages)[0][0], spans_of(pages)[-1][1]
        ids = tok.encode(rec["context"][b:e], add_special_tokens=False).ids
        assert entry["stats"]["text_tokens"] == len(ids)  # Hugging Face tokenizers' own count
    assert res.stats["text_token_counter"].startswith("counted with")


@pytest.mark.parametrize("png_color, color_type", [("auto", 0), ("rgb", 2)])
def test_pages_follow_the_config_png_color_and_default_level(tmp_path, png_color, color_type):
    """The PNGs are what render_to_dir writes for the same config: png-color "rgb" keeps 24-bit
    RGB when asked, "auto" (default) gray/palette when exact; the level is the encoder's default
    (1 for gray/palette, 3 for RGB) unless compression= says otherwise."""
    rec = qa_records()[0]
    cfg = small_config()
    if png_color == "rgb":
        cfg["png-color"] = png_color
    glyph.sft.build([rec], tmp_path / "a", config=cfg, progress=False, plot=False)
    pages = glyph.Renderer(cfg).render(rec["context"]).pages
    (row,) = check_json_rows(tmp_path / "a")
    assert len(row["images"]) == len(pages)
    for img, page in zip(row["images"], pages):
        data = (tmp_path / "a" / img).read_bytes()
        assert data[25] == color_type  # IHDR colour type
        assert data == page.to_png_bytes(png_color=png_color)  # the encoder's default level
        np.testing.assert_array_equal(png_pixels(tmp_path / "a" / img), page.pixels)
    glyph.sft.build([rec], tmp_path / "b", config=cfg, compression=9, progress=False, plot=False)
    (row,) = rows(tmp_path / "b")
    assert (tmp_path / "b" / row["images"][0]).read_bytes() == pages[0].to_png_bytes(9, png_color)
    with pytest.raises(glyph.InputError, match="compression must be 0..9"):
        glyph.sft.build([rec], tmp_path / "c", config=cfg, compression=10, progress=False)


def test_reasoning_field_by_default_name_think_and_none(tmp_path):
    """A record's "reasoning" field is passed through without --field (the role's own name),
    in the think format by default; records without it keep the plain answer; none drops it."""
    recs = [{"id": "r", "context": "Alice was beginning to get very tired.", "question": "Who?",
             "answer": "Alice", "reasoning": "The text names her."},
            {"id": "plain", "context": "Bob sat by the river.", "question": "Who?", "answer": "Bob"}]
    glyph.sft.build(recs, tmp_path / "t", config=small_config(), progress=False, plot=False)
    answers = [r["messages"][-1]["content"] for r in check_json_rows(tmp_path / "t")]
    assert answers == ["<think>\nThe text names her.\n</think>\nAlice", "Bob"]
    glyph.sft.build(recs, tmp_path / "n", config=small_config(), reasoning_format="none",
                    progress=False, plot=False)
    assert [r["messages"][-1]["content"] for r in rows(tmp_path / "n")] == ["Alice", "Bob"]


def test_interleaved_and_completion_budget_rules(tmp_path):
    """The budget rule holds for interleaved and completion as docs/sft.md says: split closes a
    sample where the next rendered pages would not fit (its target is their text), drop leaves
    the record out, truncate keeps the first sample that fits."""
    text = GPL_TEXT()
    cfg = small_config()
    kw = dict(task="interleaved", config=cfg, max_pages=2, segment_chars=3000, render_ratio=0.7,
              seed=1, progress=False, plot=False)
    split = glyph.sft.build([{"id": "d", "context": text}], tmp_path / "s", over_budget="split", **kw)
    rs = check_json_rows(tmp_path / "s")
    assert split.exit_code == 0 and len(rs) >= 2 and sum(len(r["images"]) for r in rs) > 2
    pos = 0
    for r in rs:
        assert 1 <= len(r["images"]) <= 2
        for piece in (p for p in r["messages"][0]["content"].split("<image>") if p):
            found = text.find(piece, pos)  # text parts in document order
            assert found >= pos
            pos = found + len(piece)
        target = r["messages"][-1]["content"]
        assert text.find(target, pos) >= pos  # the target follows what the sample shows
    drop = glyph.sft.build([{"id": "d", "context": text}], tmp_path / "d", over_budget="drop", **kw)
    assert drop.exit_code == 0 and drop.dropped == 1 and drop.records == 0
    assert not (tmp_path / "d" / "images" / "d").exists()
    trunc = glyph.sft.build([{"id": "d", "context": text}], tmp_path / "t", over_budget="truncate", **kw)
    (first,) = check_json_rows(tmp_path / "t")
    assert trunc.exit_code == 0 and first["messages"] == rs[0]["messages"]
    # truncate inside one segment (every segment rendered, each over the budget by itself): the
    # target continues the text right after the last page shown
    glyph.sft.build([{"id": "d", "context": text}], tmp_path / "t2", over_budget="truncate",
                    **{**kw, "segment_chars": 9000, "render_ratio": 1.0})
    (row,) = check_json_rows(tmp_path / "t2")
    assert len(row["images"]) == 2 and {p["part"] for p in row["glyph"]["pages"]} == {"seg0000"}
    end = row["glyph"]["pages"][-1]["char_end"]
    assert row["messages"][-1]["content"] == text[end:end + 2000]
    # completion split by the budget: each chunk's target is the text right after its pages
    glyph.sft.build([{"id": "c", "context": text}], tmp_path / "c", task="completion", config=cfg,
                    max_pages=2, completion_chars=500, progress=False, plot=False)
    rs = check_json_rows(tmp_path / "c")
    assert len(rs) >= 2 and [r["glyph"]["id"] for r in rs] == [f"c#{k}" for k in range(len(rs))]
    for r in rs:
        assert len(r["images"]) <= 2
        end = r["glyph"]["pages"][-1]["char_end"]
        assert r["messages"][-1]["content"] == text[end:end + 500]


def GPL_TEXT() -> str:
    """Real text without repeats (the search for each piece must find its own place)."""
    from sft_helpers import GPL

    if GPL.exists():
        return GPL.read_text(encoding="utf-8")[:24000]
    pytest.skip("needs /usr/share/common-licenses/GPL-3")


def test_progress_bar_shows_records_and_pages_per_second(tmp_path, capsys):
    glyph.sft.build(qa_records()[:2], tmp_path, config=small_config(), progress=True, plot=False)
    err = capsys.readouterr().err
    last = err.replace("\r", "\n").strip().splitlines()[-1]  # the bar's final state
    import re

    m = re.search(r"^sft qa: 100%.* 2/2 \[.*, ([0-9.]+)rec/s, ([0-9.]+) pages/s, 2 samples\]$", last)
    assert m and float(m.group(1)) > 0 and float(m.group(2)) > 0, err
    glyph.sft.build(qa_records()[:2], tmp_path / "q", config=small_config(), progress=False, plot=False)
    assert "rec/s" not in capsys.readouterr().err


def test_cli_user_task_file_and_absolute_image_paths(tmp_path, capsys):
    """--task file.py:function (docs/sft.md's example), --image-paths absolute in a JSON format."""
    from glyph.cli import main

    (tmp_path / "mytasks.py").write_text(
        "def summary_task(ctx):\n"
        "    title = ctx.field('title', required=False)\n"
        "    return [ctx.sample([chunk, 'Summarise these pages.'], title or '')\n"
        "            for chunk in ctx.render(ctx.context())]\n", encoding="utf-8")
    recs = [dict(r, title=f"About {r['id']}") for r in qa_records()[:2]]
    src = write_jsonl(tmp_path / "in.jsonl", recs)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(small_config()))
    out = tmp_path / "out"
    rc = main(["sft", "--input", str(src), "--task", f"{tmp_path / 'mytasks.py'}:summary_task",
               "--config", str(cfg), "--format", "swift", "--image-paths", "absolute",
               "--out", str(out), "--quiet", "--no-plot"])
    assert rc == 0, capsys.readouterr().err
    rs = check_json_rows(out)
    assert [r["messages"][-1]["content"] for r in rs] == [r["title"] for r in recs]
    assert all(r["messages"][0]["content"].endswith("<image>Summarise these pages.") for r in rs)
    for r in rs:
        assert all(os.path.isabs(p) and p.startswith(str(out / "images")) for p in r["images"])
    assert rs[0]["glyph"]["task"].endswith("mytasks.py:summary_task")


def test_render_and_png_calls_of_the_pipeline_release_the_gil(tmp_path):
    """glyph.sft's worker threads scale because the calls it makes per page (render_each
    between callbacks, Page.save) run without the GIL. With a switch interval of 100 s, Python
    code never hands the GIL to another thread by itself: a waiting thread runs only when a call
    releases it. The control (pure Python work) shows the waiting thread does not run then."""
    import sys
    import threading

    renderer = glyph.Renderer(small_config())
    text = (real_texts().get("gpl3") or glyph.sample_text()) * 4
    page = renderer.render(text[:4000]).pages[0]

    def waiting_thread_runs_during(work, tries: int = 1000) -> bool:
        go, ran = threading.Event(), []
        t = threading.Thread(target=lambda: (go.wait(), ran.append(1)))
        old = sys.getswitchinterval()
        sys.setswitchinterval(100.0)
        seen = False
        try:
            t.start()  # returns once the thread waits on go (it blocks there, freeing the GIL)
            for _ in range(tries):  # the thread needs the OS to schedule it in a GIL-free window
                go.set()  # it wakes, then waits for the GIL
                work()
                if ran:
                    seen = True
                    break
        finally:
            sys.setswitchinterval(old)
            go.set()
            t.join()
        return seen

    def python_work():
        sum(i * i for i in range(20000))

    assert not waiting_thread_runs_during(python_work, 100)  # the control
    assert waiting_thread_runs_during(lambda: page.save(str(tmp_path / "p.png")))
    assert waiting_thread_runs_during(lambda: renderer.render_each(text, lambda p: None))


def test_style_from_a_search_space_file_and_builtin(tmp_path):
    """--style takes a ConfigSearch space file ({"base", "genes", "constraints"}) and the
    built-in pre-training space too; each row's config is feasible, seeded and renders its pages."""
    recs = qa_records()[:3]
    space = {"base": small_config(),
             "genes": [{"name": "font-size", "min": 7, "max": 12, "step": 1},
                       {"name": "line-height", "min": 8, "max": 14, "step": 1},
                       {"name": "alignment", "choices": ["LEFT", "JUSTIFY"]}],
             "constraints": [{"lhs": "line-height", "op": ">=", "rhs": "font-size", "offset": 1}]}
    path = tmp_path / "space.json"
    path.write_text(json.dumps(space))
    for style, out in ((str(path), "file"), ("builtin", "builtin")):
        a = glyph.sft.build(recs, tmp_path / out, style=style, seed=4, progress=False, plot=False)
        b = glyph.sft.build(recs, tmp_path / f"{out}2", style=style, seed=4, workers=1,
                            progress=False, plot=False)
        assert a.exit_code == b.exit_code == 0, a.failures
        assert tree(tmp_path / out) == tree(tmp_path / f"{out}2")
        for r in check_json_rows(tmp_path / out):
            cfg = json.loads(r["glyph"]["config"])
            if out == "file":
                assert 7 <= cfg["font-size"] <= 12 and cfg["line-height"] >= cfg["font-size"] + 1
                assert cfg["dpi"] == SMALL["dpi"]  # not a gene: from the base
            src = next(x for x in recs if x["id"] == r["glyph"]["record_id"])
            page = glyph.Renderer(cfg).render(src["context"]).pages[0]
            np.testing.assert_array_equal(png_pixels(tmp_path / out / r["images"][0]), page.pixels)
