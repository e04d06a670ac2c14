"""The Python API on mistakes a notebook user plausibly makes (a dogfooding pass over the API):
each case here was a silent wrong result, a raw pybind/JSON error or a traceback from deep inside
before. Now: a clear error naming the argument, key or file, or the documented result."""
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import glyph
import glyph.eval
import glyph.sft
from glyph import ConfigSearch
from glyph.search import load_samples
from glyph.eval.backends import Reply

TEXT = "Little Red Riding Hood walked through the wood to her grandmother's house. " * 4


# ---- the renderer and its config ---------------------------------------------------------------

def test_the_config_a_renderer_hands_out_is_a_copy():
    r = glyph.Renderer()
    before = r.render(TEXT).pages[0]
    c = r.config
    c.page_size = (100, 100)
    c.font_size = 30
    after = r.render(TEXT).pages[0]
    assert (after.width, after.height) == (before.width, before.height)
    assert (after.pixels == before.pixels).all()
    assert r.config.font_size != 30
    space = glyph.SearchSpace.builtin()
    size = space.base.font_size
    space.base.font_size = size + 7
    assert space.base.font_size == size


def test_a_text_source_serves_one_call_at_a_time(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(TEXT * 50, encoding="utf-8")
    src = glyph.TextSource.from_file(f)
    r = glyph.Renderer()
    errors = []

    def on_page(page):  # a second call on the source while the first reads it
        if not errors:
            with pytest.raises(glyph.InputError, match="another call") as e:
                r.render(src)
            with pytest.raises(glyph.InputError, match="another call"):
                src.read(10)  # nor from Python: it would take part of the render's text
            errors.append(e)

    stats = r.render_each(src, on_page)
    assert errors and stats.characters == len(TEXT * 50)
    assert r.render(src).stats.characters == len(TEXT * 50)  # free again afterwards
    src.rewind()
    assert src.read(10**12) == (TEXT * 50).encode()  # n is a bound, not a buffer made up front


def test_one_str_where_a_list_is_expected_is_refused():
    with pytest.raises(TypeError, match="list of texts"):
        glyph.Renderer().render_batch("abc")
    for record in ({"context": TEXT, "question": "q"}, {"a", "b"}):
        with pytest.raises(TypeError, match="record\\['context'\\]"):
            glyph.render(record)


def test_numpy_values_paths_and_nan_in_a_config_dict():
    base = glyph.RenderConfig.glyph_default().to_dict()
    cfg = glyph.Renderer({**base, "font-size": np.float32(9.5), "dpi": np.int64(96)}).config
    assert (cfg.font_size, cfg.dpi) == (9.5, 96)
    cfg = glyph.RenderConfig.from_dict({**base, "font-path": Path(glyph.default_font_path())})
    assert cfg.font_path == glyph.default_font_path()
    for value in (float("nan"), float("inf"), np.float64("nan")):
        with pytest.raises(glyph.ConfigError, match="'font-size': must be a finite number"):
            glyph.RenderConfig.from_dict({**base, "font-size": value})
        with pytest.raises(glyph.ConfigError, match="'font-size': must be a finite number"):
            cfg.font_size = value
    with pytest.raises(glyph.ConfigError, match="unknown config key 'fontsize'"):
        glyph.RenderConfig.from_dict({**base, "fontsize": np.float32(9)})


def test_a_page_too_big_to_draw_is_refused_by_validate():
    cfg = glyph.RenderConfig.glyph_default()
    cfg.dpi = 1200
    cfg.page_size = (14400, 14400)
    with pytest.raises(glyph.ConfigError, match="'page-size' and 'dpi'.*lower the dpi"):
        cfg.validate()
    cfg.page_size = "A4"  # A4 at 1200 dpi (140 million pixels) is still allowed
    cfg.validate()


def test_a_partial_config_without_a_font_says_where_to_start():
    with pytest.raises(glyph.FontError, match="glyph_default"):
        glyph.Renderer({"dpi": 96})


def test_config_equality_and_pickling():
    a, b = glyph.RenderConfig.glyph_default(), glyph.RenderConfig.glyph_default()
    assert a == b and a == glyph.RenderConfig.from_dict(a.to_dict())
    b.font_size = a.font_size + 1
    assert a != b and a != "not a config"
    assert pickle.loads(pickle.dumps(b)) == b
    r = glyph.Renderer(b)
    again = pickle.loads(pickle.dumps(r))
    assert again.config == b
    assert (again.render(TEXT).pages[0].pixels == r.render(TEXT).pages[0].pixels).all()


def test_render_to_dir_removes_the_pages_an_earlier_longer_render_left(tmp_path):
    r = glyph.Renderer()
    long = r.render_to_dir(TEXT * 60, tmp_path, "doc")
    assert len(long) >= 2
    (tmp_path / "doc" / "notes.txt").write_text("mine")
    (tmp_path / "doc" / "page_1.png").write_bytes(b"not one of ours (not 3 digits)")
    short = r.render_to_dir("A short text.", tmp_path, "doc")
    left = sorted(p.name for p in (tmp_path / "doc").iterdir())
    assert left == ["notes.txt", "page_001.png", "page_1.png"] and len(short) == 1
    assert glyph._core.remove_stale_pages(tmp_path / "doc", 0) == 1


def test_render_to_dir_unique_id_none_is_a_fresh_folder_and_a_non_str_is_refused(tmp_path):
    r = glyph.Renderer()
    paths = r.render_to_dir("A short text.", tmp_path, None)
    assert Path(paths[0]).parent.parent == tmp_path and len(Path(paths[0]).parent.name) == 36
    with pytest.raises(TypeError, match="unique_id must be a str"):
        r.render_to_dir("A short text.", tmp_path, 7)


def test_a_path_given_as_text_says_how_to_pass_a_file(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(TEXT)
    tok = glyph.Tokenizer.from_file(_tiny_tokenizer(tmp_path))
    for wrong in (f, open(f, encoding="utf-8")):
        with pytest.raises(TypeError, match="got .*glyph.text_source"):
            tok.encode(wrong)
    assert tok.count(glyph.text_source(f)) == tok.count(TEXT)


def test_summary_counts_the_text_tokens_of_a_text_rendered_from_a_source(tmp_path):
    import io

    f = tmp_path / "t.txt"
    f.write_text(TEXT * 20, encoding="utf-8")
    tok = _tiny_tokenizer(tmp_path)
    r = glyph.Renderer()
    want = r.render(TEXT * 20).summary(tokenizer=tok)
    assert want["text_tokens"] > 0
    for given in (f, glyph.text_source(f), io.StringIO(TEXT * 20), [TEXT * 10, TEXT * 10],
                  bytearray((TEXT * 20).encode())):
        assert r.render(given).summary(tokenizer=tok) == want, type(given).__name__
    with pytest.raises(glyph.InputError, match="give text_tokens"):
        glyph.RenderResult(r.render(TEXT).pages).summary(tokenizer=tok)


def _tiny_tokenizer(tmp_path) -> str:
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator([TEXT] * 10, trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return str(path)


# ---- chat requests and replies -------------------------------------------------------------------

def test_chat_request_parameters_and_reply_types():
    from glyph import chat

    with pytest.raises(glyph.InputError, match="'temperature' must be a finite number"):
        chat.sampling_params({"temperature": float("nan")})
    for wrong in (None, [1, 2], 5):
        with pytest.raises(TypeError, match="bytes, str or a dict"):
            chat.parse_chat_response(wrong)
    ok = {"choices": [{"message": {"content": "fine"}}]}
    assert chat.parse_chat_response(json.dumps(ok).encode()).content == "fine"


# ---- the config search ---------------------------------------------------------------------------

def test_a_sample_path_with_a_typo_is_not_searched_on(tmp_path):
    for bad in ("val.jsonl", str(tmp_path / "smal.txt"), Path(tmp_path / "nope.jsonl"), str(tmp_path)):
        with pytest.raises(glyph.IoError, match="no such file|is a folder"):
            load_samples(bad)
    assert load_samples("A text sample, not a path.")[0]["text"] == "A text sample, not a path."
    assert load_samples({"text": "val.jsonl"})[0]["text"] == "val.jsonl"  # said to be text
    assert load_samples("abcdef", limit_chars=np.int64(3))[0]["text"] == "abc"


def test_text_tokens_must_count_whole_tokens_and_may_be_a_tokenizer(tmp_path):
    search = ConfigSearch(population=2, generations=1)
    with pytest.raises(glyph.SearchError, match="text_tokens must return a whole number.*int\\("):
        search.run([TEXT], lambda c, p, s: 0.5, text_tokens=lambda t: len(t) / 4.3)
    res = search.run([TEXT], lambda c, p, s: 0.5, text_tokens=lambda t: float(len(t) // 4))
    assert all(d["ok"] for d in res.evaluated)
    path = Path(_tiny_tokenizer(tmp_path))
    import tokenizers

    tok = tokenizers.Tokenizer.from_file(str(path))
    by_path = search.run([TEXT], lambda c, p, s: 0.5, text_tokens=path)
    by_hand = search.run([TEXT], lambda c, p, s: 0.5, text_tokens=lambda t: len(tok.encode(t).ids))
    assert by_path.text_token_counter == f"tokenizer {path}"
    assert [d["compression"] for d in by_path.evaluated] == [d["compression"] for d in by_hand.evaluated]
    assert all(d["ok"] for d in by_path.evaluated)


def test_a_search_whose_every_evaluation_fails_says_so(tmp_path):
    with pytest.warns(RuntimeWarning, match="every evaluation .* failed.*fitness must return"):
        res = ConfigSearch(population=2, generations=1).run(fitness=lambda c: 0.5)
    assert res.best is None and "no feasible config" in repr(res)
    ok = ConfigSearch(population=2, generations=1).run(fitness=lambda c: (0.5, 2.0))
    assert repr(ok).startswith("<glyph.SearchResult best accuracy 0.5000 compression 2.000")


def test_search_options_seeds_and_output_paths(tmp_path):
    ref = tmp_path / "seed.json"
    glyph.RenderConfig.glyph_default().save(ref)
    assert len(ConfigSearch(seeds=str(ref)).seeds) == 1  # one seed, not one per character
    with pytest.raises(glyph.IoError, match="is a folder"):
        ConfigSearch(population=2, generations=1).run(fitness=lambda c: (0.5, 2.0), log=tmp_path)
    res = ConfigSearch(population=2, generations=1).run(fitness=lambda c: (0.5, 2.0))
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(glyph.IoError, match="afile"):
        res.save(afile)


# ---- sft -----------------------------------------------------------------------------------------

RECS = [{"id": "a", "context": TEXT, "question": "Who?", "answer": "Red"}]


def test_sft_checks_the_config_and_options_before_any_record(tmp_path):
    out = tmp_path / "o"
    with pytest.raises(glyph.FontError, match="no font given"):
        glyph.sft.build(RECS, out, config={"dpi": 96}, progress=False, plot=False)
    with pytest.raises(glyph.InputError, match="max_pages must be a whole number"):
        glyph.sft.build(RECS, out, max_pages="2", progress=False, plot=False)
    with pytest.raises(glyph.InputError, match="seed must be a whole number"):
        glyph.sft.build(RECS, out, seed=None, progress=False, plot=False)
    with pytest.raises(glyph.InputError, match=r"workers must be a whole number >= 0.*not 2\.0"):
        glyph.sft.build(RECS, out, workers=2.0, progress=False, plot=False)
    with pytest.raises(glyph.InputError, match="limit must be a whole number >= 0"):
        glyph.sft.build(RECS, out, limit=-1, progress=False, plot=False)
    assert not out.exists()
    res = glyph.sft.build(RECS, out, max_pages=np.int64(2), compression=np.int64(2),
                          workers=np.int64(1), progress=False, plot=False)
    assert res.exit_code == 0 and res.records == 1


def test_sft_exit_code_is_1_when_nothing_was_read(tmp_path):
    res = glyph.sft.build([], tmp_path / "o", progress=False, plot=False)
    assert res.empty and res.exit_code == 1 and not res.failures


# ---- eval ----------------------------------------------------------------------------------------

class _Backend:
    """A backend object (glyph.eval.run takes one): answers every question the same."""

    name = "fixed"

    def ask(self, pages, prompt):
        return Reply(text="Red", content="Red")


def _data(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"id": "x", "context": TEXT, "question": "Who?", "answers": ["Red"]}) + "\n")
    return p


@pytest.mark.parametrize("value", [float("nan"), None, 5.0])
def test_a_metric_that_returns_no_score_is_counted_not_averaged(tmp_path, value):
    res = glyph.eval.run("custom", _data(tmp_path), _Backend(), tmp_path / "o", progress=False,
                         plot=False, metric=lambda pred, truth, **kw: value)
    pages = res["modes"]["pages"]
    assert pages["score"] == 0.0 and pages["answered"] == 1
    rec = json.loads((tmp_path / "o" / "predictions.jsonl").read_text().splitlines()[0])
    assert rec["score"] == 0.0 and rec["score_error"]
    assert any("could not score" in w for w in res["warnings"])


def test_eval_run_options_are_checked(tmp_path):
    d = _data(tmp_path)
    for kw, named in (({"newline": "yes"}, "newline"), ({"limit": -1}, "limit"),
                      ({"concurrency": None}, "concurrency"), ({"concurrency": 2.5}, "concurrency")):
        with pytest.raises(glyph.InputError, match=named):
            glyph.eval.run("custom", d, _Backend(), tmp_path / "o", metric="qa_f1_score",
                           progress=False, plot=False, **kw)
    with pytest.raises(glyph.InputError, match=f"font_dirs: '{tmp_path / 'nofonts'}'"):
        glyph.eval.run("custom", d, _Backend(), tmp_path / "o", metric="qa_f1_score",
                       font_dirs=str(tmp_path / "nofonts"), progress=False, plot=False)
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(glyph.IoError, match="afile"):
        glyph.eval.run("custom", d, _Backend(), afile, metric="qa_f1_score", progress=False,
                       plot=False)
    good = glyph.eval.run("custom", d, _Backend(), tmp_path / "ok", metric="qa_f1_score",
                          progress=False, plot=False)
    assert good["modes"]["pages"]["score"] == 100.0
