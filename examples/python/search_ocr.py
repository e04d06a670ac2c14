"""Search rendering configs with the OCR evaluator on Glyph's sample texts, and compare the front
with Glyph's own config_en.json (compression and OCR accuracy side by side).

    python examples/python/search_ocr.py                  # ~3-5 minutes on 2 cores
    python examples/python/search_ocr.py --population 16 --generations 12 --chars 6000

Needs tesseract-ocr (Debian: apt-get install tesseract-ocr tesseract-ocr-eng) and Glyph's
reference data in ../shared/data/glyph-reference (or --ref). Re-running with the same --out
resumes from its log. Compression uses the approximate token counter unless --tokenizer is given
(a tokenizer.json glyph.Tokenizer reads).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import glyph
from glyph.search import ConfigSearch, OcrEvaluator, evaluate_config, load_samples

ROOT = Path(__file__).resolve().parents[2]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ref", default=str(ROOT.parent / "shared/data/glyph-reference"))
    p.add_argument("--chars", type=int, default=3000, help="characters taken from each text")
    p.add_argument("--population", type=int, default=8)
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-accuracy", type=float, default=0.95)
    p.add_argument("--tokenizer", help="tokenizer.json for exact text-token counts")
    p.add_argument("--out", default="search_ocr_out")
    args = p.parse_args()

    ref = Path(args.ref)
    if not (ref / "config_en.json").exists():
        sys.exit(f"Glyph reference data not found in {ref} (use --ref)")
    # Two of Glyph's sample texts: the short story and the start of its demo case 1.
    samples = load_samples([str(ref / "input.txt"), str(ref / "case1.txt")], limit_chars=args.chars)
    text_tokens = None
    if args.tokenizer:
        text_tokens = glyph.load_tokenizer(args.tokenizer, fallback=False).count

    ocr = OcrEvaluator()
    glyph_cfg = json.loads((ref / "config_en.json").read_text())
    glyph_cfg["font-path"] = str(ref / "Verdana.ttf")  # Glyph's own font, for the baseline only
    free_cfg = dict(glyph_cfg, **{"font-path": glyph.default_font_path()})

    t0 = time.time()
    baseline = {
        "config_en.json (Verdana)": evaluate_config(glyph_cfg, samples, ocr, text_tokens),
        "config_en.json (DejaVu Sans)": evaluate_config(free_cfg, samples, ocr, text_tokens),
    }
    search = ConfigSearch(
        glyph.SearchSpace.builtin(),
        seeds=[free_cfg],
        population=args.population,
        generations=args.generations,
        seed=args.seed,
        threads=args.threads,
        min_accuracy=args.min_accuracy,
        patience=3,
    )

    def progress(p):  # a glyph.SearchProgress
        if p.generation_done:
            print(f"  generation {p.generation + 1}/{p.generations}: {p.evaluations} "
                  f"evaluations, best feasible compression {p.best_compression:.3f}",
                  file=sys.stderr)

    os.makedirs(args.out, exist_ok=True)
    result = search.run(samples, ocr, text_tokens=text_tokens, advisor=None,
                        log=os.path.join(args.out, "search.jsonl"), progress=progress)
    paths = result.save(args.out)
    elapsed = time.time() - t0

    print(f"\nsearch: {len(result.raw.evaluated)} evaluations, {result.stop_reason} "
          f"({elapsed:.0f} s, text tokens: {result.text_token_counter})")
    print(f"\n{'config':<44} {'OCR accuracy':>12} {'compression':>11}")
    for name, r in baseline.items():
        print(f"{name:<44} {r['accuracy']:12.4f} {r['compression']:11.3f}")
    print(f"Pareto front (OCR accuracy >= {args.min_accuracy}):")
    for d in result.front:
        s = d["settings"]
        name = (f"  dpi {s['dpi']:g}, {s['font-size']:g}pt/{s['line-height'] + s['font-size']:g}, "
                f"{s['page-size']}, {s['font-path']}, hs {s['horizontal-scale']:g}")
        print(f"{name:<44} {d['accuracy']:12.4f} {d['compression']:11.3f}")
    if result.best:
        print(f"\nbest (most compressing with accuracy >= {args.min_accuracy}): "
              f"{paths.get('best_config')}")


if __name__ == "__main__":
    main()
