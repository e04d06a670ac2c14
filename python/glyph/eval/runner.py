"""The evaluation loop: items -> (pages) -> backend -> predictions JSONL -> results.

Predictions are appended one JSON line per answered item (``glyph.io.JsonlWriter``), so a killed
run loses at most the requests in flight, and a rerun of the same command skips what is answered.
Items that failed (after the backend's retries) are written too, with ``error`` and ``message``,
and are asked again on a rerun; at the end each predictions file is rewritten (atomically) with one
record per item, in the data's order, so a resumed run leaves the same file as an uninterrupted one
(only ``latency_s`` differs).
"""
from __future__ import annotations

import concurrent.futures as cf
import os
import threading
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from tqdm.auto import tqdm

from .._args import whole
from .._core import GlyphError, InputError
from ..io import JsonlWriter, atomic_open, make_folder, read_jsonl
from .backends import BackendError, LocalBackend, make_backend
from .data import Record, check_data, read_records
from .protocols import (EvalItem, ItemError, Options, Protocol, check_prompt, get_protocol,
                        image_paths)

__all__ = ["run", "prepare_items", "PREDICTIONS", "TEXT_PREDICTIONS", "FAILURES"]

PREDICTIONS = "predictions.jsonl"
TEXT_PREDICTIONS = "predictions_text.jsonl"
FAILURES = "bad_input.jsonl"


def prepare_items(protocol: Protocol, records: Iterable[Record], *, limit: Optional[int] = None,
                  progress: bool = True) -> Tuple[List[EvalItem], List[Dict[str, Any]]]:
    """Items ready to ask, and the bad input: one dict per record that cannot be evaluated
    (``where``, ``reason``, ``message``, and ``id`` / ``group`` where known)."""
    items: List[EvalItem] = []
    bad: List[Dict[str, Any]] = []
    seen: Dict[str, str] = {}
    bar = tqdm(desc=f"{protocol.name}: reading items", unit="item", disable=not progress,
               leave=False)
    for rec in records:
        bar.update(1)
        if limit is not None and len(items) + len(bad) >= limit:
            break
        if rec.item is None:
            bad.append({"where": rec.where, "reason": rec.reason, "message": rec.message})
            continue
        try:
            item = protocol.prepare(rec)
        except ItemError as e:
            entry = {"where": rec.where, "reason": e.reason, "message": str(e)}
            if e.group is not None:
                entry["group"] = e.group
            bad.append(entry)
            continue
        except (GlyphError, ValueError, TypeError, KeyError) as e:
            bad.append({"where": rec.where, "reason": "bad_item", "message": f"{rec.where}: "
                        f"{type(e).__name__}: {e}"})
            continue
        if protocol.opts.use_image_paths:
            try:
                item.image_paths = image_paths(rec, item.group)
            except ItemError as e:
                bad.append({"where": rec.where, "reason": e.reason, "message": str(e),
                            "group": item.group, "id": item.id})
                continue
        if item.id in seen:
            bad.append({"where": rec.where, "reason": "duplicate_id", "group": item.group,
                        "message": f"{rec.where}: id {item.id!r} already used at {seen[item.id]}"})
            continue
        seen[item.id] = rec.where
        items.append(item)
    bar.close()
    return items, bad


