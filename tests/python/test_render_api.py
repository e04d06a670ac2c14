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
    assert res.stats["characters"] == len(text)
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
    assert [i for i, _ in seen] == list(range(stats["pages"]))


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
    assert res.stats["missing_glyphs"] == 0
