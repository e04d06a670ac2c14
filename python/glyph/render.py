"""Python face of the C++ renderer: config coercion, results, PIL helpers."""
from __future__ import annotations

import collections.abc as cabc
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

from . import _core
from ._core import InputError, Page, RenderConfig, RenderStats, TextSource

ConfigLike = Union[None, RenderConfig, Mapping[str, Any], str, "os.PathLike[str]"]
# What the render calls take as text: a str or bytes (held whole), or anything text_source()
# turns into a TextSource (read in pieces).
TextLike = Union[str, bytes, TextSource, "os.PathLike[str]", Any]

_CHUNK = 1 << 20  # bytes (or characters) read at a time from a file object

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


def text_source(source: Any, name: Optional[str] = None) -> TextSource:
    """A ``glyph.TextSource`` (text read in pieces, never held whole) from:

    * a ``TextSource`` (returned as is);
    * a path as ``pathlib.Path`` / ``os.PathLike`` (a plain ``str`` is text, not a path: use
      ``TextSource.from_file(path)``), read in 1 MiB chunks;
    * a seekable file object, binary or text (read in chunks, rewound with ``seek(0)``);
    * a callable returning a fresh iterable of pieces (bytes or str) on each call;
    * a re-iterable of pieces, e.g. a list of chunks (``iter()`` is taken once per reading).

    The renderer reads the text twice (Glyph decides CJK wrapping for the whole text), so a
    one-shot iterator or generator is refused: wrap its producer in a callable instead. Pieces
    may be cut anywhere, inside a UTF-8 sequence or a CRLF: the result is the same.
    """
    if isinstance(source, TextSource):
        return source
    if isinstance(source, (str, bytes, bytearray, memoryview)):
        raise TypeError("text_source() takes a path (pathlib.Path), a file object, a callable or "
                        "an iterable of pieces; a str or bytes is the text itself (pass it to the "
                        "render call directly, or use TextSource.from_file(path) for a path)")
    if isinstance(source, os.PathLike):
        return TextSource.from_file(os.fspath(source))
    if isinstance(source, (cabc.Mapping, cabc.Set)):  # a record passed whole: its keys would be the text
        raise TypeError(f"text must be str or bytes, or a source to read it from, not a "
                        f"{type(source).__name__} (pass the text itself, e.g. record['context'])")
    if hasattr(source, "read") and hasattr(source, "seek"):
        f = source
        label = name or f"file object {getattr(f, 'name', type(f).__name__)!r}"
        return TextSource.from_reader(lambda: f.read(_CHUNK), lambda: f.seek(0), label)
    if callable(source):
        factory = source
    elif isinstance(source, Iterable):
        if iter(source) is source:
            raise TypeError(
                f"a {type(source).__name__} can be read only once, and the renderer reads the "
                "text twice (Glyph decides CJK wrapping for the whole text): pass a callable "
                "that returns a fresh iterable of pieces, e.g. lambda: read_chunks(path)")
        factory = lambda: source  # noqa: E731
    else:
        raise TypeError(f"text must be str or bytes, or a source to read it from (a path, a file "
                        f"object, a callable or an iterable of pieces), got "
                        f"{type(source).__name__}")
    state = {"it": None}

    def pieces():
        for piece in factory():
            # a big piece is handed over 1 MiB at a time (the C++ side copies what it reads)
            for i in range(0, len(piece), _CHUNK):
                yield piece[i:i + _CHUNK] if len(piece) > _CHUNK else piece

    def rewind():
        state["it"] = pieces()

    def read():
        if state["it"] is None:
            rewind()
        for piece in state["it"]:
            if piece:  # an empty piece would read as the end
                return piece
        return b""

    return TextSource.from_reader(read, rewind, name or "text pieces")


class MissingFontWarning(UserWarning):
    """Characters of the text had no glyph in the config's fonts and were drawn as boxes (the
    .notdef glyph); the message names the fix (e.g. a CJK font to install)."""


def _is_cjk(cp: int) -> bool:
    """Chinese, Japanese and Korean scripts and their punctuation and full-width forms."""
    return (0x2E80 <= cp <= 0x9FFF or 0xAC00 <= cp <= 0xD7AF or 0xF900 <= cp <= 0xFAFF
            or 0xFE30 <= cp <= 0xFE4F or 0xFF00 <= cp <= 0xFFEF or 0x20000 <= cp <= 0x3FFFF)


