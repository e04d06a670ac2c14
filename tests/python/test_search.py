"""ConfigSearch from Python: callables as fitness/evaluator, failures, determinism, resume, OCR."""
import json
import shutil
import sys
from pathlib import Path

import pytest

import glyph
from glyph.search import ConfigSearch, OcrEvaluator, evaluate_config, load_samples, read_log

REF = Path(__file__).resolve().parents[2].parent / "shared/data/glyph-reference"
FONT = Path(glyph.__file__).parent / "fonts" / "DejaVuSans.ttf"

SPACE = {
    "genes": [
        {"name": "margin-x", "min": 0, "max": 40, "step": 2},
        {"name": "margin-y", "min": 0, "max": 40, "step": 2},
        {"name": "font-size", "choices": [7, 8, 9, 10, 11, 12]},
        {"name": "line-height", "min": 0, "max": 3, "step": 1, "relative-to": "font-size"},
        {"name": "theme", "labels": ["light", "dark"], "choices": [
            {"page-bg-color": "#FFFFFF", "font-color": "#000000"},
            {"page-bg-color": "#1E1E1E", "font-color": "#D4D4D4"}]},
    ],
    "constraints": [{"lhs": "line-height", "op": ">=", "rhs": "font-size", "offset": 1}],
}


def space():
    return glyph.SearchSpace.from_json(json.dumps(SPACE))


def quadratic(cfg):
    # Known optimum: margin-x 14, margin-y 30, 10 pt, leading 12, dark theme.
    acc = -((cfg.margin_x - 14) ** 2) - (cfg.margin_y - 30) ** 2 - 10 * (cfg.font_size - 10) ** 2
    acc -= 10 * (cfg.leading - cfg.font_size - 2) ** 2 + (0 if cfg.page_bg_color == "#1E1E1E" else 5)
    return acc, 1.0


def trace(result):
    return [(d["genome"], d.get("accuracy"), d.get("error")) for d in result.evaluated]


def test_space_round_trip_and_rules():
    s = space()
    assert s.gene_names == ["margin-x", "margin-y", "font-size", "line-height", "theme"]
    cfg = s.decode([7, 15, 3, 2, 1])
    assert (cfg.margin_x, cfg.margin_y, cfg.font_size, cfg.leading) == (14, 30, 10, 12)
    assert cfg.page_bg_color == "#1E1E1E"
    genome, notes = s.encode(cfg)
    assert genome == [7, 15, 3, 2, 1] and notes == []
    ok, why = s.feasible([7, 15, 3, 0, 1])
    assert not ok and "line-height >= font-size" in why
    with pytest.raises(glyph.SearchError, match="margin-z"):
        glyph.SearchSpace.from_json('{"genes": [{"name": "margin-z", "min": 0, "max": 4}]}')
    builtin = glyph.SearchSpace.builtin()
    assert "theme" in builtin.gene_names and builtin.cardinality > 1e9
    assert builtin.feasible(builtin.sample(3))[0]


def test_python_fitness_converges_to_the_optimum():
    res = ConfigSearch(space(), objective="accuracy", population=16, generations=40,
                       patience=10, seed=4).run(fitness=quadratic)
    assert res.best["accuracy"] == 0
    best = res.best_config
    assert (best.margin_x, best.margin_y, best.font_size, best.leading) == (14, 30, 10, 12)
    assert res.best["settings"]["theme"] == "dark"


def test_failures_are_recorded_and_the_search_goes_on():
    def flaky(cfg):
        if cfg.font_size == 12:
            raise ValueError("model server returned 503")
        if cfg.font_size == 7:
            return "not a score"
        return quadratic(cfg)

    res = ConfigSearch(space(), objective="accuracy", population=12, generations=8,
                       seed=1).run(fitness=flaky)
    errors = [d["error"] for d in res.evaluated if not d["ok"]]
    assert any("ValueError: model server returned 503" in e for e in errors)
    assert any("fitness" in e for e in errors)  # the bad return value, with a reason
    assert res.best["ok"] and res.best_config.font_size not in (7, 12)


