"""The `glyph` command line.

    glyph render [TEXT_FILE] [--config CFG.json] [--out DIR] [--tokenizer tokenizer.json]
    glyph render --batch RECORDS.jsonl --out DIR [--output OUT.jsonl] [--threads N]
    glyph config [--check CFG.json | --keys]          (no flag: the default config as JSON)
    glyph search --val SAMPLES --evaluator ocr --out DIR ...   (glyph.search_cli)
    glyph ask --model CKPT --text FILE --question Q ...        (glyph.vlm_cli)
    glyph sft --input RECORDS --out DIR [--task qa|ocr|...]    (glyph.sft.cli)
    glyph serve --model CKPT | --upstream URL [--port N] ...   (glyph.serve.cli)
    glyph eval {longbench,mrcr,ruler,custom} --data PATH --backend (local:CKPT | URL) --out DIR
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, Optional, Tuple

from tqdm.auto import tqdm

import glyph

from . import search_cli, vlm_cli
from .serve import cli as serve_cli
from .sft import cli as sft_cli
from .eval import cli as eval_cli
from ._tokenizers import as_codec
from ._core import InputError, IoError
from .io import JsonlWriter, make_folder
from .render import as_config


def _load_tokenizer(path: Optional[str]):
    if not path:
        return None
    return as_codec(glyph.load_tokenizer(path))  # cached: a batch loads each tokenizer.json once


def _count_lines(stats) -> List[str]:
    """The summary lines for what the renderer replaced, removed or could not draw."""
    out = []
    if stats.invalid_utf8:
        out.append(f"invalid UTF-8:   {stats.invalid_utf8} sequences replaced by U+FFFD")
    if stats.removed:
        out.append(f"removed:         {stats.removed} characters (soft hyphens, zero-width spaces, "
                   "control characters)")
    if stats.missing_glyphs:
        out.append(f"missing glyphs:  {stats.missing_glyphs} characters no font has (e.g. "
                   + ", ".join(f"U+{c:04X}" for c in stats.missing_codepoints[:5]) + ")")
    return out


# ----------------------------------------------------------------------------- render (one file)

def _is_plain_name(name: str) -> bool:
    """A folder name that stays inside the output folder (no separators, not . or ..)."""
    return not ("/" in name or "\\" in name or name in (".", ".."))


def _plain_folder_name(flag: str, name: str) -> None:
    if not _is_plain_name(name):
        raise InputError(f"{flag} must be a plain folder name, got {name!r}")


def _render_one(args) -> int:
    """One text, streamed: the file is read in chunks (only the current 30-line paragraph is
    held) and each page is written as soon as it is made, so memory stays bounded whatever the
    text's size. Invalid UTF-8 is replaced (and counted) by the renderer."""
    for flag in ("output", "failures"):
        if getattr(args, flag):
            raise InputError(f"--{flag} is for --batch")
    if args.text == "-":
        # the renderer reads a text twice (Glyph decides the wrapping mode for the whole text
        # first), which a pipe cannot do
        raise InputError("render reads a file, not standard input ('-'): save the text to a file "
                         "first")
    if args.unique_id is not None:
        _plain_folder_name("--unique-id", args.unique_id)
    config = as_config(args.config)
    if args.png_color:
        config.png_color = args.png_color
    renderer = glyph.Renderer(config)
    if args.text:
        text: Any = glyph.TextSource.from_file(args.text)  # IoError naming the file
        source = args.text
    else:
        text = glyph.sample_text()
        source = "built-in sample (Alice's Adventures in Wonderland, chapter 1)"
    tokenizer = _load_tokenizer(args.tokenizer)
    folder = os.path.join(args.out, args.unique_id) if args.unique_id else args.out
    if not args.no_save:
        make_folder(folder)
    paths: List[str] = []
    sizes: List[str] = []
    with tqdm(desc="render", unit="page", disable=None, file=sys.stderr) as bar:
        def on_page(page) -> None:
            if len(sizes) < 4:
                sizes.append(f"{page.width}x{page.height}")
            if not args.no_save:
                path = os.path.join(folder, page.file_name)
                page.save(path, args.compression, config.png_color)  # atomic; IoError names the path
                paths.append(path)
            bar.update()

        stats = renderer.render_each(text, on_page)
    if not args.no_save:  # an earlier, longer render's last pages would pass for this text's
        glyph._core.remove_stale_pages(folder, len(paths))
    text_tokens = None
    if tokenizer is not None:
        text_tokens = glyph.count_tokens(tokenizer, text)
    summary = {
        "pages": stats.pages,
        "characters": stats.characters,
        "visual_tokens": stats.visual_tokens,
        "invalid_utf8": stats.invalid_utf8,
        "removed": stats.removed,
        "missing_glyphs": stats.missing_glyphs,
    }
    if text_tokens is not None:
        summary["text_tokens"] = int(text_tokens)
        summary["compression"] = text_tokens / stats.visual_tokens if stats.visual_tokens else 0.0
    if args.json:
        summary["missing_codepoints"] = list(stats.missing_codepoints)
        summary["image_paths"] = paths
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(f"source:          {source}")
    print(f"font:            {config.font_path}")
    print(f"characters:      {summary['characters']}")
    print(f"pages:           {summary['pages']}  (sizes: " + ", ".join(sizes)
          + (" ..." if stats.pages > 4 else "") + ")")
    print(f"visual tokens:   {summary['visual_tokens']}  (GLM-4.1V image processor)")
    if text_tokens is not None:
        print(f"text tokens:     {text_tokens}")
        print(f"compression:     {summary['compression']:.2f}x  (text tokens / visual tokens)")
    else:
        print("text tokens:     n/a (pass --tokenizer path/to/tokenizer.json to count them)")
    for line in _count_lines(stats):
        print(line)
    if paths:
        print(f"written:         {os.path.dirname(paths[0])}/page_001.png .. {os.path.basename(paths[-1])}")
    return 0


