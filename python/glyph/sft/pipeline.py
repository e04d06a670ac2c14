"""The SFT build: records -> rendered pages + conversations, in shards a framework reads.

Layout of the output folder::

    OUT/data/train-00000.jsonl|parquet   the shards (each written atomically)
    OUT/images/<record>/<part>/page_001.png
    OUT/dataset_info.json                LLaMA-Factory's entry (format llamafactory)
    OUT/stats.json, stats.md, stats.png  the statistics report
    OUT/failures.jsonl                   {"id", "kind", "reason"} per record that failed
    OUT/dropped.jsonl                    {"id", "reason"} per record dropped by the budget
    OUT/.glyph-sft/journal.jsonl         what is done (resume), run.json (the options)

Resume: the journal gets one line per finished record, in input order, after its images are on
disk; shards are cut from it at fixed row counts. A rerun reads the journal, skips the ids it
holds and carries on, so a killed run resumed gives the same files as an uninterrupted one.
Failed records are not in the journal: a rerun tries them again.
"""
from __future__ import annotations

import collections
import contextlib
import json
import operator
import os
import random
import re
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

from .. import _core
from .._args import INT64, number, whole
from .._core import GlyphError, InputError, IoError, RenderConfig, SearchSpace
from ..io import JsonlWriter, atomic_write, repair_jsonl
from ..render import Renderer, as_config
from . import formats
from .inputs import Item, iter_items, missing_paths
from .report import Stats
from .styles import StyleSampler, derive_seed, load_style
from .targets import newline_rule
from .tasks import TASKS, Dropped, RecordError, TaskContext, resolve_task

__all__ = ["Options", "BuildResult", "Processor", "build"]

STATE_DIR = ".glyph-sft"
_NOT_ATTEMPTED = "not made: an earlier write failed (disk full?); rerun to finish the build"
_DEFAULT_FIELDS = {"id": "id", "context": "context", "question": "question", "answer": "answer"}
_ROLES = ("id", "context", "question", "answer", "reasoning")  # what the built-in tasks read


