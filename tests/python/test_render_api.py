"""The Python API of the renderer: pages, zero-copy pixels, spans, tokens, batch, files."""
import json
import os

import numpy as np
import pytest

import glyph


@pytest.fixture(scope="module")
def renderer():
    return glyph.Renderer()


def test_default_renderer_renders_sample(renderer):
    text = glyph.sample_text()
    res = renderer.render(text)
    assert len(res.pages) >= 1
    page = res.pages[0]
    arr = page.pixels
    assert arr.dtype == np.uint8 and arr.shape == (page.height, page.width, 3)
    # Text is drawn: dark pixels exist, the background (config_en: white) dominates.
    assert (arr.min(axis=2) < 100).mean() > 0.01
    assert (arr == 255).all(axis=2).mean() > 0.5
    assert res.stats.characters == len(text)
    assert res.visual_tokens == sum(p.visual_tokens for p in res.pages)


def test_pixels_are_zero_copy_views(renderer):
    page = renderer.render("zero copy").pages[0]
    a, b = page.pixels, page.pixels
    assert np.shares_memory(a, b)
    a[0, 0] = (1, 2, 3)
    assert tuple(np.asarray(memoryview(page))[0, 0]) == (1, 2, 3)
    del page  # the view keeps the page alive
    assert tuple(a[0, 0]) == (1, 2, 3)


def test_to_pil_matches_pixels(renderer):
    pytest.importorskip("PIL")
    page = renderer.render("pil").pages[0]
    im = page.to_pil()
    assert im.size == (page.width, page.height) and im.mode == "RGB"
    assert np.array_equal(np.asarray(im), page.pixels)


def test_visual_tokens_follow_glm41v_smart_resize():
    assert glyph.smart_resize(842, 595) == (840, 588)
    assert glyph.visual_tokens(842, 595) == 630
    assert glyph.visual_tokens(1123, 794) == 1120  # A4-ish at 96 dpi
    assert glyph.visual_tokens(1404, 992) == 1750  # at 120 dpi
    with pytest.raises(glyph.InputError, match="aspect ratio"):
        glyph.smart_resize(10, 5000)


def test_page_tokens_match_page_size(renderer):
    for p in renderer.render(glyph.sample_text() * 3).pages:
        assert p.visual_tokens == glyph.visual_tokens(p.height, p.width)


def test_character_spans_cover_text_in_order(renderer):
    text = glyph.sample_text() * 8
    pages = renderer.render(text).pages
    assert len(pages) > 1
    assert pages[0].char_begin == 0
    for a, b in zip(pages, pages[1:]):
        assert a.char_end <= b.char_begin + 1
        assert b.char_begin < b.char_end
    assert pages[-1].char_end == len(text.rstrip())
    # The first laid-out line of each page is a prefix of the page's span (spaces collapsed).
    layout = renderer.layout(text)
    for page, pl in zip(pages, layout):
        first = pl.lines[0].text
        span = text[page.char_begin:page.char_end]
        assert span.startswith(first.split(" ")[0])