# ----------------------------------------------------------------------------- render --batch

class _Bad(Exception):
    """A batch line that cannot be rendered: it goes to the failures file."""


def _iter_records(path: str) -> Iterator[Tuple[int, Any]]:
    """(line number, record) from a JSON list or JSON lines; a line that is not a JSON object
    gives (line number, _Bad(reason)) instead, so the other lines still render. JSON lines are
    read one at a time (a batch of any size, a record of 50 MB); a JSON list is loaded whole."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise IoError(f"cannot read batch file {path!r}: {e.strerror}") from None
    with f:
        head = f.read(64).lstrip()
        f.seek(0)
        if head[:1] == b"[":
            try:
                data = json.loads(f.read())
            except (ValueError, UnicodeDecodeError) as e:
                yield getattr(e, "lineno", 1), _Bad(f"invalid JSON list: {e}")
                return
            for i, rec in enumerate(data):
                yield i + 1, rec
            return
        lineno = 0
        while True:
            line = f.readline()
            if not line:
                return
            lineno += 1
            if not line.strip():
                continue
            box = [line]
            del line  # a 50 MB line is held once: _parse_line takes it over
            rec = _parse_line(box)
            yield lineno, rec
            del rec


def _parse_line(box: List[bytes]) -> Any:
    """One JSON line -> its record, with the text ("context") as the line's own UTF-8 bytes: the
    renderer replaces and counts invalid UTF-8 in them, and a big record is held compactly.

    Without \\u escapes in the line, the bytes are parsed as Latin-1 (one character per byte,
    escapes other than \\u are ASCII and mean the same): the text's characters then are its UTF-8
    bytes, given back by encode("latin-1"), and the other strings are decoded from them. So a
    record of n bytes costs about 3n while it is parsed and n while it renders (a str of UTF-8
    text would take up to 4 bytes per character, twice).
    """
    line = box.pop()
    if b"\\u" not in line:
        chars = line.decode("latin-1")
        del line
        try:
            rec = json.loads(chars)
        except ValueError as e:
            return _Bad(f"invalid JSON line: {e}")
        del chars
        if not isinstance(rec, dict):
            return _fix_latin1(rec)
        key = "context" if "context" in rec else "text"
        text = rec.pop(key, None)
        rec = _fix_latin1(rec)
        if isinstance(text, str):
            text = text.encode("latin-1")
        elif text is not None:
            text = _fix_latin1(text)
        rec["context"] = text
        return rec
    try:
        text = line.decode("utf-8")
        exact = True
    except UnicodeDecodeError:
        text = line.decode("utf-8", "surrogateescape")  # invalid bytes kept for the renderer
        exact = False
    del line
    try:
        rec = json.loads(text)
    except ValueError as e:
        return _Bad(f"invalid JSON line: {e}")
    del text
    if isinstance(rec, dict):
        key = "context" if "context" in rec else "text"
        ctx = rec.pop(key, None)
        if isinstance(ctx, str):
            try:
                ctx = ctx.encode("utf-8", "surrogateescape")  # the original bytes
            except UnicodeEncodeError:
                pass  # a lone surrogate escaped in the JSON: the renderer replaces it
        rec["context"] = ctx
        if not exact:
            rec = {k: _fix_escaped(v) if k != "context" else v for k, v in rec.items()}
    return rec


def _fix_latin1(value: Any) -> Any:
    """Strings parsed from Latin-1 back to the text their UTF-8 bytes spell."""
    if isinstance(value, str):
        return value.encode("latin-1").decode("utf-8", "replace")
    if isinstance(value, list):
        return [_fix_latin1(v) for v in value]
    if isinstance(value, dict):
        return {_fix_latin1(k): _fix_latin1(v) for k, v in value.items()}
    return value


def _fix_escaped(value: Any) -> Any:
    """Strings with surrogate-escaped invalid bytes (outside the text): replaced by U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(value, list):
        return [_fix_escaped(v) for v in value]
    if isinstance(value, dict):
        return {_fix_escaped(k): _fix_escaped(v) for k, v in value.items()}
    return value


