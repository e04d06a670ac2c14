"""Glyph's evaluation protocols (../shared/docs/EVALUATION.md): what each benchmark's items hold,
how an item becomes a render config, a prompt with pages and a prompt for the text baseline, how a
prediction is scored, and how the scores are grouped.

A protocol's ``prepare(record, options)`` returns an ``EvalItem`` or raises ``ItemError`` (with a
reason: ``missing_field``, ``unknown_dataset``, ``empty_context``, ...); ``score(item, text)``
gives an item's score in [0, 1] from the model's raw text; ``summarize(...)`` the benchmark's
table (``report.py`` calls it).
"""
from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .. import chat
from .._core import FontError, GlyphError, InputError, RenderConfig
from . import metrics as M
from .data import Record

__all__ = ["EvalItem", "ItemError", "Options", "Protocol", "LongBench", "MRCR", "Ruler", "Custom",
           "get_protocol", "PROTOCOLS", "NEWLINE_MARKER", "load_prompts", "item_config",
           "apply_evaluation_layout", "pct"]

#: The red inline newline marker of Glyph's "chose-newline" / "all-newline" settings: a literal
#: backslash and "n" in red between spaces (Glyph's add_uid_jsonl.py writes it so).
NEWLINE_MARKER = '<font color="#FF0000"> \\n </font>'

_REF_DIRS = [os.path.join(os.path.dirname(__file__), "prompts")]


def load_prompts(name: str) -> Dict[str, str]:
    """``dataset2prompt`` (text input) or ``dataset2vlmprompt`` (page input), Glyph's files as
    shipped in ``glyph/eval/prompts/``."""
    for d in _REF_DIRS:
        p = os.path.join(d, name + ".json")
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                return json.load(f)
    raise InputError(f"prompt file {name}.json not found in {', '.join(_REF_DIRS)}")


class ItemError(Exception):
    """An item that cannot be evaluated. ``group`` is its dataset/task when that is known (it
    then counts as a failed item, scored 0, in that group's headline score)."""

    def __init__(self, reason: str, message: str, group: Optional[str] = None):
        super().__init__(message)
        self.reason, self.group = reason, group


@dataclass
class EvalItem:
    """One item ready to ask: ``prompt`` goes with the pages of ``context`` rendered with
    ``config``; ``text_prompt`` is the text baseline's whole prompt. ``meta`` holds what scoring
    and grouping need (answers, lengths, categories)."""

    id: str
    group: str
    context: str
    prompt: str
    text_prompt: str
    config: Optional[RenderConfig]
    meta: Dict[str, Any] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)
    #: page image files to send instead of rendering (``use_image_paths``), in page order
    image_paths: Optional[List[str]] = None


@dataclass
class Options:
    """What the run passes to every ``prepare``: ``newline`` ("none", "chose", "all") for items
    without their own config, ``font_dirs`` to find a config's relative font by file name,
    ``config`` a base config for items without one (instead of Glyph's en/zh choice), ``dpi`` to
    override, ``seed`` for language detection, ``cjk_font`` for Chinese items, ``metric`` for the
    custom protocol, ``tokenizer`` to count context tokens where a protocol needs a length."""

    newline: str = "none"
    font_dirs: Sequence[str] = ()
    config: Any = None
    dpi: Optional[int] = None
    seed: int = 0
    cjk_font: Optional[str] = None
    metric: Any = None
    tokenizer: Any = None
    prompt: Optional[str] = None
    text_prompt: Optional[str] = None
    use_image_paths: bool = False
    #: RULER: remove <think> blocks before scoring (EVALUATION.md); False scores the whole
    #: response, as Glyph's RULER script does
    ruler_remove_think: bool = True


def pct(scores: Sequence[float]) -> Optional[float]:
    """100 x mean, 2 places (LongBench's rounding); None for no items."""
    return M.longbench_score(scores) if scores else None


# --------------------------------------------------------------------------------- configs

_LAYOUT_LOCK = threading.Lock()
_LAYOUT_SUPPORTED: Optional[bool] = None