def test_render_to_dir_writes_glyph_file_names(renderer, tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    text = glyph.sample_text() * 4
    paths = renderer.render_to_dir(text, tmp_path, "doc-1")
    assert [os.path.basename(p) for p in paths] == [f"page_{i:03d}.png" for i in range(1, len(paths) + 1)]
    assert all(os.path.dirname(p) == str(tmp_path / "doc-1") for p in paths)
    pages = renderer.render(text).pages
    for path, page in zip(paths, pages):
        assert np.array_equal(np.asarray(PIL.open(path).convert("RGB")), page.pixels)


def test_png_compression_levels_change_size_not_pixels(renderer, tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    page = renderer.render(glyph.sample_text()).pages[0]
    fast, small = tmp_path / "l1.png", tmp_path / "l9.png"
    page.save(str(fast), 1)
    page.save(str(small), 9)
    assert os.path.getsize(small) < os.path.getsize(fast)
    for f in (fast, small):
        assert np.array_equal(np.asarray(PIL.open(f).convert("RGB")), page.pixels)
    with pytest.raises(glyph.InputError, match="0..9"):
        page.save(str(tmp_path / "bad.png"), 12)


def test_batch_is_identical_for_any_thread_count(renderer):
    texts = [glyph.sample_text()[: 400 * (i + 1)] + f" #{i}" for i in range(8)]
    one = renderer.render_batch(texts, threads=1)
    two = renderer.render_batch(texts, threads=2)
    many = renderer.render_batch(texts, threads=8)
    for a, b, c in zip(one, two, many):
        assert len(a.pages) == len(b.pages) == len(c.pages)
        for pa, pb, pc in zip(a.pages, b.pages, c.pages):
            assert pa.size == pb.size == pc.size
            assert np.array_equal(pa.pixels, pb.pixels) and np.array_equal(pa.pixels, pc.pixels)


def test_render_each_streams_pages(renderer):
    seen = []
    stats = renderer.render_each(glyph.sample_text() * 5, lambda p: seen.append((p.index, p.size)))
    assert [i for i, _ in seen] == list(range(stats.pages))


def test_config_round_trip_and_dict(tmp_path, ref_dir):
    cfg = glyph.RenderConfig.from_file(str(ref_dir / "config_en.json"))
    # Glyph's relative "../config/Verdana.ttf" resolves to the font beside the config.
    assert os.path.samefile(cfg.font_path, ref_dir / "Verdana.ttf")
    d = cfg.to_dict()
    assert d["page-size"] == "595,842" and d["line-height"] == 10 and d["alignment"] == "LEFT"
    out = tmp_path / "saved.json"
    cfg.save(str(out))
    again = glyph.RenderConfig.from_file(str(out))
    assert again.to_dict() == d
    assert glyph.RenderConfig.from_dict(d).to_dict() == d


def test_glyph_configs_load_unchanged(ref_dir):
    en = json.loads((ref_dir / "config_en.json").read_text())
    zh = json.loads((ref_dir / "config_zh.json").read_text())
    cen = glyph.RenderConfig.from_file(str(ref_dir / "config_en.json"))
    czh = glyph.RenderConfig.from_file(str(ref_dir / "config_zh.json"))
    for key in en:
        if key != "font-path":
            assert cen.to_dict()[key] == en[key], key
            assert czh.to_dict()[key] == zh[key], key
    # config_zh names a font that is not shipped: rendering says which key and file.
    with pytest.raises(glyph.FontError, match="font-path.*SourceHanSansHWSC-VF.ttf"):
        glyph.Renderer(czh)


def test_defaults_match_the_reference():
    d = glyph.RenderConfig().to_dict()
    assert d["dpi"] == 72 and d["margin-x"] == 20 and d["font-size"] == 9
    assert d["line-height"] == 10 and d["alignment"] == "JUSTIFY"
    assert d["newline-markup"] == "<br/>"
    assert d["para-bg-color"] == "#FFFFFF"
    w, h = glyph.RenderConfig().page_size
    assert abs(w - 595.2755905511812) < 1e-9 and abs(h - 841.8897637795277) < 1e-9


def test_cjk_default_config_uses_a_fallback_when_installed():
    if not glyph.find_cjk_font():
        pytest.skip("no CJK font installed")
    res = glyph.Renderer().render("中文测试 mixed with English。")
    assert res.stats.missing_glyphs == 0


# ---- page spans on real texts ---------------------------------------------------------------

GPL3 = "/usr/share/common-licenses/GPL-3"
ZH_HELP = "/usr/share/gnupg/help.zh_CN.txt"
WQY = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
INLINE_MARKUP = '<font color="#FF0000"> \\n </font>'


def _real_texts(ref_dir):
    """Glyph's sample texts, GPL-3 (blank-line paragraphs, indents) and Chinese help text."""
    from pathlib import Path

    out = {n: (ref_dir / f"{n}.txt").read_text(encoding="utf-8")[:9000]
           for n in ("input", "case1", "case3")}
    if Path(GPL3).exists():
        out["gpl3"] = Path(GPL3).read_text(encoding="utf-8")[:12000]
    if Path(ZH_HELP).exists():
        out["zh"] = Path(ZH_HELP).read_text(encoding="utf-8")[:5000]
    return out


def _assert_spans_tile(text, spans, what):
    """Page spans are ordered, never overlap, and what lies between them is only whitespace."""
    assert spans, what
    prev_end = 0
    for i, (b, e) in enumerate(spans):
        assert 0 <= b <= e <= len(text), f"{what}: page {i} span ({b}, {e})"
        assert b >= prev_end, f"{what}: page {i} begins at {b}, before page {i - 1} ends ({prev_end})"
        gap = text[prev_end:b]
        assert not gap.strip(), f"{what}: text before page {i} is on no page: {gap[:60]!r}"
        prev_end = e
    assert not text[prev_end:].strip(), f"{what}: the text after the last page is on no page"


def _check_page_spans(renderer, text, what):
    layout = renderer.layout(text)
    _assert_spans_tile(text, [(p.char_begin, p.char_end) for p in layout], what + " layout")
    for i, p in enumerate(layout):
        for ln in p.lines:
            if ln.char_end > ln.char_begin:  # an empty line shows no source text
                assert p.char_begin <= ln.char_begin and ln.char_end <= p.char_end, (
                    f"{what}: line {ln.text[:30]!r} ({ln.char_begin}, {ln.char_end}) outside page "
                    f"{i} ({p.char_begin}, {p.char_end})")
    pages = renderer.render(text).pages
    spans = [(p.char_begin, p.char_end) for p in pages]
    assert spans == [(p.char_begin, p.char_end) for p in layout], what
    return spans


def test_page_spans_tile_real_texts_under_glyph_configs(ref_dir):
    import os

    configs = {"glyph-default": glyph.RenderConfig.glyph_default()}
    for name, font in (("config_en", str(ref_dir / "Verdana.ttf")),
                       ("config_zh", WQY if os.path.exists(WQY) else glyph.find_cjk_font())):
        if not font:
            continue
        cfg = json.loads((ref_dir / f"{name}.json").read_text())
        cfg["font-path"] = font
        configs[name + "/br"] = dict(cfg, **{"newline-markup": "<br/>"})
        configs[name + "/inline"] = dict(cfg, **{"newline-markup": INLINE_MARKUP})
    texts = _real_texts(ref_dir)
    joined = "\n".join(texts.values())[:40000]
    texts["joined"] = joined
    multi_page = 0
    for cname, cfg in configs.items():
        renderer = glyph.Renderer(cfg)
        for tname, text in texts.items():
            multi_page += len(_check_page_spans(renderer, text, f"{cname}/{tname}")) > 1
    assert multi_page >= len(configs)


def test_page_after_an_empty_line_split_keeps_its_span(ref_dir):
    # A CJK-wrapped text (it holds ideographs) whose paragraph is split right after a <br/> line
    # with an empty source line next: the next page opens with that empty line, a ' ' reportlab
    # adds. It used to take source position 0, so the page's span covered all the text before it.
    texts = _real_texts(ref_dir)
    if "gpl3" not in texts or "zh" not in texts:
        pytest.skip("needs GPL-3 and the Chinese GnuPG help text")
    text = "\n".join(texts.values())[:40000]
    spans = _check_page_spans(glyph.Renderer(), text, "repro")
    assert len(spans) == 9
    assert spans[2][1] == 24457 and text[24457:24459] == "\n\n"
    assert spans[3][0] >= 24457 and spans[5][0] > spans[4][1] > 0


@pytest.mark.parametrize("a, b", [("x", "y"), ("中", "文")])
def test_pages_of_blank_lines_have_empty_spans_in_place(renderer, a, b):
    # 300 empty source lines fill pages that show no source text: each has the empty span where
    # the previous page ended, in layout() and render() alike. In CJK wrapping (an ideograph in
    # the text) they used to span from 0, since each continuation opened with an added ' '.
    text = a + "\n" * 300 + b
    spans = _check_page_spans(renderer, text, "blank lines")
    assert spans == [(0, 1), (1, 1), (1, 1), (301, 302)]
