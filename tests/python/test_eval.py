"""glyph eval end to end on loopback: a real OpenAI-compatible server process (eval_server.py
under uvicorn) answering requests built from the pages the harness rendered; LongBench (English,
Chinese, LongBench-E), MRCR, RULER and the custom protocol; every kind of bad input and failing
server counted with its reason."""
from __future__ import annotations

import difflib
import hashlib
import json

import numpy as np
import pytest

import glyph
import glyph.eval

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
pytest.importorskip("langdetect")

from glyph import chat  # noqa: E402
from glyph.eval import metrics as M  # noqa: E402
from glyph.eval.protocols import NEWLINE_MARKER, load_prompts  # noqa: E402

from eval_helpers import EN_STORY, ZH_STORY, Server, free_port, write_jsonl  # noqa: E402

HAS_LAYOUT = "paragraph-lines" in glyph.RenderConfig.keys()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("server"))
    yield s
    s.close()


def _eval_layout(cfg):
    if HAS_LAYOUT:
        cfg.set("paragraph-lines", "0")
        cfg.set("tab-nbsp", "4")
    return cfg


def _page_shas(cfg, text):
    out = []
    for p in glyph.Renderer(cfg).render(text).pages:
        out.append(hashlib.sha256(np.ascontiguousarray(p.pixels).tobytes()).hexdigest())
    return out


def _lb(dataset, n, question, answers, context=EN_STORY, **kw):
    it = {"_id": f"{dataset}-{n}", "dataset": dataset, "input": question, "context": context,
          "answers": answers, "length": kw.pop("length", 1000), "all_classes": None}
    it.update(kw)
    return it


def _longbench_data(tmp_path):
    items = [
        _lb("narrativeqa", 1, "Who wore the red cloak?", ["Little Red Riding Hood"]),
        _lb("narrativeqa", 2, "Where is the forest? [[flaky]]", ["in the forest"]),
        _lb("trec", 1, "What is the capital of France?", ["Location"],
            all_classes=["Location", "Human", "Entity"]),
        _lb("passage_retrieval_en", 1, "Which paragraph mentions bread?", ["Paragraph 3"]),
        _lb("passage_retrieval_en", 2, "Which paragraph fails? [[http500]]", ["Paragraph 1"]),
        _lb("multifieldqa_zh", 1, "小女孩穿着什么颜色的斗篷？", ["红色"], context=ZH_STORY),
        _lb("qasper_e", 1, "Q-qasper-short?", ["yes"], length=3000),
        _lb("qasper_e", 2, "Q-qasper-mid?", ["yes"], length=5000),
        _lb("qasper_e", 3, "Q-qasper-long?", ["yes"], length=9000),
        # bad input
        {"_id": "nosuch-1", "dataset": "nosuch", "input": "q", "context": "c", "answers": ["a"]},
        {"_id": "narrativeqa-3", "dataset": "narrativeqa", "input": "q?", "context": EN_STORY},
        _lb("musique", 1, "Anything?", ["x"], context="   \n "),
    ]
    answers = {
        "Who wore the red cloak?": "Little Red Riding Hood",
        "Where is the forest?": "near the village",
        "What is the capital of France?": "Location\nParis is a city",
        "Which paragraph mentions bread?": "Paragraph 3",
        "小女孩穿着什么颜色的斗篷？": "红色的斗篷",
        "Q-qasper-short?": "Yes.", "Q-qasper-mid?": "No.", "Q-qasper-long?": "yes",
    }
    path = write_jsonl(tmp_path / "data" / "longbench.jsonl", items, extra_lines=["{not json"])
    return path, items, answers


