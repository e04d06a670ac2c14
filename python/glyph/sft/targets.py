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
from typing import Optional

__all__ = ["NewlineRule", "newline_rule", "page_text"]

_BREAK = re.compile(r"^\s*<\s*br\s*/?\s*>\s*$", re.I)
_FONT = re.compile(r"^<\s*font\s+colou?r\s*=\s*[\"']([^\"']*)[\"']\s*>([\s\S]*)<\s*/\s*font\s*>$", re.I)
_ENTITY = re.compile(r"&([^;]*);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "nbsp": "\u00a0"}
_LINES_PER_PARAGRAPH = 30


def _entity(m: "re.Match[str]") -> str:
    name = m.group(1)
    if name in _NAMED:
        return _NAMED[name]
    if name[:2] in ("#x", "#X"):
        return chr(int(name[2:], 16))
    return chr(int(name[1:]))


def _dropped(c: int) -> bool:
    if c == 0xAD or c == 0x200B or c == 0x7F:
        return True
    if c < 0x20:
        return not (c in (0x09, 0x0A, 0x0B, 0x0C, 0x0D) or c >= 0x1C)
    return 0x80 <= c <= 0x9F and c != 0x85


_DROP = re.compile("[" + "".join(re.escape(chr(c)) for c in
                                  list(range(0x20)) + [0x7F, 0xAD, 0x200B] + list(range(0x80, 0xA0))
                                  if _dropped(c)) + "]")


class NewlineRule:
    """How a source ``\\n`` appears on the page: ``marker`` is None for a line break."""

    def __init__(self, marker: Optional[str]):
        self.marker = marker

    def describe(self) -> str:
        if self.marker is None:
            return "newline-markup <br/>: a source newline is a line break, written '\\n'"
        return (f"newline-markup inline: a source newline is drawn as {self.marker!r} and written "
                f"so; every 30th newline (Glyph's paragraph boundary) is a line break, '\\n'")


def newline_rule(markup: str) -> NewlineRule:
    if _BREAK.match(markup):
        return NewlineRule(None)
    m = _FONT.match(markup)
    if not m:
        raise ValueError(f"unsupported newline-markup {markup!r}")
    return NewlineRule(_ENTITY.sub(_entity, m.group(2)))


def page_text(text: str, begin: int, end: int, rule: NewlineRule,
              newlines_before: Optional[int] = None) -> str:
    """The target for ``text[begin:end]``. ``newlines_before`` (the count of ``\\n`` in
    ``text[:begin]``) saves a scan of the prefix when the caller tracks it."""
    span = text[begin:end]
    if _DROP.search(span):
        span = _DROP.sub("", span)
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
