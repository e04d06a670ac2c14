"""Glyph end to end: render a long context into pages, ask the VLM about it.

    import glyph, glyph.vlm
    model = glyph.vlm.Glm4v.from_pretrained("/models/Glyph")
    tok = glyph.load_tokenizer("/models/Glyph")          # or a transformers / tokenizers one
    pipe = glyph.Pipeline(glyph.Renderer(), model, tok)
    ans = pipe.ask(open("book.txt").read(), "Who is the narrator?")
    ans.text, ans.compression, ans.prefill_seconds

The work happens in C++ (glyph::vlm::ask): one pipeline for C++ and Python. Nothing here imports
torch; the model object does.
"""
from __future__ import annotations

from typing import Any

from ._core import Answer
from ._deprecation import module_getattr

__all__ = ["Answer", "Pipeline"]


class Pipeline:
    """renderer -> pages -> GLM-4.1V prompt -> generate -> answer with statistics."""

    def __init__(self, renderer, model, tokenizer):
        from .tokenizer import load_tokenizer

        self.renderer = renderer
        self.model = model
        self.tokenizer = load_tokenizer(tokenizer)  # a path too, loaded once

    def ask(self, long_text: str, question: str, *, max_new_tokens: int = 256,
            stream=None, **generate_kw: Any) -> Answer:
        """The model's answer about `long_text`, read as rendered pages (glyph.vlm.ask; keywords
        as Glm4v.generate)."""
        from .vlm import ask

        return ask(self.renderer, self.model, self.tokenizer, long_text, question,
                   max_new_tokens=max_new_tokens, stream=stream, **generate_kw)


def _load_tokenizer():
    from .tokenizer import load_tokenizer

    return load_tokenizer


__getattr__ = module_getattr("glyph.pipeline",
                             {"load_tokenizer": ("glyph.load_tokenizer", _load_tokenizer)})