@dataclass
class Options:
    """Everything that decides the output (the fixed config and the style travel separately)."""

    task: Any = "qa"
    format: str = "llamafactory"
    fields: Dict[str, str] = field(default_factory=dict)
    seed: int = 0
    max_pages: int = 0
    max_visual_tokens: int = 0
    over_budget: str = "auto"          # split | drop | truncate; auto: drop for qa, else split
    ocr_unit: str = "page"             # page | record
    prompt: Optional[str] = None
    system: Optional[str] = None
    reasoning_format: str = "think"    # think | glm | none
    completion_ratio: float = 0.5
    completion_chars: int = 2000
    segment_chars: int = 2000
    render_ratio: float = 0.5
    image_paths: str = "relative"      # relative (to OUT) | absolute
    image_tag: str = "<image>"
    embed_images: Optional[bool] = None  # parquet: PNG bytes in the file (default) or paths
    shard_size: int = 10000
    shard_bytes: int = 0
    compression: Optional[int] = None  # PNG level 0..9; None: the encoder's (1 gray/palette, 3 RGB)
    dataset_name: str = "glyph_sft"

    def resolved(self) -> "Options":
        o = Options(**{k: v for k, v in asdict(self).items() if k != "task"}, task=self.task)
        o.fields = {**_DEFAULT_FIELDS, **(self.fields or {})}
        if isinstance(o.task, str) and o.task in TASKS:  # a user task may read roles of its own
            unknown = sorted(set(o.fields) - set(_ROLES))
            if unknown:
                raise InputError(f"fields: unknown role {unknown[0]!r} for task {o.task} (roles: "
                                 f"{', '.join(_ROLES)})")
        if o.format not in formats.FORMATS:
            raise InputError(f"format must be one of {', '.join(formats.FORMATS)}, not {o.format!r}")
        if o.over_budget == "auto":
            o.over_budget = "drop" if o.task == "qa" else "split"
        for name, value, allowed in (("over_budget", o.over_budget, ("split", "drop", "truncate")),
                                     ("ocr_unit", o.ocr_unit, ("page", "record")),
                                     ("image_paths", o.image_paths, ("relative", "absolute")),
                                     ("reasoning_format", o.reasoning_format, ("think", "glm", "none"))):
            if value not in allowed:
                raise InputError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        for name, low in (("max_pages", 0), ("max_visual_tokens", 0), ("shard_bytes", 0),
                          ("shard_size", 1), ("seed", None),
                          ("completion_chars", 1), ("segment_chars", 1)):
            value = getattr(o, name)
            if value is None and low == 0:
                value = 0  # no budget / no byte limit
            setattr(o, name, whole(name, value, low, fits=None if name == "seed" else INT64))
        for name in ("completion_ratio", "render_ratio"):
            setattr(o, name, number(name, getattr(o, name)))
        if o.compression is not None:
            try:
                o.compression = operator.index(o.compression)
            except TypeError:
                o.compression = -1
            if not 0 <= o.compression <= 9:
                raise InputError(f"compression must be 0..9 (or None for the encoder's default), "
                                 f"not {self.compression!r}")
        if not 0.0 < o.completion_ratio < 1.0:
            raise InputError(f"completion_ratio must be in (0, 1), not {o.completion_ratio!r}")
        if not 0.0 <= o.render_ratio <= 1.0:
            raise InputError(f"render_ratio must be in [0, 1], not {o.render_ratio!r}")
        if o.embed_images is None:
            o.embed_images = o.format == "parquet"
        if o.embed_images and o.format != "parquet":
            raise InputError("embed_images is for format parquet (JSON formats list image paths)")
        if not o.image_tag:
            raise InputError("image_tag must not be empty (one tag marks each image)")
        if o.task == "qa" and o.prompt is not None:
            try:
                o.prompt.format(question="")
            except (KeyError, IndexError, ValueError) as e:
                raise InputError(f"prompt {o.prompt!r}: a template with {{question}} only "
                                 f"(write other braces as {{{{ }}}}): {e!r}") from None
        resolve_task(o.task)  # fails early on an unknown task
        return o

    def task_name(self) -> str:
        t = self.task
        if isinstance(t, str):
            return t
        return f"{getattr(t, '__module__', '?')}:{getattr(t, '__qualname__', repr(t))}"

    def fingerprint(self) -> Dict[str, Any]:
        d = asdict(self)
        d["task"] = self.task_name()
        return d


_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def record_dir_name(rid: str) -> str:
    """A folder name for a record id: the id if it is tame, else a tamed id plus a hash."""
    safe = _SAFE.sub("_", rid)[:80]
    if safe != rid or safe in (".", "..") or not safe:
        safe = f"{safe}-{derive_seed(0, 'dir', rid):016x}"[-100:]
    return safe