def test_longbench_pages_and_text_end_to_end(server, tmp_path):
    path, items, answers = _longbench_data(tmp_path)
    server.set_answers(answers)
    server.clear_log()
    out = tmp_path / "out"
    res = glyph.eval.run("longbench", path, server.url, out, text_baseline=server.url,
                         concurrency=3, retries=2, backoff=0.01, progress=False)
    pages, text = res["modes"]["pages"], res["modes"]["text"]

    assert res["evaluation_layout"] is HAS_LAYOUT
    # bad input: counted with reasons; the ones with a known dataset count as failed there
    assert res["bad_input"]["count"] == 4
    assert res["bad_input"]["reasons"] == {"unknown_dataset": 1, "missing_field": 1,
                                           "empty_context": 1, "malformed_json": 1}
    g = pages["groups"]
    # hand-computed: narrativeqa 1.0 (exact), 0.0 (no common token), and the item without
    # answers counts as a failure: 100 x 1/3
    assert g["narrativeqa"] == {"score": 33.33, "answered_score": 50.0, "items": 3, "failed": 1}
    # trec: postprocess makes one line "Location Paris is a city": the one class named -> 1.0
    assert g["trec"]["score"] == 100.0
    # the item the server always fails (HTTP 500 after 2 retries) scores 0 in the headline
    assert g["passage_retrieval_en"] == {"score": 50.0, "answered_score": 100.0, "items": 2,
                                         "failed": 1}
    assert g["musique"] == {"score": 0.0, "answered_score": None, "items": 1, "failed": 1}
    zh = M.longbench_item_score("multifieldqa_zh", M.postprocess("红色的斗篷"), ["红色"])
    assert 0 < zh < 1 and g["multifieldqa_zh"]["score"] == round(100 * zh, 2)
    assert g["qasper_e"]["score"] == 66.67
    buckets = pages["categories"]["bucket"]
    assert {b: buckets[b]["score"] for b in buckets} == {"0-4k": 100.0, "4-8k": 0.0, "8k+": 100.0}
    cat = pages["categories"]["category"]
    assert cat["Synthetic"]["score"] == 50.0 and cat["Few shot"]["score"] == 100.0
    expected_avg = round(sum(v["score"] for v in g.values()) / len(g), 2)
    assert pages["score"] == expected_avg
    assert pages["answered_score"] < 100 and pages["score"] < pages["answered_score"]
    assert pages["failures"] == {"http_500": 1, "bad_input:missing_field": 1,
                                 "bad_input:empty_context": 1}
    # the text baseline got the same answers
    assert text["groups"]["narrativeqa"]["score"] == 33.33
    assert text["groups"]["qasper_e"]["score"] == 66.67

    # predictions: one record per item, keyed by id, in the data's order
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [p["id"] for p in preds] == [it["_id"] for it in items[:9]]
    by_id = {p["id"]: p for p in preds}
    assert by_id["passage_retrieval_en-2"]["error"] == "http_500"
    assert by_id["passage_retrieval_en-2"]["attempts"] == 3
    assert by_id["narrativeqa-2"]["attempts"] == 2 and "prediction" in by_id["narrativeqa-2"]
    assert by_id["narrativeqa-1"]["prediction"] == "Little Red Riding Hood<|user|>"
    assert by_id["narrativeqa-1"]["reasoning"].startswith("Reading")
    assert by_id["narrativeqa-1"]["pages"] >= 1 and by_id["narrativeqa-1"]["visual_tokens"] > 0

    # what the server saw: Glyph's request, with the very pages the config gives
    reqs = server.requests()
    vlm_prompts, text_prompts = load_prompts("dataset2vlmprompt"), load_prompts("dataset2prompt")
    first = [r for r in reqs if r["content_is_list"] and "Who wore the red cloak?" in r["text"]]
    assert len(first) == 1
    assert first[0]["text"] == vlm_prompts["narrativeqa"].replace("{input}", "Who wore the red cloak?")
    assert first[0]["sampling"] == chat.sampling_params()
    assert first[0]["model"] == "tiny-glyph"  # discovered from /v1/models
    cfg_en = _eval_layout(glyph.RenderConfig.glyph_default())
    cfg_en.newline_markup = "<br/>"
    assert [im["sha"] for im in first[0]["images"]] == _page_shas(cfg_en, EN_STORY)
    zh_req = [r for r in reqs if r["content_is_list"] and "小女孩" in r["text"]][0]
    cfg_zh = _eval_layout(chat.glyph_config("zh"))
    cfg_zh.newline_markup = "<br/>"
    assert [im["sha"] for im in zh_req["images"]] == _page_shas(cfg_zh, ZH_STORY)
    txt = [r for r in reqs if not r["content_is_list"] and "Who wore the red cloak?" in r["text"]]
    assert txt[0]["text"] == text_prompts["narrativeqa"].replace("{context}", EN_STORY).replace(
        "{input}", "Who wore the red cloak?")
    assert txt[0]["images"] == []

    bc = pages["categories"]["bucket_category"]
    assert bc["0-4k Single-doc QA"]["score"] == 100.0 and bc["4-8k Single-doc QA"]["score"] == 0.0
    # Glyph's token_stat.json: the server's prompt tokens (100 per page + words, here)
    stat = json.loads((out / "token_stat.json").read_text())
    assert by_id["narrativeqa-1"]["prompt_tokens"] == (100 * by_id["narrativeqa-1"]["pages"]
                                                        + len(first[0]["text"].split()))
    assert stat["total_records"] == 8 and stat["total_prompt_tokens"] == sum(
        p["prompt_tokens"] for p in preds if "prediction" in p)
    assert set(stat["avg_prompt_tokens_per_category"]) == {"Single-doc QA", "Few shot", "Synthetic"}
    assert (out / "token_stat_text.json").exists()
    # tokens: the server's prompt tokens, and text / pages prompt tokens
    assert pages["tokens"]["prompt_tokens_mean"] > 100
    assert res["prompt_compression"] is not None and pages["tokens"]["latency_p95_s"] >= 0
    # files
    md = (out / "results.md").read_text()
    assert "| narrativeqa | 33.33 | 33.33 |" in md and "## by bucket" in md
    saved = json.loads((out / "results.json").read_text())
    assert saved["modes"]["pages"]["groups"] == g
    from PIL import Image

    with Image.open(out / "score_vs_compression.png") as im:
        assert im.width > 100
    bad = [json.loads(line) for line in (out / "bad_input.jsonl").read_text().splitlines()]
    assert sorted(b["reason"] for b in bad) == ["empty_context", "malformed_json",
                                                 "missing_field", "unknown_dataset"]
    assert any(b["where"].endswith(":13") for b in bad)  # the malformed line, by number


