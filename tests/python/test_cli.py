"""The `glyph` command line: single file, batch JSONL with resume, config check."""
import json
import os
import subprocess
import sys

import pytest

import glyph


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "glyph", *args], capture_output=True, text=True,
                          cwd=cwd)


def test_render_default_sample(tmp_path):
    r = run("render", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert "visual tokens:" in r.stdout and "pages:" in r.stdout
    assert (tmp_path / "out" / "page_001.png").exists()


def test_render_json_summary(tmp_path, ref_dir):
    r = run("render", str(ref_dir / "input.txt"), "--config", str(ref_dir / "config_en.json"),
            "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["pages"] == 1 and s["visual_tokens"] == glyph.visual_tokens(566, 589)


def test_missing_text_file_is_a_clear_error(tmp_path):
    r = run("render", str(tmp_path / "nope.txt"))
    assert r.returncode != 0 and "cannot read text file" in r.stderr


def test_config_check(ref_dir, tmp_path):
    assert run("config", "--check", str(ref_dir / "config_en.json")).returncode == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"font-size": -1}))
    r = run("config", "--check", str(bad))
    assert r.returncode == 1 and "font-size" in r.stderr


def _records(n):
    text = glyph.sample_text()
    return [{"unique_id": f"doc{i}", "context": text[: 300 * (i + 1)]} for i in range(n)]


def test_batch_resumes_and_survives_a_torn_write(tmp_path):
    recs = _records(4)
    recs[2]["config"] = {"font-size": 11, "line-height": 12}
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    out = tmp_path / "out"
    r = run("render", "--batch", str(src), "--out", str(out), "--threads", "2")
    assert r.returncode == 0, r.stderr
    lines = (out / "records.jsonl").read_text().splitlines()
    assert sorted(json.loads(l)["unique_id"] for l in lines) == [f"doc{i}" for i in range(4)]
    for l in lines:
        rec = json.loads(l)
        assert rec["pages"] == len(rec["image_paths"]) and all(os.path.exists(p) for p in rec["image_paths"])
    # Simulate a crash: last record half-written, one record missing.
    kept = lines[:2]
    (out / "records.jsonl").write_text("\n".join(kept) + "\n" + lines[2][: len(lines[2]) // 2])
    r = run("render", "--batch", str(src), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "2 already done" in r.stderr
    lines2 = (out / "records.jsonl").read_text().splitlines()
    ids = [json.loads(l)["unique_id"] for l in lines2]
    assert sorted(ids) == [f"doc{i}" for i in range(4)] and len(ids) == 4


def test_batch_rejects_bad_records(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"context": "no id"}) + "\n")
    r = run("render", "--batch", str(src), "--out", str(tmp_path / "o"))
    assert r.returncode != 0 and "unique_id" in r.stderr


def test_batch_bad_config_is_reported_and_not_marked_done(tmp_path):
    recs = _records(2)
    recs[1]["config"] = {"font-size": -5}
    src = tmp_path / "in.json"
    src.write_text(json.dumps(recs))
    r = run("render", "--batch", str(src), "--out", str(tmp_path / "o"))
    assert r.returncode == 1 and "font-size" in r.stderr
    done = (tmp_path / "o" / "records.jsonl").read_text().splitlines()
    assert [json.loads(l)["unique_id"] for l in done] == ["doc0"]


def test_render_counts_text_tokens_with_a_tokenizer(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import Regex, decoders, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([glyph.sample_text()] * 3, trainer)
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    r = run("render", "--tokenizer", str(path), "--out", str(tmp_path / "o"), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    expected = len(tok.encode(glyph.sample_text()).ids)
    assert s["text_tokens"] == expected
    assert s["compression"] == pytest.approx(expected / s["visual_tokens"])