def apply_evaluation_layout(cfg: RenderConfig, given: Mapping[str, Any] = ()) -> bool:
    """Glyph's evaluation layout on ``cfg``: the whole context one paragraph
    (``paragraph-lines`` 0) and tabs as four non-breaking spaces (``tab-nbsp`` 4), unless the
    item's own config (``given``) sets them. False when this build's renderer lacks those keys
    (then the demo's layout is used, and the run's summary says so)."""
    global _LAYOUT_SUPPORTED
    ok = True
    for key, value in (("paragraph-lines", 0), ("tab-nbsp", 4)):
        if key in given:
            continue
        try:
            cfg.set(key, json.dumps(value))
        except GlyphError:
            ok = False
    with _LAYOUT_LOCK:
        _LAYOUT_SUPPORTED = ok
    return ok


def _find_font(name: str, dirs: Sequence[str]) -> Optional[str]:
    base = os.path.basename(name.replace("\\", "/"))
    for d in dirs:
        p = os.path.join(d, base)
        if os.path.isfile(p):
            return os.path.abspath(p)
    return None


def _language_config(context: str, opts: Options, warnings: List[str]) -> Tuple[RenderConfig, str]:
    language = chat.detect_language(context, seed=opts.seed)
    if opts.config is not None:
        from ..render import as_config

        return as_config(opts.config).__copy__(), language
    try:
        return chat.glyph_config(language, cjk_font=opts.cjk_font), language
    except FontError as e:
        raise ItemError("font_missing", str(e)) from None


def item_config(rec: Record, context: str, opts: Options, warnings: List[str], *,
                newline_marker: bool = False) -> Tuple[RenderConfig, str]:
    """The render config of one item, and the language detected on its context.

    An item's own ``config`` (Glyph's processed files) is honoured: the string "None" or null as
    ``newline-markup`` means unset (``<br/>``); a relative or missing ``font-path`` is looked up
    by file name in ``opts.font_dirs``, the data file's folder and its ``config``/``../config``
    folders; when Glyph's font is not there, the font of ``glyph_config(language)`` is used and
    a warning is recorded (pages then differ from Glyph's). Items without a config get
    ``glyph_config(language)`` (config_en / config_zh; language detected with the seed) and the
    newline marker when ``newline_marker``. Both get the evaluation layout.
    """
    own = rec.item.get("config") if rec.item else None
    if isinstance(own, str):
        try:
            own = json.loads(own)
        except ValueError:
            raise ItemError("bad_config", f"{rec.where}: 'config' is a string but not JSON") from None
    if own is not None and not isinstance(own, Mapping):
        raise ItemError("bad_config", f"{rec.where}: 'config' must be an object, got "
                        f"{type(own).__name__}")
    if own:
        cfg_dict = dict(own)
        nm = cfg_dict.get("newline-markup")
        if nm is None or nm == "None" or nm == "":
            cfg_dict.pop("newline-markup", None)
        font = cfg_dict.get("font-path")
        src_dir = os.path.dirname(os.path.abspath(rec.source))
        dirs = list(opts.font_dirs) + [src_dir, os.path.join(src_dir, "config"),
                                       os.path.join(src_dir, "..", "config")]
        language = chat.detect_language(context, seed=opts.seed)
        fallback_used = False
        if font and not (os.path.isabs(font) and os.path.isfile(font)):
            found = _find_font(font, dirs)
            if found:
                cfg_dict["font-path"] = found
            else:
                fallback_used = True
        elif not font:
            fallback_used = True
        if fallback_used:
            try:
                base = chat.glyph_config(language, cjk_font=opts.cjk_font)
            except FontError as e:
                raise ItemError("font_missing", f"{rec.where}: font {font!r} not found and {e}") from None
            cfg_dict["font-path"] = base.font_path
            cfg_dict.setdefault("fallback-font-paths", list(base.fallback_font_paths))
            warnings.append(f"font {os.path.basename(font or '') or '(none)'} not found (looked "
                            f"in {', '.join(dirs)}): rendered with {os.path.basename(base.font_path)} "
                            "instead, so pages differ from Glyph's (pass --font-dir)")
        try:
            cfg = RenderConfig.from_dict(cfg_dict)
        except GlyphError as e:
            raise ItemError("bad_config", f"{rec.where}: its config: {e}") from None
    else:
        cfg, language = _language_config(context, opts, warnings)
        cfg.newline_markup = NEWLINE_MARKER if newline_marker else "<br/>"
        own = {}
    if opts.dpi:
        cfg.dpi = int(opts.dpi)
    apply_evaluation_layout(cfg, own or {})
    return cfg, language


def _config_of(rec, context, opts, warns, group, **kw):
    try:
        return item_config(rec, context, opts, warns, **kw)
    except ItemError as e:
        if e.group is None:
            e.group = group  # a known dataset/task: the item counts as failed there
        raise


