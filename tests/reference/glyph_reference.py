#!/usr/bin/env python3
"""Reference renderer: a faithful re-implementation of Glyph's ``text_to_images``.

Glyph (thu-coai/Glyph, ``scripts/word2png_function.py``) renders text to page images as
reportlab Paragraphs in a SimpleDocTemplate -> PDF -> poppler (pdf2image, i.e. ``pdftoppm``)
-> PIL post-processing (horizontal scale, auto-crop).  This module reproduces that pipeline
step by step so that glyphcpp can be compared with it:

* ``render_reference(text, config, font_path_base=None, out_dir=None)`` -> list of PIL images
* ``reference_lines(text, config, font_path_base=None)`` -> per page, the line strings that
  reportlab laid out (nbsp kept as U+00A0, an empty line as "")
* ``build_reference_pdf(...)`` -> (pdf bytes, per-page lines)

Each takes ``layout="demo"`` (the default: ``text_to_images``, one Paragraph per 30 source lines)
or ``layout="evaluation"``: the text preparation of Glyph's evaluation scripts, which render a
benchmark context as ONE Paragraph with each tab as four no-break spaces
(``prepare_evaluation_text``; ../shared/docs/EVALUATION.md, "Common to all three benchmarks").
glyphcpp gives that layout with the config keys ``paragraph-lines: 0`` and ``tab-nbsp: 4``.

Differences from Glyph that do not change pixels: ``pdftoppm -png`` is called directly through
subprocess instead of pdf2image (pdf2image runs ``pdftoppm -r dpi -f i -l j`` and reads PPM; the
RGB samples are the same), the font-path resolution (relative paths resolve against
``font_path_base``), and nothing is written unless ``out_dir`` is given.

See docs/reference-layout.md for the layout rules this pipeline implies.

CLI::

    python tests/reference/glyph_reference.py --config X.json --text T.txt --out DIR
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = None

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate

# Glyph: ALIGN_MAP; an unknown alignment string maps to TA_JUSTIFY (load_config).
ALIGN_MAP = {
    "LEFT": TA_LEFT,
    "CENTER": TA_CENTER,
    "RIGHT": TA_RIGHT,
    "JUSTIFY": TA_JUSTIFY,
}

RE_CJK = re.compile(r"[\u4E00-\u9FFF]")
LINES_PER_PARAGRAPH = 30  # Glyph: ``turns = 30``
EVALUATION_TAB_NBSP = 4   # the evaluation scripts: a tab is written as four ``&nbsp;``
LAYOUTS = ("demo", "evaluation")
CROP_TOLERANCE = 5        # Glyph: ``tolerance = 5``


# ----------------------------------------------------------------------------------------------
# config
# ----------------------------------------------------------------------------------------------
def resolve_config(config: dict, font_path_base: str | None = None) -> dict:
    """Return the effective parameters, with Glyph's defaults for missing keys.

    Mirrors ``text_to_images`` in word2png_function.py: ``config.get(key, default)`` for every
    key, ``line-height`` falsy -> font-size + 1, colours through ``colors.HexColor``, alignment
    through ALIGN_MAP with TA_JUSTIFY for unknown names, page-size "w,h" -> floats.
    """
    c = dict(config)
    p = {}
    ps = c.get("page-size", A4)
    if isinstance(ps, str):
        ps = tuple(map(float, ps.split(",")))
    p["page_size"] = tuple(ps)
    p["margin_x"] = c.get("margin-x", 20)
    p["margin_y"] = c.get("margin-y", 20)
    font_path = c.get("font-path")
    if not font_path:
        raise ValueError("Must provide font-path")  # Glyph asserts font_path
    if not os.path.isabs(font_path) and font_path_base is not None:
        cand = os.path.join(font_path_base, font_path)
        if not os.path.exists(cand):
            # Glyph's configs say "../config/Verdana.ttf": fall back to the base name
            cand2 = os.path.join(font_path_base, os.path.basename(font_path))
            if os.path.exists(cand2):
                cand = cand2
        font_path = cand
    p["font_path"] = font_path
    # Glyph: font_name = os.path.basename(font_path).split('.')[0]
    p["font_name"] = os.path.basename(font_path).split(".")[0]
    p["font_size"] = c.get("font-size", 9)
    p["line_height"] = c.get("line-height") or (p["font_size"] + 1)

    def col(key, default):
        v = c.get(key, default)
        return colors.HexColor(v) if isinstance(v, str) else v

    p["page_bg_color"] = col("page-bg-color", "#FFFFFF")
    p["font_color"] = col("font-color", "#000000")
    p["para_bg_color"] = col("para-bg-color", "#FFFFFF")
    p["para_border_color"] = col("para-border-color", "#FFFFFF")
    p["first_line_indent"] = c.get("first-line-indent", 0)
    p["left_indent"] = c.get("left-indent", 0)
    p["right_indent"] = c.get("right-indent", 0)
    al = c.get("alignment", TA_JUSTIFY)
    if isinstance(al, str):
        al = ALIGN_MAP.get(al, TA_JUSTIFY)
    p["alignment"] = al
    p["space_before"] = c.get("space-before", 0)
    p["space_after"] = c.get("space-after", 0)
    p["border_width"] = c.get("border-width", 0)
    p["border_padding"] = c.get("border-padding", 0)
    p["horizontal_scale"] = c.get("horizontal-scale", 1.0)
    p["dpi"] = c.get("dpi", 72)
    p["auto_crop_last_page"] = c.get("auto-crop-last-page", False)
    p["auto_crop_width"] = c.get("auto-crop-width", False)
    p["newline_markup"] = c.get("newline-markup", "<br/>")
    return p


def prepare_paragraph_texts(text: str, newline_markup: str = "<br/>") -> list[str]:
    """Glyph's text preparation: the markup strings of the story's Paragraphs."""
    text = text.replace("\xad", "").replace("\u200b", "")
    processed = re.sub(r" {2,}", lambda m: "&nbsp;" * len(m.group()), escape(text))
    parts = processed.split("\n")
    return [newline_markup.join(parts[i:i + LINES_PER_PARAGRAPH])
            for i in range(0, len(parts), LINES_PER_PARAGRAPH)]


def prepare_evaluation_text(text: str, newline_markup: str | None = "<br/>") -> str:
    """The evaluation scripts' text preparation: the markup of the one Paragraph a context is.

    As EVALUATION.md describes it: soft hyphens (U+00AD) and zero-width spaces (U+200B) are
    dropped and the rest XML-escaped; then every tab stands for four no-break spaces and every
    run of two or more spaces for as many no-break spaces (a lone space stays breakable); every
    newline becomes the newline markup (``<br/>`` when the config sets none). Nothing cuts the
    text into 30-line pieces, so the whole context is laid out as a single Paragraph.
    """
    kept = text.replace("\xad", "").replace("\u200b", "")
    marked = escape(kept).replace("\t", "&nbsp;" * EVALUATION_TAB_NBSP)
    marked = re.sub(r" {2,}", lambda run: "&nbsp;" * len(run.group()), marked)
    return marked.replace("\n", newline_markup or "<br/>")


def paragraph_texts(text: str, newline_markup: str = "<br/>", layout: str = "demo") -> list[str]:
    """The markup of the story's Paragraphs for ``layout`` ("demo" or "evaluation")."""
    if layout == "demo":
        return prepare_paragraph_texts(text, newline_markup)
    if layout == "evaluation":
        return [prepare_evaluation_text(text, newline_markup)]
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def make_style(p: dict, text: str) -> ParagraphStyle:
    styles = getSampleStyleSheet()
    return ParagraphStyle(
        name="Custom",
        parent=styles["Normal"],
        fontName=p["font_name"],
        fontSize=p["font_size"],
        leading=p["line_height"],
        textColor=p["font_color"],
        backColor=p["para_bg_color"],
        borderColor=p["para_border_color"],
        borderWidth=p["border_width"],
        borderPadding=p["border_padding"],
        firstLineIndent=p["first_line_indent"],
        wordWrap="CJK" if RE_CJK.search(text) else None,
        leftIndent=p["left_indent"],
        rightIndent=p["right_indent"],
        alignment=p["alignment"],
        spaceBefore=p["space_before"],
        spaceAfter=p["space_after"],
    )


