"""Glyph end to end: render a long context into pages, ask the VLM about it.

    import glyph, glyph.vlm
    model = glyph.vlm.Glm4v.from_pretrained("/models/Glyph")
    tok = glyph.Tokenizer.from_file("/models/Glyph/tokenizer.json")   # or a transformers tokenizer
    pipe = glyph.Pipeline(glyph.Renderer(), model, tok)
    ans = pipe.ask(open("book.txt").read(), "Who is the narrator?")
    ans.text, ans.compression, ans.prefill_seconds

Nothing here imports torch; the model object does.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, List

__all__ = ["Answer", "Pipeline", "load_tokenizer"]


@dataclasses.dataclass
class Answer:
    text: str
    tokens: List[int]
    pages: int
    text_tokens: int      # what the context would cost fed as text (backbone tokenizer)
    visual_tokens: int    # what it costs as rendered pages
    prompt_tokens: int    # the whole multimodal prompt
    render_seconds: float
    prefill_seconds: float
    decode_seconds: float
    stop_reason: str

    @property
    def compression(self) -> float:
        """Text tokens per visual token (the paper's rho)."""
        return self.text_tokens / self.visual_tokens if self.visual_tokens else float("nan")

    def summary(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("tokens")
        d["compression"] = self.compression
        return d


def _encode(tokenizer, text: str) -> List[int]:
    try:
        ids = tokenizer.encode(text, add_special_tokens=False)
    except TypeError:
        ids = tokenizer.encode(text)
    if hasattr(ids, "ids"):
        ids = ids.ids
    return [int(i) for i in ids]


def _decode(tokenizer, ids: List[int]) -> str:
    try:
        return tokenizer.decode(ids, skip_special_tokens=True)
    except TypeError:
        return tokenizer.decode(ids)


def load_tokenizer(model_dir: str) -> Any:
    """The checkpoint's tokenizer: glyph.Tokenizer (C++) when it reads tokenizer.json, else
    Hugging Face tokenizers / transformers."""
    import os

    path = os.path.join(model_dir, "tokenizer.json") if os.path.isdir(model_dir) else model_dir
    errors = []
    try:
        from .tokenizer import load_tokenizer as _glyph_load

        return _glyph_load(path)
    except Exception as e:  # noqa: BLE001  (e.g. a tokenizer model glyph.Tokenizer lacks)
        errors.append(f"glyph.Tokenizer: {e}")
    try:
        from tokenizers import Tokenizer as HFTokenizer

        return HFTokenizer.from_file(path)
    except Exception as e:  # noqa: BLE001
        errors.append(f"tokenizers: {e}")
    raise FileNotFoundError(f"no usable tokenizer at {path}: " + "; ".join(errors))


class Pipeline:
    """renderer -> pages -> GLM-4.1V prompt -> generate -> answer with statistics."""

    def __init__(self, renderer, model, tokenizer):
        self.renderer = renderer
        self.model = model
        self.tokenizer = tokenizer

    def ask(self, long_text: str, question: str, *, max_new_tokens: int = 256,
            stream=None, **generate_kw) -> Answer:
        t0 = time.perf_counter()
        pages = list(self.renderer.render(long_text).pages)
        render_s = time.perf_counter() - t0
        ids = self.model.build_prompt(self.tokenizer, question, images=pages)
        out = self.model.generate(ids, images=pages, max_new_tokens=max_new_tokens, stream=stream,
                                  **generate_kw)
        tokens = out.tokens
        answer_ids = tokens[:-1] if out.stop_reason == "stop_id" else tokens
        return Answer(
            text=_decode(self.tokenizer, answer_ids),
            tokens=tokens,
            pages=len(pages),
            text_tokens=len(_encode(self.tokenizer, long_text)),
            visual_tokens=sum(self.model.image_token_counts(pages)) if pages else 0,
            prompt_tokens=out.prompt_tokens,
            render_seconds=render_s,
            prefill_seconds=out.prefill_seconds,
            decode_seconds=out.decode_seconds,
            stop_reason=out.stop_reason,
        )
