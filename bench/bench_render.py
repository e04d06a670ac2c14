#!/usr/bin/env python3
"""Rendering speed: glyphcpp vs Glyph's reference pipeline (reportlab -> PDF -> pdftoppm -> PIL)
vs Pillow's ImageDraw.text with a simple word wrap, on the same text and config, in one run.

    python bench/bench_render.py [--text case2.txt] [--config config_en.json] [--repeat 3] [--seconds 3]

Prints pages/s and the ratios. Machines here are noisy: read the ratios, not absolute times.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import glyph

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT.parent / "shared" / "data" / "glyph-reference"
sys.path.insert(0, str(ROOT / "tests" / "reference"))


def best_of(fn, repeat, min_seconds=0.0):
    """Best time of at least `repeat` runs, going on until `min_seconds` have passed: the fast
    runs are repeated for a while, so one slow stretch of a shared machine does not decide them."""
    best = float("inf")
    out = None
    start = time.perf_counter()
    runs = 0
    while runs < repeat or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
        runs += 1
    return best, out


def pillow_wrap_render(text, cfg, out_dir=None):
    """Pillow baseline: greedy word wrap with ImageFont.getlength, one ImageDraw.text per line."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = (int(float(v)) for v in cfg["page-size"].split(","))
    size, lead = cfg["font-size"], cfg["line-height"]
    mx, my = cfg["margin-x"], cfg["margin-y"]
    font = ImageFont.truetype(cfg["font-path"], size)
    max_w = w - 2 * mx
    lines = []
    for para in text.split("\n"):
        cur = ""
        for word in para.split(" "):
            cand = word if not cur else cur + " " + word
            if font.getlength(cand) <= max_w or not cur:
                cur = cand
            else:
                lines.append(cur)
                cur = word
        lines.append(cur)
    per_page = int((h - 2 * my) // lead)
    pages = []
    for i in range(0, len(lines), per_page):
        im = Image.new("RGB", (w, h), "white")
        d = ImageDraw.Draw(im)
        for k, line in enumerate(lines[i:i + per_page]):
            d.text((mx, my + k * lead), line, font=font, fill="black")
        if out_dir:
            im.save(os.path.join(out_dir, f"page_{len(pages) + 1:03d}.png"))
        pages.append(im)
    return pages


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", default=str(REF / "case2.txt"))
    ap.add_argument("--config", default=str(REF / "config_en.json"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0,
                    help="keep repeating each glyphcpp measurement for at least this long (best run counts)")
    ap.add_argument("--copies", type=int, default=8, help="texts rendered in the multi-core runs")
    ap.add_argument("--skip-reference", action="store_true")
    args = ap.parse_args(argv)

    cfg = json.loads(Path(args.config).read_text())
    font = Path(args.config).parent / Path(cfg["font-path"]).name
    cfg["font-path"] = str(font if font.exists() else glyph.default_font_path())
    text = Path(args.text).read_text()
    cores = glyph._core.hardware_threads()
    r = glyph.Renderer(cfg)
    n_pages = len(r.render(text).pages)
    print(f"text: {args.text} ({len(text)} chars) -> {n_pages} pages; config {args.config}; "
          f"font {os.path.basename(cfg['font-path'])}; {cores} cores")

    rows = []
    tmp = tempfile.mkdtemp(prefix="glyph-bench-")
    t, _ = best_of(lambda: r.render(text), args.repeat, args.seconds)
    rows.append(("glyphcpp, 1 thread, in memory (all pages kept)", n_pages / t))
    t, _ = best_of(lambda: r.render_each(text, lambda page: None), args.repeat, args.seconds)
    rows.append(("glyphcpp, 1 thread, in memory (streamed, render_each)", n_pages / t))
    t, _ = best_of(lambda: r.render_to_dir(text, tmp, "one"), args.repeat, args.seconds)
    rows.append(("glyphcpp, 1 thread, PNG files", n_pages / t))
    texts = [text] * args.copies
    t, _ = best_of(lambda: r.render_batch(texts, threads=0), args.repeat, args.seconds)
    rows.append((f"glyphcpp, {cores} threads, in memory", n_pages * args.copies / t))

    from concurrent.futures import ThreadPoolExecutor

    def png_all():
        with ThreadPoolExecutor(cores) as ex:
            list(ex.map(lambda i: r.render_to_dir(text, tmp, f"m{i}"), range(args.copies)))

    t, _ = best_of(png_all, args.repeat, args.seconds)
    rows.append((f"glyphcpp, {cores} threads, PNG files", n_pages * args.copies / t))

    try:
        d = tempfile.mkdtemp(prefix="glyph-pil-")
        t, pil_pages = best_of(lambda: pillow_wrap_render(text, cfg, d), 1)
        rows.append((f"Pillow ImageDraw.text + word wrap, PNG files ({len(pil_pages)} pages)",
                     len(pil_pages) / t))
    except ImportError:
        pass
    ref_rate = None
    if not args.skip_reference:
        import glyph_reference

        d = tempfile.mkdtemp(prefix="glyph-ref-")
        t, imgs = best_of(lambda: glyph_reference.render_reference(text, cfg, out_dir=d), 1)
        ref_rate = len(imgs) / t
        rows.append(("reference (reportlab + pdftoppm + PIL), PNG files", ref_rate))

    base = dict(rows)
    one_png = base["glyphcpp, 1 thread, PNG files"]
    print("\n| pipeline | pages/s | vs reference |")
    print("| --- | ---: | ---: |")
    for name, rate in rows:
        ratio = f"{rate / ref_rate:.0f}x" if ref_rate else "-"
        print(f"| {name} | {rate:,.1f} | {ratio} |" if rate < 10 else f"| {name} | {rate:,.0f} | {ratio} |")
    if ref_rate:
        print(f"\nglyphcpp PNG files on one core / reference: {one_png / ref_rate:.0f}x (target >= 100x)")
    print(f"glyphcpp in memory on one core: "
          f"{base['glyphcpp, 1 thread, in memory (streamed, render_each)']:,.0f} pages/s streamed, "
          f"{base['glyphcpp, 1 thread, in memory (all pages kept)']:,.0f} kept (target >= 1,000)")


if __name__ == "__main__":
    main()