# ----------------------------------------------------------------------------------------------
# line capture
# ----------------------------------------------------------------------------------------------
def _line_text(blPara, line) -> str:
    """The text of one laid-out line as drawn (trailing breakable spaces removed)."""
    if blPara.kind == 0:
        # simple path: (extraSpace, [words]) drawn as ' '.join(words)
        s = " ".join(line[1])
    else:
        s = "".join(getattr(f, "text", "") or "" for f in line.words
                    if not hasattr(f, "cbDefn"))
    return s.rstrip(" ")


def paragraph_lines(par) -> list[str]:
    bl = par.blPara
    return [_line_text(bl, ln) for ln in bl.lines]


class _CapturingDoc(SimpleDocTemplate):
    """SimpleDocTemplate that records, per page, the lines of each Paragraph drawn."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.captured: dict[int, list[str]] = {}

    def afterFlowable(self, flowable):  # called by handle_flowable after frame.add succeeded
        if isinstance(flowable, Paragraph) and hasattr(flowable, "blPara"):
            self.captured.setdefault(self.page, []).extend(paragraph_lines(flowable))


# ----------------------------------------------------------------------------------------------
# pipeline
# ----------------------------------------------------------------------------------------------
_registered: dict[str, str] = {}


def _register_font(name: str, path: str):
    if _registered.get(name) != path:
        # Glyph: try: registerFont(TTFont(font_name, font_path)) except: pass
        pdfmetrics.registerFont(TTFont(name, path))
        _registered[name] = path


def build_reference_pdf(text: str, config: dict, font_path_base: str | None = None,
                        layout: str = "demo"):
    """Run Glyph's reportlab stage. Returns (pdf_bytes, lines_by_page, params)."""
    paragraph_texts("", layout=layout)  # an unknown layout fails before any work
    p = resolve_config(config, font_path_base)
    _register_font(p["font_name"], p["font_path"])
    buf = io.BytesIO()
    doc = _CapturingDoc(
        buf,
        pagesize=p["page_size"],
        leftMargin=p["margin_x"],
        rightMargin=p["margin_x"],
        topMargin=p["margin_y"],
        bottomMargin=p["margin_y"],
    )
    style = make_style(p, text)
    story = [Paragraph(t, style) for t in paragraph_texts(text, p["newline_markup"], layout)]
    page_size = p["page_size"]
    bg = p["page_bg_color"]

    def paint_bg(c, d):
        c.saveState()
        c.setFillColor(bg)
        c.rect(0, 0, page_size[0], page_size[1], stroke=0, fill=1)
        c.restoreState()

    doc.build(story, onFirstPage=paint_bg, onLaterPages=paint_bg)
    pdf = buf.getvalue()
    n_pages = doc.page
    lines = [doc.captured.get(i, []) for i in range(1, n_pages + 1)]
    return pdf, lines, p


