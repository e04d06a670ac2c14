"""`glyph eval`: evaluate a model on LongBench, MRCR, RULER or your own data (docs/eval.md)."""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, Optional


def _params(text: Optional[str]) -> Optional[Dict[str, Any]]:
    if not text:
        return None
    try:
        v = json.loads(text)
    except ValueError as e:
        raise SystemExit(f"error: --params must be a JSON object ({e})")
    if not isinstance(v, dict):
        raise SystemExit("error: --params must be a JSON object, e.g. '{\"max_tokens\": 512}'")
    return v


def add_parser(sub) -> None:
    e = sub.add_parser(
        "eval", help="evaluate a model with Glyph's protocols (LongBench, MRCR, RULER, custom)",
        description="Render each item's context as Glyph's evaluation does, ask the model (in "
                    "process or an OpenAI-compatible server), score with the benchmark's metric, "
                    "and write predictions (resumable), results.json, results.md and plots "
                    "(docs/eval.md). Rerun the same command to finish an interrupted run.")
    e.add_argument("benchmark", choices=["longbench", "mrcr", "ruler", "custom"])
    e.add_argument("--data", required=True, action="append", metavar="PATH",
                   help="JSONL/JSON file, folder of them, or a datasets.save_to_disk folder (repeatable)")
    e.add_argument("--backend", required=True,
                   help="local:CKPT (in-process glyph.vlm) or the URL of an OpenAI-compatible server")
    e.add_argument("--text-baseline", metavar="URL",
                   help="also ask the items as text: a URL, local:CKPT, or 'backend' (the same "
                        "backend without pages)")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--newline", choices=["none", "chose", "all"], default="none",
                   help="items without their own config: <br/> (none), Glyph's red marker for "
                        "its chosen LongBench datasets (chose) or for all (all)")
    e.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    e.add_argument("--model", help="served model name (default: the server's first, else 'glyph')")
    e.add_argument("--text-model", help="the text baseline's model name")
    e.add_argument("--params", help="request parameters over Glyph's, as JSON (a key set to "
                                    "null is removed), e.g. '{\"max_tokens\": 1024}'")
    e.add_argument("--text-params", help="the text baseline's request parameters (default: --params)")
    e.add_argument("--no-vllm-extensions", action="store_true",
                   help="leave out top_k, repetition_penalty, stop_token_ids, ... (plain OpenAI servers)")
    e.add_argument("--timeout", type=float, default=600.0, help="seconds per request (default 600)")
    e.add_argument("--retries", type=int, default=3,
                   help="retries on timeouts, connection errors, 429 and 5xx (default 3)")
    e.add_argument("--backoff", type=float, default=1.0, help="first retry wait in s, doubling")
    e.add_argument("--metric", help="custom: metric for items without one: a name (qa_f1_score, "
                                    "rouge_score, ...) or module:function / file.py:function")
    e.add_argument("--prompt", help="prompt template with pages ({question}, {input})")
    e.add_argument("--text-prompt", help="text baseline template ({context}, {question}, {input})")
    e.add_argument("--font-dir", action="append", default=[], metavar="DIR",
                   help="where items' relative font paths are found by file name (Glyph's config/)")
    e.add_argument("--config", help="render config for items without their own (default: "
                                    "Glyph's config_en / config_zh by detected language)")
    e.add_argument("--cjk-font", help="font for Chinese items (default: one found on the system)")
    e.add_argument("--dpi", type=int, help="override every item's dpi")
    e.add_argument("--use-image-paths", action="store_true",
                   help="send the pages in the items' image_paths (rendered by Glyph's scripts) "
                        "instead of rendering the contexts")
    e.add_argument("--tokenizer", help="tokenizer.json (or folder) counting text tokens for the "
                                       "compression ratio (default: the local model's)")
    e.add_argument("--seed", type=int, default=0, help="language detection seed (default 0)")
    e.add_argument("--limit", type=int, help="only the first N items")
    e.add_argument("--split", help="datasets folder: the split to read (default: all)")
    e.add_argument("--device", default="auto", help="local backend: auto (the GPU when PyTorch "
                   "sees one, else the CPU; the default), cpu, cuda or cuda:N")
    e.add_argument("--dtype", help="local backend: float32, bfloat16, float16 (default: checkpoint's)")
    e.add_argument("--ruler-keep-think", action="store_true",
                   help="ruler: score the whole response, <think> included, as Glyph's RULER "
                        "script does (default: removed first, as EVALUATION.md states)")
    e.add_argument("--overwrite", action="store_true",
                   help="start over: drop the predictions already in --out")
    e.add_argument("--no-plot", action="store_true", help="no PNG plots")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    e.add_argument("--json", action="store_true", help="print results.json instead of the table")
    e.set_defaults(func=run)


def run(args) -> int:
    from . import report
    from .runner import run as run_eval

    res = run_eval(args.benchmark, args.data if len(args.data) > 1 else args.data[0],
                   args.backend, args.out, text_baseline=args.text_baseline,
                   newline=args.newline, concurrency=args.concurrency, limit=args.limit,
                   seed=args.seed, font_dirs=args.font_dir, config=args.config, dpi=args.dpi,
                   tokenizer=args.tokenizer, metric=args.metric, prompt=args.prompt,
                   text_prompt=args.text_prompt, model=args.model, text_model=args.text_model,
                   params=_params(args.params), text_params=_params(args.text_params),
                   vllm_extensions=not args.no_vllm_extensions, timeout=args.timeout,
                   retries=args.retries, backoff=args.backoff, device=args.device,
                   dtype=args.dtype, split=args.split, cjk_font=args.cjk_font,
                   use_image_paths=args.use_image_paths,
                   ruler_remove_think=not args.ruler_keep_think,
                   overwrite=args.overwrite, progress=not args.quiet, plot=not args.no_plot)
    if args.json:
        print(json.dumps(res, indent=2, ensure_ascii=False, default=str))
    else:
        print(report.markdown(res))
    return _say_what_failed(res, args.out)


def _say_what_failed(res: dict, out: str) -> int:
    """Warnings on stderr naming the files that hold the reasons; 1 when no item was answered
    (a server down, a wrong URL, data the benchmark cannot read), so scripts do not take a run
    that asked nothing for a score of 0."""
    from .runner import FAILURES, PREDICTIONS, TEXT_PREDICTIONS

    bad = res["bad_input"]
    if bad["count"]:
        reasons = ", ".join(f"{k} {v}" for k, v in bad["reasons"].items())
        print(f"warning: {bad['count']} item(s) are bad input ({reasons}): the reasons are in "
              f"{os.path.join(out, FAILURES)}", file=sys.stderr)
    files = {"pages": PREDICTIONS, "text": TEXT_PREDICTIONS}
    answered = 0
    for mode, r in res["modes"].items():
        answered += r["answered"]
        if r["failed"]:
            kinds = ", ".join(f"{k} {v}" for k, v in r["failures"].items())
            where = os.path.join(out, files.get(mode, PREDICTIONS))
            print(f"warning: {mode}: {r['failed']} of {r['items']} item(s) not answered "
                  f"({kinds}); the errors are in {where}; the same command retries them",
                  file=sys.stderr)
    if answered == 0:
        print("error: no item was answered", file=sys.stderr)
        return 1
    return 0
