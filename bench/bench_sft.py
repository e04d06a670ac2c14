#!/usr/bin/env python3
"""SFT build speed: glyph.sft on one core, all cores and a local Ray instance, beside Glyph's
reference pipeline (reportlab -> PDF -> pdftoppm -> PIL -> PNG) on the same records, in one run.

    python bench/bench_sft.py [--records 40] [--chars 12000] [--task qa] [--format llamafactory]
                              [--ref-records 3] [--no-ray] [--memory-mb 50] [--gil-profile]

Records are cut from Glyph's case1-4 texts. Each glyph.sft row is one full build (render, PNG,
rows, journal, shards, report without the plot) into a fresh folder; "renderer alone" writes the
same pages with Renderer.render_to_dir (what the pipeline costs on top); the Ray row counts the
actor start-up but not ray.init; the reference renders the first --ref-records records to PNGs. --memory-mb also builds one record of that size (ocr, split by a 64-page
budget) in a child process and prints its peak RSS. Machines here are noisy: read the ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import glyph
import glyph.sft

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT.parent / "shared" / "data" / "glyph-reference"
sys.path.insert(0, str(ROOT / "tests" / "reference"))


def records(n: int, chars: int):
    texts = [(REF / f"case{i}.txt").read_text(encoding="utf-8") for i in range(1, 5)
             if (REF / f"case{i}.txt").exists()] or [glyph.sample_text() * 20]
    out, i = [], 0
    while len(out) < n:
        t = texts[i % len(texts)]
        start = (i // len(texts)) * chars % max(1, len(t) - chars)
        out.append({"id": f"rec{i:04d}", "context": t[start:start + chars],
                    "question": "What happens?", "answer": "Something."})
        i += 1
    return out


def config(path: str):
    cfg = json.loads(Path(path).read_text())
    font = Path(path).parent / Path(cfg["font-path"]).name
    cfg["font-path"] = str(font if font.exists() else glyph.default_font_path())
    return cfg


def timed_build(recs, cfg, args, **kw):
    out = tempfile.mkdtemp(prefix="glyph-bench-sft-")
    t = time.perf_counter()
    res = glyph.sft.build(recs, out, task=args.task, format=args.format, config=cfg,
                          progress=False, plot=False, **kw)
    dt = time.perf_counter() - t
    assert res.exit_code == 0, res.failures
    return dt, res


def memory_run(mb: int, cfg_path: str) -> dict:
    code = r"""
import json, resource, sys, tempfile, time, glyph.sft
mb, cfg_path, src = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cfg = json.loads(open(cfg_path).read())
t = time.perf_counter()
res = glyph.sft.build(src, tempfile.mkdtemp(prefix="glyph-bench-big-"), task="ocr", config=cfg,
                      max_pages=64, over_budget="split", progress=False, workers=1)