_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def image_paths(rec: Record, group: Optional[str] = None) -> List[str]:
    """The item's ``image_paths`` (pages Glyph's scripts rendered), relative ones resolved against
    the data file's folder, in page order: sorted by the last number in each file name
    (``page_002.png`` before ``page_010.png``), not in the order a folder listing gives."""
    v = rec.item.get("image_paths")
    if not isinstance(v, list) or not all(isinstance(p, str) for p in v):
        raise ItemError("missing_field", f"{rec.where}: use_image_paths needs 'image_paths', a "
                        "list of page image files", group)
    base = os.path.dirname(os.path.abspath(rec.source))
    paths = [p if os.path.isabs(p) else os.path.join(base, p) for p in v]

    def page_no(p: str):
        m = _LAST_NUMBER.search(os.path.basename(p))
        return (int(m.group(1)) if m else -1, p)

    return sorted(paths, key=page_no)


# --------------------------------------------------------------------------------- helpers

def _field(item: Mapping[str, Any], names: Sequence[str], rec: Record, *, group=None,
           required: bool = True, kind: type = str) -> Any:
    for n in names:
        if n in item and item[n] is not None:
            v = item[n]
            if kind is str and not isinstance(v, str):
                raise ItemError("bad_field", f"{rec.where}: field {n!r} must be a string, got "
                                f"{type(v).__name__}", group)
            return v
    if required:
        raise ItemError("missing_field", f"{rec.where}: missing field "
                        f"{' / '.join(repr(n) for n in names)}", group)
    return None


def _answers(item: Mapping[str, Any], names: Sequence[str], rec: Record, group) -> List[str]:
    v = _field(item, names, rec, group=group, kind=object)
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, (list, tuple)) or not v or not all(isinstance(a, str) for a in v):
        raise ItemError("bad_field", f"{rec.where}: {names[0]!r} must be a non-empty list of "
                        f"strings, got {v!r:.80}", group)
    return list(v)


def _item_id(item: Mapping[str, Any], rec: Record) -> str:
    for n in ("unique_id", "_id", "id"):
        v = item.get(n)
        if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v):
            return str(v)
    return f"{rec.stem}_{rec.line}"  # Glyph's add_uid_jsonl.py names items so


_SUB = re.compile(r"\{(context|input|question)\}")


def check_prompt(flag: str, template: Optional[str], needs: Sequence[str]) -> None:
    """A user prompt template: it holds one of `needs` (else the question, or the context, would
    silently be left out) and no placeholder other than {context}, {input}, {question}."""
    if template is None:
        return
    unknown = sorted(set(re.findall(r"\{([A-Za-z_]\w*)\}", template))
                     - {"context", "input", "question"})
    if unknown:
        raise InputError(f"{flag}: unknown placeholder {{{unknown[0]}}} (use {{context}}, "
                         "{input}, {question})")
    if not any("{" + n + "}" in template for n in needs):
        raise InputError(f"{flag} {template!r} holds no " + " or ".join("{" + n + "}" for n in needs)
                         + ": every item would be asked without it")


def fill(template: str, **values: str) -> str:
    """``template`` with ``{context}``, ``{input}``, ``{question}`` replaced in one pass (so that
    braces inside the context are left alone)."""
    return _SUB.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _context(item, rec, group, names=("context",)) -> str:
    ctx = _field(item, names, rec, group=group)
    if not ctx.strip():
        raise ItemError("empty_context", f"{rec.where}: the context is empty", group)
    return ctx


# --------------------------------------------------------------------------------- protocols

class Protocol:
    name = ""
    #: the name of the per-item group in tables ("dataset", "task", ...)
    group_label = "group"

    def __init__(self, opts: Optional[Options] = None):
        self.opts = opts or Options()

    def prepare(self, rec: Record) -> EvalItem:
        raise NotImplementedError

    def score(self, item: EvalItem, text: str) -> float:
        raise NotImplementedError

    def categories(self, item: EvalItem) -> Dict[str, str]:
        """Extra groupings of an item: {axis: category} (e.g. {"bucket": "0-4k"})."""
        return {}

    def average(self, group_scores: Mapping[str, float]) -> Optional[float]:
        """The benchmark's headline average from its group scores (mean, 2 places)."""
        vals = [v for v in group_scores.values() if v is not None]
        return round(sum(vals) / len(vals), 2) if vals else None

    def group_score(self, scores: Sequence[float]) -> Optional[float]:
        return pct(scores)

    def cell_score(self, axis: str, scores: Sequence[float]) -> Optional[float]:
        """A group's score inside one category of ``axis`` (default: as ``group_score``)."""
        return self.group_score(scores)


