"""glyph eval survives SIGKILL: the predictions file holds only whole records, and a rerun of the
same command finishes with the same predictions as a run never interrupted (all but latency_s)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
pytest.importorskip("langdetect")

import glyph  # noqa: E402
from eval_helpers import EN_STORY, Server, write_jsonl  # noqa: E402



def _cli(data, url, out):
    env = dict(os.environ)
    # the glyph these tests import (the tree's python/ in development, site-packages in CI)
    env["PYTHONPATH"] = (str(Path(glyph.__file__).resolve().parents[1]) + os.pathsep
                         + env.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-m", "glyph", "eval", "custom", "--data", str(data), "--backend", url,
         "--out", str(out), "--metric", "qa_f1_score", "--concurrency", "2", "--retries", "0",
         "--quiet", "--no-plot"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _records(path):
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        rec.pop("latency_s", None)
        out.append(rec)
    return out


def test_resume_after_sigkill_gives_the_same_predictions(tmp_path):
    items = [{"id": f"k{i}", "context": EN_STORY[: 200 + 10 * i], "answers": ["cloak"],
              "question": f"K{i}: what did she wear?" + (" [[http500]]" if i == 5 else "")}
             for i in range(14)]
    data = write_jsonl(tmp_path / "items.jsonl", items)
    answers = {f"K{i}:": ("a red cloak" if i % 2 else "bread") for i in range(14)}
    server = Server(tmp_path / "server", answers=answers, delay=0.15)
    try:
        killed = tmp_path / "killed"
        proc = _cli(data, server.url, killed)
        preds = killed / "predictions.jsonl"
        deadline = time.time() + 120
        while time.time() < deadline:
            if preds.exists() and len(preds.read_bytes().splitlines()) >= 4:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        partial = preds.read_bytes()
        n_partial = len(partial.splitlines())
        assert 4 <= n_partial < len(items)
        assert partial.endswith(b"\n") and all(json.loads(x) for x in partial.splitlines())

        server.clear_log()
        proc = _cli(data, server.url, killed)
        assert proc.wait(120) == 0, proc.stderr.read().decode()
        asked = {r["text"].split(":")[0] for r in server.requests()}
        # the rerun asks what was not answered (the failed item again), not what was
        done_ids = {json.loads(x)["id"] for x in partial.splitlines()
                    if "prediction" in json.loads(x)}
        assert not ({f"K{i}" for i in range(14) if f"k{i}" in done_ids} & asked)
        assert "K5" in asked

        whole = tmp_path / "whole"  # an uninterrupted run, same options, in this process
        import glyph.eval

        glyph.eval.run("custom", data, server.url, whole, metric="qa_f1_score", concurrency=2,
                       retries=0, progress=False, plot=False)
    finally:
        server.close()
    assert _records(killed / "predictions.jsonl") == _records(whole / "predictions.jsonl")
    a = json.loads((killed / "results.json").read_text())["modes"]["pages"]
    b = json.loads((whole / "results.json").read_text())["modes"]["pages"]
    assert a["groups"] == b["groups"] and a["failures"] == b["failures"] == {"http_500": 1}
    # odd items answer "a red cloak": token F1 with "cloak" is 2/3 ("a" is dropped); k5 failed
    assert a["score"] == round(100 * 6 * (2 / 3) / 14, 2)