def test_newline_choices_and_glyph_item_configs(ref_dir, tmp_path):
    from glyph.eval.data import Record
    from glyph.eval.protocols import LongBench, Options

    def cfg_of(newline, dataset, extra=None, font_dirs=()):
        it = _lb(dataset, 1, "q?", ["a"], **(extra or {}))
        lb = LongBench(Options(newline=newline, font_dirs=font_dirs))
        return lb.prepare(Record(it, str(tmp_path / "x.jsonl"), 1))

    assert cfg_of("none", "narrativeqa").config.newline_markup == "<br/>"
    assert cfg_of("chose", "narrativeqa").config.newline_markup == NEWLINE_MARKER
    assert cfg_of("chose", "musique").config.newline_markup == "<br/>"
    assert cfg_of("all", "musique").config.newline_markup == NEWLINE_MARKER
    assert NEWLINE_MARKER == '<font color="#FF0000"> \\n </font>'  # a literal backslash-n
    # Glyph's processed item: its own config, "None" as unset, the font found by file name
    own = json.loads((ref_dir / "config_en.json").read_text())
    own["newline-markup"] = "None"
    own["dpi"] = 96
    item = cfg_of("all", "narrativeqa", {"config": own}, font_dirs=[str(ref_dir)])
    assert item.config.newline_markup == "<br/>" and item.config.dpi == 96
    assert item.config.font_path == str(ref_dir / "Verdana.ttf") and not item.warnings
    # ... and without Glyph's font: the shipped one, with a warning saying so
    item = cfg_of("none", "narrativeqa", {"config": own})
    assert item.config.font_path == glyph.RenderConfig.glyph_default().font_path
    assert "Verdana.ttf not found" in item.warnings[0]
    if HAS_LAYOUT:
        assert item.config.paragraph_lines == 0 and item.config.tab_nbsp == 4


