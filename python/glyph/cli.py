"""The `glyph` command line.

    glyph render [TEXT_FILE] [--config CFG.json] [--out DIR] [--tokenizer tokenizer.json]
    glyph render --batch RECORDS.jsonl --out DIR [--output OUT.jsonl] [--threads N]
    glyph config [--default | --check CFG.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, Optional, Tuple

from tqdm.auto import tqdm

import glyph

from . import search_cli, vlm_cli
from .sft import cli as sft_cli
from ._tokenizers import as_codec
from .io import JsonlWriter
from .render import as_config


def _load_tokenizer(path: Optional[str]):
    if not path:
        return None
    return as_codec(glyph.load_tokenizer(path))  # cached: a batch loads each tokenizer.json once


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise SystemExit(f"error: cannot read text file {path!r}: {e.strerror}")
    # Invalid UTF-8 is replaced (and counted by the renderer), never fatal.
    return data.decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------- render (one file)

def _render_one(args) -> int:
    config = as_config(args.config)
    if args.png_color:
        config.png_color = args.png_color
    renderer = glyph.Renderer(config)
    if args.text:
        text = _read_text(args.text)
        source = args.text
    else:
        text = glyph.sample_text()
        source = "built-in sample (Alice's Adventures in Wonderland, chapter 1)"
    tokenizer = _load_tokenizer(args.tokenizer)
    result = renderer.render(text)
    pages, stats = result.pages, result.stats
    paths: List[str] = []
    if not args.no_save:
        folder = os.path.join(args.out, args.unique_id) if args.unique_id else args.out
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise SystemExit(f"error: cannot create output folder {folder!r}: {e.strerror}")
        for page in pages:
            path = os.path.join(folder, page.file_name)
            page.save(path, args.compression, config.png_color)
            paths.append(path)
    text_tokens = tokenizer.count(text) if tokenizer is not None else None
    summary = glyph.RenderResult(pages, stats).summary(text_tokens)
    if args.json:
        summary["image_paths"] = paths
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(f"source:          {source}")
    print(f"font:            {config.font_path}")
    print(f"characters:      {summary['characters']}")
    print(f"pages:           {summary['pages']}  (sizes: "
          + ", ".join(f"{p.width}x{p.height}" for p in pages[:4])
          + (" ..." if len(pages) > 4 else "") + ")")
    print(f"visual tokens:   {summary['visual_tokens']}  (GLM-4.1V image processor)")
    if text_tokens is not None:
        print(f"text tokens:     {text_tokens}")
        print(f"compression:     {summary['compression']:.2f}x  (text tokens / visual tokens)")
    else:
        print("text tokens:     n/a (pass --tokenizer path/to/tokenizer.json to count them)")
    if stats.missing_glyphs:
        print(f"missing glyphs:  {stats.missing_glyphs} characters no font has "
              f"(e.g. {', '.join(f'U+{c:04X}' for c in stats.missing_codepoints[:5])})")
    if stats.invalid_utf8:
        print(f"invalid UTF-8:   {stats.invalid_utf8} sequences replaced by U+FFFD")
    if paths:
        print(f"written:         {os.path.dirname(paths[0])}/page_001.png .. {os.path.basename(paths[-1])}")
    return 0


# ----------------------------------------------------------------------------- render --batch

def _iter_records(path: str) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """Records from a JSON list or JSON lines; yields (line number, record)."""
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        raise SystemExit(f"error: cannot read batch file {path!r}: {e.strerror}")
    with f:
        head = f.read(1)
        while head and head.isspace():
            head = f.read(1)
        f.seek(0)
        if head == "[":
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise SystemExit(f"error: {path}: invalid JSON: {e}")
            for i, rec in enumerate(data):
                yield i + 1, rec
            return
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"error: {path}:{lineno}: invalid JSON line: {e}")


def _render_batch(args) -> int:
    output = args.output or os.path.join(args.out, "records.jsonl")
    os.makedirs(args.out, exist_ok=True)
    # Resumable: a torn last line (killed mid-write) is cut off, the ids written are skipped.
    with JsonlWriter(output, key="unique_id", require=("image_paths",)) as writer:
        return _render_batch_into(args, writer, output)


def _render_batch_into(args, writer: JsonlWriter, output: str) -> int:
    base = as_config(args.config).to_dict()
    if args.png_color:
        base["png-color"] = args.png_color
    done = set(writer.done)
    tokenizer = _load_tokenizer(args.tokenizer)

    todo: List[Tuple[int, Dict[str, Any]]] = []
    seen = set()
    skipped = 0
    for lineno, rec in _iter_records(args.batch):
        if not isinstance(rec, dict):
            raise SystemExit(f"error: {args.batch}:{lineno}: a record must be an object")
        uid = rec.get("unique_id")
        text = rec.get("context", rec.get("text"))
        if uid is None or text is None:
            raise SystemExit(f"error: {args.batch}:{lineno}: record needs 'unique_id' and 'context'")
        uid = str(uid)
        if uid in seen:
            raise SystemExit(f"error: {args.batch}:{lineno}: duplicate unique_id {uid!r}")
        seen.add(uid)
        if uid in done:
            skipped += 1
            continue
        todo.append((lineno, rec))

    renderers: Dict[str, glyph.Renderer] = {}

    def renderer_for(rec) -> glyph.Renderer:
        cfg = dict(base)
        cfg.update(rec.get("config") or {})
        key = json.dumps(cfg, sort_keys=True)
        if key not in renderers:  # one Renderer per distinct config (fonts opened once)
            renderers[key] = glyph.Renderer(cfg)
        return renderers[key]

    def work(item):
        lineno, rec = item
        uid = str(rec["unique_id"])
        text = rec.get("context", rec.get("text"))
        try:
            r = renderer_for(rec)
            paths = r.render_to_dir(text, args.out, uid, args.compression)
            out = {"unique_id": uid, "image_paths": paths, "pages": len(paths)}
            out["visual_tokens"] = sum(
                glyph.visual_tokens(*_png_size(p)[::-1]) for p in paths)
            if tokenizer is not None:
                out["text_tokens"] = tokenizer.count(text)
            return out, None
        except (glyph.GlyphError, TypeError, ValueError) as e:
            return None, {"unique_id": uid, "line": lineno, "error": str(e)}

    failed = 0
    print(f"[glyph] {len(todo)} records to render, {skipped} already done (resuming {output})",
          file=sys.stderr)
    with ThreadPoolExecutor(max_workers=args.threads or glyph._core.hardware_threads()) as pool, \
            tqdm(total=len(todo), desc="render", unit="record", disable=None) as bar:
        for ok, err in pool.map(work, todo):
            if ok is not None:
                writer.write(ok)
            else:
                failed += 1
                print(f"[glyph] record {err['unique_id']!r} (line {err['line']}) failed: "
                      f"{err['error']}", file=sys.stderr)
            bar.update()
    print(f"[glyph] done: {len(todo) - failed} rendered, {skipped} skipped, {failed} failed; "
          f"records in {output}", file=sys.stderr)
    return 1 if failed else 0


def _png_size(path: str) -> Tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(24)
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


# ----------------------------------------------------------------------------- config

def _config(args) -> int:
    if args.check:
        cfg = glyph.RenderConfig.from_file(args.check)
        cfg.validate()
        glyph.Renderer(cfg)  # opens the fonts too
        print(f"{args.check}: OK")
        return 0
    print(glyph.RenderConfig.glyph_default().to_json())
    return 0


# ----------------------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="glyph", description="glyphcpp: Glyph visual-text compression")
    p.add_argument("--version", action="version", version=f"glyphcpp {glyph.__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("render", help="render text to page images (one file or a JSONL batch)")
    r.add_argument("text", nargs="?", help="UTF-8 text file (default: a built-in sample)")
    r.add_argument("--config", help="Glyph config JSON (default: Glyph's searched config, DejaVu Sans)")
    r.add_argument("--out", default="glyph_out", help="output folder (default: glyph_out)")
    r.add_argument("--unique-id", help="subfolder for the pages, as Glyph's unique_id")
    r.add_argument("--compression", type=int, default=None,
                   help="PNG deflate level 0..9 (default: 3 for RGB pages, 1 for gray/palette pages; "
                        "both smaller than PIL's level-6 files)")
    r.add_argument("--png-color", choices=["auto", "rgb"], default=None,
                   help="PNG colour type: auto (8-bit gray or a palette when exact, else RGB) or rgb "
                        "(always 24-bit RGB); default: the config's png-color (auto)")
    r.add_argument("--tokenizer", help="tokenizer.json to count text tokens and compression")
    r.add_argument("--no-save", action="store_true", help="render in memory only")
    r.add_argument("--json", action="store_true", help="print the summary as JSON")
    r.add_argument("--batch", help="JSON list or JSONL of {unique_id, context, config?} records")
    r.add_argument("--output", help="batch: output JSONL (default: OUT/records.jsonl); resumable")
    r.add_argument("--threads", type=int, default=0, help="batch: worker threads (default: all cores)")
    r.set_defaults(func=lambda a: _render_batch(a) if a.batch else _render_one(a))

    c = sub.add_parser("config", help="print the default config or check a config file")
    c.add_argument("--check", metavar="CFG.json", help="validate a config and its fonts")
    c.set_defaults(func=_config)

    search_cli.add_parser(sub)
    vlm_cli.add_parser(sub)
    sft_cli.add_parser(sub)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except glyph.GlyphError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