class LongBench(Protocol):
    """LongBench's 21 datasets and LongBench-E (``*_e`` names, scored also by length bucket)."""

    name = "longbench"
    group_label = "dataset"

    def __init__(self, opts=None):
        super().__init__(opts)
        self.vlm_prompts = load_prompts("dataset2vlmprompt")
        self.text_prompts = load_prompts("dataset2prompt")
        if self.opts.newline not in ("none", "chose", "all"):
            raise InputError(f"newline must be none, chose or all, not {self.opts.newline!r}")

    def prepare(self, rec: Record) -> EvalItem:
        it = rec.item
        name = it.get("dataset") if isinstance(it.get("dataset"), str) else None
        name = name or rec.stem
        if rec.stem.endswith("_e") and rec.stem[:-2] == name:
            name = rec.stem  # LongBench-E's files (qasper_e.jsonl) may name the base dataset
        try:
            base = M.longbench_base_dataset(name)
        except (ValueError, TypeError) as e:
            raise ItemError("unknown_dataset", f"{rec.where}: {e}") from None
        group = name if name.endswith("_e") else base
        iid = _item_id(it, rec)
        question = _field(it, ("input",), rec, group=group)
        context = _context(it, rec, group)
        answers = _answers(it, ("answers",), rec, group)
        classes = it.get("all_classes")
        if base in ("trec", "lsht") and not classes:
            raise ItemError("missing_field", f"{rec.where}: {base} needs 'all_classes'", group)
        warns: List[str] = []
        marker = self.opts.newline == "all" or (self.opts.newline == "chose"
                                                and base in M.CHOSE_NEWLINE_DATASETS)
        cfg, lang = _config_of(rec, context, self.opts, warns, group, newline_marker=marker)
        length = it.get("length")
        meta = {"dataset": base, "answers": answers, "all_classes": classes,
                "length": length if isinstance(length, (int, float)) else None,
                "language": lang, "longbench_e": name.endswith("_e")}
        prompt = fill(self.opts.prompt or self.vlm_prompts[base], input=question, question=question)
        text_prompt = fill(self.opts.text_prompt or self.text_prompts[base], context=context,
                           input=question, question=question)
        return EvalItem(iid, group, context, prompt, text_prompt, cfg, meta, warns)

    def score(self, item, text):
        return M.longbench_item_score(item.meta["dataset"], M.postprocess(text),
                                      item.meta["answers"], item.meta["all_classes"])

    def cell_score(self, axis, scores):
        if axis in ("bucket", "bucket_category") and scores:
            # LongBench-E's scorer: numpy's mean and rounding (which differs from Python's in the
            # last place now and then); every score here is of one bucket
            return M.longbench_e_scores(scores, [0] * len(scores))[M.LONGBENCH_E_BUCKETS[0]]
        return self.group_score(scores)

    def categories(self, item):
        out = {"category": M.LONGBENCH_CATEGORY.get(item.meta["dataset"], "other")}
        if item.meta["longbench_e"] and item.meta["length"] is not None:
            out["bucket"] = M.longbench_e_bucket(item.meta["length"])
            # LongBench-E's category table: per bucket, the mean of the datasets' bucket scores
            out["bucket_category"] = f"{out['bucket']} {out['category']}"
        return out


# MRCR's length bins in tokens (8k = 8192), named as metrics.MRCR_LENGTH_BINS.
_MRCR_EDGES = [0, 8, 16, 32, 64, 128, 256, 512, 1024]


def mrcr_bin(tokens: float) -> str:
    for lo, hi in zip(_MRCR_EDGES, _MRCR_EDGES[1:]):
        if tokens < hi * 1024:
            return f"{lo}k_{hi}k"
    return "512k_1024k"