class Processor:
    """Turns one record into its journal entry (rows, stats, or why not). One per worker thread
    pool or Ray actor; thread-safe; holds a Renderer per distinct config."""

    def __init__(self, options: Options, out_dir: str, config: Dict[str, Any],
                 style: Optional[str] = None, tokenizer: Optional[str] = None):
        self.o = options
        self.count_tokens = _token_counter(tokenizer)
        self.out = os.path.abspath(out_dir)
        self.task = resolve_task(options.task)
        self.task_name = options.task_name()
        space = SearchSpace.from_json(style) if style else None
        self.sampler = StyleSampler(RenderConfig.from_dict(config), space, options.seed)
        self._renderers: "collections.OrderedDict[str, Renderer]" = collections.OrderedDict()
        self._lock = threading.Lock()
        self._rules: Dict[int, Any] = {}  # newline rule per renderer (kept with it: ids recycle)

    def renderer(self, cfg: Dict[str, Any]) -> Renderer:
        key = json.dumps(cfg, sort_keys=True)
        with self._lock:
            r = self._renderers.get(key)
            if r is not None:
                self._renderers.move_to_end(key)
                return r
        r = Renderer(cfg)  # opens the fonts (outside the lock)
        with self._lock:
            self._renderers[key] = r
            while len(self._renderers) > 64:
                self._renderers.popitem(last=False)
        return r

    def rule(self, renderer: Renderer):
        key = id(renderer)
        r = self._rules.get(key)
        if r is None or r[0] is not renderer:
            r = self._rules[key] = (renderer, newline_rule(renderer))
        return r[1]

    def process(self, rid: str, index: int, record: Dict[str, Any]) -> Dict[str, Any]:
        entry: Dict[str, Any] = {"id": rid, "index": index}
        image_dir = os.path.join(self.out, "images", record_dir_name(rid))
        if os.path.isdir(image_dir):  # left by a killed or failed run: this record starts over
            shutil.rmtree(image_dir, ignore_errors=True)
        try:
            cfg = self.sampler.config_for(rid)
            renderer = self.renderer(cfg)
            ctx = TaskContext(rid, record, self.o, cfg, renderer, self.rule(renderer),
                              random.Random(derive_seed(self.o.seed, "task", rid)), image_dir,
                              self.out, self.o.compression)
            ctx.count_tokens = self.count_tokens
            samples = _check_samples(self.task(ctx))
            meta = {"record_id": rid, "task": self.task_name,
                    "config": json.dumps(cfg, sort_keys=True, ensure_ascii=False)}
            rows = []
            for k, s in enumerate(samples):
                sid = rid if len(samples) == 1 else f"{rid}#{k}"
                rows.append(formats.make_row(s, {"id": sid, **meta}, self.o.format, self.out,
                                             self.o.image_paths, self.o.image_tag))
            vt = sum(p.visual_tokens for p in ctx.pages)
            entry["rows"] = rows
            entry["stats"] = {"samples": len(rows), "pages": len(ctx.pages), "visual_tokens": vt,
                              "text_tokens": ctx.text_tokens, "chars": ctx.rendered_chars}
            return entry
        except Dropped as e:
            entry["dropped"] = str(e)
        except RecordError as e:
            entry["failure"] = {"kind": e.kind, "reason": e.reason}
        except OSError as e:  # glyph.IoError too: a full or unwritable disk
            entry["failure"] = {"kind": "write_error", "reason": f"cannot write images: {e}"}
        except GlyphError as e:
            entry["failure"] = {"kind": "render_error", "reason": f"{type(e).__name__}: {e}"}
        except Exception as e:  # a user task's bug: reported per record, the run goes on
            entry["failure"] = {"kind": "task_error", "reason": f"{type(e).__name__}: {e}"}
        with contextlib.suppress(OSError):
            shutil.rmtree(image_dir)
        return entry


def _check_samples(samples: Any) -> List[Dict[str, Any]]:
    """A task's return value: a list of ctx.sample(...) dicts; anything else is the task's bug,
    named so that its author sees what to return."""
    how = "a task returns a list of samples made with ctx.sample(user_parts, answer)"
    if samples is None:
        raise RecordError("task_error", f"the task returned None ({how}; [] for none)")
    if isinstance(samples, dict):
        raise RecordError("task_error", f"the task returned one sample, not a list ({how})")
    if isinstance(samples, (str, bytes)) or not hasattr(samples, "__iter__"):
        raise RecordError("task_error", f"the task returned {type(samples).__name__} ({how})")
    samples = list(samples)  # a generator too
    if not samples:
        raise RecordError("no_samples", "the task made no samples from this record")
    for k, sample in enumerate(samples):
        if not isinstance(sample, dict) or not isinstance(sample.get("messages"), list):
            got = (f"a dict without a 'messages' list (keys {sorted(map(str, sample))})"
                   if isinstance(sample, dict) else type(sample).__name__)
            raise RecordError("task_error", f"sample {k} is {got} ({how})")
    return samples