def missing_font_hint(stats: Any) -> Optional[str]:
    """What to do about the characters no font had (``stats.missing_glyphs``), or None when
    every character was drawn. For CJK text it says whether a CJK font is installed at all and
    how to get or name one (glyph.find_cjk_font() looks in the usual system places and at
    $GLYPH_CJK_FONT)."""
    missing = _stat(stats, "missing_glyphs")
    if not missing:
        return None
    cps = list(_stat(stats, "missing_codepoints", []) or [])
    examples = ", ".join(f"U+{c:04X} {chr(c)!r}" for c in cps[:3])
    head = (f"{missing} characters had no glyph in the config's fonts and were drawn as boxes"
            + (f" (e.g. {examples})" if examples else ""))
    if not any(_is_cjk(c) for c in cps):
        return head + ": add a font that has them to the config's fallback-font-paths"
    found = _core.find_cjk_font()
    if found:
        return (head + f"; they are CJK and a CJK font is installed ({found}) but this config "
                "does not use it: add it to fallback-font-paths (RenderConfig.fallback_font_paths)"
                ", or start from RenderConfig.glyph_default(), which adds it")
    return (head + "; they are CJK and no CJK font was found. Install one (Debian/Ubuntu: "
            "apt install fonts-noto-cjk) and make the config again, or set "
            "GLYPH_CJK_FONT=/path/to/font.ttc (.ttf, .otf) before making the config, or list the "
            "font in the config's fallback-font-paths (docs/install.md, 'Chinese')")


def _warn_missing(stats: Any) -> None:
    hint = missing_font_hint(stats)
    if hint:
        import warnings

        warnings.warn("glyph: " + hint, MissingFontWarning, stacklevel=3)


def _text_arg(text: Any) -> Any:
    """str/bytes as they are (the C++ side views them), anything else as a TextSource."""
    if isinstance(text, (str, bytes)):
        return text
    if isinstance(text, (bytearray, memoryview)):
        return bytes(text)
    return text_source(text)


