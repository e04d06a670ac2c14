"""The layout of Glyph's evaluation scripts: config keys paragraph-lines and tab-nbsp (glyphcpp
extensions), RenderConfig.evaluation_layout(), page spans and streaming in that layout. Parity
with the reference harness is in test_reference_parity.py (test_evaluation_layout_*)."""
import json
import subprocess
import sys

import pytest

import glyph

EVAL = {"paragraph-lines": 0, "tab-nbsp": 4}


def test_defaults_and_glyph_files_load_unchanged(ref_dir):
    c = glyph.RenderConfig()
    assert (c.paragraph_lines, c.tab_nbsp) == (30, 0)
    assert not c.is_evaluation_layout()
    for name in ("config_en.json", "config_zh.json"):
        cfg = glyph.RenderConfig.from_file(str(ref_dir / name))
        assert (cfg.paragraph_lines, cfg.tab_nbsp) == (30, 0)
        saved = cfg.to_dict()
        # saved only when not the default: a Glyph file round-trips with Glyph's keys only
        assert "paragraph-lines" not in saved and "tab-nbsp" not in saved
        assert set(saved) <= set(json.loads((ref_dir / name).read_text())) | {
            "newline-markup", "para-border-color"}
    fields = {f.key: f for f in glyph.RenderConfig.fields()}
    for key, attr in (("paragraph-lines", "paragraph_lines"), ("tab-nbsp", "tab_nbsp")):
        assert fields[key].extension and fields[key].attr == attr and fields[key].kind == "integer"


def test_saved_when_set_and_round_trip(tmp_path):
    c = glyph.RenderConfig.from_dict({"font-size": 10, **EVAL})
    assert c.is_evaluation_layout()
    d = c.to_dict()
    assert d["paragraph-lines"] == 0 and d["tab-nbsp"] == 4
    c.save(str(tmp_path / "c.json"))
    back = glyph.RenderConfig.from_file(str(tmp_path / "c.json"))
    assert (back.paragraph_lines, back.tab_nbsp) == (0, 4)
    assert json.loads((tmp_path / "c.json").read_text())["paragraph-lines"] == 0
    c.paragraph_lines = 30
    c.tab_nbsp = 0
    assert "paragraph-lines" not in c.to_dict() and "tab-nbsp" not in c.to_dict()
    c.set("paragraph-lines", "7")
    assert c.get("paragraph-lines") == "7" and c.number("paragraph-lines") == 7
    assert c.to_dict()["paragraph-lines"] == 7


def test_evaluation_layout_is_a_copy_with_both_keys():
    base = glyph.RenderConfig.glyph_default()
    base.font_size = 11
    ev = base.evaluation_layout()
    assert (ev.paragraph_lines, ev.tab_nbsp) == (0, 4) and ev.is_evaluation_layout()
    assert (base.paragraph_lines, base.tab_nbsp) == (30, 0)  # the original is unchanged
    d, e = base.to_dict(), ev.to_dict()
    assert {k: v for k, v in e.items() if k not in EVAL} == d


@pytest.mark.parametrize("key,value,message", [
    ("paragraph-lines", -1, "must be between 0 and"),
    ("paragraph-lines", 2.5, "expected a whole number"),
    ("paragraph-lines", "30", "expected a whole number"),
    ("paragraph-lines", True, "expected a whole number"),
    ("paragraph-lines", 1e12, "must be between 0 and"),
    ("tab-nbsp", -4, "must be between 0 and 64"),
    ("tab-nbsp", 65, "must be between 0 and 64"),
    ("tab-nbsp", None, "expected a whole number"),
])
def test_bad_values_name_the_key(key, value, message):
    with pytest.raises(glyph.ConfigError, match=message) as e:
        c = glyph.RenderConfig.from_dict({key: value})
        c.validate()
    assert f"'{key}'" in str(e.value)
    with pytest.raises(glyph.ConfigError, match=key):
        c = glyph.RenderConfig()
        setattr(c, key.replace("-", "_"), value)
        glyph.Renderer(c)


