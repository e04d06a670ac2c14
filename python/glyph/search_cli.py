"""`glyph search`: the config search from the command line.

    glyph search --val val.jsonl --evaluator ocr --population 16 --generations 20 --seed 0 --out out
    glyph search --space space.json --val a.txt b.txt --evaluator mypkg.eval:score \
                 --advisor http://localhost:8000/v1 --advisor-model qwen --min-accuracy 0.9

glyph.cli adds it with add_parser(subparsers); ``python -m glyph.search_cli ...`` runs it alone.
Re-running with the same --out resumes from out/search.jsonl.
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
from typing import Callable, List, Optional

from tqdm.auto import tqdm

from ._core import InputError
from .io import make_folder

__all__ = ["add_parser", "run", "main", "load_callable"]


def load_callable(spec: str) -> Callable:
    """"module:function" (or "module:Class" instantiated without arguments) -> callable."""
    if ":" not in spec:
        raise SystemExit(f"--evaluator/--text-tokens: expected module:function, got {spec!r}")
    mod_name, _, attr = spec.partition(":")
    try:
        obj = importlib.import_module(mod_name)
    except ImportError as e:
        raise SystemExit(f"cannot import {mod_name!r}: {e}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SystemExit(f"{mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, type):
        obj = obj()
    if not callable(obj):
        raise SystemExit(f"{spec!r} is not callable")
    return obj


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "search",
        help="search rendering configs (accuracy vs compression)",
        description=__doc__.split("\n\n")[0],
    )
    configure(p)
    p.set_defaults(func=run)
    return p


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", help="search space JSON (default: the built-in space)")
    p.add_argument("--val", nargs="+", required=True,
                   help="validation samples: .jsonl files ({'text': ...} per line) or text files")
    p.add_argument("--limit-chars", type=int, default=0,
                   help="cut each sample to this many chars (0: whole samples)")
    p.add_argument("--evaluator", required=True,
                   help="'ocr' (Tesseract) or module:function taking (config, pages, sample)")
    p.add_argument("--text-tokens", help="module:function counting text tokens (default: approx)")
    p.add_argument("--advisor", help="OpenAI-compatible chat-completions URL (LLM advisor)")
    p.add_argument("--advisor-model", default="", help="model name sent to the advisor")
    p.add_argument("--advisor-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the advisor's API key")
    p.add_argument("--seed-config", action="append", default=[],
                   help="config JSON placed in the first generation (repeatable)")
    p.add_argument("--population", type=int, default=16)
    p.add_argument("--generations", type=int, default=20)
    p.add_argument("--budget", type=int, default=0, help="max evaluations (0: population x gens)")
    p.add_argument("--patience", type=int, default=5,
                   help="stop after this many generations without improvement (0: never)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="parallel evaluations (0: all cores)")
    p.add_argument("--objective", choices=["pareto", "accuracy", "compression"], default="pareto")
    p.add_argument("--min-accuracy", type=float)
    p.add_argument("--min-compression", type=float)
    p.add_argument("--out", required=True, help="output folder (log, best config, front, plot)")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


class _GenerationBar(tqdm):
    """tqdm with a free-text status after the bar (notebooks get a widget)."""

    status = ""

    @property
    def format_dict(self):
        d = super().format_dict
        d["status"] = self.status
        return d


def _in_notebook() -> bool:
    """Whether tqdm.auto picked the notebook widget (Jupyter with ipywidgets)."""
    try:
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:
        return False
    return issubclass(tqdm, notebook_tqdm)


class ProgressBar:
    """One bar per generation, updated after every evaluation: "gen   3/20 [####....] 5/16
    evals 37  best acc 0.9412  comp 3.210"."""

    def __init__(self, stream=None, width: int = 24):
        self.stream, self.width = stream, width
        self.bar: Optional[_GenerationBar] = None
        self.generation = -1

    def __call__(self, p) -> None:
        if self.bar is None or p.generation != self.generation:
            self.close()
            self.generation = p.generation
            # a notebook's widget draws the bar itself where the format says {bar}
            fmt = "{desc} {bar} {status}" if _in_notebook() else "{desc} [{bar:%d}] {status}" % self.width
            self.bar = _GenerationBar(
                total=max(p.to_do, 1), desc=f"gen {p.generation + 1:>3}/{p.generations}",
                bar_format=fmt, ascii=".#",
                file=self.stream or sys.stderr, disable=False, leave=True)
        acc, comp = p.best_accuracy, p.best_compression
        best = "no feasible config yet" if math.isnan(acc) else f"best acc {acc:.4f}  comp {comp:.3f}"
        if p.generation_done:
            self.bar.n = self.bar.total
            self.bar.status = f"done  evals {p.evaluations}  {best}"
            self.close()
        else:
            self.bar.total = max(p.to_do, 1)
            self.bar.status = f"{p.done}/{p.to_do}  evals {p.evaluations}  {best}"
            self.bar.update(p.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run(args: argparse.Namespace) -> int:
    from .search import ConfigSearch, HttpAdvisor, OcrEvaluator, load_samples
    from .render import as_config

    # on the command line --val is always a file (load_samples would take any other string as
    # the sample's text, and a typo would search on the path itself)
    for v in args.val:
        if not os.path.isfile(v):
            why = "is a folder" if os.path.isdir(v) else "no such file"
            raise InputError(f"--val {v!r}: {why} (give .jsonl sample files or text files)")
    samples = load_samples(args.val, limit_chars=args.limit_chars)
    evaluator = OcrEvaluator() if args.evaluator == "ocr" else load_callable(args.evaluator)
    text_tokens = load_callable(args.text_tokens) if args.text_tokens else None
    advisor = None
    if args.advisor:
        advisor = HttpAdvisor(args.advisor, model=args.advisor_model,
                              api_key_env=args.advisor_key_env)
    opts = dict(population=args.population, generations=args.generations, budget=args.budget,
                patience=args.patience, seed=args.seed, threads=args.threads,
                objective=args.objective)
    if args.min_accuracy is not None:
        opts["min_accuracy"] = args.min_accuracy
    if args.min_compression is not None:
        opts["min_compression"] = args.min_compression
    search = ConfigSearch(args.space, seeds=[as_config(c) for c in args.seed_config], **opts)
    make_folder(args.out)  # after every cheap check: a refused run leaves nothing behind
    log = os.path.join(args.out, "search.jsonl")
    if os.path.exists(log) and os.path.getsize(log) > 0:
        print(f"[glyph] resuming from {log}", file=sys.stderr)
    bar = None if args.quiet else ProgressBar()
    try:
        result = search.run(samples, evaluator, text_tokens=text_tokens, advisor=advisor, log=log,
                            progress=bar)
    finally:
        if bar is not None:
            bar.close()
    for note in search.seed_notes:
        print(f"[glyph] seed: {note}", file=sys.stderr)
    paths = result.save(args.out, plot=not args.no_plot)
    print(f"[glyph] {result.stop_reason}; {len(result.raw.evaluated)} evaluations "
          f"(text tokens: {result.text_token_counter})", file=sys.stderr)
    print(f"{'accuracy':>9} {'compression':>11}  settings")
    for d in result.front:
        print(f"{d['accuracy']:9.4f} {d['compression']:11.3f}  {json.dumps(d['settings'])}")
    for k, v in paths.items():
        print(f"[glyph] {k}: {v}", file=sys.stderr)
    advisor_failures = {n for g in result.raw.generations for n in g.advisor_notes
                        if n.startswith("advisor failed")}
    for note in sorted(advisor_failures):
        print(f"warning: {note}", file=sys.stderr)
    if result.raw.best is not None:
        return 0
    print(f"error: {_why_nothing_feasible(result.raw.evaluated, args, log)}", file=sys.stderr)
    return 1


def _why_nothing_feasible(evaluated, args: argparse.Namespace, log: str) -> str:
    """Why a search ended with no feasible config: the evaluator failed, or a constraint."""
    failed = [e for e in evaluated if not e.ok]
    if evaluated and len(failed) == len(evaluated):
        return (f"all {len(failed)} evaluations failed; the first: {failed[0].error} (every one "
                f"is in {log})")
    ok = [e for e in evaluated if e.ok]
    if not ok:
        return "nothing was evaluated"
    best_acc = max(e.accuracy for e in ok)
    best_comp = max(e.compression for e in ok)
    limits = []
    if args.min_accuracy is not None:
        limits.append(f"--min-accuracy {args.min_accuracy:g} (accuracy is 0..1; the best seen "
                      f"{best_acc:.4f})")
    if args.min_compression is not None:
        limits.append(f"--min-compression {args.min_compression:g} (the best seen "
                      f"{best_comp:.3f})")
    reason = " or ".join(limits) if limits else "the search's constraints"
    return f"no config of {len(ok)} evaluated met {reason}"


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="glyph search", description=__doc__.split("\n\n")[0])
    configure(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