def _check_record(rec: Any) -> Tuple[str, Any]:
    """(unique_id, text) of a record, or _Bad naming what is wrong."""
    if isinstance(rec, _Bad):
        raise rec
    if not isinstance(rec, dict):
        raise _Bad(f"a record must be a JSON object, got {type(rec).__name__}")
    uid = rec.get("unique_id")
    if uid is None or (isinstance(uid, str) and not uid):
        raise _Bad("record needs a 'unique_id'")
    if not isinstance(uid, (str, int)) or isinstance(uid, bool):
        raise _Bad(f"'unique_id' must be a string, got {type(uid).__name__}")
    uid = str(uid)
    if not _is_plain_name(uid):
        raise _Bad(f"unique_id must be a plain folder name, got {uid!r}")
    text = rec.get("context")
    if text is None:
        raise _Bad("record needs a 'context' (the text to render)")
    if not isinstance(text, (str, bytes)):
        raise _Bad(f"'context' must be a string, got {type(text).__name__}")
    if not text:
        raise _Bad("'context' is empty")
    cfg = rec.get("config")
    if cfg is not None and not isinstance(cfg, dict):
        raise _Bad(f"'config' must be an object of Glyph keys, got {type(cfg).__name__}")
    return uid, text


def _clear_partial(folder: str) -> None:
    """Pages a killed run left for a record it never finished (none is referenced by a record):
    removed before the record renders again, so the folder ends as an uninterrupted run's."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith("page_") and (name.endswith(".png") or ".tmp" in name):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist yet
        return os.path.realpath(a) == os.path.realpath(b)


# In flight at once: records being rendered or waiting to be written in order. The text bytes
# held are capped too, so a batch of 50 MB records holds one at a time.
_MAX_INFLIGHT_BYTES = 32 << 20


def _render_batch(args) -> int:
    # what only a single text takes would be ignored silently
    for flag, given in (("the TEXT argument", args.text), ("--no-save", args.no_save),
                        ("--unique-id", args.unique_id), ("--json", args.json)):
        if given:
            raise InputError(f"{flag} is for a single text, not --batch (each record carries "
                             "its own context and unique_id)")
    output = args.output or os.path.join(args.out, "records.jsonl")
    failures_path = args.failures or os.path.join(args.out, "failures.jsonl")
    if args.threads < 0:
        raise InputError(f"--threads must be >= 0 (0: all cores), got {args.threads}")
    if args.batch == "-":
        raise InputError("--batch reads a file, not standard input ('-')")
    # the failures file is rewritten and the records file appended to: neither may be the input
    # or each other, or the records would be lost
    files = {"--batch": args.batch, "--output": output, "--failures": failures_path}
    for i, (a, pa) in enumerate(files.items()):
        for b, pb in list(files.items())[i + 1:]:
            if _same_file(pa, pb):
                raise InputError(f"{b} {pb!r} is the same file as {a} {pa!r}")
    make_folder(args.out)
    # Resumable: a torn last line (killed mid-write) is cut off, the ids written are skipped.
    # The failures file is this run's: every record not done is tried again.
    with JsonlWriter(output, key="unique_id", require=("image_paths",)) as writer, \
            JsonlWriter(failures_path, fresh=True) as failures:
        return _render_batch_into(args, writer, failures, output)


def _render_batch_into(args, writer: JsonlWriter, failures: JsonlWriter, output: str) -> int:
    base = as_config(args.config).to_dict()
    if args.png_color:
        base["png-color"] = args.png_color
    done = set(writer.done)
    tokenizer = _load_tokenizer(args.tokenizer)
    renderers: Dict[str, glyph.Renderer] = {}
    first_line: Dict[str, int] = {}
    totals = {"rendered": 0, "skipped": 0, "failed": 0, "invalid_utf8": 0, "removed": 0,
              "missing_glyphs": 0}

    def renderer_for(rec) -> glyph.Renderer:
        cfg = dict(base)
        cfg.update(rec.get("config") or {})
        key = json.dumps(cfg, sort_keys=True)
        if key not in renderers:  # one Renderer per distinct config (fonts opened once)
            renderers[key] = glyph.Renderer(cfg)
        return renderers[key]

    def work(lineno: int, uid: str, rec: dict, text: Any):
        try:
            r = renderer_for(rec)
            _clear_partial(os.path.join(args.out, uid))
            paths = r.render_to_dir(text, args.out, uid, args.compression)
            st = paths.stats
            out = {"unique_id": uid, "image_paths": list(paths), "pages": len(paths),
                   "visual_tokens": st.visual_tokens, "invalid_utf8": st.invalid_utf8,
                   "removed": st.removed, "missing_glyphs": st.missing_glyphs}
            if tokenizer is not None:  # bytes: counted in windows, decoded with "replace"
                out["text_tokens"] = glyph.count_tokens(
                    tokenizer, [text] if isinstance(text, bytes) else text)
            return out, None
        except glyph.IoError:
            raise  # the disk, not the record: stop (what was written stays whole)
        except (glyph.GlyphError, TypeError, ValueError) as e:
            return None, str(e)

    def fail(lineno: int, uid: Optional[str], reason: str) -> None:
        totals["failed"] += 1
        failures.write({"line": lineno, "unique_id": uid, "error": reason})
        label = f"record {uid!r} (line {lineno})" if uid is not None else f"line {lineno}"
        tqdm.write(f"[glyph] {label} failed: {reason}", file=sys.stderr)

    def finish(item) -> None:
        lineno, uid, fut, size = item
        ok, err = fut.result()
        if ok is None:
            fail(lineno, uid, err)
            return
        writer.write(ok)  # after every page of the record is in place
        totals["rendered"] += 1
        for k in ("invalid_utf8", "removed", "missing_glyphs"):
            totals[k] += ok[k]

    total = _count_records(args.batch)
    print(f"[glyph] rendering {args.batch} ({len(done)} records already in {output})",
          file=sys.stderr)
    threads = args.threads or glyph._core.hardware_threads()
    pending: "deque[tuple]" = deque()
    held = 0
    with ThreadPoolExecutor(max_workers=threads) as pool, \
            tqdm(total=total, desc="render", unit="record", disable=None) as bar:
        def drain(limit_items: int, limit_bytes: int) -> None:
            nonlocal held
            while pending and (len(pending) > limit_items or held > limit_bytes):
                item = pending.popleft()
                held -= item[3]
                finish(item)
                bar.update()

        for lineno, rec in _iter_records(args.batch):
            uid = None
            if isinstance(rec, dict) and rec.get("unique_id") is not None:
                uid = str(rec["unique_id"])
            try:
                uid, text = _check_record(rec)
                if uid in first_line:
                    raise _Bad(f"duplicate unique_id {uid!r} (first on line {first_line[uid]})")
                first_line[uid] = lineno
            except _Bad as e:
                drain(0, 0)  # keep the failures file in input order
                fail(lineno, uid, str(e))
                bar.update()
                continue
            if uid in done:
                drain(0, 0)
                totals["skipped"] += 1
                bar.update()
                continue
            size = len(text)
            pending.append((lineno, uid, pool.submit(work, lineno, uid, rec, text), size))
            held += size
            del rec, text
            drain(2 * threads, _MAX_INFLIGHT_BYTES)
        drain(0, -1)
    summary = (f"[glyph] done: {totals['rendered']} rendered, {totals['skipped']} already done, "
               f"{totals['failed']} failed; records in {output}")
    if totals["failed"]:
        summary += f", failures in {failures.path}"
    print(summary, file=sys.stderr)
    counts = [f"{totals['invalid_utf8']} invalid UTF-8 sequences replaced",
              f"{totals['removed']} characters removed",
              f"{totals['missing_glyphs']} missing glyphs"]
    print("[glyph] in the records rendered: " + ", ".join(counts), file=sys.stderr)
    return 1 if totals["failed"] else 0


def _count_records(path: str) -> Optional[int]:
    """Non-blank lines of a JSONL file (for the progress bar); None for a JSON list."""
    n = 0
    try:
        with open(path, "rb") as f:
            if f.read(64).lstrip()[:1] == b"[":
                return None
            f.seek(0)
            for line in f:
                n += bool(line.strip())
    except OSError as e:
        raise IoError(f"cannot read batch file {path!r}: {e.strerror}") from None
    return n


# ----------------------------------------------------------------------------- config

def _config_keys() -> str:
    """One line per key of the field table: key, kind, default, and (*) for glyphcpp's
    extensions, which a saved config holds only when they differ from the default."""
    defaults = glyph.RenderConfig()
    rows = [(f.key + (" (*)" if f.extension else ""), f.kind, defaults.get(f.key), f.doc)
            for f in glyph.RenderConfig.fields()]
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{a:<{w[0]}}  {b:<{w[1]}}  {c:<{w[2]}}  {d}" for a, b, c, d in rows]
    lines.append("(*) glyphcpp extension: saved only when it differs from the default; "
                 "Glyph's own config files do not have it")
    return "\n".join(lines)


def _config(args) -> int:
    if args.keys:
        print(_config_keys())
        return 0
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
    r.add_argument("--failures", help="batch: JSONL of the lines and records that failed, with "
                   "line number and reason (default: OUT/failures.jsonl)")
    r.add_argument("--threads", type=int, default=0, help="batch: worker threads (default: all cores)")
    r.set_defaults(func=lambda a: _render_batch(a) if a.batch else _render_one(a))

    c = sub.add_parser("config", help="print the default config or check a config file")
    c.add_argument("--check", metavar="CFG.json", help="validate a config and its fonts")
    c.add_argument("--keys", action="store_true",
                   help="list every config key (kind, default, meaning), glyphcpp's extensions "
                        "such as paragraph-lines and tab-nbsp included")
    c.set_defaults(func=_config)

    search_cli.add_parser(sub)
    vlm_cli.add_parser(sub)
    sft_cli.add_parser(sub)
    serve_cli.add_parser(sub)
    eval_cli.add_parser(sub)
    return p


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    import warnings

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        # glyph's own warnings (missing-font advice, a search whose every evaluation failed, ...)
        # read as the CLI's own lines, not as source locations
        if issubclass(category, glyph.MissingFontWarning) or os.fspath(filename).startswith(_PACKAGE):
            print(f"warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    # a file name that is not UTF-8 (a str with surrogate escapes) is printed as \udcff, not a
    # UnicodeEncodeError after the work is done (stderr already does this; stdout is strict)
    relaxed = [s for s in (sys.stdout, sys.stderr)
               if isinstance(s, io.TextIOWrapper) and s.errors == "strict"]
    for s in relaxed:
        s.reconfigure(errors="backslashreplace")
    try:
        return int(args.func(args) or 0)
    except glyph.GlyphError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `glyph render ... | head`: the reader left; no traceback
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 128 + 13  # as a command killed by SIGPIPE
    finally:
        warnings.showwarning = shown
        for s in relaxed:
            s.reconfigure(errors="strict")


if __name__ == "__main__":
    sys.exit(main())