def test_cli_lists_the_keys_and_checks_them(tmp_path, config_en):
    run = lambda *a: subprocess.run([sys.executable, "-m", "glyph", *a], capture_output=True,
                                    text=True)
    r = run("config", "--keys")
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines() if line.strip()}
    assert "(*)" in rows["paragraph-lines"] and " 30 " in rows["paragraph-lines"]
    assert "(*)" in rows["tab-nbsp"] and "font-size" in rows
    cfg = config_en
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(dict(cfg, **EVAL)))
    bad.write_text(json.dumps(dict(cfg, **{"tab-nbsp": 100})))
    assert run("config", "--check", str(good)).returncode == 0
    r = run("config", "--check", str(bad))
    assert r.returncode == 1 and "tab-nbsp" in r.stderr and "100" in r.stderr


# ------------------------------------------------------------------------------------------------
# the layout itself
# ------------------------------------------------------------------------------------------------
def _text(n_lines=400):
    import random

    rng = random.Random(5)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda".split()
    lines = []
    for i in range(n_lines):
        w = [rng.choice(words) for _ in range(rng.randint(0, 40))]
        if rng.random() < 0.2:
            w.insert(0, "\t")
        if rng.random() < 0.1:
            w.append("   ")
        lines.append(" ".join(w))
    return "\n".join(lines)


def _spans_tile(text, pages):
    prev = 0
    for i, p in enumerate(pages):
        assert prev <= p.char_begin <= p.char_end <= len(text), (i, p.char_begin, p.char_end)
        assert not text[prev:p.char_begin].strip(), f"text before page {i} is on no page"
        prev = p.char_end
    assert not text[prev:].strip()


@pytest.mark.parametrize("markup", ["<br/>", '<font color="#FF0000"> \\n </font>'])
@pytest.mark.parametrize("cjk", [False, True])
def test_page_spans_are_exact(markup, cjk):
    # Each page's span begins at its first shown character and ends after its last one, and
    # the spans tile the text: what lies between two pages is whitespace only.
    text = _text()
    if cjk:
        text = text.replace("alpha", "从前有一个小女孩").replace("beta", "，。")
    cfg = glyph.RenderConfig.glyph_default().evaluation_layout()
    cfg.newline_markup = markup
    r = glyph.Renderer(cfg)
    layout = r.layout(text)
    assert len(layout) >= 3
    _spans_tile(text, layout)
    for p in layout:
        shown = [ln for ln in p.lines if ln.char_end > ln.char_begin]
        assert p.char_begin == min(ln.char_begin for ln in shown)
        assert p.char_end == max(ln.char_end for ln in shown)
        for ln in shown:
            # the line's source, with tabs as 4 nbsp and spaces collapsed, is what it shows
            src = text[ln.char_begin:ln.char_end].replace("\t", "\xa0" * 4)
            assert "".join(src.split()).replace("\xa0", "") == \
                "".join(ln.text.split()).replace("\xa0", "").replace("\\n", ""), ln.text
    pages = r.render(text).pages
    assert [(p.char_begin, p.char_end) for p in pages] == [(p.char_begin, p.char_end) for p in layout]


def test_streamed_equals_whole_text_in_one_paragraph(tmp_path):
    text = _text(300) + "\n末尾的中文"
    cfg = glyph.RenderConfig.glyph_default().evaluation_layout()
    cfg.page_size = (400, 300)
    r = glyph.Renderer(cfg)
    whole = r.render(text)
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    streamed = r.render(path)
    assert len(whole.pages) == len(streamed.pages) > 3
    for a, b in zip(whole.pages, streamed.pages):
        assert (a.char_begin, a.char_end, a.size) == (b.char_begin, b.char_end, b.size)
        assert (a.pixels == b.pixels).all()


def test_one_paragraph_of_a_long_context_lays_out():
    # A context of 600,000 characters with no paragraph break at all: one paragraph of many
    # pages, laid out in one go (the 30-line limit message no longer applies).
    text = _text(12000)
    assert len(text) > 500_000
    cfg = glyph.RenderConfig.glyph_default().evaluation_layout()
    r = glyph.Renderer(cfg)
    spans = []
    r.render_each(text, lambda page: spans.append((page.char_begin, page.char_end)))
    assert len(spans) > 100
    for (b0, e0), (b1, e1) in zip(spans, spans[1:]):
        assert e0 <= b1 and not text[e0:b1].strip()
    assert not text[:spans[0][0]].strip() and not text[spans[-1][1]:].strip()
