"""How glyph's results show themselves in Jupyter/IPython: HTML with the images inline.

Pages show as PNG images (``Page._repr_png_``, in the binding); a ``RenderResult`` as a strip of
thumbnails with its statistics; a ``SearchResult`` as its front and the accuracy-vs-compression
plot. Everything here is plain HTML with PNG data URLs (no JavaScript, nothing fetched), so it
also survives nbconvert and a notebook viewer. numpy and glyph's own PNG encoder only: no Pillow
or matplotlib needed, except for the search plot (left out, with a note, without matplotlib).
"""
from __future__ import annotations

import base64
import html
import math
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from ._core import encode_png

#: Thumbnails a RenderResult shows before "... and K more pages".
MAX_THUMBNAILS = 8
#: Height of a thumbnail in pixels (pages are area-averaged down to at most this).
THUMBNAIL_HEIGHT = 200


def thumbnail(pixels: Any, max_height: int = THUMBNAIL_HEIGHT) -> np.ndarray:
    """An (h, w, 3) uint8 image shrunk by an integer factor to at most ``max_height`` rows, each
    pixel the mean of its block (a box filter; the edge blocks are padded with the edge)."""
    a = np.asarray(pixels)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ValueError(f"thumbnail needs an (h, w, 3) uint8 image, got {a.shape} {a.dtype}")
    h, w = a.shape[:2]
    f = max(1, math.ceil(h / max(1, int(max_height))))
    if f == 1:
        return np.ascontiguousarray(a)
    th, tw = math.ceil(h / f), math.ceil(w / f)
    padded = np.pad(a, ((0, th * f - h), (0, tw * f - w), (0, 0)), mode="edge")
    blocks = padded.reshape(th, f, tw, f, 3).astype(np.uint32).sum(axis=(1, 3))
    return ((blocks + (f * f) // 2) // (f * f)).astype(np.uint8)


def png_data_url(pixels: Any) -> str:
    """An (h, w, 3) uint8 image as a ``data:image/png;base64,...`` URL (glyph's PNG encoder)."""
    return "data:image/png;base64," + base64.b64encode(encode_png(np.ascontiguousarray(pixels))).decode("ascii")


def _table(rows: Iterable[Sequence[Any]], header: Optional[Sequence[str]] = None) -> str:
    out = ['<table style="border-collapse:collapse;margin:4px 0">']
    cell = 'style="padding:1px 10px 1px 0;text-align:{}"'
    if header:
        out.append("<tr>" + "".join(f"<th {cell.format('left')}>{html.escape(str(h))}</th>"
                                    for h in header) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(
            f"<td {cell.format('right' if isinstance(v, (int, float)) else 'left')}>"
            f"{html.escape(_fmt(v))}</td>" for v in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def render_result_html(result: Any, max_pages: int = MAX_THUMBNAILS,
                       height: int = THUMBNAIL_HEIGHT) -> str:
    """A RenderResult as HTML: its statistics, then the first ``max_pages`` pages as thumbnails
    (each captioned with its number, size and visual tokens) and "... and K more pages"."""
    from .search import approx_text_tokens

    pages = list(result.pages)
    s = result.summary()
    rows = [("pages", s["pages"]), ("characters", s["characters"]),
            ("visual tokens", s["visual_tokens"])]
    text = result.text.decode("utf-8", "replace") if isinstance(result.text, bytes) else result.text
    if text is not None and s["visual_tokens"]:
        approx = approx_text_tokens(text)
        rows.append(("text tokens (approx.)", approx))
        rows.append(("compression (approx.)", approx / s["visual_tokens"]))
    for key, label in (("missing_glyphs", "missing glyphs"), ("invalid_utf8", "invalid UTF-8")):
        if s[key]:
            rows.append((label, s[key]))
    missing = getattr(result.stats, "missing_codepoints", None)
    if missing:
        rows.append(("missing code points", " ".join(f"U+{c:04X}" for c in missing[:16])))
    parts = ['<div class="glyph-render-result">',
             '<b>glyph.RenderResult</b>', _table(rows)]
    if text is not None and s["visual_tokens"]:
        parts.append('<div style="font-size:smaller;color:#666">approx.: characters/4, CJK/1.5 '
                     '(summary(tokenizer=...) counts exactly)</div>')
    parts.append('<div style="display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start;'
                 'margin-top:6px">')
    for p in pages[:max_pages]:
        thumb = thumbnail(p.pixels, height)
        caption = f"page {p.index + 1}: {p.width}x{p.height}, {p.visual_tokens} tokens"
        parts.append(
            '<figure style="margin:0;text-align:center">'
            f'<img src="{png_data_url(thumb)}" width="{thumb.shape[1]}" height="{thumb.shape[0]}" '
            f'alt="{html.escape(caption)}" style="border:1px solid #ccc;image-rendering:auto"/>'
            f'<figcaption style="font-size:smaller">{html.escape(caption)}</figcaption></figure>')
    parts.append("</div>")
    if len(pages) > max_pages:
        more = len(pages) - max_pages
        parts.append(f"<div>... and {more} more page{'s' if more != 1 else ''} "
                     f"(result.pages[i] shows one in full)</div>")
    parts.append("</div>")
    return "".join(parts)


def search_result_html(result: Any, max_rows: int = 12) -> str:
    """A SearchResult as HTML: stop reason, evaluations, the best config's scores, the Pareto front
    (its first ``max_rows`` points by increasing compression) and the accuracy-vs-compression plot
    (needs matplotlib; a note without it)."""
    evaluated = result.evaluated
    ok = [d for d in evaluated if d["ok"]]
    best = result.best
    rows = [("stop reason", result.stop_reason), ("evaluations", len(evaluated)),
            ("failed", len(evaluated) - len(ok)), ("generations", len(result.generations)),
            ("text tokens", result.text_token_counter)]
    if best is not None:
        rows += [("best accuracy", best["accuracy"]), ("best compression", best["compression"])]
    parts = ['<div class="glyph-search-result">', "<b>glyph.SearchResult</b>", _table(rows)]
    front = result.front
    if front:
        # the genes whose values differ along the front (the rest are the same for every point)
        names = [n for n in result.space.gene_names
                 if len({str(_setting(d["settings"], n)) for d in front}) > 1]
        body = [[d["accuracy"], d["compression"]] + [_setting(d["settings"], n) for n in names]
                for d in front[:max_rows]]
        parts.append("<b>Pareto front</b>")
        parts.append(_table(body, ["accuracy", "compression"] + list(names)))
        if len(front) > max_rows:
            parts.append(f"<div>... and {len(front) - max_rows} more points (result.front)</div>")
    try:
        fig = result.plot()
    except ImportError:
        parts.append('<div style="color:#666">(install matplotlib for the plot)</div>')
    else:
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
        parts.append(f'<img src="{url}" alt="accuracy vs compression"/>')
    parts.append("</div>")
    return "".join(parts)


def _setting(settings: Any, name: str) -> Any:
    if isinstance(settings, dict):
        v = settings.get(name, "")
        return v if isinstance(v, (int, float, str)) else str(v)
    return ""
