"""`glyph sft`: build a training set from text records (docs/sft.md)."""
from __future__ import annotations

import argparse
import sys
from typing import Dict, List


def _fields(pairs: List[str]) -> Dict[str, str]:
    out = {}
    for p in pairs or []:
        role, sep, name = p.partition("=")
        if not sep or not role or not name:
            raise SystemExit(f"error: --field takes ROLE=NAME (e.g. context=article), not {p!r}")
        out[role] = name
    return out


def add_parser(sub) -> None:
    s = sub.add_parser(
        "sft", help="build an SFT / pre-training set: rendered pages + conversations",
        description="Render text records into training sets for LLaMA-Factory, ms-swift or "
                    "Hugging Face datasets / TRL (docs/sft.md). Resumable: rerun the same command "
                    "to finish an interrupted build.")
    s.add_argument("--input", action="append", required=True, metavar="PATH",
                   help="JSONL, JSON, Parquet or a datasets.save_to_disk folder (repeatable)")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--task", default="qa",
                   help="qa | ocr | interleaved | completion | module:function | file.py:function")
    s.add_argument("--format", default="llamafactory", choices=["llamafactory", "swift", "parquet"])
    s.add_argument("--config", help="render config JSON (default: Glyph's searched config, DejaVu Sans)")
    s.add_argument("--style", help="draw a config per record: a search-space or ranges JSON, or 'builtin'")
    s.add_argument("--seed", type=int, default=0, help="seed for sampled configs and tasks (default 0)")
    s.add_argument("--field", action="append", metavar="ROLE=NAME",
                   help="input field names: id, context, question, answer, reasoning (e.g. context=article; "
                        "a user task may name roles of its own)")
    s.add_argument("--max-pages", type=int, default=0, help="budget: pages per sample (0: none)")
    s.add_argument("--max-visual-tokens", type=int, default=0, help="budget: visual tokens per sample")
    s.add_argument("--over-budget", default="auto", choices=["auto", "split", "drop", "truncate"],
                   help="a record over the budget: split into several samples, drop (reported in "
                        "dropped.jsonl), or keep the first pages (auto: drop for qa, else split)")
    s.add_argument("--ocr-unit", default="page", choices=["page", "record"],
                   help="ocr: one sample per page, or per record (all its pages)")
    s.add_argument("--prompt", help="user text; qa: a template with {question} (default '{question}')")
    s.add_argument("--system", help="a system message for every sample")
    s.add_argument("--reasoning-format", default="think", choices=["think", "glm", "none"],
                   help="qa with a reasoning field: <think>..</think> answer, GLM-4.1V's "
                        "<think>..</think><answer>..</answer>, or drop it")
    s.add_argument("--completion-ratio", type=float, default=0.5, help="completion: prefix share")
    s.add_argument("--completion-chars", type=int, default=2000, help="completion/interleaved: target length")
    s.add_argument("--segment-chars", type=int, default=2000, help="interleaved: segment length")
    s.add_argument("--render-ratio", type=float, default=0.5, help="interleaved: share of segments rendered")
    s.add_argument("--image-paths", default="relative", choices=["relative", "absolute"],
                   help="image paths relative to --out (LLaMA-Factory's media_dir) or absolute")
    s.add_argument("--image-tag", default="<image>", help="image placeholder in JSON formats")
    s.add_argument("--embed-images", action=argparse.BooleanOptionalAction, default=None,
                   help="parquet: PNG bytes in the file (default) or --no-embed-images for paths")
    s.add_argument("--shard-size", type=int, default=10000, help="rows per shard (default 10000)")
    s.add_argument("--shard-bytes", type=int, default=0, help="also close a shard at this many bytes")
    s.add_argument("--compression", type=int, default=None,
                   help="PNG compression 0..9 (default: the encoder's, 1 for gray/palette pages, "
                        "3 for RGB ones); the config's png-color picks gray/palette or RGB")
    s.add_argument("--dataset-name", default="glyph_sft", help="name in dataset_info.json")
    s.add_argument("--workers", type=int, default=0, help="worker threads (default: all cores); Ray: actors")
    s.add_argument("--ray", metavar="ADDRESS", help="run on Ray: 'local', 'auto' or ray://HOST:PORT")
    s.add_argument("--limit", type=int, help="only the first N records")
    s.add_argument("--overwrite", action="store_true", help="start over (delete the earlier build in --out)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--no-plot", action="store_true", help="no stats.png (skips matplotlib)")
    s.add_argument("--tokenizer", help="tokenizer.json (or folder) to count text tokens in the stats "
                                       "exactly (default: an approximation)")
    s.set_defaults(func=run)


def run(args) -> int:
    from . import build

    res = build(args.input, args.out, task=args.task, format=args.format, config=args.config,
                style=args.style, seed=args.seed, fields=_fields(args.field), workers=args.workers,
                ray=args.ray, overwrite=args.overwrite, progress=not args.quiet, limit=args.limit,
                plot=not args.no_plot, tokenizer=args.tokenizer,
                max_pages=args.max_pages, max_visual_tokens=args.max_visual_tokens,
                over_budget=args.over_budget, ocr_unit=args.ocr_unit, prompt=args.prompt,
                system=args.system, reasoning_format=args.reasoning_format,
                completion_ratio=args.completion_ratio, completion_chars=args.completion_chars,
                segment_chars=args.segment_chars, render_ratio=args.render_ratio,
                image_paths=args.image_paths, image_tag=args.image_tag,
                embed_images=args.embed_images, shard_size=args.shard_size,
                shard_bytes=args.shard_bytes, compression=args.compression,
                dataset_name=args.dataset_name)
    this = res.stats.get("this_run", {})
    print(f"[glyph sft] {res.out_dir}: {res.records} records, {res.samples} samples, {res.pages} pages "
          f"in {len(res.shards)} shard(s); this run: {res.new_records} made, {res.skipped} skipped, "
          f"{res.dropped} dropped (budget), {len(res.failures)} failed, "
          f"{this.get('seconds', 0):.1f} s", file=sys.stderr)
    if res.failures:
        print(f"[glyph sft] failures: {res.out_dir}/failures.jsonl", file=sys.stderr)
    if res.empty:
        print(f"error: no records were read ({', '.join(args.input)}"
              + (f", --limit {args.limit}" if args.limit is not None else "") + ")", file=sys.stderr)
    return res.exit_code
