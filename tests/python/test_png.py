"""PNG output: every file decodes with PIL to exactly the page's RGB pixels; png-color auto picks
the colour type and bit depth the pixels allow (checked against an independent numpy analysis and
the file's IHDR), rgb always writes colour type 2, and auto files are never larger than RGB ones.
Real rendered pages (config_en, config_zh with CJK, coloured themes, the red newline marker) and
synthetic images of 1..257 colours in odd sizes."""
import json
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

import glyph

PIL = pytest.importorskip("PIL.Image")


# ------------------------------------------------------------------ helpers


def ihdr(png: bytes) -> dict:
    """IHDR and PLTE fields, read chunk by chunk (CRCs checked with zlib.crc32)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out, types = 8, {"palette": 0}, []
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos:pos + 4])
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", png[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(kind + data) == crc, kind
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", data[:10])
            out.update(width=w, height=h, depth=depth, color_type=ctype)
        if kind == b"PLTE":
            out["palette"] = n // 3
        types.append(kind)
        pos += 12 + n
    assert pos == len(png) and types[0] == b"IHDR" and types[-1] == b"IEND"
    return out


def expected(pixels: np.ndarray) -> tuple:
    """(colour type, bit depth, palette entries) the auto mode should choose, from the pixels."""
    flat = pixels.reshape(-1, 3).astype(np.int64)
    colors = np.unique(flat[:, 0] << 16 | flat[:, 1] << 8 | flat[:, 2])
    if (flat[:, 0] == flat[:, 1]).all() and (flat[:, 1] == flat[:, 2]).all():
        levels = colors & 0xFF
        if len(levels) > 16:
            return 0, 8, 0
        for depth, step in ((1, 255), (2, 85), (4, 17)):
            if (levels % step == 0).all():
                return 0, depth, 0
    if len(colors) > 256:
        return 2, 8, 0
    depth = 1 if len(colors) <= 2 else 2 if len(colors) <= 4 else 4 if len(colors) <= 16 else 8
    return 3, depth, len(colors)


def decoded(png: bytes) -> np.ndarray:
    import io

    return np.asarray(PIL.open(io.BytesIO(png)).convert("RGB"))


def check(pixels: np.ndarray, png_auto: bytes, png_rgb: bytes):
    h = ihdr(png_auto)
    assert (h["width"], h["height"]) == (pixels.shape[1], pixels.shape[0])
    assert (h["color_type"], h["depth"], h["palette"]) == expected(pixels)
    assert np.array_equal(decoded(png_auto), pixels)
    r = ihdr(png_rgb)
    assert (r["color_type"], r["depth"], r["palette"]) == (2, 8, 0)
    assert np.array_equal(decoded(png_rgb), pixels)
    return h


# ------------------------------------------------------------------ rendered pages


def _cjk_text(ref_dir):
    text = (ref_dir / "case2.txt").read_text(encoding="utf-8")
    first = next(i for i, c in enumerate(text) if "\u4e00" <= c <= "\u9fff")
    return text[max(0, first - 2000):first + 6000]


THEMES = {
    "config_en": {},
    "gray on dark": {"font-color": "#E0E0E0", "page-bg-color": "#202020", "para-bg-color": "#202020"},
    "navy on cream": {"font-color": "#000080", "page-bg-color": "#FFF8E7", "para-bg-color": "#FFF8E7"},
    "white on teal": {"font-color": "#FFFFFF", "page-bg-color": "#006060", "para-bg-color": None},
    "red newline marker": {"newline-markup": '<font color="#FF0000"> \\n </font>'},
}


@pytest.mark.parametrize("theme", list(THEMES))
def test_rendered_pages_decode_identically(config_en, ref_dir, theme):
    cfg = dict(config_en, **THEMES[theme])
    renderer = glyph.Renderer(cfg)
    types = {}
    for name, chars in (("case1.txt", None), ("case3.txt", 20000)):
        pages = renderer.render((ref_dir / name).read_text(encoding="utf-8")[:chars]).pages
        assert len(pages) >= 2
        types[name] = set()
        for p in pages:
            auto, rgb = p.to_png_bytes(), p.to_png_bytes(png_color="rgb")
            types[name].add(check(p.pixels, auto, rgb)["color_type"])
            assert len(auto) <= len(rgb)
    if theme in ("config_en", "gray on dark"):
        assert types == {"case1.txt": {0}, "case3.txt": {0}}  # gray themes: 8-bit gray
    if theme in ("navy on cream", "white on teal"):
        # one colour on another: a palette of the blends where they are <= 256 (case3's pages:
        # ~240); where overlapping glyph edges make more (case1's pages: 270-290), RGB
        assert types["case3.txt"] == {3} and types["case1.txt"] <= {2, 3}


def test_cjk_pages_decode_identically(ref_dir):
    font = glyph.find_cjk_font()
    if not font:
        pytest.skip("no CJK font installed")
    cfg = json.loads((ref_dir / "config_zh.json").read_text())
    cfg["font-path"] = font
    pages = glyph.Renderer(cfg).render(_cjk_text(ref_dir)).pages
    assert pages
    for p in pages:
        auto, rgb = p.to_png_bytes(), p.to_png_bytes(png_color="rgb")
        assert check(p.pixels, auto, rgb)["color_type"] == 0
        assert len(auto) <= len(rgb)


def test_gray_text_pages_are_much_smaller_than_rgb(config_en, ref_dir):
    text = (ref_dir / "case3.txt").read_text(encoding="utf-8")[:40000]
    pages = glyph.Renderer(config_en).render(text).pages
    auto = sum(len(p.to_png_bytes()) for p in pages)
    rgb = sum(len(p.to_png_bytes(png_color="rgb")) for p in pages)
    assert auto < 0.6 * rgb  # measured ~0.44 at the default levels (1 for gray, 3 for RGB)
    # at the same explicit level, gray is smaller still
    assert sum(len(p.to_png_bytes(3)) for p in pages) < 0.5 * sum(
        len(p.to_png_bytes(3, "rgb")) for p in pages)


def test_render_to_dir_follows_png_color(config_en, tmp_path):
    text = glyph.sample_text()
    for mode, ctype in (("auto", 0), ("rgb", 2)):
        r = glyph.Renderer(dict(config_en, **{"png-color": mode}))
        paths = r.render_to_dir(text, tmp_path, mode)
        pages = r.render(text).pages
        assert len(paths) == len(pages)
        for path, page in zip(paths, pages):
            data = open(path, "rb").read()
            assert ihdr(data)["color_type"] == ctype
            assert np.array_equal(decoded(data), page.pixels)
            assert data == page.to_png_bytes(png_color=mode)  # one encoder behind both


# ------------------------------------------------------------------ synthetic images


def _image(h, w, colors, seed=0):
    rng = np.random.default_rng(seed)
    idx = np.arange(h * w) % len(colors)
    rng.shuffle(idx)
    c = np.array(colors, dtype=np.int64)
    rgb = np.stack([(c >> 16) & 255, (c >> 8) & 255, c & 255], axis=1).astype(np.uint8)
    return np.ascontiguousarray(rgb[idx].reshape(h, w, 3))


def _gray(levels):
    return [v * 0x010101 for v in levels]


def _colors(n, seed=1):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        c = int(rng.integers(0, 1 << 24))
        if not (c >> 16 == (c >> 8) & 255 == c & 255) and c not in out:
            out.append(c)
    return out


SIZES = [(1, 1), (3, 7), (7, 3), (5, 17), (16, 16), (9, 33), (37, 100)]
PALETTES = {
    "1 colour": [0xFFFFFF],
    "1 gray no depth has": _gray([128]),
    "2 grays (black, white)": _gray([0, 255]),
    "2 colours": [0xFF0000, 0x0000FF],
    "4 gray levels of 2 bits": _gray([0, 85, 170, 255]),
    "16 gray levels of 4 bits": _gray(range(0, 256, 17)),
    "16 colours": _colors(16),
    "17 gray levels": _gray(range(17)),
    "256 gray levels": _gray(range(256)),
    "256 colours": _colors(256),
    "257 colours": _colors(257),
}


@pytest.mark.parametrize("name", list(PALETTES))
def test_synthetic_images_decode_identically(name):
    for h, w in SIZES:
        px = _image(h, w, PALETTES[name])
        auto = glyph.encode_png(px)
        check(px, auto, glyph.encode_png(px, png_color="rgb"))
        for level in (0, 1, 9):
            assert np.array_equal(decoded(glyph.encode_png(px, level)), px)


def test_expected_types_of_synthetic_images():
    """The analysis above agrees with the encoder on the cases the design names."""
    big = (37, 100)
    assert expected(_image(*big, PALETTES["1 colour"])) == (0, 1, 0)
    assert expected(_image(*big, PALETTES["16 gray levels of 4 bits"])) == (0, 4, 0)
    assert expected(_image(*big, PALETTES["17 gray levels"])) == (0, 8, 0)
    assert expected(_image(*big, PALETTES["16 colours"])) == (3, 4, 16)
    assert expected(_image(*big, PALETTES["256 colours"])) == (3, 8, 256)
    assert expected(_image(*big, PALETTES["257 colours"])) == (2, 8, 0)


def test_pngcheck_accepts_every_colour_type(tmp_path):
    if shutil.which("pngcheck") is None:
        pytest.skip("pngcheck is not installed")
    files = []
    for name in ("1 colour", "4 gray levels of 2 bits", "17 gray levels", "16 colours",
                 "256 colours", "257 colours"):
        f = tmp_path / (name.replace(" ", "_") + ".png")
        f.write_bytes(glyph.encode_png(_image(9, 33, PALETTES[name])))
        files.append(str(f))
    page = glyph.Renderer().render(glyph.sample_text()).pages[0]
    page.save(str(tmp_path / "page.png"))
    files.append(str(tmp_path / "page.png"))
    r = subprocess.run(["pngcheck", *files], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("OK:") == len(files)


# ------------------------------------------------------------------ options and errors


def test_png_color_config_key(ref_dir, tmp_path):
    cfg = glyph.RenderConfig.from_file(str(ref_dir / "config_en.json"))
    assert cfg.png_color == "auto"
    assert "png-color" not in cfg.to_dict()  # an extension: saved only when not the default
    cfg.png_color = "rgb"
    assert cfg.to_dict()["png-color"] == "rgb"
    out = tmp_path / "rgb.json"
    cfg.save(str(out))
    assert glyph.RenderConfig.from_file(str(out)).png_color == "rgb"
    cfg.set("png-color", '"AUTO"')
    assert cfg.png_color == "auto" and "png-color" not in cfg.to_dict()
    with pytest.raises(glyph.ConfigError, match="png-color.*gray"):
        cfg.png_color = "gray"
    with pytest.raises(glyph.ConfigError, match="png-color"):
        glyph.RenderConfig.from_dict({"png-color": 3})


def test_png_arguments_are_checked(tmp_path):
    page = glyph.Renderer().render("x").pages[0]
    with pytest.raises(glyph.InputError, match="png_color"):
        page.save(str(tmp_path / "a.png"), png_color="palette")
    with pytest.raises(glyph.InputError, match="0..9"):
        page.to_png_bytes(10)
    with pytest.raises(glyph.InputError, match="uint8"):
        glyph.encode_png(np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(glyph.InputError, match="uint8"):
        glyph.encode_png(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(glyph.InputError, match="empty"):
        glyph.encode_png(np.zeros((0, 4, 3), dtype=np.uint8))
    # a strided view is encoded as its pixels
    px = _image(20, 30, _colors(5))
    assert np.array_equal(decoded(glyph.encode_png(px[::2, ::3])), px[::2, ::3])


def test_cli_png_color_flag(tmp_path):
    for mode, ctype in (("rgb", 2), ("auto", 0)):
        out = tmp_path / mode
        r = subprocess.run([sys.executable, "-m", "glyph", "render", "--out", str(out),
                            "--png-color", mode], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert ihdr((out / "page_001.png").read_bytes())["color_type"] == ctype
    records = tmp_path / "batch.jsonl"
    records.write_text(json.dumps({"unique_id": "d1", "context": "batch text"}) + "\n")
    r = subprocess.run([sys.executable, "-m", "glyph", "render", "--batch", str(records),
                        "--out", str(tmp_path / "batch"), "--png-color", "rgb"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert ihdr((tmp_path / "batch" / "d1" / "page_001.png").read_bytes())["color_type"] == 2
