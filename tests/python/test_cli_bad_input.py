"""The CLIs on inputs a user plausibly gives by mistake: one `error:` line naming the flag, file or
value (never a traceback), nothing lost, and an exit status that says so. Each case here was a
traceback, a silent wrong result or lost data before (a dogfooding pass over every subcommand)."""
import json
import os
import socket
import subprocess
import sys

import pytest

import glyph
from glyph import cli


def _error(capsys, argv, *named):
    """Runs the CLI, expecting status 1 and a last stderr line `error: ...` naming each of `named`."""
    assert cli.main(argv) == 1, argv
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: "), err
    for n in named:
        assert n in last, (n, err)
    return last


def test_render_refuses_paths_that_lose_data_or_escape(tmp_path, capsys):
    batch = tmp_path / "b.jsonl"
    recs = [{"unique_id": "a", "context": "one page"}, {"unique_id": "b", "context": "another"}]
    batch.write_text("".join(json.dumps(r) + "\n" for r in recs))
    before = batch.read_bytes()
    out = str(tmp_path / "o")
    # the failures file is rewritten each run and the records file appended to
    _error(capsys, ["render", "--batch", str(batch), "--out", out, "--failures", str(batch)],
           "--failures", "--batch")
    _error(capsys, ["render", "--batch", str(batch), "--out", out, "--output", str(batch)],
           "--output", "--batch")
    same = str(tmp_path / "same.jsonl")
    _error(capsys, ["render", "--batch", str(batch), "--out", out, "--output", same,
                    "--failures", same], "--failures", "--output")
    assert batch.read_bytes() == before and not os.path.exists(same)
    _error(capsys, ["render", "--batch", str(batch), "--out", out, "--threads", "-1"],
           "--threads", "-1")
    text = tmp_path / "t.txt"
    text.write_text("hello")
    _error(capsys, ["render", str(text), "--out", out, "--unique-id", "../../escape"],
           "--unique-id", "../../escape")
    assert not (tmp_path.parent / "escape").exists()
    _error(capsys, ["render", "-", "--no-save"], "standard input")
    # flags of the other mode were silently ignored (--no-save --batch still wrote pages)
    for extra, named in (([str(text)], "TEXT"), (["--no-save"], "--no-save"),
                         (["--unique-id", "u"], "--unique-id"), (["--json"], "--json")):
        _error(capsys, ["render", "--batch", str(batch), "--out", out] + extra, named, "--batch")
    _error(capsys, ["render", str(text), "--out", out, "--output", "x.jsonl"], "--output")
    assert not os.path.exists(out)
    # the same batch with distinct files works, and renders both records
    assert cli.main(["render", "--batch", str(batch), "--out", out]) == 0
    capsys.readouterr()
    assert len(open(os.path.join(out, "records.jsonl")).read().splitlines()) == 2


def test_config_file_with_invalid_utf8_gives_the_config_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"font-size": "\xff"}')
    line = _error(capsys, ["config", "--check", str(bad)], "bad.json", "ill-formed UTF-8")
    assert "\\xff" in line  # the byte quoted as an escape, not a UnicodeDecodeError
    with pytest.raises(glyph.ConfigError, match=r"\\xff"):
        glyph.RenderConfig.from_file(str(bad))


def test_search_val_must_be_a_file_and_out_a_folder(tmp_path, capsys):
    val = tmp_path / "val.txt"
    val.write_text("a validation text")
    base = ["search", "--evaluator", "ocr", "--population", "2", "--generations", "1",
            "--no-plot", "--quiet"]
    # before: the path itself was searched on as the sample text, and the run "succeeded"
    _error(capsys, base + ["--val", str(tmp_path / "typo.jsonl"), "--out", str(tmp_path / "s")],
           "--val", "typo.jsonl", "no such file")
    _error(capsys, base + ["--val", str(tmp_path), "--out", str(tmp_path / "s")], "is a folder")
    assert not (tmp_path / "s").exists()
    afile = tmp_path / "afile"
    afile.write_text("x")
    _error(capsys, base + ["--val", str(val), "--out", str(afile)], "output folder", "afile")
    notutf8 = tmp_path / "latin1.txt"
    notutf8.write_bytes("caf\xe9".encode("latin-1"))
    _error(capsys, base + ["--val", str(notutf8), "--out", str(tmp_path / "s2")],
           "latin1.txt", "not UTF-8")
    # before: a negative cut dropped the end of every sample, negative threads meant all cores
    _error(capsys, base + ["--val", str(val), "--out", str(tmp_path / "s3"), "--limit-chars", "-5"],
           "limit_chars", "-5")
    _error(capsys, base + ["--val", str(val), "--out", str(tmp_path / "s3"), "--threads", "-2"],
           "threads", "-2")
    _error(capsys, base + ["--val", str(val), "--out", str(tmp_path / "s3"), "--patience", "-1"],
           "patience")
    assert not (tmp_path / "s3").exists()