def rasterize_pdf(pdf: bytes, dpi) -> list[Image.Image]:
    """``pdftoppm -r dpi -png`` on the PDF; returns RGB images, one per page."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        raise RuntimeError("pdftoppm (poppler-utils) not found")
    with tempfile.TemporaryDirectory(prefix="glyphref_") as td:
        src = os.path.join(td, "doc.pdf")
        with open(src, "wb") as f:
            f.write(pdf)
        subprocess.run([exe, "-r", str(dpi), "-png", src, os.path.join(td, "p")],
                       check=True, capture_output=True)
        names = sorted((n for n in os.listdir(td) if n.startswith("p") and n.endswith(".png")),
                       key=lambda n: int(n[2:-4]))
        out = []
        for n in names:
            with Image.open(os.path.join(td, n)) as im:
                out.append(im.convert("RGB"))
        return out


def postprocess(images: list[Image.Image], p: dict) -> list[Image.Image]:
    """Glyph's PIL stage: horizontal scale, then auto-crop (exactly as word2png_function.py)."""
    hs = p["horizontal_scale"]
    mx, my = p["margin_x"], p["margin_y"]
    acw, aclp = p["auto_crop_width"], p["auto_crop_last_page"]
    n = len(images)
    out = []
    for idx, img in enumerate(images, start=1):
        w, h = img.size
        if hs != 1.0:
            img = img.resize((int(w * hs), h))  # Pillow default filter: BICUBIC
        if acw or (aclp and idx == n):
            gray = np.array(img.convert("L"))
            bg_gray = np.median(gray[:2, :2])
            mask = np.abs(gray - bg_gray) > CROP_TOLERANCE
            if acw:
                cols = np.where(mask.any(axis=0))[0]
                if cols.size:
                    right = min(img.width, cols[-1] + 1 + mx)
                    img = img.crop((0, 0, right, img.height))
            if aclp and idx == n:
                rows = np.where(mask.any(axis=1))[0]
                if rows.size:
                    lower = min(img.height, rows[-1] + my)
                    img = img.crop((0, 0, img.width, lower))
        out.append(img)
    return out


