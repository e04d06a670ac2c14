"""Glyph's claim on a small random GLM-4.1V, on the CPU: the same long text fed as text tokens vs
as rendered pages (prefill + decode time), and glyphcpp vs transformers on the same model/inputs.

    python bench/bench_vlm.py                       # contexts 1K..8K text tokens
    python bench/bench_vlm.py --contexts 2000 4000 --decode 16 --tokenizer /models/Glyph/tokenizer.json

Text-token counts come from --tokenizer (a tokenizer.json) when given; otherwise they are
estimated at --chars-per-token (GLM-4's tokenizer gives about 4 characters per token on English).
The model is random (no downloads): only the timings mean anything, not the answers.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
import vlm_tiny  # noqa: E402

import glyph  # noqa: E402
import glyph.vlm as gv  # noqa: E402

PAPER = {4000: 1.8, 128000: 4.8}  # prefill speedup vs the text backbone (Glyph paper, Fig. 4)


def best_of(n, run):
    """Runs generate n times; the result carries the smallest prefill and decode times seen."""
    best = run()
    for _ in range(n - 1):
        r = run()
        best.prefill_seconds = min(best.prefill_seconds, r.prefill_seconds)
        best.decode_seconds = min(best.decode_seconds, r.decode_seconds)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--contexts", type=int, nargs="+", default=[1000, 2000, 4000, 8000])
    ap.add_argument("--decode", type=int, default=16, help="new tokens per run")
    ap.add_argument("--tokenizer", default=None)
    ap.add_argument("--chars-per-token", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2, help="best of N runs (the machine may be shared)")
    ap.add_argument("--skip-transformers", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    shape = dict(hidden=256, layers=4, heads=8, kv_heads=2, intermediate=683, vision_hidden=128,
                 vision_depth=4, vision_heads=4, vision_intermediate=512, vocab=2048, image_size=112)
    model = vlm_tiny.make_model(seed=0, **shape)
    tmp = tempfile.mkdtemp()
    vlm_tiny.save(model, tmp)
    g = gv.Glm4v.from_pretrained(tmp)
    cfg = model.config
    count_tokens = lambda s: len(s) / args.chars_per_token  # noqa: E731
    if args.tokenizer:
        from tokenizers import Tokenizer

        tk = Tokenizer.from_file(args.tokenizer)
        count_tokens = lambda s: len(tk.encode(s).ids)  # noqa: E731

    base = glyph.sample_text()
    renderer = glyph.Renderer()
    print(f"model: text {shape['layers']}x{shape['hidden']} (heads {shape['heads']}/{shape['kv_heads']}), "
          f"vision {shape['vision_depth']}x{shape['vision_hidden']}; torch threads {torch.get_num_threads()}")
    print(f"{'text tok':>8} {'pages':>5} {'vis tok':>7} {'rho':>5} | {'prefill text':>12} {'prefill img':>11} "
          f"{'x':>5} | {'dec/tok text':>12} {'dec/tok img':>11} {'x':>5} | {'total x':>7}")
    rows = []
    for target in args.contexts:
        text = base
        while count_tokens(text) < target:
            text += "\n" + base
        # trim to the target
        lo, hi = 0, len(text)
        while hi - lo > 64:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if count_tokens(text[:mid]) < target else (lo, mid)
        text = text[:hi]
        n_text = int(round(count_tokens(text)))
        pages = renderer.render(text).pages
        counts = [p.visual_tokens for p in pages]
        rng = np.random.default_rng(0)
        text_ids = rng.integers(0, cfg.text_config.vocab_size - 8, n_text).tolist()
        img_ids = vlm_tiny.prompt_ids(cfg, counts, [8] + [1] * (len(counts) - 1) + [16])
        kw = dict(max_new_tokens=args.decode, stop_ids=[-1])
        g.generate(text_ids[:64], max_new_tokens=2, stop_ids=[-1])  # warm-up
        rt = best_of(args.repeat, lambda: g.generate(text_ids, **kw))
        ri = best_of(args.repeat, lambda: g.generate(img_ids, images=pages, **kw))
        dt = rt.decode_seconds / max(1, len(rt.tokens) - 1)
        di = ri.decode_seconds / max(1, len(ri.tokens) - 1)
        tot_t = rt.prefill_seconds + rt.decode_seconds
        tot_i = ri.prefill_seconds + ri.decode_seconds
        row = dict(text_tokens=n_text, pages=len(pages), visual_tokens=sum(counts),
                   rho=n_text / sum(counts), prefill_text=rt.prefill_seconds,
                   prefill_img=ri.prefill_seconds, decode_text=dt, decode_img=di,
                   total_x=tot_t / tot_i, text=text, img_ids=img_ids)
        rows.append(row)
        print(f"{n_text:8d} {len(pages):5d} {sum(counts):7d} {row['rho']:5.2f} | {rt.prefill_seconds:11.3f}s "
              f"{ri.prefill_seconds:10.3f}s {rt.prefill_seconds / ri.prefill_seconds:5.2f} | "
              f"{dt * 1e3:10.2f}ms {di * 1e3:9.2f}ms {dt / di:5.2f} | {row['total_x']:7.2f}")
    print(f"paper (GLM-4.1V-9B, H100, vLLM): prefill speedup {PAPER[4000]}x at 4K .. {PAPER[128000]}x at 128K")

    if args.skip_transformers:
        return
    print("\nglyphcpp vs transformers, same model and inputs (rendered pages, float32 CPU)")
    print(f"{'text tok':>8} | {'prefill hf':>10} {'prefill glyph':>13} {'ratio':>6} | "
          f"{'dec/tok hf':>10} {'dec/tok glyph':>13} {'ratio':>6}")
    from transformers import LogitsProcessorList

    proc = vlm_tiny.hf_image_processor()
    for row in rows:
        pages = renderer.render(row["text"]).pages
        ids = row["img_ids"]
        inp = torch.tensor([ids])
        ref = proc(images=[np.asarray(p.pixels) for p in pages], return_tensors="pt")
        mm = (inp == cfg.image_token_id).int()

        def hf():
            # Timestamps at each logits step: prefill = start .. first step, decode = the rest,
            # the same split glyphcpp reports.
            stamps = []

            def stamp(input_ids, scores):
                stamps.append(time.perf_counter())
                return scores

            t0 = time.perf_counter()
            with torch.no_grad():
                model.generate(input_ids=inp, attention_mask=torch.ones_like(inp),
                               pixel_values=ref["pixel_values"], image_grid_thw=ref["image_grid_thw"],
                               mm_token_type_ids=mm, max_new_tokens=args.decode,
                               min_new_tokens=args.decode, do_sample=False, eos_token_id=None,
                               pad_token_id=0, logits_processor=LogitsProcessorList([stamp]))
            return stamps[0] - t0, (stamps[-1] - stamps[0]) / (len(stamps) - 1)

        runs = [hf() for _ in range(args.repeat)]
        t1 = min(r[0] for r in runs)
        hf_dec = min(r[1] for r in runs)
        r = best_of(args.repeat, lambda: g.generate(ids, images=pages, max_new_tokens=args.decode,
                                                    stop_ids=[-1]))
        # both prefills include the vision tower, neither the image processor
        g_pre = r.prefill_seconds
        g_dec = r.decode_seconds / (args.decode - 1)
        print(f"{row['text_tokens']:8d} | {t1:9.3f}s {g_pre:12.3f}s {t1 / g_pre:6.2f} | "
              f"{hf_dec * 1e3:8.2f}ms {g_dec * 1e3:11.2f}ms {hf_dec / g_dec:6.2f}")


if __name__ == "__main__":
    main()
