"""Adapters for foreign tokenizers: the one place glyph learns how another library's tokenizer
encodes, decodes and names its tokens.

Everything in glyph that takes a tokenizer (prompts, Pipeline.ask, summaries, the CLI) accepts a
``glyph.Tokenizer`` or any of these, through ``as_codec``:

- Hugging Face ``tokenizers.Tokenizer`` (``encode`` returns an ``Encoding``),
- transformers tokenizers (``encode(text, add_special_tokens=False)``, ``convert_tokens_to_ids``),
- anything else with ``encode(text) -> ids`` and ``decode(ids) -> str``.

The C++ side (glyph::TextCodec) calls the adapter's ``encode``, ``decode``, ``token_to_id`` and
``count``.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

from ._core import InputError, Tokenizer

__all__ = ["ForeignTokenizer", "as_codec"]


class ForeignTokenizer:
    """Another library's tokenizer behind glyph's tokenizer contract: ``encode`` adds no special
    tokens around the text, ``decode`` leaves special tokens out."""

    def __init__(self, tokenizer: Any):
        if not (callable(getattr(tokenizer, "encode", None))
                and callable(getattr(tokenizer, "decode", None))):
            raise InputError(
                f"a tokenizer needs encode() and decode(); {type(tokenizer).__name__} has not both"
            )
        self.tokenizer = tokenizer

    def encode(self, text: str) -> List[int]:
        try:
            ids = self.tokenizer.encode(text, add_special_tokens=False)
        except TypeError:  # no such keyword: a plain encode(text)
            ids = self.tokenizer.encode(text)
        if hasattr(ids, "ids"):  # tokenizers.Encoding
            ids = ids.ids
        return [int(i) for i in ids]

    def decode(self, ids: Sequence[int]) -> str:
        ids = [int(i) for i in ids]
        try:
            return self.tokenizer.decode(ids, skip_special_tokens=True)
        except TypeError:
            return self.tokenizer.decode(ids)

    def token_to_id(self, token: str) -> Optional[int]:
        unk = getattr(self.tokenizer, "unk_token_id", None)
        for name in ("token_to_id", "convert_tokens_to_ids"):
            fn = getattr(self.tokenizer, name, None)
            if fn is None:
                continue
            i = fn(token)
            # transformers answers the unknown token's id for tokens it does not know
            return None if i is None or (unk is not None and i == unk) else int(i)
        return None

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def __repr__(self) -> str:
        return f"ForeignTokenizer({type(self.tokenizer).__name__})"


class _GlyphCodec:
    """glyph.Tokenizer under the same contract (its own count(), no id list built)."""

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer

    def encode(self, text: str) -> List[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)

    def token_to_id(self, token: str) -> Optional[int]:
        return self.tokenizer.token_to_id(token)

    def count(self, text: str) -> int:
        return self.tokenizer.count(text)


def as_codec(tokenizer: Any):
    """Any tokenizer under glyph's contract: encode(text) adds no special tokens, decode(ids)
    leaves them out, token_to_id(name) is None when unknown, count(text)."""
    if isinstance(tokenizer, (ForeignTokenizer, _GlyphCodec)):
        return tokenizer
    if isinstance(tokenizer, Tokenizer):
        return _GlyphCodec(tokenizer)
    return ForeignTokenizer(tokenizer)