def _token_counter(tokenizer: Optional[str]) -> Callable[[str], int]:
    """Text tokens of a span: the tokenizer's count, or glyph's approximation without one."""
    if not tokenizer:
        return _core.approx_text_tokens
    from .._tokenizers import as_codec
    from ..tokenizer import load_tokenizer

    return as_codec(load_tokenizer(tokenizer)).count


@dataclass
class BuildResult:
    """What a build made. ``exit_code`` is 1 when anything failed (see ``failures``) or when no
    record was read at all (``empty``: an empty input is rarely what was meant)."""

    out_dir: str
    shards: List[str]
    records: int            # records in the dataset (this run and earlier ones)
    samples: int
    pages: int
    new_records: int        # made by this run
    skipped: int            # already done (resume)
    dropped: int
    failures: List[Dict[str, Any]]
    stats: Dict[str, Any]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def empty(self) -> bool:
        """No record was read: none made, skipped, dropped or failed."""
        return not (self.new_records or self.skipped or self.dropped or self.failures)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok and not self.empty else 1


class _Shards:
    """Rows in input order, cut into shards of shard_size rows (or shard_bytes); the journal
    keeps a marker per shard written, so a resumed run cuts the same shards."""

    def __init__(self, o: Options, out: str, journal: JsonlWriter, failures: List[Dict[str, Any]]):
        self.o, self.out, self.journal, self.failures = o, out, journal, failures
        self.rows: List[Dict[str, Any]] = []
        self.weights: List[int] = []
        self.next = 0
        self.broken = False

    def weight(self, row: Dict[str, Any]) -> int:
        w = formats.row_bytes(row)
        if self.o.embed_images:
            for ref in row["images"]:
                with contextlib.suppress(OSError):
                    w += os.path.getsize(ref if os.path.isabs(ref) else os.path.join(self.out, ref))
        return w

    def add(self, rows: List[Dict[str, Any]]) -> None:
        self.rows.extend(rows)
        if self.o.shard_bytes:
            self.weights.extend(self.weight(r) for r in rows)

    def replay_marker(self, m: Dict[str, Any]) -> None:
        del self.rows[:m["taken"]]
        del self.weights[:m["taken"]]
        self.next = int(m["shard"]) + 1

    def _take(self) -> int:
        n = self.o.shard_size if len(self.rows) >= self.o.shard_size else 0
        if self.o.shard_bytes:
            total = 0
            for i, w in enumerate(self.weights[: n or len(self.rows)]):
                total += w
                if total >= self.o.shard_bytes:
                    return i + 1
        return n

    def _write(self, n: int) -> bool:
        name = formats.shard_name(self.o.format, self.next)
        try:
            formats.write_shard(os.path.join(self.out, "data", name), self.rows[:n], self.o.format,
                                self.out, bool(self.o.embed_images))
            return True
        except (OSError, GlyphError) as e:
            self.broken = True  # the rows stay in the journal: a rerun writes this shard
            self.failures.append({"id": f"shard {name}", "kind": "write_error",
                                  "reason": f"cannot write shard: {e}"})
            return False

    def flush(self, final: bool = False) -> None:
        """Writes every full shard (and marks it done in the journal). ``final`` also writes the
        rows left as the last shard, unmarked: a later run that adds records rewrites it with
        them, so shard boundaries never depend on where a run stopped."""
        while self.rows and not self.broken:
            n = self._take()
            if not n:
                break
            if not self._write(n):
                return
            try:
                self.journal.write({"shard": self.next, "taken": n,
                                    "name": formats.shard_name(self.o.format, self.next)})
            except OSError as e:  # the shard is whole; a rerun writes it again and marks it
                self.broken = True
                self.failures.append({"id": "journal", "kind": "write_error", "reason": str(e)})
                return
            del self.rows[:n]
            del self.weights[:n]
            self.next += 1
        if final and self.rows and not self.broken:
            self._write(len(self.rows))

    @property
    def count(self) -> int:
        return self.next + (1 if self.rows else 0)


