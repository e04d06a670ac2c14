"""Tests for the reference harness (tests/reference/glyph_reference.py).

1. The harness reproduces Glyph's golden page (Little_Red_Riding_Hood.png) - measured: identical,
   589x566, mean abs diff 0.0 (reportlab 3.6.12 + poppler 22.12). Threshold used: 0.05.
2. reference_lines() gives one page whose line count equals the text lines visible in the golden
   image (54, counted by ink-row bands).
3. Executable versions of the rules in docs/reference-layout.md (line data only, cheap).

Everything skips cleanly when reportlab, pdftoppm, numpy/Pillow or the shared golden data are
missing.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "reference" / "glyph_reference.py"
GOLDEN_DIR = (ROOT / ".." / "shared" / "data" / "glyph-reference").resolve()
if not GOLDEN_DIR.is_dir():
    GOLDEN_DIR = Path("/work/shared/data/glyph-reference")

MEAN_ABS_DIFF_MAX = 0.05  # measured 0.0 (pixel-identical)

np = pytest.importorskip("numpy", reason="numpy not installed")
PIL_Image = pytest.importorskip("PIL.Image", reason="Pillow not installed")
pytest.importorskip("reportlab", reason="reportlab not installed (reference harness needs it)")


def _load_harness():
    spec = importlib.util.spec_from_file_location("glyph_reference", HARNESS)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("glyph_reference", mod)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def gr():
    return _load_harness()


@pytest.fixture(scope="module")
def golden():
    needed = ["config_en.json", "Verdana.ttf", "input.txt", "Little_Red_Riding_Hood.png"]
    missing = [n for n in needed if not (GOLDEN_DIR / n).exists()]
    if missing:
        pytest.skip(f"golden data missing in {GOLDEN_DIR}: {missing}")
    cfg = json.loads((GOLDEN_DIR / "config_en.json").read_text(encoding="utf-8"))
    text = (GOLDEN_DIR / "input.txt").read_text(encoding="utf-8")
    return cfg, text


def _need_pdftoppm():
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) not installed")


def _ink(img):
    g = np.asarray(img.convert("L")).astype(np.int64)
    bg = np.median(g[:2, :2])
    return np.abs(g - bg) > 5


def _row_bands(mask):
    rows = mask.any(axis=1)
    bands, start = [], None
    for y, v in enumerate(rows):
        if v and start is None:
            start = y
        elif not v and start is not None:
            bands.append((start, y - 1))
            start = None
    if start is not None:
        bands.append((start, len(rows) - 1))
    return bands


# ------------------------------------------------------------------------------------------------
# golden reproduction
# ------------------------------------------------------------------------------------------------
def test_golden_page_reproduced(gr, golden, tmp_path):
    _need_pdftoppm()
    cfg, text = golden
    pages = gr.render_reference(text, cfg, str(GOLDEN_DIR), out_dir=str(tmp_path))
    assert len(pages) == 1
    assert (tmp_path / "page_001.png").exists()
    ref = PIL_Image.open(GOLDEN_DIR / "Little_Red_Riding_Hood.png").convert("RGB")
    got = pages[0].convert("RGB")
    assert got.size == ref.size == (589, 566)
    diff = np.abs(np.asarray(got, dtype=np.int64) - np.asarray(ref, dtype=np.int64))
    mad = float(diff.mean())
    assert mad <= MEAN_ABS_DIFF_MAX, f"mean abs diff {mad:.4f} (max {diff.max()})"


def test_reference_lines_match_golden_ink_rows(gr, golden):
    cfg, text = golden
    pages = gr.reference_lines(text, cfg, str(GOLDEN_DIR))
    assert len(pages) == 1
    ref = PIL_Image.open(GOLDEN_DIR / "Little_Red_Riding_Hood.png")
    bands = _row_bands(_ink(ref))
    # every line of input.txt has ink; consecutive lines are separated by at least one blank row
    assert len(pages[0]) == len(bands) == 54
    # bands are one leading (10 px) apart, first baseline at row 25 -> first cap top at row 18
    starts = [b[0] for b in bands]
    assert starts[0] == 18
    assert all(b - a in (9, 10, 11) for a, b in zip(starts, starts[1:]))
    assert pages[0][0] == "Little Red Riding Hood"
    assert pages[0][1].endswith("named Little Red")
    assert pages[0][2].startswith("Riding Hood.")


# ------------------------------------------------------------------------------------------------
# spec rules (docs/reference-layout.md), line data only
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cfg_en(golden):
    return golden[0]


def _lines(gr, text, cfg, **over):
    c = dict(cfg)
    c.update(over)
    return gr.reference_lines(text, c, str(GOLDEN_DIR))


@pytest.mark.parametrize("text,expected", [
    ("a\n", ["a"]),
    ("a\n\n", ["a", ""]),
    ("\na", ["", "a"]),
    ("a\n\n\nb", ["a", "", "", "b"]),
    ("a \n b", ["a", "b"]),
    ("a\n \nb", ["a", "", "b"]),
    ("a\n  \nb", ["a", "\xa0\xa0", "b"]),
    ("  indented two", ["\xa0\xa0indented two"]),
    ("trailing two  ", ["trailing two\xa0\xa0"]),
    ("a\tb\t\tc", ["a b c"]),
    ("a\r\nb", ["a", "b"]),
    ("Tom & Jerry <tag>", ["Tom & Jerry <tag>"]),
    ("x\xady\u200bz", ["xyz"]),
    ("", []),
])
def test_text_preparation_and_empty_lines(gr, cfg_en, text, expected):
    assert _lines(gr, text, cfg_en) == [expected]


def test_string_width_formula(gr, cfg_en):
    from reportlab.pdfbase.pdfmetrics import stringWidth
    p = gr.resolve_config(cfg_en, str(GOLDEN_DIR))
    gr._register_font(p["font_name"], p["font_path"])
    assert stringWidth("Little Red Riding Hood", p["font_name"], 9) == 100.52490234375
    assert stringWidth(" ", p["font_name"], 9) == 3.1640625
    assert stringWidth("\xa0", p["font_name"], 9) == 3.1640625  # nbsp forced to space width
    assert stringWidth("\u4e2d", p["font_name"], 9) == 9.0      # missing -> glyph 0 (2048/2048)


def test_long_words_split_per_character(gr, cfg_en):
    assert [len(l) for l in _lines(gr, "x" * 200, cfg_en)[0]] == [105, 95]
    got = _lines(gr, "hello " + "z" * 150 + " world\nq", cfg_en)[0]
    assert got == ["hello " + "z" * 113, "z" * 37 + " world", "q"]


def test_space_shrinkage_overflow_line(gr, golden):
    # golden line 12 is 564.29 pt wide (> 563) and accepted thanks to spaceShrinkage=0.05
    from reportlab.pdfbase.pdfmetrics import stringWidth
    cfg, text = golden
    line = gr.reference_lines(text, cfg, str(GOLDEN_DIR))[0][12]
    p = gr.resolve_config(cfg, str(GOLDEN_DIR))
    assert line.endswith("exclaimed, and")
    w = stringWidth(line, p["font_name"], 9)
    assert 563 < w <= 563 + 0.05 * 3.1640625 * line.count(" ")


def test_page_capacity_and_br_continuation_quirk(gr, cfg_en):
    text = "\n".join("line %d" % i for i in range(100))
    pages = _lines(gr, text, cfg_en)
    assert [len(p) for p in pages] == [81, 20]
    assert pages[0][-1] == "line 80"
    # reportlab re-emits the <br/> that ended the last line of page 1 -> leading empty line
    assert pages[1][:2] == ["", "line 81"]


def test_width_wrapped_continuation_has_no_blank(gr, cfg_en):
    text = "\n".join(("para %d " % i) + "word " * 200 for i in range(10))
    pages = _lines(gr, text, cfg_en)
    assert len(pages) == 2 and len(pages[0]) == 81
    assert pages[1][0].startswith("word")


@pytest.mark.parametrize("height,expected", [(347, [30, 30]), (357, [32, 29])])
def test_orphan_control(gr, cfg_en, height, expected):
    # aH = height - 32; 347 -> 31 lines: the 1 line left for paragraph 2 stays empty (allowOrphans=0)
    text = "\n".join("l%d" % i for i in range(60))
    pages = _lines(gr, text, cfg_en, **{"page-size": "595,%d" % height})
    assert [len(p) for p in pages] == expected


def test_cjk_wrap(gr, cfg_en):
    # Verdana has no CJK glyphs: every ideograph is 9 pt (glyph 0), 563 pt -> 62 per line
    assert [len(l) for l in _lines(gr, "中文测试" * 60, cfg_en)[0]] == [62, 62, 62, 54]
    # U+3002 cannot start a line: it hangs -> 63 chars on the line (frag path, with <br/>)
    got = _lines(gr, "中文。" * 100 + "\n" + "中文，测试" * 50, cfg_en)[0]
    assert [len(l) for l in got[:4]] == [63, 63, 63, 63]
    assert any(l.startswith("，") for l in got)  # U+FF0C is allowed at line start
    # leading space after <br/> is kept in CJK mode
    assert _lines(gr, "中文\n 中文 \n\n中", cfg_en)[0] == ["中文", " 中文", "", "中"]


def test_defaults_geometry(gr):
    p = gr.resolve_config({"font-path": str(GOLDEN_DIR / "Verdana.ttf")})
    assert p["margin_x"] == 20 and p["font_size"] == 9 and p["line_height"] == 10
    assert p["dpi"] == 72 and p["newline_markup"] == "<br/>"
    from reportlab.lib.enums import TA_JUSTIFY
    assert p["alignment"] == TA_JUSTIFY
    assert gr.resolve_config({"font-path": "x.ttf", "alignment": "bogus"})["alignment"] == TA_JUSTIFY
    if not (GOLDEN_DIR / "Verdana.ttf").exists():
        pytest.skip("Verdana.ttf missing")
    text = "\n".join("l%d" % i for i in range(200))
    pages = gr.reference_lines(text, {"font-path": str(GOLDEN_DIR / "Verdana.ttf")})
    assert len(pages[0]) == 78  # int(789.8897637795277 / 10)


def test_a4_raster_size_and_first_baseline(gr):
    _need_pdftoppm()
    if not (GOLDEN_DIR / "Verdana.ttf").exists():
        pytest.skip("Verdana.ttf missing")
    img = gr.render_reference("HHHH", {"font-path": str(GOLDEN_DIR / "Verdana.ttf")})[0]
    assert img.size == (596, 842)  # ceil(595.2756), ceil(841.8898)
    bands = _row_bands(_ink(img))
    assert bands == [(28, 34)]     # baseline device row 35 = 841.89 - (841.89 - 26 - 9)


# ------------------------------------------------------------------------------------------------
# the evaluation scripts' layout (layout="evaluation"; EVALUATION.md, "Common to all three
# benchmarks")
# ------------------------------------------------------------------------------------------------
def test_evaluation_text_preparation(gr):
    # escaped first, then a tab = 4 x &nbsp;, a run of 2+ spaces = as many &nbsp; (a single space
    # stays breakable), U+00AD and U+200B gone, every newline the markup (<br/> when unset)
    got = gr.prepare_evaluation_text("a\tb  c d\n<x>&\xad\u200b\n", None)
    assert got == "a" + "&nbsp;" * 4 + "b&nbsp;&nbsp;c d<br/>&lt;x&gt;&amp;<br/>"
    red = '<font color="#FF0000"> \\n </font>'
    assert gr.prepare_evaluation_text("x\ny", red) == "x" + red + "y"
    assert gr.paragraph_texts("\n".join("l%d" % i for i in range(70)), layout="evaluation") == [
        "<br/>".join("l%d" % i for i in range(70))]
    assert len(gr.paragraph_texts("\n".join("l%d" % i for i in range(70)))) == 3  # demo: 30 lines
    with pytest.raises(ValueError, match="layout"):
        gr.paragraph_texts("x", layout="eval")


def test_evaluation_layout_lines(gr, cfg_en):
    c = dict(cfg_en, **{"space-after": 5})
    assert _lines_layout(gr, "a\tb\t\tc", cfg_en) == [["a" + "\xa0" * 4 + "b" + "\xa0" * 8 + "c"]]
    text = "\n".join("line %d" % i for i in range(100))
    # demo: paragraphs of 30 lines, 5 pt after each -> 80 lines on page 1; one paragraph: 81,
    # and the split after a <br/> opens page 2 with reportlab's empty line in both
    demo = gr.reference_lines(text, c, str(GOLDEN_DIR))
    ev = _lines_layout(gr, text, c)
    assert [len(p) for p in demo] == [80, 21] and [len(p) for p in ev] == [81, 20]
    assert ev[1][:2] == ["", "line 81"]


def _lines_layout(gr, text, cfg):
    return gr.reference_lines(text, cfg, str(GOLDEN_DIR), layout="evaluation")