class MRCR(Protocol):
    """OpenAI's MRCR as Glyph runs it: the conversation (``User:`` / ``Assistant:`` turns) is
    rendered, the question stays text; graded by prefix + SequenceMatcher ratio."""

    name = "mrcr"
    group_label = "category"

    def prepare(self, rec: Record) -> EvalItem:
        it = rec.item
        iid = _item_id(it, rec)
        try:
            group = M.mrcr_category(iid)
        except ValueError:
            group = self._category_from_fields(it, rec)
        context = _context(it, rec, group)
        question = _field(it, ("question",), rec, group=group)
        answer = _field(it, ("answer",), rec, group=group)
        prefix = _field(it, ("random_string_to_prepend",), rec, group=group)
        warns: List[str] = []
        cfg, lang = _config_of(rec, context, self.opts, warns, group,
                               newline_marker=self.opts.newline == "all")
        needles, _, length_bin = group.partition("needle_")
        meta = {"answer": answer, "prefix": prefix, "needles": needles, "bin": length_bin,
                "language": lang}
        prompt = fill(self.opts.prompt or "{question}", question=question)
        text_prompt = fill(self.opts.text_prompt or "{context}\n\n{question}", context=context,
                           question=question)
        return EvalItem(iid, group, context, prompt, text_prompt, cfg, meta, warns)

    def _category_from_fields(self, it, rec) -> str:
        n = it.get("n_needles")
        if not isinstance(n, int):
            m = re.search(r"(\d+)\s*needle", os.path.basename(rec.source))
            n = int(m.group(1)) if m else None
        length = next((it[k] for k in ("n_tokens", "token_count", "context_length", "length")
                       if isinstance(it.get(k), (int, float))), None)
        if length is None and self.opts.tokenizer is not None and isinstance(it.get("context"), str):
            from ..tokenizer import count_tokens

            length = count_tokens(self.opts.tokenizer, it["context"])
        if n is None or length is None:
            raise ItemError("unknown_category", f"{rec.where}: MRCR item {it.get('unique_id')!r} "
                            "names no needles x length category (an id such as "
                            "'4needle_16k_32k_7', or n_needles and n_tokens fields, or "
                            "--tokenizer to count the context)")
        return f"{n}needle_{mrcr_bin(length)}"

    def score(self, item, text):
        return M.mrcr_score(M.mrcr_extract_answer(text), item.meta["answer"], item.meta["prefix"])

    def categories(self, item):
        return {"needles": f"{item.meta['needles']}needle", "bin": item.meta["bin"]}

    def average(self, group_scores):
        return None  # MRCR's overall score is the mean over items (report.py), not over groups


class Ruler(Protocol):
    """RULER as Glyph runs it: the core context rendered (few-shot examples removed in Glyph's
    files), question and instructions as text; string_match_all / string_match_part; the table
    and macro average leave out niah_single_3 and niah_multikey_3."""

    name = "ruler"
    group_label = "task"

    def prepare(self, rec: Record) -> EvalItem:
        it = rec.item
        task = _field(it, ("task_name", "task"), rec)
        if task not in M.RULER_METRIC:
            raise ItemError("unknown_task", f"{rec.where}: unknown RULER task {task!r} (known: "
                            f"{', '.join(M.RULER_TASKS)})")
        iid = _item_id(it, rec)
        context = _context(it, rec, task)
        question = _field(it, ("question",), rec, group=task)
        outputs = _answers(it, ("outputs",), rec, task)
        length = next((it[k] for k in ("length", "max_length", "context_length", "max_seq_length")
                       if isinstance(it.get(k), (int, float))), None)
        if length is None:
            m = re.search(r"_(\d{3,})\.jsonl?$", os.path.basename(rec.source))
            length = int(m.group(1)) if m else None
        warns: List[str] = []
        cfg, lang = _config_of(rec, context, self.opts, warns, task,
                               newline_marker=self.opts.newline == "all")
        meta = {"outputs": outputs, "length": length, "language": lang}
        prompt = fill(self.opts.prompt or "{question}", question=question)
        text_prompt = fill(self.opts.text_prompt or "{context}\n\n{question}", context=context,
                           question=question)
        return EvalItem(iid, task, context, prompt, text_prompt, cfg, meta, warns)

    def score(self, item, text):
        return M.ruler_item_score(item.group,
                                  M.ruler_postprocess(text, think=self.opts.ruler_remove_think),
                                  item.meta["outputs"])

    def group_score(self, scores):
        # RULER's order of operations (divide, then x100) for the same rounding as its scorer
        return round(sum(scores) / len(scores) * 100, 2) if scores else None

    def categories(self, item):
        return {"length": str(item.meta["length"]) if item.meta["length"] is not None else "unknown"}

    def average(self, group_scores):
        kept = {t: s for t, s in group_scores.items() if t in M.RULER_TABLE_TASKS and s is not None}
        return M.ruler_average(kept) if kept else None


