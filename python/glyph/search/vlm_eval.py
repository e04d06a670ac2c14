"""The VLM evaluator: accuracy from glyphcpp's own GLM-4.1V answering questions on the pages."""
from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence

from .._args import whole
from .._core import InputError
from .._tokenizers import as_codec

__all__ = ["VlmEvaluator"]

Sample = Mapping[str, Any]


class VlmEvaluator:
    """Accuracy from glyphcpp's own GLM-4.1V (glyph.vlm): for each question of a sample, the pages
    go into the chat prompt, the model answers greedily, and the answer scores 1 when it contains
    the expected answer (``match="contains"``, case- and whitespace-insensitive) or equals it
    (``match="exact"``). The sample's score is the mean over its questions.

    Samples carry ``"question"`` and ``"answer"``, or ``"qa": [{"question", "answer"}, ...]``.
    ``model`` is a ``glyph.vlm.Glm4v``; ``tokenizer`` a glyph.Tokenizer or another library's
    (see glyph.load_tokenizer). Generation stops at ``stop_ids`` (default: the checkpoint's
    eos ids) or after ``max_new_tokens``.
    """

    def __init__(self, model, tokenizer, max_new_tokens: int = 32, match: str = "contains",
                 stop_ids: Optional[Sequence[int]] = None, **generate_kw):
        if match not in ("contains", "exact"):
            raise InputError(f"match must be 'contains' or 'exact', got {match!r}")
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens = whole("max_new_tokens", max_new_tokens, 1)
        self.match, self.generate_kw = match, generate_kw
        # None: the checkpoint's eos ids (config.json's eos_token_id).
        self.stop_ids = [int(s) for s in (model.config["eos_token_ids"] if stop_ids is None
                                          else stop_ids)]
        self.last_answers: List[str] = []

    @staticmethod
    def _norm(text: str) -> str:
        return " ".join(text.lower().split())

    def answer(self, pages, question: str) -> str:
        ids = self.model.build_prompt(self.tokenizer, question, images=list(pages))
        out = self.model.generate(ids, images=list(pages), max_new_tokens=self.max_new_tokens,
                                  stop_ids=self.stop_ids, **self.generate_kw)
        tokens = out.tokens[:-1] if out.stop_reason == "stop_id" else out.tokens
        return as_codec(self.tokenizer).decode(tokens)

    def __call__(self, config, pages, sample: Sample) -> float:
        qas = sample.get("qa")
        if qas is None:
            if "question" not in sample or "answer" not in sample:
                raise InputError(f"sample {sample.get('id')!r}: VlmEvaluator needs 'question' and "
                                 "'answer' (or a 'qa' list)")
            qas = [{"question": sample["question"], "answer": sample["answer"]}]
        self.last_answers = []
        hits = 0
        for qa in qas:
            got = self.answer(pages, str(qa["question"]))
            self.last_answers.append(got)
            want, have = self._norm(str(qa["answer"])), self._norm(got)
            hits += (want == have) if self.match == "exact" else (want in have)
        return hits / len(qas) if qas else 0.0