def test_failures_are_counted_with_their_reasons(server, tmp_path):
    markers = {"notjson": "not_json", "nochoices": "no_choices", "errorbody": "error_body",
               "nocontent": "no_content", "slow": "timeout", "http500": "http_500"}
    items = [{"id": f"c{i}", "context": EN_STORY, "question": f"Q{i} [[{m}]]", "answers": ["x"]}
             for i, m in enumerate(markers)]
    items.append({"id": "ok", "context": EN_STORY, "question": "Who wore the red cloak?",
                  "answers": ["Little Red Riding Hood"]})
    path = write_jsonl(tmp_path / "custom.jsonl", items)
    server.set_answers({"Who wore the red cloak?": "Little Red Riding Hood"})
    res = glyph.eval.run("custom", path, server.url, tmp_path / "out", metric="qa_f1_score",
                         concurrency=4, timeout=1.0, retries=1, backoff=0.01, progress=False,
                         plot=False)
    p = res["modes"]["pages"]
    assert p["failures"] == {v: 1 for v in markers.values()}
    assert (p["items"], p["answered"], p["failed"]) == (7, 1, 6)
    assert p["score"] == round(100 / 7, 2) and p["answered_score"] == 100.0
    preds = {r["id"]: r for r in map(json.loads, (tmp_path / "out" / "predictions.jsonl")
                                     .read_text().splitlines())}
    assert preds["c4"]["attempts"] == 2 and preds["c0"]["attempts"] == 1  # timeouts are retried

    # a backend that is down: every item fails with connect_error, nothing is lost
    down = f"http://127.0.0.1:{free_port()}"
    res = glyph.eval.run("custom", path, down, tmp_path / "down", metric="qa_f1_score",
                         model="glyph", retries=1, backoff=0.01, progress=False, plot=False)
    assert res["modes"]["pages"]["failures"] == {"connect_error": 7}
    assert res["modes"]["pages"]["score"] == 0.0
    # a rerun against the live server answers the items that failed
    res = glyph.eval.run("custom", path, server.url, tmp_path / "down", metric="qa_f1_score",
                         retries=0, timeout=1.0, progress=False, plot=False)
    assert res["modes"]["pages"]["answered"] == 1 and res["modes"]["pages"]["failed"] == 6


def test_mrcr_and_ruler(server, tmp_path):
    prefix = "aZ3kP9"
    conv = "User: write a poem about tapirs\nAssistant: Tapirs roam the misty wood.\n" * 6
    mrcr = [{"unique_id": f"2needle_0k_8k_{i}", "context": conv,
             "question": f"M{i}: prepend {prefix} to the 1st poem about tapirs",
             "answer": prefix + "Tapirs roam the misty wood.", "random_string_to_prepend": prefix}
            for i in range(2)]
    mrcr.append(dict(mrcr[0], unique_id="4needle_8k_16k_0", question=f"M2: prepend {prefix}"))
    mpath = tmp_path / "processed_2needle_0-128k.json"
    mpath.write_text(json.dumps(mrcr))  # Glyph's MRCR files are JSON lists
    server.set_answers({"M0:": prefix + "Tapirs roam the misty wood.",
                        "M1:": prefix + "Tapirs roam the wood.",
                        "M2:": "Tapirs roam the misty wood."})  # no prefix -> 0
    res = glyph.eval.run("mrcr", mpath, server.url, tmp_path / "mrcr",
                         text_baseline=server.url, progress=False)
    r1 = difflib.SequenceMatcher(None, "Tapirs roam the wood.", "Tapirs roam the misty wood.").ratio()
    g = res["modes"]["pages"]["groups"]
    assert g["2needle_0k_8k"]["score"] == round(100 * (1 + r1) / 2, 2)
    assert g["4needle_8k_16k"]["score"] == 0.0
    assert res["modes"]["pages"]["score"] == round(100 * (1 + r1) / 3, 2)
    assert set(res["modes"]["pages"]["categories"]["needles"]) == {"2needle", "4needle"}
    assert (tmp_path / "mrcr" / "score_vs_length.png").exists()

    needle = "The special magic number for tapir is: 4242."
    haystack = "Grass grows. The sky is blue. " * 20
    ruler = []
    for length in (4096, 8192):
        for task, q, outs in (("niah_single_1", "R-a", ["4242"]), ("niah_single_3", "R-b", ["4242"]),
                              ("qa_1", "R-c", ["Paris", "paris, france"]),
                              ("niah_multivalue", "R-d", ["4242", "1717"])):
            ruler.append({"unique_id": f"{task}_{length}", "task_name": task, "length": length,
                          "context": haystack + needle + haystack,
                          "question": f"{q}-{length}: what is the magic number?", "outputs": outs})
    rpath = write_jsonl(tmp_path / "ruler.jsonl", ruler)
    server.set_answers({"R-a-4096": "4242", "R-a-8192": "1234", "R-b": "nothing",
                        "R-c": "It is PARIS.", "R-d": "4242 and 9999"})
    res = glyph.eval.run("ruler", rpath, server.url, tmp_path / "ruler", progress=False)
    g = res["modes"]["pages"]["groups"]
    assert g["niah_single_1"]["score"] == 50.0 and g["niah_single_3"]["score"] == 0.0
    assert g["qa_1"]["score"] == 100.0 and g["niah_multivalue"]["score"] == 50.0
    # the macro average leaves out niah_single_3 (Glyph's table)
    assert res["modes"]["pages"]["score"] == round((50 + 100 + 50) / 3, 2)
    by_len = res["modes"]["pages"]["categories"]["length"]
    assert by_len["4096"]["score"] == round((100 + 100 + 50) / 3, 2)
    assert by_len["8192"]["score"] == round((0 + 100 + 50) / 3, 2)