class _Renderers:
    """One glyph.Renderer per distinct config (renderers are thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_key: Dict[str, Any] = {}

    def get(self, cfg):
        import glyph

        key = cfg.to_json(0)
        with self._lock:
            r = self._by_key.get(key)
            if r is None:
                r = self._by_key[key] = glyph.Renderer(cfg)
            return r


def _count_tokens(tok, text: str) -> Optional[int]:
    if tok is None:
        return None
    from ..tokenizer import count_tokens

    return int(count_tokens(tok, text))


def _files_visual_tokens(paths: Sequence[str]) -> int:
    """GLM-4.1V visual tokens of page image files (their sizes read from the headers)."""
    from PIL import Image

    import glyph

    total = 0
    for p in paths:
        with Image.open(p) as im:
            total += int(glyph.visual_tokens(im.height, im.width))
    return total


def _ask(item: EvalItem, mode: str, backend, renderers: _Renderers, tok) -> Dict[str, Any]:
    rec: Dict[str, Any] = {"id": item.id, "group": item.group, "mode": mode}
    if item.warnings:
        rec["warnings"] = list(item.warnings)
    pages: List[Any] = []
    t0 = time.perf_counter()
    try:
        if mode == "pages" and item.image_paths is not None:
            pages = list(item.image_paths)
            if not pages:  # Glyph's resumed renders leave empty lists: never ask without pages
                rec.update(error="no_pages", message="the item's image_paths is empty",
                           attempts=0, latency_s=0.0)
                return rec
            rec["pages"] = len(pages)
            rec["visual_tokens"] = _files_visual_tokens(pages)
        elif mode == "pages":
            result = renderers.get(item.config).render(item.context)
            pages = list(result.pages)
            rec["pages"] = len(pages)
            rec["visual_tokens"] = int(result.visual_tokens)
        rec["text_tokens"] = _count_tokens(tok, item.context)
    except OSError as e:
        rec.update(error="page_file_error", message=f"{e}", attempts=0,
                   latency_s=round(time.perf_counter() - t0, 4))
        return rec
    except GlyphError as e:
        rec.update(error="render_error", message=f"{type(e).__name__}: {e}", attempts=0,
                   latency_s=round(time.perf_counter() - t0, 4))
        return rec
    try:
        reply = backend.ask(pages, item.prompt if mode == "pages" else item.text_prompt)
    except BackendError as e:
        rec.update(error=e.reason, message=str(e), attempts=e.attempts,
                   latency_s=round(time.perf_counter() - t0, 4))
        return rec
    except GlyphError as e:  # a request that cannot be built (an image too big to encode, ...)
        rec.update(error="request_error", message=f"{type(e).__name__}: {e}", attempts=0,
                   latency_s=round(time.perf_counter() - t0, 4))
        return rec
    rec.update(prediction=reply.content, text=reply.text, reasoning=reply.reasoning,
               prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
               finish_reason=reply.finish_reason, attempts=reply.attempts,
               latency_s=round(reply.latency_s, 4))
    return rec


def _score(protocol: Protocol, item: EvalItem, rec: Dict[str, Any]) -> None:
    try:
        value = protocol.score(item, rec["text"])
        score = float(value)
    except (ValueError, TypeError) as e:
        # a prediction the metric cannot take is the model's failure: 0, with the reason kept
        rec["score"] = 0.0
        rec["score_error"] = f"{type(e).__name__}: {e}"
        return
    if not 0.0 <= score <= 1.0:  # NaN too: a metric's bug would otherwise move the average
        rec["score"] = 0.0
        rec["score_error"] = f"the metric returned {value!r}, not a score in [0, 1]"
        return
    rec["score"] = score


def _run_mode(protocol: Protocol, items: Sequence[EvalItem], mode: str, backend, path: str, *,
              concurrency: int, renderers: _Renderers, tok, progress: bool) -> None:
    with JsonlWriter(path, key="id", require=("prediction",)) as out:
        todo = [it for it in items if it.id not in out.done]
        bar = tqdm(total=len(items), initial=len(items) - len(todo), unit="item",
                   desc=f"{protocol.name} ({mode}, {getattr(backend, 'name', 'backend')})",
                   disable=not progress)
        failed = 0
        by_id = {it.id: it for it in todo}
        pool = cf.ThreadPoolExecutor(max_workers=max(1, concurrency),
                                     thread_name_prefix=f"glyph-eval-{mode}")
        try:
            pending: set = set()
            queue = iter(todo)
            exhausted = False
            while True:
                while not exhausted and len(pending) < max(1, concurrency):
                    it = next(queue, None)
                    if it is None:
                        exhausted = True
                        break
                    pending.add(pool.submit(_ask, it, mode, backend, renderers, tok))
                if not pending:
                    break
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    rec = fut.result()
                    if "prediction" in rec:
                        _score(protocol, by_id[rec["id"]], rec)
                    else:
                        failed += 1
                    out.write(rec)
                    bar.update(1)
                    if failed:
                        bar.set_postfix(failed=failed, refresh=False)
        except BaseException:
            # Ctrl-C or a write that failed: what is in flight is lost, what was written stays
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        else:
            pool.shutdown(wait=True)
        finally:
            bar.close()


def _canonical(path: str, items: Sequence[EvalItem]) -> Dict[str, Dict[str, Any]]:
    """Rewrite ``path`` with the last record of each id, in the items' order (ids not among the
    items, from an earlier run over other data, are kept after them). Returns id -> record."""
    if not os.path.exists(path):
        return {}
    latest: Dict[str, Dict[str, Any]] = {}
    order: List[str] = []
    for rec in read_jsonl(path):
        if not isinstance(rec, dict) or "id" not in rec:
            continue
        key = str(rec["id"])
        if key not in latest:
            order.append(key)
        if "prediction" in rec or "prediction" not in latest.get(key, {}):
            latest[key] = rec
    ids = [it.id for it in items if it.id in latest]
    known = set(ids)
    ids += [k for k in order if k not in known]
    import json

    with atomic_open(path) as f:
        for k in ids:
            f.write(json.dumps(latest[k], ensure_ascii=False) + "\n")
    return latest


RUN_FILE = "run.json"


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (str, int, float, bool, list, dict)):
        return v
    if hasattr(v, "to_dict"):
        return v.to_dict()
    return getattr(v, "__qualname__", None) or repr(v)


def _check_run_file(out: str, options: Dict[str, Any], overwrite: bool) -> None:
    """``out/run.json`` holds the options that shape the predictions; resuming into a folder made
    with other options would mix two runs, so that is an error (or, with ``overwrite``, a fresh
    start). The backend's address is not compared (a server may move to another port)."""
    import json

    path = os.path.join(out, RUN_FILE)
    options = json.loads(json.dumps(options, default=str))
    if overwrite:
        for name in (PREDICTIONS, TEXT_PREDICTIONS):
            if os.path.exists(os.path.join(out, name)):
                os.unlink(os.path.join(out, name))
    elif os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                before = json.load(f)
        except ValueError:
            before = None
        if isinstance(before, dict) and before != options:
            diff = sorted(k for k in set(before) | set(options) if before.get(k) != options.get(k))
            raise InputError(f"{out} holds a run with other options ({', '.join(diff)} differ): "
                             "resuming would mix the two. Use another --out, or --overwrite to "
                             "start over")
    from ..io import atomic_write

    atomic_write(path, json.dumps(options, indent=2, ensure_ascii=False))


