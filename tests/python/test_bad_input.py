"""Bad input gets a clear error or a defined result, never a crash."""
import os
import resource
import sys

import numpy as np
import pytest

import glyph


@pytest.fixture(scope="module")
def renderer():
    return glyph.Renderer()


@pytest.mark.parametrize(
    "key,value,match",
    [
        ("font-size", -3, "font-size.*> 0.*-3"),
        ("font-size", 0, "font-size"),
        ("margin-x", 400, "margin-x.*400"),
        ("margin-y", 500, "margin-y.*500"),
        ("alignment", "MIDDLE", "alignment.*MIDDLE"),
        ("font-color", "#12345", "font-color.*#12345"),
        ("page-bg-color", "bluish", "page-bg-color.*bluish"),
        ("dpi", 5, "dpi.*5"),
        ("dpi", 5000, "dpi.*5000"),
        ("page-size", "A9000", "page-size.*A9000"),
        ("page-size", "-10,100", "page-size"),
        ("horizontal-scale", 0, "horizontal-scale"),
        ("line-height", -1, "line-height"),
        ("newline-markup", "<p>", "newline-markup"),
        ("font_size", 9, "unknown config key 'font_size'"),
        ("font-size", "big", "font-size.*expected a number"),
    ],
)
def test_invalid_config_names_key_and_value(key, value, match):
    cfg = glyph.RenderConfig.glyph_default().to_dict()
    cfg[key] = value
    with pytest.raises(glyph.ConfigError, match=match):
        glyph.Renderer(cfg)


def test_bad_json_and_missing_config_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(glyph.ConfigError, match="invalid JSON"):
        glyph.RenderConfig.from_file(str(bad))
    with pytest.raises(glyph.ConfigError, match="cannot open config file"):
        glyph.RenderConfig.from_file(str(tmp_path / "missing.json"))


def test_missing_and_corrupt_fonts(tmp_path):
    cfg = glyph.RenderConfig.glyph_default().to_dict()
    cfg["font-path"] = str(tmp_path / "nope.ttf")
    with pytest.raises(glyph.FontError, match="font-path.*nope.ttf"):
        glyph.Renderer(cfg)
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(os.urandom(4096))
    cfg["font-path"] = str(junk)
    with pytest.raises(glyph.FontError, match="junk.ttf"):
        glyph.Renderer(cfg)
    # A real font cut in half.
    real = open(glyph.default_font_path(), "rb").read()
    half = tmp_path / "half.ttf"
    half.write_bytes(real[: len(real) // 2])
    cfg["font-path"] = str(half)
    with pytest.raises(glyph.FontError, match="half.ttf"):
        glyph.Renderer(cfg).render("hello")
    cfg["font-path"] = glyph.default_font_path()
    cfg["fallback-font-paths"] = [str(junk)]
    with pytest.raises(glyph.FontError, match=r"fallback-font-paths\[0\]"):
        glyph.Renderer(cfg)


def test_invalid_utf8_is_replaced_and_counted(renderer):
    res = renderer.render(b"good \xff\xfe bad \xe2\x82 end")
    assert res.stats.invalid_utf8 == 3  # \xff, \xfe and the truncated 3-byte sequence
    line = renderer.layout(b"good \xff\xfe bad \xe2\x82 end")[0].lines[0].text
    assert line == "good \ufffd\ufffd bad \ufffd end"


def test_lone_surrogates_in_str_are_replaced(renderer):
    res = renderer.render("a\ud800b")
    assert res.stats.invalid_utf8 >= 1 and len(res.pages) == 1


def test_empty_text_gives_one_blank_page(renderer):
    res = renderer.render("")
    assert len(res.pages) == 1
    assert (res.pages[0].pixels == 255).all()


def test_control_characters_are_dropped_and_counted(renderer):
    res = renderer.render("a\x00b\x07c\x1bd")
    assert res.stats.removed == 3
    assert renderer.layout("a\x00b\x07c\x1bd")[0].lines[0].text == "abcd"


def test_tabs_and_space_runs(renderer):
    lines = [l.text for l in renderer.layout("a\tb\t\tc\n  two  spaces")[0].lines]
    # tabs collapse like spaces (reportlab); runs of 2+ spaces become no-break spaces
    assert lines == ["a b c", "\xa0\xa0two\xa0\xa0spaces"]


def test_unbreakable_word_longer_than_the_line_is_split(renderer):
    lines = [l.text for l in renderer.layout("x" * 1000)[0].lines]
    assert len(lines) > 1 and "".join(lines) == "x" * 1000


def test_missing_glyphs_are_counted_not_dropped(config_en):
    r = glyph.Renderer(config_en)  # Verdana has no CJK
    res = r.render("abc 中文")
    assert res.stats.missing_glyphs == 2
    assert res.stats.missing_codepoints == [0x4E2D, 0x6587]


def test_unwritable_output_folder(renderer, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(glyph.IoError, match="cannot create output folder"):
        renderer.render_to_dir("hi", str(blocker / "sub"), "id")


def test_wrong_text_type(renderer):
    with pytest.raises(TypeError, match="str or bytes"):
        renderer.render(12)


def test_ten_megabytes_stream_in_bounded_memory(renderer):
    text = (glyph.sample_text() + "\n") * (10_000_000 // len(glyph.sample_text()) + 1)
    assert len(text) > 10_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    count = [0, 0]

    def sink(page):
        count[0] += 1
        count[1] = max(count[1], page.char_end)

    stats = renderer.render_each(text, sink)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert stats.pages == count[0] > 1000
    assert count[1] >= len(text.rstrip()) - 1
    # The text itself (UTF-8 + UTF-32 copies) is ~60 MB; pages are streamed, not kept.
    assert grown_mb < 250, f"peak RSS grew by {grown_mb:.0f} MB"


@pytest.mark.parametrize("uid", ["../escape", "a/b", ".."])
def test_unique_id_cannot_leave_the_output_folder(renderer, tmp_path, uid):
    with pytest.raises(glyph.InputError, match="unique_id"):
        renderer.render_to_dir("hi", str(tmp_path), uid)


def test_a_lone_surrogate_is_one_replacement_character(renderer):
    # One U+FFFD per surrogate, so character spans stay Python string indices.
    text = "ab\ud800cd " * 3 + "end"
    res = renderer.render(text)
    assert res.stats.invalid_utf8 == 3
    assert res.pages[-1].char_end == len(text)
    assert renderer.layout(text)[0].lines[0].text.count("\ufffd") == 3


def test_an_exception_in_render_each_reaches_the_caller(renderer):
    seen = []

    def stop(page):
        seen.append(page.index)
        raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        renderer.render_each(glyph.sample_text() * 20, stop)
    assert seen == [0]  # rendering stopped at the first page
    with pytest.raises(TypeError):
        renderer.render_each("x", None)