class PagePaths(list):
    """The paths render_to_dir wrote (a list, Glyph's contract), with the RenderStats as
    ``.stats`` (replaced invalid UTF-8, removed characters, missing glyphs, ...)."""

    stats: Optional[RenderStats] = None


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
    # the source it was read from, when given as one (a path, a file, chunks): read again to count
    source: Optional[TextSource] = field(default=None, repr=False, compare=False)

    @property
    def visual_tokens(self) -> int:
        return int(_stat(self.stats, "visual_tokens", sum(p.visual_tokens for p in self.pages)))

    def summary(self, text_tokens: Optional[int] = None, tokenizer: Any = None) -> dict:
        """pages, visual tokens and, given the text's token count, the compression ratio.

        ``tokenizer`` (anything glyph.load_tokenizer takes: a glyph.Tokenizer, a tokenizer.json
        path, a Hugging Face tokenizer) counts the text tokens of the rendered text when
        ``text_tokens`` is not given; a text rendered from a source (a path, a file object,
        chunks) is read from it again.
        """
        if text_tokens is None and tokenizer is not None:
            from .tokenizer import count_tokens

            if self.text is not None:
                text = (self.text.decode("utf-8", "replace") if isinstance(self.text, bytes)
                        else self.text)
                text_tokens = count_tokens(tokenizer, text)
            elif self.source is not None:
                text_tokens = count_tokens(tokenizer, self.source)
            else:
                raise InputError("summary(tokenizer=...) needs the rendered text: this result "
                                 "holds none (give text_tokens=)")
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

    def _repr_html_(self) -> str:
        """Jupyter/IPython: the statistics and a strip of thumbnails (the first 8 pages, then
        "... and K more"), images inline as PNG data URLs. Each page shows itself in full
        (``result.pages[i]``, Page._repr_png_)."""
        from ._display import render_result_html

        return render_result_html(self)

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

    def render(self, text: TextLike) -> RenderResult:
        """All pages of ``text`` in memory, by design: a 12 MB text makes ~1,200 pages, about
        1.5 MB of pixels each. For a text of any size use ``render_each`` (a callback per page)
        or ``render_to_dir`` (PNG files), which hold a page or two, and give them a
        ``TextSource`` (``glyph.text_source(path)``) so the text is not held either."""
        if isinstance(text, (str, bytes)):
            pages, stats = self._impl.render(text)
            _warn_missing(stats)
            return RenderResult(pages, stats, text)
        source = _text_arg(text)
        pages, stats = self._impl.render(source)
        _warn_missing(stats)
        return RenderResult(pages, stats, source if isinstance(source, bytes) else None,
                            source if isinstance(source, TextSource) else None)

    def render_each(self, text: TextLike, callback: Callable[[Page], None]) -> RenderStats:
        """Stream pages to ``callback`` as they are finished (bounded memory); returns the stats.

        ``text`` is a str or bytes, or anything ``glyph.text_source`` takes (a path, a file
        object, chunks): then only the current paragraph (Glyph's 30 input lines; the whole
        text with the evaluation layout, ``paragraph-lines`` 0) is held.
        """
        stats = self._impl.render_each(_text_arg(text), callback)
        _warn_missing(stats)
        return stats

    def render_to_dir(
        self,
        text: TextLike,
        out_dir: Union[str, "os.PathLike[str]"],
        unique_id: Optional[str] = "",
        compression: Optional[int] = None,
    ) -> PagePaths:
        """Glyph's ``text_to_images``: writes out_dir/unique_id/page_001.png ... (each page as it
        is made, atomically) and returns the paths; ``.stats`` on the list holds the RenderStats.
        ``text`` as for ``render_each`` (a path or chunks stream). ``unique_id`` "" writes into
        out_dir itself, None into a fresh uuid4 folder (as ``glyph.render_to_dir``). Page files
        an earlier, longer render left in that folder are removed.

        ``compression``: PNG deflate level 0..9; None: level 3 for RGB pages, 1 for gray and
        palette pages. The colour type follows the config's ``png-color`` ("auto": gray or
        palette when exact, else RGB; "rgb": always RGB)."""
        if unique_id is None:
            import uuid

            unique_id = str(uuid.uuid4())
        elif not isinstance(unique_id, str):
            raise TypeError(f"unique_id must be a str (a folder name; \"\": out_dir itself), not "
                            f"{type(unique_id).__name__}")
        paths, stats = self._impl.render_to_dir(_text_arg(text), os.fspath(out_dir), unique_id,
                                                compression)
        _warn_missing(stats)
        out = PagePaths(paths)
        out.stats = stats
        return out

    def layout(self, text: TextLike) -> list:
        """Per page, the lines as data (text, x, baseline, character span); no pixels."""
        return self._impl.layout(_text_arg(text))

    def render_batch(self, texts: Sequence[Union[str, bytes]], threads: int = 0) -> list:
        """Render many texts on a C++ thread pool (GIL released). Same output for any thread count."""
        if isinstance(texts, (str, bytes)):  # it would be rendered one character per text
            raise TypeError("render_batch takes a list of texts, not one str/bytes (use render())")
        texts = list(texts)
        out = [
            RenderResult(p, s, t) for (p, s), t in zip(self._impl.render_batch(texts, threads), texts)
        ]
        for r in out:
            if r.stats is not None and r.stats.missing_glyphs:
                _warn_missing(r.stats)  # one warning for the batch: the first text that has one
                break
        return out

    def __repr__(self) -> str:
        return f"glyph.Renderer({self.config.to_json(-1)})"


def render(text: TextLike, config: ConfigLike = None) -> RenderResult:
    """One-shot: ``glyph.render(text, "config_en.json")``. Keeps every page in memory (see
    Renderer.render); for long texts use ``Renderer.render_each`` / ``render_to_dir``."""
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
        if out_dir is not None:
            raise TypeError("render_to_dir() got both out_dir and output_dir (its old name): "
                            "give out_dir")
        out_dir = deprecated.pop("output_dir")
    if deprecated:
        raise TypeError(f"render_to_dir() got unexpected keyword arguments {sorted(deprecated)}")
    if out_dir is None:
        raise TypeError("render_to_dir() needs out_dir")
    return Renderer(config).render_to_dir(text, out_dir, unique_id, compression)