def run(benchmark: Any, data: Any, backend: Any, out: Any, *, text_baseline: Any = None,
        newline: str = "none", concurrency: int = 4, limit: Optional[int] = None, seed: int = 0,
        font_dirs: Sequence[str] = (), config: Any = None, dpi: Optional[int] = None,
        tokenizer: Any = None, metric: Any = None, prompt: Optional[str] = None,
        text_prompt: Optional[str] = None, model: Optional[str] = None,
        text_model: Optional[str] = None, params: Optional[Mapping[str, Any]] = None,
        text_params: Optional[Mapping[str, Any]] = None, vllm_extensions: bool = True,
        timeout: float = 600.0, retries: int = 3, backoff: float = 1.0, device: str = "cpu",
        dtype: Any = None, split: Optional[str] = None, cjk_font: Optional[str] = None,
        use_image_paths: bool = False, ruler_remove_think: bool = True,
        overwrite: bool = False, progress: bool = True, plot: bool = True) -> Dict[str, Any]:
    """Evaluate ``backend`` on a benchmark and write predictions, results and plots to ``out``.

    benchmark: "longbench" (LongBench and LongBench-E), "mrcr", "ruler", "custom" (or a
    ``Protocol``). data: a JSONL / JSON file, a folder of them, or a ``datasets.save_to_disk``
    folder (``split`` picks one split). backend: "local:CKPT", an http(s):// URL of an
    OpenAI-compatible server, or a backend object. text_baseline: the same items as text, to a
    URL, "local:CKPT", or "backend" (the main backend without pages). See docs/eval.md for the
    rest. A rerun with the same options resumes; other options in the same ``out`` are an error
    unless ``overwrite`` (which starts over). Returns the results dict (also in
    ``out/results.json``).
    """
    from . import report

    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InputError(f"concurrency must be an int >= 1, got {concurrency!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InputError(f"limit must be an int >= 0 (or None: every item), got {limit!r}")
    if newline not in ("none", "chose", "all"):
        raise InputError(f"newline must be none, chose or all, got {newline!r}")
    check_prompt("prompt", prompt, ("question", "input"))  # the context is on the pages
    check_prompt("text_prompt", text_prompt, ("context",))
    # options of the whole run are checked once, not item by item
    if dpi is not None and not 18 <= whole("dpi", dpi) <= 1200:
        raise InputError(f"dpi must be in 18..1200, got {dpi}")
    from .. import chat
    from ..render import Renderer, as_config

    resolved_config = None
    if config is not None:
        resolved_config = as_config(config)  # ConfigError naming the file or key
        resolved_config.validate()
        Renderer(resolved_config)  # opens its fonts: a missing one fails here, not per item
    if isinstance(font_dirs, (str, os.PathLike)):
        font_dirs = [font_dirs]  # one folder (a str would be one folder per character)
    font_dirs = [os.fspath(d) for d in font_dirs or ()]
    for d in font_dirs:
        if not os.path.isdir(d):
            raise InputError(f"font_dirs: {os.fspath(d)!r} is not a folder")
    if cjk_font is not None:
        Renderer(chat.glyph_config("zh", cjk_font=cjk_font))  # FontError naming the file
    opts = Options(newline=newline, font_dirs=tuple(font_dirs or ()), config=resolved_config,
                   dpi=dpi, seed=seed, cjk_font=cjk_font, metric=metric, prompt=prompt,
                   text_prompt=text_prompt, use_image_paths=use_image_paths,
                   ruler_remove_think=ruler_remove_think)
    if tokenizer is not None:
        import glyph

        opts.tokenizer = glyph.load_tokenizer(tokenizer)
    protocol = get_protocol(benchmark, opts)
    check_data(data, split=split)
    out = os.fspath(out)
    make_folder(out)
    common = dict(params=params, vllm_extensions=vllm_extensions, timeout=timeout,
                  retries=retries, backoff=backoff, device=device, dtype=dtype,
                  batch_size=concurrency)
    main = make_backend(backend, model=model, **common)
    if main is None:
        raise InputError("no backend: give --backend local:CKPT or an http(s):// URL")
    if text_baseline in ("backend", "same") or (isinstance(text_baseline, str)
                                                and text_baseline == backend
                                                and isinstance(main, LocalBackend)):
        text_be = main  # the same in-process model, asked without pages
    else:
        text_common = dict(common, params=text_params if text_params is not None else params)
        text_be = make_backend(text_baseline, model=text_model, **text_common)
    if opts.tokenizer is None and isinstance(main, LocalBackend):
        opts.tokenizer = main.tokenizer
    try:
        _check_run_file(out, {
            "benchmark": protocol.name, "newline": newline, "seed": seed,
            "config": _jsonable(config), "dpi": dpi, "font_dirs": list(font_dirs or ()),
            "metric": _jsonable(metric), "prompt": prompt, "text_prompt": text_prompt,
            "params": _jsonable(params), "text_params": _jsonable(text_params),
            "vllm_extensions": vllm_extensions, "cjk_font": cjk_font,
            "use_image_paths": use_image_paths, "ruler_remove_think": ruler_remove_think},
            overwrite)
        items, bad = prepare_items(protocol, read_records(data, split=split), limit=limit,
                                   progress=progress)
        with JsonlWriter(os.path.join(out, FAILURES), fresh=True) as f:
            for b in bad:
                f.write(b)
        renderers = _Renderers()
        modes = [("pages", main, os.path.join(out, PREDICTIONS))]
        if text_be is not None:
            modes.append(("text", text_be, os.path.join(out, TEXT_PREDICTIONS)))
        records: Dict[str, Dict[str, Dict[str, Any]]] = {}
        t0 = time.time()
        try:
            for mode, be, path in modes:
                _run_mode(protocol, items, mode, be, path, concurrency=concurrency,
                          renderers=renderers, tok=opts.tokenizer, progress=progress)
        finally:
            for mode, be, path in modes:
                records[mode] = _canonical(path, items)
        info = {"benchmark": protocol.name,
                "data": [os.fspath(d) for d in data] if isinstance(data, (list, tuple))
                else os.fspath(data),
                "backend": getattr(main, "name", str(backend)),
                "text_baseline": getattr(text_be, "name", None) if text_be is not None else None,
                "newline": newline, "seed": seed, "concurrency": concurrency,
                "wall_seconds": round(time.time() - t0, 2)}
        results = report.summarize(protocol, items, bad, records, info)
        report.write(results, out, plot=plot)
        return results
    finally:
        for be, given in ((main, backend), (text_be, text_baseline)):
            if be is not None and be is not given and hasattr(be, "close"):
                be.close()  # the backends this run made (a backend object passed in stays open)