def test_sft_task_that_cannot_be_loaded(tmp_path, capsys):
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"id": "r", "context": "text", "question": "q", "answer": "a"}) + "\n")
    (tmp_path / "syn.py").write_text("def f(:\n")
    (tmp_path / "ok.py").write_text("def g(ctx):\n    return []\n")
    base = ["sft", "--input", str(data), "--out", str(tmp_path / "o"), "--quiet", "--no-plot"]
    _error(capsys, base + ["--task", "QA"], "unknown task 'QA'")
    _error(capsys, base + ["--task", "no_such_module_x:f"], "no_such_module_x", "cannot load")
    _error(capsys, base + ["--task", str(tmp_path / "nope.py") + ":f"], "nope.py", "cannot load")
    _error(capsys, base + ["--task", str(tmp_path / "syn.py") + ":f"], "syn.py", "SyntaxError")
    _error(capsys, base + ["--task", str(tmp_path / "ok.py") + ":missing"], "'missing'")
    _error(capsys, base + ["--workers", "-1"], "workers")
    _error(capsys, base + ["--task", "completion", "--completion-chars", "0"], "completion_chars", ">= 1")
    _error(capsys, base + ["--field", "ctx=context"], "unknown role 'ctx'", "reasoning")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    _error(capsys, ["sft", "--input", str(empty), "--out", str(tmp_path / "o3"), "--quiet",
                    "--no-plot"], "no records were read", "empty.jsonl")
    _error(capsys, base + ["--task", "interleaved", "--segment-chars", "0"], "segment_chars", ">= 1")
    with pytest.raises(ValueError):  # InputError is a ValueError, as before
        glyph.sft.build(str(data), tmp_path / "o2", task="QA")


def test_sft_user_task_returning_the_wrong_thing_is_named(tmp_path):
    (tmp_path / "t.py").write_text(
        "def number(ctx):\n    return 5\n"
        "def none(ctx):\n    return None\n"
        "def one(ctx):\n    return ctx.sample(['q'], 'a')\n"
        "def bare(ctx):\n    return [{'x': 1}]\n"
        "def gen(ctx):\n    yield ctx.sample(['q'], 'a')\n")
    recs = [{"id": "r", "context": "some text", "question": "q", "answer": "a"}]
    expect = {"number": "the task returned int", "none": "the task returned None",
              "one": "one sample, not a list", "bare": "sample 0 is a dict without a 'messages' list"}
    for name, why in expect.items():
        res = glyph.sft.build(recs, tmp_path / name, task=f"{tmp_path / 't.py'}:{name}",
                              progress=False, plot=False)
        assert [(f["kind"], why in f["reason"], "ctx.sample" in f["reason"]) for f in res.failures] \
            == [("task_error", True, True)], (name, res.failures)
    res = glyph.sft.build(recs, tmp_path / "gen", task=f"{tmp_path / 't.py'}:gen", progress=False, plot=False)
    assert not res.failures and res.samples == 1


def test_serve_checks_port_and_upstream_before_starting(tmp_path, capsys):
    _error(capsys, ["serve", "--upstream", "http://127.0.0.1:9", "--port", "70000"], "--port",
           "70000")
    for bad in ("notaurl", "ftp://x/v1"):
        _error(capsys, ["serve", "--upstream", bad, "--port", "0"], bad, "http://")
    # a busy port fails before the model is read: here the checkpoint does not even exist
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(SystemExit, match="cannot listen"):
            cli.main(["serve", "--model", str(tmp_path / "absent"), "--port", str(port)])


def test_eval_says_when_nothing_was_answered(tmp_path, capsys):
    data = tmp_path / "ev.jsonl"
    data.write_text(json.dumps({"id": "x", "context": "Some context.", "question": "What?",
                                "answers": ["a"]}) + "\n")
    base = ["eval", "custom", "--data", str(data), "--no-plot", "--quiet"]
    # a server that is not there: every item fails after its retries
    err_line = _error(capsys, base + ["--backend", "http://127.0.0.1:9", "--metric", "qa_f1_score",
                                      "--retries", "0", "--out", str(tmp_path / "o1")],
                      "no item was answered")
    assert err_line
    # no metric anywhere: every item is bad input, and the warning names the file with reasons
    assert cli.main(base + ["--backend", "http://127.0.0.1:9", "--retries", "0",
                            "--out", str(tmp_path / "o2")]) == 1
    err = capsys.readouterr().err
    assert "bad input (missing_field 1)" in err and str(tmp_path / "o2" / "bad_input.jsonl") in err
    for prompt, named in (("Answer briefly.", "holds no {question} or {input}"),
                          ("Answer: {qustion}", "unknown placeholder {qustion}")):
        _error(capsys, base + ["--backend", "http://127.0.0.1:9", "--metric", "qa_f1_score",
                               "--prompt", prompt, "--out", str(tmp_path / "o3")], named)
    _error(capsys, base + ["--backend", "http://127.0.0.1:9", "--metric", "qa_f1_score",
                           "--text-baseline", "http://127.0.0.1:9", "--text-prompt", "{question}",
                           "--out", str(tmp_path / "o4")], "text_prompt", "{context}")
    _error(capsys, base + ["--backend", "http://127.0.0.1:9", "--metric", "qa_f1_score",
                           "--backoff", "-1", "--out", str(tmp_path / "o5")], "backoff")
    # options of the whole run fail once, before any item (they failed every item, status 0)
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps(dict(glyph.RenderConfig.glyph_default().to_dict(), fontsize=9)))
    nofont = tmp_path / "nofont.json"
    nofont.write_text(json.dumps({"font-size": 12}))
    for flags, *named in ((["--config", str(tmp_path / "nope.json")], "nope.json"),
                          (["--config", str(nofont)], "font-path"),
                          (["--config", str(unknown)], "fontsize"),
                          (["--dpi", "0"], "dpi"), (["--dpi", "100000"], "100000"),
                          # before: ignored for files, or a font problem on every Chinese item
                          (["--split", "test"], "split 'test'"),
                          (["--font-dir", str(tmp_path / "fonts")], "font_dirs", "fonts"),
                          (["--cjk-font", str(tmp_path / "nope.otf")], "nope.otf"),
                          (["--cjk-font", str(data)], "ev.jsonl")):
        _error(capsys, base + ["--backend", "http://127.0.0.1:9", "--metric", "qa_f1_score",
                               "--out", str(tmp_path / "o6")] + flags, *named)
    assert not (tmp_path / "o6").exists()