def _scan_journal(path: str, stats: Stats, shards: _Shards) -> set:
    done = set()
    if not os.path.exists(path):
        return done
    repair_jsonl(path)
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
                if not isinstance(e, dict) or ("shard" not in e and "id" not in e):
                    raise ValueError
            except ValueError:
                raise InputError(f"{path}:{lineno}: not a journal line (was the build folder "
                                 "edited?); start over with --overwrite") from None
            if "shard" in e:
                shards.replay_marker(e)
                continue
            done.add(e["id"])
            stats.add(e)
            shards.add(e.get("rows") or [])
    return done


def _prepare_out(out: str, o: Options, config: Dict[str, Any], style: Optional[str],
                 overwrite: bool, tokenizer: Optional[str] = None) -> str:
    state = os.path.join(out, STATE_DIR)
    run_file = os.path.join(state, "run.json")
    fp = {"glyph_sft": 1, "options": o.fingerprint(), "config": config, "style": style}
    if tokenizer:  # counts in the journal come from it
        fp["tokenizer"] = tokenizer
    if overwrite:
        for name in ("data", "images", STATE_DIR):
            shutil.rmtree(os.path.join(out, name), ignore_errors=True)
        for name in ("stats.json", "stats.md", "stats.png", "failures.jsonl", "dropped.jsonl"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(out, name))
    elif os.path.exists(run_file):
        with open(run_file, encoding="utf-8") as f:
            old = json.load(f)
        if old != json.loads(json.dumps(fp)):
            diff = sorted(k for k in set(old.get("options", {})) | set(fp["options"])
                          if old.get("options", {}).get(k) != json.loads(json.dumps(fp["options"])).get(k))
            if old.get("config") != fp["config"]:
                diff.append("config")
            if old.get("style") != fp["style"]:
                diff.append("style")
            if old.get("tokenizer") != fp.get("tokenizer"):
                diff.append("tokenizer")
            raise InputError(f"{out} holds a build made with other options ({', '.join(diff) or 'version'}): "
                             "resume with the same options, use another output folder, or overwrite")
    try:
        os.makedirs(state, exist_ok=True)
    except OSError as e:
        raise IoError(f"cannot write the output folder {out!r}: {e.strerror or e}") from None
    for folder in (out, os.path.join(out, "data"), state):  # temporary files a kill left
        for name in os.listdir(folder) if os.path.isdir(folder) else ():
            if name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(folder, name))
    if not os.path.exists(run_file):
        atomic_write(run_file, json.dumps(fp, indent=2, ensure_ascii=False) + "\n")
    return os.path.join(state, "journal.jsonl")


Job = Tuple[str, int, Dict[str, Any]]


