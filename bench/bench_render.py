#!/usr/bin/env python3
"""Rendering speed: glyphcpp vs Glyph's reference pipeline (reportlab -> PDF -> pdftoppm -> PIL)
vs Pillow's ImageDraw.text with a simple word wrap, on the same text and config, in one run.

    python bench/bench_render.py [--text case2.txt] [--config config_en.json] [--repeat 3] [--seconds 3]
    python bench/bench_render.py --text .../case3.txt --png-only --pin 0 [--rounds 9]

Prints pages/s and the ratios. Machines here are noisy: read the ratios, not absolute times.

The PNG comparison (always run; alone with --png-only) writes the same pages to PNG files on one
thread, alternating in each round between png-color "rgb" (24-bit RGB at level 3: byte for byte
what glyphcpp wrote before 0.3) and the default "auto" (gray or palette when exact, default level),
and prints the median over rounds of the per-round ratio, by wall time and by this thread's CPU
time (less sensitive to other processes on a shared machine), with the files' total sizes.
--pin CPU pins the process to one core first (as `taskset -c CPU` would).
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


def png_comparison(text, cfg, rounds, seconds):
    """Pages/s to PNG files on one thread, png-color rgb (the old output) vs auto, alternating."""
    import statistics

    n_pages = len(glyph.Renderer(cfg).render(text).pages)
    modes = {"rgb": glyph.Renderer(dict(cfg, **{"png-color": "rgb"})),
             "auto": glyph.Renderer(dict(cfg, **{"png-color": "auto"}))}
    tmp = tempfile.mkdtemp(prefix="glyph-png-")
    wall = {m: [] for m in modes}
    cpu = {m: [] for m in modes}
    for m, r in modes.items():
        r.render_to_dir(text, tmp, m)  # warm-up: fonts, buffers, files exist
    for _ in range(rounds):
        for m, r in modes.items():
            best_w = best_c = float("inf")
            start, runs = time.perf_counter(), 0
            while runs < 2 or time.perf_counter() - start < seconds:  # best of >= 2 runs
                t, c = time.perf_counter(), time.thread_time()
                r.render_to_dir(text, tmp, m)
                best_w = min(best_w, time.perf_counter() - t)
                best_c = min(best_c, time.thread_time() - c)
                runs += 1
            wall[m].append(n_pages / best_w)
            cpu[m].append(n_pages / best_c)
    sizes = {m: sum(os.path.getsize(os.path.join(tmp, m, f)) for f in os.listdir(os.path.join(tmp, m)))
             for m in modes}
    ratio_w = statistics.median(a / b for a, b in zip(wall["auto"], wall["rgb"]))
    ratio_c = statistics.median(a / b for a, b in zip(cpu["auto"], cpu["rgb"]))
    print(f"\nPNG files on one thread, {n_pages} pages, {rounds} rounds (median; per-round best of >= {seconds:g} s):")
    print("\n| png-color | pages/s (wall) | pages/s (CPU) | total file size |")
    print("| --- | ---: | ---: | ---: |")
    for m, label in (("rgb", "rgb (24-bit RGB, level 3: the output before 0.3)"),
                     ("auto", "auto (default: gray/palette when exact)")):
        print(f"| {label} | {statistics.median(wall[m]):,.0f} | {statistics.median(cpu[m]):,.0f} | "
              f"{sizes[m]:,} bytes |")
    print(f"\nauto / rgb: {ratio_w:.2f}x pages/s by wall time, {ratio_c:.2f}x by CPU time "
          f"(median of per-round ratios; target >= 2.5x); files {sizes['auto'] / sizes['rgb']:.2f}x the size")
    return ratio_w, ratio_c


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
    ap.add_argument("--png-only", action="store_true", help="only the PNG rgb-vs-auto comparison")
    ap.add_argument("--rounds", type=int, default=7, help="rounds of the PNG comparison")
    ap.add_argument("--pin", type=int, default=None, metavar="CPU",
                    help="pin the process to this core first (for --png-only)")
    args = ap.parse_args(argv)
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})

    cfg = json.loads(Path(args.config).read_text())
    font = Path(args.config).parent / Path(cfg["font-path"]).name
    cfg["font-path"] = str(font if font.exists() else glyph.default_font_path())
    text = Path(args.text).read_text()
    cores = glyph._core.hardware_threads()
    r = glyph.Renderer(cfg)
    n_pages = len(r.render(text).pages)
    print(f"text: {args.text} ({len(text)} chars) -> {n_pages} pages; config {args.config}; "
          f"font {os.path.basename(cfg['font-path'])}; {cores} cores"
          + (f"; pinned to CPU {args.pin}" if args.pin is not None else ""))
    if args.png_only:
        png_comparison(text, cfg, args.rounds, min(args.seconds, 1.0))
        return

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
    png_comparison(text, cfg, args.rounds, min(args.seconds, 1.0))


if __name__ == "__main__":
    main()