def test_cli_and_datasets_folder(server, tmp_path, capsys):
    datasets = pytest.importorskip("datasets")
    rows = [{"id": "d1", "context": EN_STORY, "question": "Who wore the red cloak?",
             "answers": ["Little Red Riding Hood"], "metric": "qa_f1_score"}]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))
    server.set_answers({"Who wore the red cloak?": "Little Red Riding Hood"})
    from glyph import cli

    rc = cli.main(["eval", "custom", "--data", str(tmp_path / "ds"), "--backend", server.url,
                   "--out", str(tmp_path / "o"), "--quiet", "--no-plot"])
    assert rc == 0
    assert "| qa_f1_score | 100.00 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["eval", "custom", "--data", "x", "--backend", server.url, "--out", "o",
                  "--newline", "sometimes"])
    assert cli.main(["eval", "custom", "--data", str(tmp_path / "nope.jsonl"), "--backend",
                     server.url, "--out", str(tmp_path / "o2"), "--quiet"]) == 1
    # a DatasetDict: --split reads one split; a split it lacks, or --split on a plain Dataset,
    # fails before any item with the splits named
    datasets.DatasetDict({"test": datasets.Dataset.from_list(rows),
                          "dev": datasets.Dataset.from_list([dict(rows[0], id="d2")])}
                         ).save_to_disk(str(tmp_path / "dd"))
    base = ["eval", "custom", "--backend", server.url, "--quiet", "--no-plot"]
    assert cli.main(base + ["--data", str(tmp_path / "dd"), "--split", "dev",
                            "--out", str(tmp_path / "o3")]) == 0
    preds = (tmp_path / "o3" / "predictions.jsonl").read_text().splitlines()
    assert [json.loads(p)["id"] for p in preds] == ["d2"]
    capsys.readouterr()
    for data, split, named in (("dd", "train", "has no split 'train' (it has "),
                               ("ds", "test", "a dataset without splits")):
        assert cli.main(base + ["--data", str(tmp_path / data), "--split", split,
                                "--out", str(tmp_path / "o4")]) == 1
        assert named in capsys.readouterr().err
    assert not (tmp_path / "o4").exists()


def test_backend_specs_and_urls(tmp_path):
    from glyph.eval.backends import HttpBackend, chat_completions_url, make_backend

    for url in ("http://h:1", "http://h:1/", "http://h:1/v1", "http://h:1/v1/chat/completions"):
        assert chat_completions_url(url) == "http://h:1/v1/chat/completions"
    be = make_backend("http://127.0.0.1:9", model="m", params={"max_tokens": 5, "top_k": None},
                      vllm_extensions=False)
    assert isinstance(be, HttpBackend)
    body = be.request_body([], "hi")
    assert body["max_tokens"] == 5 and "top_k" not in body and "repetition_penalty" not in body
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    for kw, named in ((dict(retries=1.5), "retries must be a whole number >= 0, not 1.5"),
                      (dict(retries=-1), "retries must be a whole number >= 0"),
                      (dict(timeout="60"), "timeout must be a number, not '60'"),
                      (dict(timeout=0), "timeout > 0")):
        with pytest.raises(glyph.InputError, match=named):
            HttpBackend("http://127.0.0.1:9", **kw)
    for bad in ("ftp://x", "localhost:8000", "local:" + str(tmp_path / "missing")):
        with pytest.raises(glyph.InputError):
            make_backend(bad)
    with pytest.raises(glyph.InputError, match="unknown benchmark"):
        glyph.eval.run("longbenchx", tmp_path, "http://127.0.0.1:9", tmp_path / "o")
    with pytest.raises(glyph.InputError, match="unknown metric"):
        glyph.eval.run("custom", tmp_path, "http://127.0.0.1:9", tmp_path / "o", metric="nope")