def _local_results(proc: Processor, jobs: Iterable[Job], workers: int) -> Iterator[Dict[str, Any]]:
    if workers <= 1:
        for job in jobs:
            yield proc.process(*job)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="glyph-sft")
    window: "collections.deque" = collections.deque()
    try:
        for job in jobs:
            window.append(pool.submit(proc.process, *job))
            if len(window) >= 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def build(inputs: Any, out: Union[str, "os.PathLike[str]"], task: Any = "qa",
          format: str = "llamafactory", config: Any = None, style: Any = None, seed: int = 0,
          fields: Optional[Mapping[str, str]] = None, workers: int = 0, ray: Optional[str] = None,
          overwrite: bool = False, progress: Optional[bool] = None, limit: Optional[int] = None,
          plot: bool = True, tokenizer: Optional[str] = None, **options: Any) -> BuildResult:
    """Build a training set. ``inputs``: paths (JSONL, JSON, Parquet, a save_to_disk folder), a
    ``datasets.Dataset``, a list of dicts, or a list of those. ``task``: qa, ocr, interleaved,
    completion or ``f(ctx) -> samples``. ``format``: llamafactory, swift or parquet. ``config``:
    the render config (default Glyph's searched config); ``style``: a distribution to draw a
    config per record from (a SearchSpace, a space or ranges JSON file/dict, or "builtin").
    ``ray``: a Ray address ("auto", "local", "ray://host:10001") to render on a cluster.
    ``plot=False`` skips the histogram (matplotlib costs a second or two per build).
    ``tokenizer``: a tokenizer.json or folder (anything glyph.load_tokenizer takes as a path) to
    count the text tokens in the stats exactly; without it they are approximated.
    Other keywords are :class:`Options` fields. See docs/sft.md."""
    t0 = time.time()
    unknown = set(options) - set(Options.__dataclass_fields__)
    if unknown:
        raise TypeError(f"build() got unknown options {sorted(unknown)}")
    workers = whole("workers", workers, 0, meaning="0: all cores")  # 2.0 would fail in the pool
    limit = None if limit is None else whole("limit", limit, 0, meaning="None: every record")
    o = Options(task=task, format=format, fields=dict(fields or {}), seed=seed, **options).resolved()
    if o.format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InputError("format parquet needs pyarrow: pip install 'glyphcpp[sft]'") from None
    base = as_config(config)
    base.validate()
    if style is None:
        Renderer(base)  # opens its fonts: a config that cannot render fails here, not per record
    cfg = base.to_dict()
    style_json = load_style(style, base).to_json(-1) if style is not None else None
    out = os.path.abspath(os.fspath(out))
    if tokenizer is not None and not isinstance(tokenizer, (str, os.PathLike)):
        raise InputError("tokenizer: give a path (tokenizer.json or a folder), which every "
                         "worker can load")
    tokenizer = os.path.abspath(os.fspath(tokenizer)) if tokenizer else None
    _token_counter(tokenizer)  # a bad tokenizer path fails here, not in every record
    missing = missing_paths(inputs)
    if missing:
        raise InputError(f"input not found: {', '.join(missing)} (nothing was written)")
    journal_path = _prepare_out(out, o, cfg, style_json, overwrite, tokenizer)

    failures: List[Dict[str, Any]] = []
    stats = Stats()
    counters = {"new": 0, "skipped": 0, "pages": 0, "samples": 0}
    id_field = o.fields["id"]
    with JsonlWriter(journal_path) as journal:
        shards = _Shards(o, out, journal, failures)
        done = _scan_journal(journal_path, stats, shards)
        shards.flush()  # shards a kill left unwritten (rows in the journal, no marker)
        seen: set = set()
        # After a write error (a full disk) no further record is made: the journal stays the
        # input order, so the rerun that finishes the build writes what one clean run writes.
        stopped: List[str] = []

        # input position of each record's failure: failures.jsonl lists them in input order,
        # whatever the worker count or Ray's read-ahead (shard and journal failures come last)
        position: Dict[int, int] = {}

        def fail(rid: str, kind: str, reason: str, where: str = "", index: int = -1) -> None:
            f = {"id": rid, "kind": kind, "reason": reason}
            if where:
                f["where"] = where
            failures.append(f)
            if index >= 0:
                position[id(f)] = index
            print(f"[glyph sft] {rid}: {kind}: {reason}", file=sys.stderr)

        def jobs() -> Iterator[Job]:
            n = 0
            for item in iter_items(inputs):
                if limit is not None and n >= limit:
                    return
                n += 1
                if item.record is None:
                    fail(item.auto_id, item.kind, item.reason, f"{item.source} {item.position}",
                         item.index)
                    bar.update()
                    continue
                rec = item.record
                rid = rec.get(id_field)
                rid = item.auto_id if rid is None else str(rid)
                if rid in seen:
                    fail(rid, "duplicate_id", f"id {rid!r} was already used by an earlier record",
                         f"{item.source} {item.position}", item.index)
                    bar.update()
                    continue
                seen.add(rid)
                if rid in done:
                    counters["skipped"] += 1
                    bar.update()
                    continue
                if stopped:
                    fail(rid, "write_error", _NOT_ATTEMPTED, index=item.index)
                    bar.update()
                    continue
                yield rid, item.index, rec

        total = None
        if limit is None and hasattr(inputs, "__len__") and not isinstance(inputs, (str, bytes)):
            if hasattr(inputs, "features") or (inputs and all(isinstance(r, dict) for r in inputs)):
                total = len(inputs)
        proc_args = (o, out, cfg, style_json, tokenizer)
        n_workers = workers or _core.hardware_threads()
        if ray is not None:
            from .ray_runner import ray_results

            results = ray_results(proc_args, jobs(), ray, workers)
        else:
            results = _local_results(Processor(*proc_args), jobs(), n_workers)
        t_start = time.time()
        from tqdm.auto import tqdm

        with tqdm(total=total, desc=f"sft {o.task_name()}", unit="rec",
                  disable=(not progress) if progress is not None else None) as bar:
            for entry in results:
                bar.update()
                if stopped and "failure" not in entry:  # made after the write error: redo later
                    with contextlib.suppress(OSError):
                        shutil.rmtree(os.path.join(out, "images", record_dir_name(entry["id"])))
                    entry["failure"] = {"kind": "write_error", "reason": _NOT_ATTEMPTED}
                if "failure" in entry:
                    fail(entry["id"], entry["failure"]["kind"], entry["failure"]["reason"],
                         index=entry["index"])
                    if entry["failure"]["kind"] == "write_error":
                        stopped.append(entry["id"])
                    continue
                try:
                    journal.write(entry)
                except OSError as e:
                    with contextlib.suppress(OSError):
                        shutil.rmtree(os.path.join(out, "images", record_dir_name(entry["id"])))
                    fail(entry["id"], "write_error", f"cannot write the journal: {e}",
                         index=entry["index"])
                    stopped.append(entry["id"])
                    continue
                stats.add(entry)
                counters["new"] += 1
                if "rows" in entry:
                    counters["pages"] += entry["stats"]["pages"]
                    counters["samples"] += len(entry["rows"])
                    shards.add(entry["rows"])
                    shards.flush()
                dt = max(time.time() - t_start, 1e-9)
                bar.set_postfix_str(f"{counters['pages'] / dt:.1f} pages/s, "
                                    f"{counters['samples']} samples", refresh=False)
        shards.flush(final=True)
    last = 1 << 62
    failures.sort(key=lambda f: position.get(id(f), last))  # stable: the rest keep their order
    stats.failures = failures
    shard_paths = [os.path.join(out, "data", formats.shard_name(o.format, k)) for k in range(shards.count)]
    extra = {"task": o.task_name(), "format": o.format, "seed": o.seed,
             "inputs": [os.fspath(i) if isinstance(i, (str, os.PathLike)) else type(i).__name__
                        for i in (inputs if isinstance(inputs, (list, tuple)) and not
                                  (inputs and isinstance(inputs[0], dict)) else [inputs])],
             "shards": [os.path.relpath(p, out) for p in shard_paths],
             "text_token_counter": (f"counted with {tokenizer}" if tokenizer else
                                    "approximate (glyph.search.approx_text_tokens: chars/4, CJK/1.5)"),
             "this_run": {"records": counters["new"], "skipped": counters["skipped"],
                          "pages": counters["pages"], "seconds": round(time.time() - t0, 3)}}
    report: Dict[str, Any] = {}
    try:
        atomic_write(os.path.join(out, "failures.jsonl"),
                     "".join(json.dumps(f, ensure_ascii=False) + "\n" for f in failures))
        atomic_write(os.path.join(out, "dropped.jsonl"),
                     "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in stats.dropped))
        formats.write_dataset_info(out, o.format, o.dataset_name)
        report = stats.write(out, extra, plot=plot)
    except (OSError, GlyphError) as e:
        failures.append({"id": "report", "kind": "write_error", "reason": f"cannot write the report: {e}"})
        print(f"[glyph sft] cannot write the report files: {e}", file=sys.stderr)
        report = stats.to_dict(extra)
    return BuildResult(out, shard_paths, stats.records, stats.samples, sum(stats.pages),
                       counters["new"], counters["skipped"], len(stats.dropped), failures, report,
                       time.time() - t0)