def test_deterministic_across_threads_and_resume_equals_uninterrupted(tmp_path):
    opts = dict(population=8, generations=6, patience=0, seed=7)
    full = ConfigSearch(space(), **opts).run(fitness=quadratic, log=tmp_path / "full.jsonl")
    threaded = ConfigSearch(space(), threads=2, **opts).run(fitness=quadratic)
    assert trace(full) == trace(threaded)

    calls = {"n": 0}

    def dying(cfg):
        calls["n"] += 1
        if calls["n"] > 20:
            raise KeyboardInterrupt
        return quadratic(cfg)

    log = tmp_path / "run.jsonl"
    with pytest.raises(KeyboardInterrupt):
        ConfigSearch(space(), **opts).run(fitness=dying, log=log)
    logged = [r for r in read_log(log) if r["type"] == "eval"]
    assert len(logged) == 20

    again = {"n": 0}

    def counting(cfg):
        again["n"] += 1
        return quadratic(cfg)

    resumed = ConfigSearch(space(), **opts).run(fitness=counting, log=log)
    assert trace(resumed) == trace(full)
    assert resumed.best == full.best
    assert 20 + again["n"] == len(full.evaluated)
    gens = [r["generation"] for r in read_log(log) if r["type"] == "generation"]
    assert gens == sorted(set(gens))  # each generation logged once

    with pytest.raises(glyph.SearchError, match="different search"):
        ConfigSearch(space(), **dict(opts, seed=8)).run(fitness=quadratic, log=log)


def test_render_evaluator_gets_pages_and_samples(tmp_path):
    text = "Glyph renders long text into images. " * 120
    val = tmp_path / "val.jsonl"
    val.write_text(json.dumps({"id": "a", "text": text, "answer": "x"}) + "\n"
                   + json.dumps({"context": "short one"}) + "\n")
    samples = load_samples(str(val))
    assert [s["id"] for s in samples] == ["a", "sample-1"] and samples[0]["answer"] == "x"

    seen = []

    def evaluator(config, pages, sample):
        assert isinstance(config, glyph.RenderConfig)
        assert pages and all(isinstance(p, glyph.Page) for p in pages)
        assert pages[-1].char_end >= len(sample["text"]) - 1
        seen.append(sample["id"])
        return 0.5 if config.font_size < 9 else 1.0

    def words(t):
        return len(t.split())

    res = ConfigSearch(space(), population=4, generations=2, seed=0).run(
        str(val), evaluator, text_tokens=words)
    assert res.text_token_counter == "test_render_evaluator_gets_pages_and_samples.<locals>.words"
    assert set(seen) == {"a", "sample-1"}
    d = res.evaluated[0]
    cfg = res.space.decode(d["genome"])
    vt = sum(glyph.Renderer(cfg).render(s["text"]).visual_tokens for s in samples)
    assert d["compression"] == pytest.approx((words(text) + 2) / vt)
    assert d["details"]["visual_tokens"] == vt

    paths = res.save(tmp_path / "out", plot=False)
    best = json.loads(Path(paths["best_config"]).read_text())
    assert glyph.RenderConfig.from_dict(best).to_json() == res.best_config.to_json()
    assert json.loads(Path(paths["front"]).read_text())


def test_cli_runs_and_resumes(tmp_path, monkeypatch, capsys):
    from glyph import search_cli

    (tmp_path / "myeval.py").write_text(
        "def score(config, pages, sample):\n    return 1.0 / config.font_size\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "val.txt").write_text("Once upon a time there was a search. " * 40)
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    argv = ["--space", str(tmp_path / "space.json"), "--val", str(tmp_path / "val.txt"),
            "--evaluator", "myeval:score", "--population", "4", "--generations", "2",
            "--out", str(tmp_path / "out"), "--no-plot"]
    assert search_cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert "gen   1/2 [########################] done" in err
    assert "accuracy compression" in out
    assert (tmp_path / "out" / "best_config.json").exists()
    assert search_cli.main(argv) == 0  # same --out: resumes, nothing re-evaluated
    assert "resuming" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")
def test_ocr_evaluator_scores_legibility():
    text = glyph.sample_text()[:1500]
    ocr = OcrEvaluator()
    good = evaluate_config({"font-path": str(FONT), "font-size": 10, "dpi": 96}, [text], ocr)
    tiny = evaluate_config({"font-path": str(FONT), "font-size": 7, "dpi": 45,
                            "line-height": 7}, [text], ocr)
    assert good["accuracy"] > 0.9
    assert tiny["accuracy"] < good["accuracy"] - 0.2
    assert tiny["compression"] > good["compression"]


@pytest.mark.skipif(not REF.is_dir(), reason="Glyph reference data not present")
def test_glyph_config_projects_onto_the_builtin_space():
    cfg = json.loads((REF / "config_en.json").read_text())
    cfg["font-path"] = str(REF / "Verdana.ttf")
    s = glyph.SearchSpace.builtin()
    genome, notes = s.encode(glyph.RenderConfig.from_dict(cfg))
    projected = s.decode(genome)
    assert (projected.dpi, projected.font_size, projected.leading) == (72, 9, 10)
    assert any("font-path" in n for n in notes)  # Verdana is not among the free fonts
