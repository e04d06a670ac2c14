"""Python face of the C++ tokenizer: one way to load a tokenizer, GLM-4.1V prompts from pages."""
from __future__ import annotations

import functools
import os
from typing import Any, Iterable, List, Union

from . import _core
from ._core import GLM4V_PROMPT_TEMPLATE, IoError, Tokenizer, TokenizerError
from ._tokenizers import as_codec

PathLike = Union[str, "os.PathLike[str]"]
TokenizerLike = Union[Tokenizer, PathLike, Any]


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, fallback: bool):
    try:
        return Tokenizer.from_file(path)
    except TokenizerError as e:
        if not fallback:
            raise
        try:
            from tokenizers import Tokenizer as HFTokenizer
        except ImportError:
            raise e from None
        try:
            return HFTokenizer.from_file(path)
        except Exception as hf_error:  # noqa: BLE001  (tokenizers raises its own types)
            raise TokenizerError(f"{e}; Hugging Face tokenizers cannot read it either: "
                                 f"{hf_error}") from None


def load_tokenizer(tokenizer: TokenizerLike, *, fallback: bool = True):
    """The tokenizer behind ``tokenizer``, in the one form every glyph API takes.

    - a ``glyph.Tokenizer``, or another library's tokenizer object (Hugging Face ``tokenizers``,
      transformers): returned as it is;
    - a ``tokenizer.json`` path, or a folder holding one (a model checkpoint): loaded by
      ``glyph.Tokenizer`` (with tokenizer_config.json beside it), cached while the file is
      unchanged. When glyph.Tokenizer refuses the file (a component it does not implement) and
      ``fallback`` is on, Hugging Face ``tokenizers`` loads it, if installed.

    Raises IoError when there is no such file, TokenizerError when nothing can read it.
    """
    if not isinstance(tokenizer, (str, bytes, os.PathLike)):
        return tokenizer
    path = os.path.abspath(os.fsdecode(tokenizer))
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError as e:
        raise IoError(f"cannot open tokenizer file {path!r}: {e.strerror}") from None
    return _load(path, mtime, bool(fallback))


def count_tokens(tokenizer: TokenizerLike, text: Any) -> int:
    """Text tokens of ``text`` (no special tokens) with any tokenizer ``load_tokenizer`` takes.

    ``text`` is a str, or a ``glyph.TextSource`` / anything ``glyph.text_source`` takes (a
    ``pathlib.Path``, a file object, chunks), decoded with errors="replace". A glyph.Tokenizer
    counts a source in 1 MiB windows, cut where its pre-tokenizer provably splits, so memory
    stays bounded and the count equals the whole text's (``Tokenizer.streams_count`` says
    whether it can for a given tokenizer.json; docs/reliability.md). Other tokenizers are given
    the whole text.
    """
    codec = as_codec(load_tokenizer(tokenizer))
    if isinstance(text, str):
        return codec.count(text)
    from .render import text_source

    src = text_source(text)
    native = getattr(codec, "tokenizer", None)
    if isinstance(native, Tokenizer):
        return native.count(src)
    src.rewind()
    data = []
    while True:
        piece = src.read(1 << 20)
        if not piece:
            break
        data.append(piece)
    return codec.count(b"".join(data).decode("utf-8", "replace"))


def _visual_tokens(pages: Iterable) -> List[int]:
    """Per page token counts from ints, glyph.Page objects or a RenderResult."""
    return [p if isinstance(p, int) else int(p.visual_tokens) for p in pages]


def glm4v_prompt(
    pages: Iterable,
    question: str,
    prompt_template: str = GLM4V_PROMPT_TEMPLATE,
) -> str:
    """The GLM-4.1V prompt for rendered pages (ints, Pages or a RenderResult) and a question."""
    return _core.glm4v_prompt(_visual_tokens(pages), question, prompt_template)


def glm4v_prompt_ids(
    tokenizer: TokenizerLike,
    pages: Iterable,
    question: str,
    prompt_template: str = GLM4V_PROMPT_TEMPLATE,
) -> List[int]:
    """glm4v_prompt() as token ids of a GLM-4.1V tokenizer (anything load_tokenizer takes)."""
    return _core.glm4v_prompt_ids(
        load_tokenizer(tokenizer), _visual_tokens(pages), question, prompt_template
    )


__all__ = [
    "GLM4V_PROMPT_TEMPLATE",
    "Tokenizer",
    "count_tokens",
    "glm4v_prompt",
    "glm4v_prompt_ids",
    "load_tokenizer",
]