print(json.dumps({"seconds": time.perf_counter() - t, "pages": res.pages, "samples": res.samples,
                  "exit": res.exit_code,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
    texts = "\n".join((REF / f"case{i}.txt").read_text(encoding="utf-8") for i in range(1, 5)
                      if (REF / f"case{i}.txt").exists()) or glyph.sample_text()
    size = mb * 1_000_000
    big = (texts * (size // len(texts) + 1))[:size]
    d = tempfile.mkdtemp(prefix="glyph-bench-bigin-")
    src = os.path.join(d, "big.jsonl")
    with open(src, "w", encoding="utf-8") as f:
        f.write(json.dumps({"id": "big", "context": big}, ensure_ascii=False) + "\n")
    cfg_file = os.path.join(d, "cfg.json")
    with open(cfg_file, "w") as f:
        json.dump(config(cfg_path), f)
    rec_bytes = os.path.getsize(src)
    del big, texts
    p = subprocess.run([sys.executable, "-c", code, str(mb), cfg_file, src], capture_output=True,
                       text=True, check=True)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["record_bytes"] = rec_bytes
    return r


def gil_profile(recs, cfg, args) -> str:
    """Where one worker's time goes (cProfile, workers=1 so everything runs on this thread): the
    glyph calls that release the GIL (render_each outside its callbacks, Page.save; tested in
    test_sft.py), the system calls that release it too (fsync, mkdir, stat, ...), and the rest,
    which holds it. With T threads, the GIL-held share s bounds the speed-up at 1/s (Amdahl)."""
    import cProfile
    import pstats

    timed_build(recs[:2], cfg, args, workers=1)  # warm-up: fonts, imports
    pr = cProfile.Profile()
    pr.enable()
    timed_build(recs, cfg, args, workers=1)
    pr.disable()
    st = pstats.Stats(pr).stats
    total = sum(v[2] for v in st.values())  # every function's own time
    glyph_native = sum(v[2] for k, v in st.items() if k[2] in ("<built-in method glyph._core.save>",
                                                               "<built-in method glyph._core.render_each>"))
    syscalls = sum(v[2] for k, v in st.items() if k[2].startswith("<built-in method posix."))
    held_hi = total - glyph_native            # counting the system calls as GIL-held too
    held_lo = held_hi - syscalls
    return (f"one worker, {len(recs)} records, {total:.2f} s profiled: render_each + Page.save (GIL "
            f"released) {glyph_native / total:.0%}, system calls {syscalls / total:.0%}, the rest "
            f"(GIL held) {held_lo / total:.0%}; thread speed-up bound 1/s = "
            f"{total / max(held_lo, 1e-9):.1f}x ({total / max(held_hi, 1e-9):.1f}x counting the "
            f"system calls as GIL-held)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=40)
    ap.add_argument("--chars", type=int, default=12000, help="characters per record")
    ap.add_argument("--config", default=str(REF / "config_en.json"))
    ap.add_argument("--task", default="qa")
    ap.add_argument("--format", default="llamafactory")
    ap.add_argument("--ref-records", type=int, default=3, help="records the reference renders")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--memory-mb", type=int, default=0, help="also build one record of this many MB")
    ap.add_argument("--gil-profile", action="store_true",
                    help="also profile one worker: the share of its time that holds the GIL")
    args = ap.parse_args(argv)

    cfg = config(args.config)
    recs = records(args.records, args.chars)
    cores = glyph._core.hardware_threads()
    n_pages = sum(len(glyph.Renderer(cfg).render(r["context"]).pages) for r in recs)
    print(f"{len(recs)} records of {args.chars} chars from Glyph's case1-4 -> {n_pages} pages; "
          f"task {args.task}, format {args.format}; config {args.config}; {cores} cores")
    rows = []
    r = glyph.Renderer(cfg)
    d = tempfile.mkdtemp(prefix="glyph-bench-r2d-")
    t = time.perf_counter()
    pages = sum(len(r.render_to_dir(x["context"], d, x["id"])) for x in recs)
    dt = time.perf_counter() - t
    rows.append(("renderer alone (Renderer.render_to_dir), 1 thread", len(recs) / dt, pages / dt))
    t, res = timed_build(recs, cfg, args, workers=1)
    rows.append(("glyph.sft, 1 worker", len(recs) / t, res.pages / t))
    t, res = timed_build(recs, cfg, args, workers=cores)
    rows.append((f"glyph.sft, {cores} workers (threads)", len(recs) / t, res.pages / t))
    if not args.no_ray:
        try:
            import ray

            t0 = time.perf_counter()
            ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
            init = time.perf_counter() - t0
            t, res = timed_build(recs, cfg, args, ray="auto", workers=cores)
            rows.append((f"glyph.sft on local Ray, {cores} actors (init {init:.1f} s not counted)",
                         len(recs) / t, res.pages / t))
            ray.shutdown()
        except ImportError:
            print("ray is not installed: no Ray row (pip install 'glyphcpp[ray]')")
    ref_rate = None
    try:
        import glyph_reference

        sub = recs[: args.ref_records]
        d = tempfile.mkdtemp(prefix="glyph-bench-ref-")
        t = time.perf_counter()
        pages = 0
        for r in sub:
            pages += len(glyph_reference.render_reference(r["context"], cfg, out_dir=os.path.join(d, r["id"])))
        dt = time.perf_counter() - t
        ref_rate = pages / dt
        rows.append((f"reference (reportlab + pdftoppm + PIL), PNG files only, {len(sub)} records",
                     len(sub) / dt, ref_rate))
    except Exception as e:  # reportlab or pdftoppm missing
        print(f"reference pipeline not run: {e}")

    print("\n| pipeline | records/s | pages/s | pages/s vs reference |")
    print("| --- | ---: | ---: | ---: |")
    for name, rps, pps in rows:
        ratio = f"{pps / ref_rate:.0f}x" if ref_rate else "-"
        print(f"| {name} | {rps:,.2f} | {pps:,.1f} | {ratio} |")
    if args.gil_profile:
        print("\n" + gil_profile(recs, cfg, args))
    if args.memory_mb:
        m = memory_run(args.memory_mb, args.config)
        print(f"\none record of {m['record_bytes'] / 1e6:.1f} MB (JSON line), ocr, split by max_pages=64: "
              f"{m['pages']} pages, {m['samples']} samples in {m['seconds']:.1f} s "
              f"({m['pages'] / m['seconds']:.0f} pages/s), peak RSS {m['peak_rss_mb']:.0f} MB, exit {m['exit']}")


if __name__ == "__main__":
    main()
