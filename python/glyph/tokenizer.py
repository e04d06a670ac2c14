"""Python face of the C++ tokenizer: cached loading and GLM-4.1V prompts from rendered pages."""
from __future__ import annotations

import functools
import os
from typing import Iterable, List, Union

from . import _core
from ._core import GLM4V_PROMPT_TEMPLATE, Tokenizer

PathLike = Union[str, "os.PathLike[str]"]
TokenizerLike = Union[Tokenizer, PathLike]


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> Tokenizer:
    return Tokenizer.from_file(path)


def load_tokenizer(tokenizer: TokenizerLike) -> Tokenizer:
    """A Tokenizer as is, or loaded from a tokenizer.json path (cached while the file is unchanged)."""
    if isinstance(tokenizer, Tokenizer):
        return tokenizer
    path = os.path.abspath(os.fspath(tokenizer))
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        mtime = 0  # let from_file raise its own error naming the path
    return _load(path, mtime)


def _visual_tokens(pages: Iterable) -> List[int]:
    """Per page token counts from ints, glyph.Page objects or a RenderResult."""
    return [p if isinstance(p, int) else int(p.visual_tokens) for p in pages]


def glm4v_prompt(
    pages: Iterable,
    question: str,
    prompt_template: str = GLM4V_PROMPT_TEMPLATE,
) -> str:
    """The GLM-4.1V prompt for rendered pages (ints, Pages or a RenderResult) and a question."""
    return _core.build_glm4v_prompt(_visual_tokens(pages), question, prompt_template)


def glm4v_prompt_ids(
    tokenizer: TokenizerLike,
    pages: Iterable,
    question: str,
    prompt_template: str = GLM4V_PROMPT_TEMPLATE,
) -> List[int]:
    """glm4v_prompt() as token ids of a GLM-4.1V tokenizer."""
    return _core.build_glm4v_prompt_ids(
        load_tokenizer(tokenizer), _visual_tokens(pages), question, prompt_template
    )


__all__ = [
    "GLM4V_PROMPT_TEMPLATE",
    "Tokenizer",
    "glm4v_prompt",
    "glm4v_prompt_ids",
    "load_tokenizer",
]