def render_reference(text: str, config: dict, font_path_base: str | None = None,
                     out_dir: str | None = None, layout: str = "demo") -> list[Image.Image]:
    pdf, _lines, p = build_reference_pdf(text, config, font_path_base, layout)
    pages = postprocess(rasterize_pdf(pdf, p["dpi"]), p)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        for i, im in enumerate(pages, start=1):
            im.save(os.path.join(out_dir, f"page_{i:03d}.png"), "PNG")
    return pages


def reference_lines(text: str, config: dict, font_path_base: str | None = None,
                    layout: str = "demo") -> list[list[str]]:
    _pdf, lines, _p = build_reference_pdf(text, config, font_path_base, layout)
    return lines


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--font-base", default=None,
                    help="directory that relative font-path entries resolve against "
                         "(default: the config file's directory)")
    ap.add_argument("--lines", action="store_true", help="also write lines.json")
    ap.add_argument("--layout", choices=LAYOUTS, default="demo",
                    help="demo: text_to_images (30-line paragraphs); evaluation: the evaluation "
                         "scripts (the whole text one paragraph, a tab = 4 no-break spaces)")
    a = ap.parse_args(argv)
    with open(a.config, encoding="utf-8") as f:
        config = json.load(f)
    with open(a.text, encoding="utf-8") as f:
        text = f.read()
    base = a.font_base or os.path.dirname(os.path.abspath(a.config))
    t0 = time.perf_counter()
    pdf, lines, p = build_reference_pdf(text, config, base, a.layout)
    t1 = time.perf_counter()
    raw = rasterize_pdf(pdf, p["dpi"])
    t2 = time.perf_counter()
    pages = postprocess(raw, p)
    t3 = time.perf_counter()
    os.makedirs(a.out, exist_ok=True)
    for i, im in enumerate(pages, start=1):
        path = os.path.join(a.out, f"page_{i:03d}.png")
        im.save(path, "PNG")
        print(f"{path}: {im.size[0]}x{im.size[1]}  lines={len(lines[i - 1])}")
    if a.lines:
        with open(os.path.join(a.out, "lines.json"), "w", encoding="utf-8") as f:
            json.dump(lines, f, ensure_ascii=False, indent=1)
    print(f"pages={len(pages)} chars={len(text)} reportlab={t1 - t0:.3f}s "
          f"pdftoppm={t2 - t1:.3f}s post={t3 - t2:.3f}s total={t3 - t0:.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
