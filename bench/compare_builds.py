#!/usr/bin/env python3
"""Is a change slower? Two installed builds of glyph, measured in one run, alternately.

    # copy each build's installed package aside (site-packages/glyph), e.g. before and after:
    cp -r $VENV/lib/python3.11/site-packages/glyph /tmp/before/
    python bench/compare_builds.py /tmp/before /tmp/after [--rounds 5] [--seconds 2]

Each round runs the same workloads in a fresh process for each build (PYTHONPATH set to its
folder), alternating, so drift of a shared machine hits both; the best of the rounds counts.
Workloads: rendering Glyph's case2.txt (146K characters, 16 pages, config_en with DejaVu Sans) in
memory streamed (render_each), kept (render) and to PNG files (render_to_dir), on one thread; the
tokenizer encoding ~4 KB documents one by one and one long text (a GLM-4-style BPE trained here
once, the same file for both). Prints rates and after/before ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT.parent / "shared" / "data" / "glyph-reference"

WORKER = r"""
import json, os, sys, tempfile, time
import glyph

args = json.loads(sys.argv[1])
def best_rate(fn, units, seconds):
    fn()  # warm-up
    best, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t)
    return units / best

out = {}
if args["workloads"] in ("all", "render"):
    text = open(args["text"], encoding="utf-8").read()
    cfg = json.load(open(args["config"]))
    cfg["font-path"] = args["font"]
    r = glyph.Renderer(cfg)
    pages = len(r.render(text).pages)
    out["render_each (pages/s)"] = best_rate(lambda: r.render_each(text, lambda p: None), pages, args["seconds"])
    out["render, kept (pages/s)"] = best_rate(lambda: r.render(text), pages, args["seconds"])
    with tempfile.TemporaryDirectory() as tmp:
        out["render_to_dir PNG (pages/s)"] = best_rate(lambda: r.render_to_dir(text, tmp, "d"), pages, args["seconds"])
if args["workloads"] in ("all", "tokenizer"):
    tok = glyph.Tokenizer.from_file(args["tokenizer"])
    docs = json.load(open(args["docs"]))
    n = sum(tok.count(d) for d in docs)
    big = "\n".join(docs)
    out["encode per doc (Mtokens/s)"] = best_rate(lambda: [tok.encode(d, add_special_tokens=False) for d in docs], n / 1e6, args["seconds"])
    out["encode big text (Mtokens/s)"] = best_rate(lambda: tok.encode(big, add_special_tokens=False), tok.count(big) / 1e6, args["seconds"])
    out["count per doc (Mtokens/s)"] = best_rate(lambda: [tok.count(d) for d in docs], n / 1e6, args["seconds"])
print(json.dumps(out))
"""


def run(build: str, payload: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=build, OMP_NUM_THREADS="1")
    env.pop("GLYPH_FONT_DIR", None)
    out = subprocess.run([sys.executable, "-c", WORKER, json.dumps(payload)], env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{build}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--workloads", choices=["all", "render", "tokenizer"], default="all")
    args = ap.parse_args()
    if not (REF / "case2.txt").exists():
        raise SystemExit(f"needs Glyph's reference data at {REF}")
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_tokenizer import corpus, train  # noqa: E402  (tokenizers only, no glyph)

    with tempfile.TemporaryDirectory() as tmp:
        docs = corpus()[:400]
        tok_path = os.path.join(tmp, "tokenizer.json")
        train(docs, 16000, tok_path)
        docs_path = os.path.join(tmp, "docs.json")
        Path(docs_path).write_text(json.dumps(docs), encoding="utf-8")
        font = str(ROOT / "python" / "glyph" / "fonts" / "DejaVuSans.ttf")
        payload = {"text": str(REF / "case2.txt"), "config": str(REF / "config_en.json"),
                   "font": font, "tokenizer": tok_path, "docs": docs_path,
                   "seconds": args.seconds, "workloads": args.workloads}
        best = {"before": {}, "after": {}}
        for r in range(args.rounds):
            for name, build in (("before", args.before), ("after", args.after)):
                for k, v in run(build, payload).items():
                    best[name][k] = max(best[name].get(k, 0.0), v)
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(f"best of {args.rounds} rounds, {args.seconds:g} s each; before = {args.before}, "
          f"after = {args.after}")
    print()
    print("| workload | before | after | after / before |")
    print("| --- | ---: | ---: | ---: |")
    for k in best["before"]:
        a, b = best["before"][k], best["after"][k]
        print(f"| {k} | {a:,.1f} | {b:,.1f} | {b / a:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
