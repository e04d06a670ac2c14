"""Python face of the C++ renderer: config coercion, results, PIL helpers."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from . import _core
from ._core import InputError, Page, RenderConfig, RenderStats

ConfigLike = Union[None, RenderConfig, Mapping[str, Any], str, "os.PathLike[str]"]

_DATA_DIR = os.path.join(os.path.dirname(__file__), "data")


def sample_text() -> str:
    """A public-domain sample (the opening of Alice's Adventures in Wonderland)."""
    with open(os.path.join(_DATA_DIR, "sample.txt"), encoding="utf-8") as f:
        return f.read()


def as_config(config: ConfigLike) -> RenderConfig:
    """RenderConfig from None (the default), a RenderConfig, a dict or a JSON file path."""
    if config is None:
        return RenderConfig.glyph_default()
    if isinstance(config, RenderConfig):
        return config
    if isinstance(config, Mapping):
        return RenderConfig.from_dict(config)
    if isinstance(config, (str, os.PathLike)):
        return RenderConfig.from_file(os.fspath(config))
    raise TypeError(
        f"config must be None, a RenderConfig, a dict or a path, got {type(config).__name__}"
    )


def _stat(stats: Any, name: str, default: Any = 0) -> Any:
    """A field of RenderStats (or of a plain dict of the same fields)."""
    if isinstance(stats, Mapping):
        return stats.get(name, default)
    return getattr(stats, name, default)


@dataclass
class RenderResult:
    """Pages of one text plus what it cost (``stats``: a glyph.RenderStats)."""

    pages: list
    stats: Any = None
    text: Optional[str] = field(default=None, repr=False)  # the rendered text, for token counts

    @property
    def visual_tokens(self) -> int:
        return int(_stat(self.stats, "visual_tokens", sum(p.visual_tokens for p in self.pages)))

    def summary(self, text_tokens: Optional[int] = None, tokenizer: Any = None) -> dict:
        """pages, visual tokens and, given the text's token count, the compression ratio.

        ``tokenizer`` (anything glyph.load_tokenizer takes: a glyph.Tokenizer, a tokenizer.json
        path, a Hugging Face tokenizer) counts the text tokens of the rendered text when
        ``text_tokens`` is not given.
        """
        if text_tokens is None and tokenizer is not None:
            if self.text is None:
                raise InputError("summary(tokenizer=...) needs the text: use Renderer.render()")
            from .tokenizer import count_tokens

            text = self.text.decode("utf-8", "replace") if isinstance(self.text, bytes) else self.text
            text_tokens = count_tokens(tokenizer, text)
        out = {
            "pages": len(self.pages),
            "characters": _stat(self.stats, "characters"),
            "visual_tokens": self.visual_tokens,
            "missing_glyphs": _stat(self.stats, "missing_glyphs"),
            "invalid_utf8": _stat(self.stats, "invalid_utf8"),
        }
        if text_tokens is not None:
            out["text_tokens"] = int(text_tokens)
            out["compression"] = text_tokens / self.visual_tokens if self.visual_tokens else 0.0
        return out

    def __len__(self) -> int:
        return len(self.pages)

    def __iter__(self):
        return iter(self.pages)

    def __getitem__(self, i):
        return self.pages[i]


class Renderer:
    """Text -> page images, faithful to Glyph's reference renderer (reportlab + poppler).

    ``config`` is a RenderConfig, a dict of Glyph keys, a path to a Glyph config JSON, or None
    for Glyph's searched config with the shipped DejaVu Sans font. Thread-safe; the heavy calls
    release the GIL.
    """

    def __init__(self, config: ConfigLike = None):
        self._impl = _core._Renderer(as_config(config))

    @property
    def config(self) -> RenderConfig:
        return self._impl.config

    def render(self, text: Union[str, bytes]) -> RenderResult:
        pages, stats = self._impl.render(text)
        return RenderResult(pages, stats, text)

    def render_each(self, text: Union[str, bytes], callback: Callable[[Page], None]) -> RenderStats:
        """Stream pages to ``callback`` as they are finished (bounded memory); returns the stats."""
        return self._impl.render_each(text, callback)

    def render_to_dir(
        self,
        text: Union[str, bytes],
        out_dir: Union[str, "os.PathLike[str]"],
        unique_id: str = "",
        compression: Optional[int] = None,
    ) -> list:
        """Glyph's ``text_to_images``: writes out_dir/unique_id/page_001.png ... and returns paths.

        ``compression``: PNG deflate level 0..9; None: level 3 for RGB pages, 1 for gray and
        palette pages. The colour type follows the config's ``png-color`` ("auto": gray or
        palette when exact, else RGB; "rgb": always RGB)."""
        return self._impl.render_to_dir(text, os.fspath(out_dir), unique_id, compression)

    def layout(self, text: Union[str, bytes]) -> list:
        """Per page, the lines as data (text, x, baseline, character span); no pixels."""
        return self._impl.layout(text)

    def render_batch(self, texts: Sequence[Union[str, bytes]], threads: int = 0) -> list:
        """Render many texts on a C++ thread pool (GIL released). Same output for any thread count."""
        texts = list(texts)
        return [
            RenderResult(p, s, t) for (p, s), t in zip(self._impl.render_batch(texts, threads), texts)
        ]

    def __repr__(self) -> str:
        return f"glyph.Renderer({self.config.to_json(-1)})"


def render(text: Union[str, bytes], config: ConfigLike = None) -> RenderResult:
    """One-shot: ``glyph.render(text, "config_en.json")``."""
    return Renderer(config).render(text)


def render_to_dir(
    text: Union[str, bytes],
    out_dir: Union[str, "os.PathLike[str]", None] = None,
    config: ConfigLike = None,
    unique_id: Optional[str] = None,
    compression: Optional[int] = None,
    **deprecated: Any,
) -> list:
    """Drop-in for Glyph's ``text_to_images(text, output_dir, config, unique_id)``: the pages go
    to out_dir/unique_id/page_001.png ... (a fresh uuid4 when ``unique_id`` is None, as Glyph
    does); returns the paths. Renderer.render_to_dir takes the same names."""
    if "output_dir" in deprecated:
        from ._deprecation import warn

        warn("render_to_dir(output_dir=...)", "render_to_dir(out_dir=...)")
        out_dir = deprecated.pop("output_dir")
    if deprecated:
        raise TypeError(f"render_to_dir() got unexpected keyword arguments {sorted(deprecated)}")
    if out_dir is None:
        raise TypeError("render_to_dir() needs out_dir")
    import uuid

    uid = unique_id if unique_id is not None else str(uuid.uuid4())
    return Renderer(config).render_to_dir(text, out_dir, uid, compression)