def test_resume_refuses_other_options_and_custom_metric_functions(server, tmp_path):
    items = [{"id": "m1", "context": EN_STORY, "question": "Who wore the red cloak?",
              "answers": ["LITTLE RED RIDING HOOD"]}]
    path = write_jsonl(tmp_path / "d.jsonl", items)
    (tmp_path / "mymetric.py").write_text(
        "def shout(prediction, ground_truth, **kw):\n"
        "    return float(prediction.upper() == ground_truth)\n")
    server.set_answers({"Who wore the red cloak?": "Little Red Riding Hood"})
    spec = f"{tmp_path / 'mymetric.py'}:shout"
    res = glyph.eval.run("custom", path, server.url, tmp_path / "o", metric=spec, progress=False,
                         plot=False)
    assert res["modes"]["pages"]["groups"]["shout"]["score"] == 100.0
    with pytest.raises(glyph.InputError, match="newline differ"):
        glyph.eval.run("custom", path, server.url, tmp_path / "o", metric=spec, newline="all",
                       progress=False, plot=False)
    res = glyph.eval.run("custom", path, server.url, tmp_path / "o", metric="qa_f1_score",
                         newline="all", overwrite=True, progress=False, plot=False)
    assert res["modes"]["pages"]["groups"]["qa_f1_score"]["score"] == 100.0
    with pytest.raises(glyph.InputError, match="not a function"):
        glyph.eval.run("custom", path, server.url, tmp_path / "o2",
                       metric=f"{tmp_path / 'mymetric.py'}:nothing", progress=False)


def test_use_image_paths_sends_glyph_pages_in_page_order(server, tmp_path):
    from PIL import Image

    pages = tmp_path / "rendered" / "u1"
    pages.mkdir(parents=True)
    shas = []
    for i in range(1, 12):  # page_001 .. page_011, listed out of order in the item
        arr = np.full((30 + i, 40, 3), i * 20, dtype=np.uint8)
        Image.fromarray(arr).save(pages / f"page_{i:03d}.png")
        shas.append(hashlib.sha256(arr.tobytes()).hexdigest())
    listed = [f"rendered/u1/page_{i:03d}.png" for i in (10, 2, 11, 1, 3, 4, 5, 6, 7, 8, 9)]
    items = [{"id": "u1", "context": EN_STORY, "question": "IMG-Q1", "answers": ["a"],
              "image_paths": listed},
             {"id": "u2", "context": EN_STORY, "question": "IMG-Q2", "answers": ["a"],
              "image_paths": []}]
    path = write_jsonl(tmp_path / "items.jsonl", items)
    server.clear_log()
    res = glyph.eval.run("custom", path, server.url, tmp_path / "o", metric="qa_f1_score",
                         use_image_paths=True, progress=False, plot=False)
    req = [r for r in server.requests() if "IMG-Q1" in r["text"]]
    assert [im["sha"] for im in req[0]["images"]] == shas
    assert not [r for r in server.requests() if "IMG-Q2" in r["text"]]  # never sent without pages
    assert res["modes"]["pages"]["failures"] == {"no_pages": 1}
    preds = {r["id"]: r for r in map(json.loads, (tmp_path / "o" / "predictions.jsonl")
                                     .read_text().splitlines())}
    assert preds["u1"]["pages"] == 11
    assert preds["u1"]["visual_tokens"] == sum(glyph.visual_tokens(30 + i, 40) for i in range(1, 12))


def test_bad_item_configs_fail_in_their_task(tmp_path):
    from glyph.eval.data import Record
    from glyph.eval.protocols import ItemError, Options, Ruler

    it = {"unique_id": "r1", "task_name": "vt", "context": "x = 1", "question": "q",
          "outputs": ["x"], "config": {"font-size": "big"}}
    with pytest.raises(ItemError) as e:
        Ruler(Options()).prepare(Record(it, str(tmp_path / "r.jsonl"), 1))
    assert e.value.reason == "bad_config" and e.value.group == "vt"
    assert "font-size" in str(e.value)


def test_ruler_think_removal_option(tmp_path):
    from glyph.eval.data import Record
    from glyph.eval.protocols import Options, Ruler

    it = {"unique_id": "t1", "task_name": "niah_single_1", "context": "hay 4242 hay",
          "question": "q", "outputs": ["4242"]}
    rec = Record(it, str(tmp_path / "r_4096.jsonl"), 1)
    text = "<think>I saw 4242 somewhere.</think>I do not know.<|user|>"
    removed = Ruler(Options())
    kept = Ruler(Options(ruler_remove_think=False))  # Glyph's RULER script scores it all
    assert removed.score(removed.prepare(rec), text) == 0.0
    assert kept.score(kept.prepare(rec), text) == 1.0
    assert removed.prepare(rec).meta["length"] == 4096  # from the file name
