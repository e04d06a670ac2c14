"""Generated token ids -> text deltas, the way a streaming client must see them: never half a
UTF-8 character, stop strings cut (and not shown before they are ruled out), ``<think>``
reasoning split from the answer with ``glyph.ReasoningParser`` (tags cut anywhere)."""
from __future__ import annotations

from typing import Any, List, Sequence, Tuple

from .._core import ReasoningParser, split_reasoning

REPLACEMENT = "\ufffd"


class TextStream:
    """Feed token ids one at a time; get (reasoning, content) deltas.

    The decoded text of the ids so far is recomputed each token (byte-level BPE cannot be
    decoded token by token: a character may span tokens). Trailing U+FFFD (an incomplete UTF-8
    sequence so far) is held back until the next token completes it or ``finish()``; so is the
    tail that could still begin a stop string. The concatenated deltas equal
    ``split_reasoning`` of the whole text (cut at the first stop string)."""

    def __init__(self, tokenizer: Any, *, skip_special_tokens: bool = True,
                 stop: Sequence[str] = (), include_stop: bool = False):
        self._tok = tokenizer
        self._skip = bool(skip_special_tokens)
        self._stop = [s for s in stop if s]
        self._hold = max((len(s) for s in self._stop), default=1) - 1
        self._include = include_stop
        self.ids: List[int] = []
        self._emitted = 0  # characters of the text given out
        self._parser = ReasoningParser()
        self.stopped = False  # a stop string was found
        self.text = ""

    def _decode(self) -> str:
        return self._tok.decode(self.ids, skip_special_tokens=self._skip)

    def _find_stop(self, text: str) -> int:
        start = max(0, self._emitted - self._hold)
        best = -1
        for s in self._stop:
            i = text.find(s, start)
            if i >= 0 and (best < 0 or i < best):
                best = i
                if self._include:
                    best_end = i + len(s)
                    self._cut = best_end
        if best >= 0 and not self._include:
            self._cut = best
        return best

    def push(self, token: int) -> Tuple[str, str]:
        """The new (reasoning, content) text after one more token."""
        if self.stopped:
            return "", ""
        self.ids.append(int(token))
        text = self._decode()
        if self._stop and self._find_stop(text) >= 0:
            self.stopped = True
            return self._give(text[:self._cut], final=True)
        safe = len(text)
        while safe > self._emitted and text[safe - 1] == REPLACEMENT:
            safe -= 1
        if self._stop:
            safe = min(safe, max(self._emitted, len(text) - self._hold))
        return self._give(text[:safe], final=False)

    def finish(self) -> Tuple[str, str]:
        """Everything not given yet (held-back tails included)."""
        if self.stopped:
            return self._flush()
        text = self._decode()
        if self._stop and self._find_stop(text) >= 0:
            self.stopped = True
            text = text[:self._cut]
        r, c = self._give(text, final=True)
        return r, c

    def _give(self, text: str, final: bool) -> Tuple[str, str]:
        piece = text[self._emitted:]
        self._emitted = len(text)
        self.text = text
        r, c = self._parser.feed(piece) if piece else ("", "")
        if final:
            r2, c2 = self._flush()
            r, c = r + r2, c + c2
        return r, c

    def _flush(self) -> Tuple[str, str]:
        if getattr(self, "_flushed", False):
            return "", ""
        self._flushed = True
        return self._parser.finish()


def decode_all(tokenizer: Any, ids: Sequence[int], **kw) -> Tuple[str, str, str, bool]:
    """(text, reasoning, content, stopped_by_string) of a finished generation."""
    ts = TextStream(tokenizer, **kw)
    for t in ids:
        ts.push(t)
        if ts.stopped:
            break
    ts.finish()
    split = split_reasoning(ts.text)
    return ts.text, split.reasoning, split.content, ts.stopped


__all__ = ["TextStream", "decode_all"]
