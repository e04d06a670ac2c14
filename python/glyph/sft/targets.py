"""What a page shows, as text: OCR targets that follow the renderer's text preparation.

The renderer (docs/config.md, docs/reference-layout.md) drops U+00AD, U+200B and the control
characters reportlab cannot draw, and turns each ``\\n`` into what ``newline-markup`` says:

* ``<br/>`` (the default): a line break, so the target keeps ``\\n``;
* ``<font color="#RRGGBB">TEXT</font>``: TEXT drawn inline, so the target writes TEXT where the
  source has ``\\n``, except at Glyph's paragraph boundaries (every 30 source lines form one
  paragraph; the newline that ends the 30th line starts a new paragraph, which is a line break on
  the page and ``\\n`` in the target).

Everything else (spaces, space runs drawn as no-break spaces, tabs, wrap points) stays as in the
source: a target is the source span ``text[page.char_begin:page.char_end]`` with those rules.
"""
from __future__ import annotations

import re
from typing import Any, Optional

from .._core import RenderConfig

__all__ = ["NewlineRule", "newline_rule", "page_text"]

_LINES_PER_PARAGRAPH = 30


_CANDIDATES = [c for c in range(0xA0) if c != 0x0A] + [0xAD, 0x200B]
_drop_re: "Optional[re.Pattern[str]]" = None


def _dropped() -> "re.Pattern[str]":
    """The characters the renderer leaves out (its text preparation, asked once: the layout of
    "a?b" for each candidate), as a pattern."""
    global _drop_re
    if _drop_re is None:
        from ..render import Renderer

        r = Renderer()
        gone = [c for c in _CANDIDATES
                if [line.text for page in r.layout(f"a{chr(c)}b") for line in page.lines] == ["ab"]]
        _drop_re = re.compile("[" + "".join(re.escape(chr(c)) for c in gone) + "]") if gone else re.compile("(?!)")
    return _drop_re


class NewlineRule:
    """How a source ``\\n`` appears on the page: ``marker`` is None for a line break."""

    def __init__(self, marker: Optional[str]):
        self.marker = marker

    def describe(self) -> str:
        if self.marker is None:
            return "newline-markup <br/>: a source newline is a line break, written '\\n'"
        return (f"newline-markup inline: a source newline is drawn as {self.marker!r} and written "
                f"so; every 30th newline (Glyph's paragraph boundary) is a line break, '\\n'")


def newline_rule(config: Any) -> NewlineRule:
    """How ``config`` (a RenderConfig, a config dict, a Renderer, or a newline-markup string)
    draws a newline. The renderer itself is asked (the layout of "a\nb"), so the markup is parsed
    by the same code that draws it."""
    from ..render import Renderer, as_config

    if isinstance(config, str):
        cfg = RenderConfig.glyph_default()
        cfg.newline_markup = config
        renderer = Renderer(cfg)
    elif isinstance(config, Renderer):
        renderer = config
    else:
        renderer = Renderer(as_config(config))
    lines = [line.text for page in renderer.layout("a\nb") for line in page.lines]
    if len(lines) == 1 and lines[0].startswith("a") and lines[0].endswith("b"):
        return NewlineRule(lines[0][1:-1])
    return NewlineRule(None)


def page_text(text: str, begin: int, end: int, rule: NewlineRule,
              newlines_before: Optional[int] = None) -> str:
    """The target for ``text[begin:end]``. ``newlines_before`` (the count of ``\\n`` in
    ``text[:begin]``) saves a scan of the prefix when the caller tracks it."""
    span = text[begin:end]
    drop = _dropped()
    if drop.search(span):
        span = drop.sub("", span)
    if rule.marker is None or "\n" not in span:
        return span
    n = text.count("\n", 0, begin) if newlines_before is None else newlines_before
    out = []
    parts = span.split("\n")
    for i, part in enumerate(parts):
        out.append(part)
        if i + 1 < len(parts):
            n += 1  # this is the n-th newline of the text (1-based)
            out.append("\n" if n % _LINES_PER_PARAGRAPH == 0 else rule.marker)
    return "".join(out)
