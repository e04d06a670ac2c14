"""glyph eval against the project's own server: `glyph serve` with a tiny checkpoint on loopback.
The predictions equal what the in-process backend gives on the same checkpoint (both greedy with
Glyph's repetition penalty). Skipped where glyph.serve is not part of the tree."""
from __future__ import annotations

import json

import pytest

import glyph
import glyph.eval

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("langdetect")
pytest.importorskip("glyph.serve")

from eval_helpers import EN_STORY, write_jsonl  # noqa: E402
from serve_helpers import ServerProcess, write_checkpoint  # noqa: E402


def test_eval_against_glyph_serve_equals_in_process(tmp_path):
    ckpt = write_checkpoint(tmp_path / "ckpt")
    items = [{"id": f"s{i}", "context": EN_STORY[: 300 + 60 * i], "question": f"Who is {i}?",
              "answers": ["Little Red Riding Hood"]} for i in range(3)]
    data = write_jsonl(tmp_path / "items.jsonl", items)
    params = {"max_tokens": 4}
    local = glyph.eval.run("custom", data, f"local:{ckpt}", tmp_path / "local",
                           metric="qa_f1_score", params=params, progress=False, plot=False)
    with ServerProcess(["--model", ckpt, "--dtype", "float32", "--device", "cpu"]) as srv:
        served = glyph.eval.run("custom", data, srv.url, tmp_path / "served",
                                metric="qa_f1_score", params=params, concurrency=2,
                                progress=False, plot=False)

    def preds(name):
        return [json.loads(x) for x in (tmp_path / name / "predictions.jsonl").read_text().splitlines()]

    a, b = preds("local"), preds("served")
    assert [r["id"] for r in b] == ["s0", "s1", "s2"] and all("prediction" in r for r in b)
    assert [r["text"] for r in a] == [r["text"] for r in b]
    assert [r["pages"] for r in a] == [r["pages"] for r in b]
    assert served["modes"]["pages"]["failed"] == 0
    assert local["modes"]["pages"]["score"] == served["modes"]["pages"]["score"]
