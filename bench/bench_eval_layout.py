#!/usr/bin/env python3
"""The evaluation layout (the whole context ONE paragraph, tabs as 4 no-break spaces) against the
default demo layout (paragraphs of 30 source lines), measured in one run.

    python bench/bench_eval_layout.py [--mb 1 5] [--lang en zh] [--rounds 3]

For each size and language a context is generated (English: words, punctuation, tabs, runs of
spaces and a newline every 1-40 words; Chinese: ideographs, CJK punctuation, some Latin), written
to a file, and rendered from that file (a streamed TextSource, pages handed to a callback and
dropped, nothing written) in a fresh process per run, alternating the two layouts. Each run
reports its pages, its wall time and its peak RSS (VmHWM read by the process itself,
tests/python/peak_rss.py). Printed: pages/s and peak RSS of each layout (medians over the
rounds) and the evaluation/demo ratios. The config is Glyph's searched config (DejaVu Sans, 72
dpi) with `<br/>` newlines.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
from peak_rss import run_measured  # noqa: E402

RUN = r"""
import pathlib, sys, time, glyph
path, layout = sys.argv[1], sys.argv[2]
cfg = glyph.RenderConfig.glyph_default()
if layout == "evaluation":
    cfg = cfg.evaluation_layout()
r = glyph.Renderer(cfg)
n = 0
def page(p):
    global n
    n += 1
t0 = time.perf_counter()
r.render_each(pathlib.Path(path), page)
print(n, time.perf_counter() - t0)
"""


def make_text(path: Path, megabytes: float, lang: str) -> int:
    rnd = random.Random(7)
    if lang == "en":
        words = ["the", "model", "reads", "rendered", "pages", "of", "long", "context", "while",
                 "Glyph", "compresses", "text", "3-4x", "(see", "Table", "2)", "and", "a",
                 "question:", "\"why?\""]

        def unit():
            r = rnd.random()
            if r < 0.03:
                return "\t"
            if r < 0.05:
                return "  "
            if r < 0.09:
                return "\n"
            return rnd.choice(words) + " "
    else:
        cjk = "从前有一个小女孩她的名字叫小红帽住在森林边上有天妈妈说外婆病了你带这篮蛋糕去看她"

        def unit():
            r = rnd.random()
            if r < 0.08:
                return rnd.choice("，。、！？")
            if r < 0.1:
                return rnd.choice(["abc ", "2025 ", "\t"])
            if r < 0.11:
                return "\n"
            return rnd.choice(cjk)
    block = "".join(unit() for _ in range(50000)).encode()
    target = int(megabytes * 1e6)
    n = 0
    with open(path, "wb") as f:
        while n < target:
            f.write(block)
            n += len(block)
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, nargs="+", default=[1.0, 5.0])
    ap.add_argument("--lang", nargs="+", default=["en"], choices=["en", "zh"])
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    print("| context | layout | pages | pages/s | peak RSS (MB) |")
    print("| --- | --- | ---: | ---: | ---: |")
    summary = []
    with tempfile.TemporaryDirectory(prefix="glyph_bench_eval_") as td:
        for lang in a.lang:
            for mb in a.mb:
                path = Path(td) / f"{lang}_{mb}.txt"
                size = make_text(path, mb, lang)
                res = {"demo": [], "evaluation": []}
                for _ in range(a.rounds):
                    for layout in ("demo", "evaluation"):
                        r, peak = run_measured(["-c", RUN, str(path), layout],
                                               stdout=subprocess.PIPE)
                        if r.returncode != 0:
                            sys.stderr.write(r.stderr.decode(errors="replace"))
                            return 1
                        pages, secs = r.stdout.decode().split()
                        res[layout].append((int(pages), float(secs), peak))
                med = {}
                for layout, runs in res.items():
                    pages = runs[0][0]
                    pps = statistics.median(p / s for p, s, _ in runs)
                    rss = statistics.median(m for _, _, m in runs)
                    med[layout] = (pps, rss)
                    print(f"| {lang} {size / 1e6:.1f} MB | {layout} | {pages} | {pps:.1f} | {rss:.0f} |")
                # per-round ratios, then their median (the machine is noisy)
                speed = statistics.median((e[0] / e[1]) / (d[0] / d[1])
                                          for d, e in zip(res["demo"], res["evaluation"]))
                mem = statistics.median(e[2] / d[2] for d, e in zip(res["demo"], res["evaluation"]))
                summary.append(f"{lang} {size / 1e6:.1f} MB: evaluation/demo pages/s x{speed:.2f}, "
                               f"peak RSS x{mem:.2f} ({med['evaluation'][1] - med['demo'][1]:+.0f} MB, "
                               f"{(med['evaluation'][1] - med['demo'][1]) * 1e6 / size:.0f} bytes "
                               f"per byte of text)")
    print()
    for line in summary:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
