"""How results show themselves in Jupyter: Page as a PNG, RenderResult as thumbnails and its
statistics, SearchResult as its front and plot. Decoded with Pillow (an outside PNG decoder) and
parsed with the standard library's HTML parser."""
import base64
import io
import json
import math
import re
from html.parser import HTMLParser

import numpy as np
import pytest

import glyph
from glyph import _display

Image = pytest.importorskip("PIL.Image")


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


def parse(html):
    p = _Images()
    p.feed(html)
    p.close()
    return p.images, " ".join(p.text)


def decode_data_url(src):
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    return Image.open(io.BytesIO(base64.b64decode(src[len(prefix):])))


def test_page_repr_png_is_the_page():
    for config in (None, {"font-color": "#1030C0", "page-bg-color": "#FFF8E0",
                          "para-bg-color": "#FFF8E0"}):  # a gray page and a coloured one
        cfg = glyph.RenderConfig.glyph_default()
        for k, v in (config or {}).items():
            cfg.set(k, json.dumps(v))
        page = glyph.Renderer(cfg).render(glyph.sample_text()).pages[0]
        png = page._repr_png_()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        im = Image.open(io.BytesIO(png))
        assert im.size == (page.width, page.height)
        assert np.array_equal(np.asarray(im.convert("RGB")), page.pixels)


def test_thumbnail_is_a_box_filter():
    """Against Pillow's reduce (the mean of each factor x factor block) on the blocks both see
    whole; the last row and column of blocks is partial (Pillow averages what is there, glyph
    pads with the edge)."""
    page = glyph.Renderer().render(glyph.sample_text()).pages[0]
    thumb = _display.thumbnail(page.pixels, 100)
    f = math.ceil(page.height / 100)
    assert thumb.shape == (math.ceil(page.height / f), math.ceil(page.width / f), 3)
    assert thumb.shape[0] <= 100
    ref = np.asarray(page.to_pil().reduce(f)).astype(int)
    full_h, full_w = page.height // f, page.width // f
    diff = np.abs(thumb[:full_h, :full_w].astype(int) - ref[:full_h, :full_w])
    assert diff.max() <= 1
    assert thumb.std() > 5  # the text shows, not a blank
    small = np.zeros((50, 40, 3), np.uint8)
    assert _display.thumbnail(small, 100).shape == small.shape  # never enlarged
    with pytest.raises(ValueError, match="uint8"):
        _display.thumbnail(np.zeros((5, 5, 3)), 10)


def test_render_result_html_shows_thumbnails_and_stats():
    text = glyph.sample_text()
    result = glyph.Renderer().render(text)
    html = result._repr_html_()
    images, words = parse(html)
    assert len(images) == len(result.pages) == 1
    thumb = decode_data_url(images[0]["src"])
    assert thumb.size == (int(images[0]["width"]), int(images[0]["height"]))
    assert thumb.size[1] <= _display.THUMBNAIL_HEIGHT
    expected = _display.thumbnail(result.pages[0].pixels)
    assert np.array_equal(np.asarray(thumb.convert("RGB")), expected)
    assert f"{result.visual_tokens:,}" in words and f"{len(text):,}" in words
    assert "visual tokens" in words and "compression" in words and "more page" not in words
    approx = glyph.search.approx_text_tokens(text)
    assert f"{approx / result.visual_tokens:.4g}" in words


def test_many_pages_show_the_first_few_and_a_count():
    cfg = glyph.RenderConfig.glyph_default()
    cfg.font_size, cfg.line_height, cfg.page_size = 24, 26, "298,420"  # A6
    result = glyph.Renderer(cfg).render(glyph.sample_text())
    n = len(result.pages)
    assert n > _display.MAX_THUMBNAILS + 1
    images, words = parse(result._repr_html_())
    assert len(images) == _display.MAX_THUMBNAILS
    assert f"and {n - _display.MAX_THUMBNAILS} more pages" in words
    assert f"page {_display.MAX_THUMBNAILS}:" in words
    for img, page in zip(images, result.pages):
        assert np.array_equal(np.asarray(decode_data_url(img["src"]).convert("RGB")),
                              _display.thumbnail(page.pixels))


def test_missing_glyphs_are_in_the_html():
    cfg = glyph.RenderConfig.glyph_default()
    cfg.fallback_font_paths = []
    result = glyph.Renderer(cfg).render("no glyph for \u4e2d here")
    _, words = parse(result._repr_html_())
    assert "missing glyphs" in words and "U+4E2D" in words


SPACE = {"genes": [{"name": "font-size", "choices": [7, 8, 9, 10]},
                   {"name": "dpi", "choices": [48, 72, 96]}]}


def fitness(cfg):
    # a trade-off: accuracy grows with dpi and font size, compression falls
    return min(1.0, cfg.dpi * cfg.font_size / 900.0), 7000.0 / (cfg.dpi * cfg.font_size)


def test_search_result_html_and_plot(capsys, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    backend = dict.__getitem__(matplotlib.rcParams, "backend")  # unresolved: no backend picked
    search = glyph.ConfigSearch(glyph.SearchSpace.from_json(json.dumps(SPACE)), population=4,
                                generations=2, seed=0)
    result = search.run(fitness=fitness, progress=True)
    err = capsys.readouterr().err
    assert "gen   1/2" in err and "done" in err  # the tqdm bar (a widget in a notebook)
    images, words = parse(result._repr_html_())
    assert "Pareto front" in words and result.stop_reason in words
    assert len(images) == 1 and decode_data_url(images[0]["src"]).size[0] > 100
    for d in result.front:
        assert f"{d['accuracy']:.4g}" in words and f"{d['compression']:.4g}" in words
    fig = result.plot()
    assert fig.axes[0].get_xlabel().startswith("compression")
    plotted = fig.axes[0].lines[0].get_xdata()
    assert sorted(plotted) == sorted(d["compression"] for d in result.front)
    im = Image.open(io.BytesIO(fig._repr_png_()))
    assert im.size == (600, 450)  # 6 x 4.5 inches at 100 dpi
    path = glyph.search.plot_history(result, str(tmp_path / "plot.png"))
    assert Image.open(path).size == (720, 540)  # saved at 120 dpi
    log = tmp_path / "search.jsonl"
    search.run(fitness=fitness, log=str(log))
    assert Image.open(glyph.search.plot_history(str(log), str(tmp_path / "log.png"))).size == (720, 540)
    # nothing switched the backend (plot_history used to force Agg, ending a notebook's inline plots)
    assert dict.__getitem__(matplotlib.rcParams, "backend") == backend


def test_progress_false_draws_nothing(capsys):
    search = glyph.ConfigSearch(glyph.SearchSpace.from_json(json.dumps(SPACE)), population=4,
                                generations=1, seed=0)
    search.run(fitness=fitness, progress=False)
    assert "gen" not in capsys.readouterr().err