def test_search_says_why_nothing_is_feasible(tmp_path, capsys, monkeypatch):
    (tmp_path / "evals_for_cli_test.py").write_text(
        "def boom(config, pages, sample):\n    raise RuntimeError('evaluator exploded')\n"
        "def half(config, pages, sample):\n    return 0.5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    val = tmp_path / "val.txt"
    val.write_text("a validation text")
    base = ["search", "--val", str(val), "--population", "2", "--generations", "1",
            "--no-plot", "--quiet"]
    # before: an empty table and "no feasible config yet", the reason only in the log
    _error(capsys, base + ["--evaluator", "evals_for_cli_test:boom", "--out", str(tmp_path / "a")],
           "all 2 evaluations failed", "evaluator exploded", "search.jsonl")
    _error(capsys, base + ["--evaluator", "evals_for_cli_test:half", "--min-accuracy", "90",
                           "--out", str(tmp_path / "b")],
           "--min-accuracy 90", "accuracy is 0..1", "0.5000")


def test_search_resumed_on_other_samples_or_evaluator_is_refused(tmp_path, capsys, monkeypatch):
    (tmp_path / "evals_for_resume_test.py").write_text(
        "def one(config, pages, sample):\n    return 1.0\n"
        "def other(config, pages, sample):\n    return 0.25\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("the first validation text")
    b.write_text("another validation text")
    out = str(tmp_path / "s")
    base = ["search", "--population", "2", "--generations", "1", "--no-plot", "--quiet",
            "--out", out]
    assert cli.main(base + ["--val", str(a), "--evaluator", "evals_for_resume_test:one"]) == 0
    capsys.readouterr()
    # the same run resumes (scores replayed from the log)
    assert cli.main(base + ["--val", str(a), "--evaluator", "evals_for_resume_test:one"]) == 0
    assert "resuming from" in capsys.readouterr().err
    # before: the old scores were silently reused for the other data or evaluator
    _error(capsys, base + ["--val", str(b), "--evaluator", "evals_for_resume_test:one"],
           "different search", "samples or evaluator")
    _error(capsys, base + ["--val", str(a), "--evaluator", "evals_for_resume_test:other"],
           "different search")


def test_eval_local_params_are_checked_before_the_model_loads(tmp_path):
    from glyph.eval.backends import LocalBackend

    # the checkpoint does not exist: the params are refused before it is looked for
    for params, named in (({"max_tokens": "x"}, "max_tokens"), ({"max_tokens": -1}, "max_tokens"),
                          ({"repetition_penalty": "strong"}, "strong"),
                          ({"max_tokens": 2.5}, "max_tokens must be a whole number, not 2.5"),
                          ({"top_k": 1.5, "temperature": 0.7}, "top_k must be a whole number"),
                          ({"stop_token_ids": "151329"}, "stop_token_ids must be a list"),
                          ({"stop_token_ids": [151329, "2"]},
                           r"stop_token_ids\[1\] must be a whole")):
        with pytest.raises(glyph.InputError, match=named):
            LocalBackend(str(tmp_path / "absent"), params=params)
    with pytest.raises(glyph.InputError, match="batch_size must be a whole number >= 1, not 0"):
        LocalBackend(str(tmp_path / "absent"), batch_size=0)


def test_output_to_a_reader_that_left_is_not_a_traceback(tmp_path):
    """`glyph config | head -c 0`: the pipe is closed before glyph writes."""
    p = subprocess.Popen([sys.executable, "-m", "glyph", "config"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 141 and "Traceback" not in err, err