class Custom(Protocol):
    """The user's own data: JSONL with ``context``, ``question`` (or ``input``), ``answers`` (a
    list or one ``answer``), optional ``id``, ``all_classes``, ``group`` and ``metric``; the
    metric is a name from ``glyph.eval.metrics.METRICS`` or a Python function
    ``(prediction, ground_truth, **kwargs) -> float``. Predictions are post-processed as
    LongBench's (``<think>`` removed, chat tags removed, whitespace collapsed). Prompts:
    ``{question}`` with pages, ``{context}\\n\\n{question}`` for the text baseline (override
    with ``prompt`` / ``text_prompt`` options, templates with ``{context}`` and ``{question}``)."""

    name = "custom"
    group_label = "group"

    def __init__(self, opts=None):
        super().__init__(opts)
        self.metric = None
        if self.opts.metric is not None:
            metric = self.opts.metric
            if isinstance(metric, str) and ":" in metric:
                metric = load_function(metric)
            try:
                self.metric = M.get_metric(metric)
            except ValueError as e:
                raise InputError(str(e)) from None

    def prepare(self, rec: Record) -> EvalItem:
        it = rec.item
        metric_name = it.get("metric")
        if metric_name is not None and not isinstance(metric_name, str):
            raise ItemError("bad_field", f"{rec.where}: 'metric' must be a metric name")
        if metric_name is None and self.metric is None:
            raise ItemError("missing_field", f"{rec.where}: no 'metric' in the item and none "
                            f"given (--metric; one of {', '.join(M.METRICS)})")
        if metric_name is not None and metric_name not in M.METRICS:
            raise ItemError("unknown_metric", f"{rec.where}: unknown metric {metric_name!r} "
                            f"(known: {', '.join(M.METRICS)})")
        group = it.get("group") if isinstance(it.get("group"), str) else (
            metric_name or getattr(self.metric, "__name__", "custom"))
        iid = _item_id(it, rec)
        context = _context(it, rec, group)
        question = _field(it, ("question", "input"), rec, group=group)
        answers = _answers(it, ("answers", "answer"), rec, group)
        warns: List[str] = []
        cfg, lang = _config_of(rec, context, self.opts, warns, group,
                               newline_marker=self.opts.newline == "all")
        meta = {"answers": answers, "all_classes": it.get("all_classes"), "metric": metric_name,
                "language": lang}
        prompt = fill(self.opts.prompt or "{question}", question=question, input=question)
        text_prompt = fill(self.opts.text_prompt or "{context}\n\n{question}", context=context,
                           question=question, input=question)
        return EvalItem(iid, group, context, prompt, text_prompt, cfg, meta, warns)

    def score(self, item, text):
        fn = M.get_metric(item.meta["metric"]) if item.meta["metric"] else self.metric
        kw = {"all_classes": item.meta["all_classes"]} if item.meta["all_classes"] else {}
        return M.score_item(fn, M.postprocess(text), item.meta["answers"], **kw)


def load_function(spec: str) -> Callable:
    """``module:function`` or ``path/to/file.py:function`` -> the function."""
    import importlib
    import importlib.util

    mod, _, fn = spec.rpartition(":")
    try:
        if mod.endswith(".py"):
            if not os.path.isfile(mod):
                raise InputError(f"metric {spec!r}: no file {mod!r}")
            loader_spec = importlib.util.spec_from_file_location("glyph_eval_user_metric", mod)
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(mod)
    except ImportError as e:
        raise InputError(f"metric {spec!r}: cannot import {mod!r}: {e}") from None
    f = getattr(module, fn, None)
    if not callable(f):
        raise InputError(f"metric {spec!r}: {fn!r} is not a function in {mod!r}")
    return f


PROTOCOLS: Dict[str, type] = {"longbench": LongBench, "mrcr": MRCR, "ruler": Ruler,
                              "custom": Custom}


def get_protocol(name: Union[str, Protocol], opts: Optional[Options] = None) -> Protocol:
    if isinstance(name, Protocol):
        return name
    cls = PROTOCOLS.get(str(name).lower().replace("-", "_").replace("longbench_e", "longbench"))
    if cls is None:
        raise InputError(f"unknown benchmark {name!r} (known: {', '.join(PROTOCOLS)})")
    return cls(opts)
