"""Tasks: what a record becomes. Each takes a :class:`TaskContext` and returns samples (one
conversation each, with its images). Built in: ``qa``, ``ocr``, ``interleaved``, ``completion``;
any callable ``f(ctx) -> list of samples`` is a task too (see docs/sft.md)."""
from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from .._core import InputError
from .targets import NewlineRule, page_text

__all__ = ["Chunk", "Dropped", "PageRef", "RecordError", "TaskContext", "TASKS", "resolve_task", "spans_of"]


class RecordError(Exception):
    """This record cannot be made (missing field, empty context, ...): reported, not fatal."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind, self.reason = kind, reason


class Dropped(Exception):
    """The record is over the budget and the rule is ``drop``."""


@dataclass
class PageRef:
    path: str                 # absolute path of the PNG
    rel: str                  # path relative to the output folder
    part: str                 # which rendered text of the record (context, seg003, ...)
    index: int
    char_begin: int
    char_end: int
    visual_tokens: int
    width: int
    height: int
    newlines_before: int      # '\n' in the rendered text before char_begin (for OCR targets)


@dataclass
class Chunk:
    """Pages of one rendered text that fit the budget together; ``begin``/``end`` is their span."""

    pages: List[PageRef]
    text: str                 # the whole rendered text (not a copy)
    part: str

    @property
    def begin(self) -> int:
        return self.pages[0].char_begin

    @property
    def end(self) -> int:
        return self.pages[-1].char_end

    @property
    def visual_tokens(self) -> int:
        return sum(p.visual_tokens for p in self.pages)


def spans_of(pages: Sequence[Any]) -> List[tuple]:
    """(char_begin, char_end) of each page, in document order, as glyph.sft records them: a
    span never starts before the previous page's end (the renderer's spans already never overlap,
    docs/reliability.md findings 5 and 6; the clamp keeps spans from older renders ordered)."""
    out, last = [], 0
    for p in pages:
        b = max(p.char_begin, last)
        e = max(p.char_end, b)
        out.append((b, e))
        last = e
    return out


def image(page: PageRef) -> Dict[str, Any]:
    return {"type": "image", "page": page}


def text(s: str) -> Dict[str, Any]:
    return {"type": "text", "text": s}


class TaskContext:
    """What a task sees: the record, its fields by role, its render config and seeded RNG, and
    ``render(text)`` that writes the pages and applies the budget."""

    def __init__(self, record_id: str, record: Dict[str, Any], options: Any, config: Dict[str, Any],
                 renderer: Any, rule: NewlineRule, rng: random.Random, image_dir: str, out_dir: str,
                 compression: Optional[int]):
        self.record_id, self.record, self.options = record_id, record, options
        self.config, self.renderer, self.newline_rule, self.rng = config, renderer, rule, rng
        self._image_dir, self._out_dir, self._compression = image_dir, out_dir, compression
        # the config's png-color ("auto": gray/palette when exact; "rgb" when asked), as
        # render_to_dir and `glyph render` write it
        self._png_color = str(config.get("png-color", "auto"))
        from .._core import approx_text_tokens

        self.count_tokens: Callable[[str], int] = approx_text_tokens  # the build sets its own
        self.pages: List[PageRef] = []       # every page written for this record
        self.rendered_chars = 0
        self.text_tokens = 0
        self._parts: Dict[str, int] = {}

    # ------------------------------------------------------------------ fields
    def field(self, role: str, required: bool = True) -> Optional[str]:
        """The record's text for a role (context, question, answer, reasoning, or any name in
        ``fields``): the configured field name is looked up; missing -> RecordError."""
        name = self.options.fields.get(role, role)
        if name not in self.record or self.record[name] is None:
            if required:
                raise RecordError("missing_field", f"missing field {name!r} ({role})")
            return None
        v = self.record[name]
        if isinstance(v, bytes):
            try:
                v = v.decode("utf-8")
            except UnicodeDecodeError as e:
                raise RecordError("invalid_utf8", f"field {name!r}: invalid UTF-8 at byte {e.start}") from None
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise RecordError("bad_field", f"field {name!r} must be text, got {type(v).__name__}")
        return str(v)

    def context(self) -> str:
        s = self.field("context")
        if not s.strip():
            raise RecordError("empty_context", f"empty context (field {self.options.fields.get('context', 'context')!r})")
        return s

    # ------------------------------------------------------------------ rendering
    def render(self, text: str, part: str = "context") -> List[Chunk]:
        """Render ``text`` to PNGs under images/<record>/<part>/ and cut the pages into chunks
        that fit the budget (max_pages / max_visual_tokens). Over budget: ``split`` gives several
        chunks, ``truncate`` the first, ``drop`` raises Dropped."""
        o = self.options
        if part in self._parts:
            raise ValueError(f"part {part!r} rendered twice for record {self.record_id!r}")
        self._parts[part] = 1
        folder = os.path.join(self._image_dir, part)
        os.makedirs(folder, exist_ok=True)
        pages: List[PageRef] = []
        state = {"nl": 0, "pos": 0, "tokens": 0, "end": 0}
        max_p, max_t, rule = o.max_pages, o.max_visual_tokens, o.over_budget

        class _Stop(Exception):
            pass

        def on_page(page) -> None:
            vt = page.visual_tokens
            over = (max_p and len(pages) + 1 > max_p) or (max_t and state["tokens"] + vt > max_t)
            if over and rule != "split":
                raise _Stop()
            if max_t and vt > max_t:
                raise Dropped(f"one page costs {vt} visual tokens, over max_visual_tokens={max_t}")
            # A page that opens with the continuation's empty line (docs/reference-layout.md)
            # reports char_begin 0 (that line's span is (0, 1)): the page starts where the
            # previous one ended, so spans never reach back (see spans_of).
            begin = max(page.char_begin, state["end"])
            end = max(page.char_end, begin)
            state["end"] = end
            state["nl"] += text.count("\n", state["pos"], begin)
            state["pos"] = begin
            path = os.path.join(folder, page.file_name)
            page.save(path, self._compression, self._png_color)
            state["tokens"] += vt
            pages.append(PageRef(path, os.path.relpath(path, self._out_dir), part, page.index,
                                 begin, end, vt, page.width, page.height, state["nl"]))

        try:
            self.renderer.render_each(text, on_page)
            stopped = False
        except _Stop:
            stopped = True
        if stopped and rule == "drop":
            raise Dropped(f"{part}: over the budget ({_budget(o)}) after {len(pages)} pages")
        self.pages.extend(pages)
        if not pages:
            return []
        end = pages[-1].char_end
        self.rendered_chars += end - pages[0].char_begin
        self.text_tokens += self.count_tokens(text[pages[0].char_begin:end])
        chunks: List[Chunk] = []
        cur: List[PageRef] = []
        tokens = 0
        for p in pages:
            if cur and ((max_p and len(cur) + 1 > max_p) or (max_t and tokens + p.visual_tokens > max_t)):
                chunks.append(Chunk(cur, text, part))
                cur, tokens = [], 0
            cur.append(p)
            tokens += p.visual_tokens
        chunks.append(Chunk(cur, text, part))
        return chunks

    def page_text(self, page_or_chunk: Union[PageRef, Chunk], text: str) -> str:
        """The OCR target of a page (or of a chunk's pages): its source span, written as the
        page shows it (targets.page_text)."""
        if isinstance(page_or_chunk, Chunk):
            first = page_or_chunk.pages[0]
            return page_text(text, first.char_begin, page_or_chunk.end, self.newline_rule,
                             first.newlines_before)
        p = page_or_chunk
        return page_text(text, p.char_begin, p.char_end, self.newline_rule, p.newlines_before)

    # ------------------------------------------------------------------ samples
    def sample(self, user: Sequence[Any], answer: str, system: Optional[str] = None) -> Dict[str, Any]:
        """A conversation: ``user`` is a list of parts (PageRef, Chunk, str or part dicts)."""
        parts: List[Dict[str, Any]] = []
        for u in user:
            if isinstance(u, Chunk):
                parts.extend(image(p) for p in u.pages)
            elif isinstance(u, PageRef):
                parts.append(image(u))
            elif isinstance(u, str):
                parts.append(text(u))
            elif isinstance(u, dict) and u.get("type") in ("text", "image"):
                parts.append(u)
            else:
                raise TypeError(f"a user part is a Chunk, PageRef or str, not {type(u).__name__}")
        messages = []
        system = system if system is not None else self.options.system
        if system:
            messages.append({"role": "system", "content": [text(system)]})
        messages.append({"role": "user", "content": parts})
        messages.append({"role": "assistant", "content": [text(answer)]})
        return {"messages": messages}


def _budget(o: Any) -> str:
    b = []
    if o.max_pages:
        b.append(f"max_pages={o.max_pages}")
    if o.max_visual_tokens:
        b.append(f"max_visual_tokens={o.max_visual_tokens}")
    return ", ".join(b)


# ---------------------------------------------------------------------- built-in tasks

def _format_answer(ctx: TaskContext, answer: str) -> str:
    # the reasoning role's field ("reasoning" unless fields names another), used when present
    reasoning = ctx.field("reasoning", required=False)
    fmt = ctx.options.reasoning_format
    if not reasoning or fmt == "none":
        return answer
    if fmt == "think":
        return f"<think>\n{reasoning}\n</think>\n{answer}"
    if fmt == "glm":  # GLM-4.1V-Thinking's answer format
        return f"<think>{reasoning}</think><answer>{answer}</answer>"
    raise ValueError(f"reasoning_format must be think, glm or none, not {fmt!r}")


def qa(ctx: TaskContext) -> List[Dict[str, Any]]:
    """Glyph's SFT shape: the context as pages, the question and the answer as text."""
    context = ctx.context()
    question, answer = ctx.field("question"), ctx.field("answer")
    answer = _format_answer(ctx, answer)
    prompt = ctx.options.prompt or "{question}"
    return [ctx.sample([chunk, prompt.format(question=question)], answer)
            for chunk in ctx.render(context)]


def ocr(ctx: TaskContext) -> List[Dict[str, Any]]:
    """Pages -> their exact text: one sample per page (ocr_unit='page') or per chunk."""
    context = ctx.context()
    prompt = ctx.options.prompt or "Transcribe all the text in the image(s) exactly."
    out = []
    for chunk in ctx.render(context):
        if ctx.options.ocr_unit == "page":
            out.extend(ctx.sample([p, prompt], ctx.page_text(p, context)) for p in chunk.pages)
        else:
            out.append(ctx.sample([chunk, prompt], ctx.page_text(chunk, context)))
    return out


_WS = re.compile(r"\s")


def _snap(text: str, pos: int, window: int = 200) -> int:
    """pos moved forward to just after the next whitespace (within window), else kept."""
    if pos <= 0 or pos >= len(text):
        return max(0, min(pos, len(text)))
    m = _WS.search(text, pos, min(len(text), pos + window))
    return m.end() if m else pos


def completion(ctx: TaskContext) -> List[Dict[str, Any]]:
    """The prefix (completion_ratio of the text) as pages; the target continues it
    (completion_chars). Split by the budget, each chunk's target is the text after it."""
    context = ctx.context()
    o = ctx.options
    cut = _snap(context, int(len(context) * o.completion_ratio))
    if cut <= 0 or cut >= len(context):
        raise RecordError("empty_context", "text too short to cut into a prefix and a continuation")
    prefix = context[:cut]
    prompt = o.prompt or "Continue the text."
    out = []
    for chunk in ctx.render(prefix, "prefix"):
        target = context[chunk.end:chunk.end + o.completion_chars]
        if target.strip():
            out.append(ctx.sample([chunk, prompt], target))
    return out


def interleaved(ctx: TaskContext) -> List[Dict[str, Any]]:
    """The text cut into segments (segment_chars, at whitespace) in document order; each is
    rendered with probability render_ratio (seeded per record) or kept as text; the last segment
    is the target. When the pages would pass the budget, the sample closes there and its target
    is the text of the segment that did not fit (which then opens the next sample)."""
    context = ctx.context()
    o = ctx.options
    bounds = [0]
    while bounds[-1] < len(context):
        bounds.append(_snap(context, bounds[-1] + o.segment_chars))
        if bounds[-1] <= bounds[-2]:
            bounds[-1] = len(context)
    segs = [context[a:b] for a, b in zip(bounds, bounds[1:])]
    if len(segs) < 2:
        raise RecordError("empty_context", f"text shorter than two segments of {o.segment_chars} characters")
    prompt = o.prompt or ""
    out, window, pages = [], [], 0
    budget_p, budget_t = o.max_pages, o.max_visual_tokens
    tokens = 0
    rule = o.over_budget
    for i, seg in enumerate(segs[:-1]):
        if ctx.rng.random() < o.render_ratio:
            chunks = ctx.render(seg, f"seg{i:04d}")  # drop: raises when the segment alone is over
            for chunk in chunks:
                n, t = len(chunk.pages), chunk.visual_tokens
                if window and ((budget_p and pages + n > budget_p) or (budget_t and tokens + t > budget_t)):
                    if rule == "drop":
                        raise Dropped(f"interleaved: over the budget ({_budget(o)}) after {pages} pages")
                    target = seg[chunk.begin:chunk.begin + o.completion_chars]
                    out.append(ctx.sample(window + ([prompt] if prompt else []), target))
                    if rule == "truncate":  # the first sample that fits is kept
                        return out
                    window, pages, tokens = [], 0, 0
                window.append(chunk)
                pages, tokens = pages + n, tokens + t
            if rule == "truncate" and chunks and seg[chunks[-1].end:].strip():
                # the segment's own render was cut by the budget: the target is the text that
                # follows its last page
                cut = bounds[i] + chunks[-1].end
                target = context[cut:cut + o.completion_chars]
                out.append(ctx.sample(window + ([prompt] if prompt else []), target))
                return out
        else:
            window.append(seg)
    if window:
        out.append(ctx.sample(window + ([prompt] if prompt else []), segs[-1][:o.completion_chars]))
    return out


TASKS: Dict[str, Callable[[TaskContext], List[Dict[str, Any]]]] = {
    "qa": qa, "ocr": ocr, "interleaved": interleaved, "completion": completion,
}


def resolve_task(task: Union[str, Callable]) -> Callable[[TaskContext], List[Dict[str, Any]]]:
    """A built-in name, a callable, or 'module:function' / 'path/to/file.py:function'."""
    if callable(task):
        return task
    if task in TASKS:
        return TASKS[task]
    if isinstance(task, str) and ":" in task:
        mod, _, fn = task.rpartition(":")
        import importlib
        import importlib.util

        try:
            if mod.endswith(".py"):
                spec = importlib.util.spec_from_file_location("glyph_sft_user_task", mod)
                if spec is None or spec.loader is None:
                    raise ImportError("not a loadable Python file")
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            else:
                module = importlib.import_module(mod)
        except (ImportError, OSError, SyntaxError) as e:
            # its own message names the module, the file or the line
            raise InputError(f"task {task!r}: cannot load {mod!r}: {type(e).__name__}: {e}") from e
        f = getattr(module, fn, None)
        if not callable(f):
            raise InputError(f"task {task!r}: {fn!r} is not a function in {mod!r}")
        return f
    raise InputError(f"unknown task {task!r}: use qa, ocr, interleaved, completion, "
                     "'module:function' or a callable")
