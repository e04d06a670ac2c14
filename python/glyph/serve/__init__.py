"""``glyph serve``: an OpenAI-compatible chat endpoint that renders long text into pages on the
server (Glyph's visual-text compression for any OpenAI client). docs/serve.md.

    from glyph.serve import create_app
    app = create_app("/models/Glyph")                         # local engine (glyph.vlm)
    app = create_app(upstream="http://gpu-box:8000")          # proxy in front of vLLM / SGLang
    # uvicorn.run(app, port=8000), or: glyph serve --model /models/Glyph --port 8000

Needs the ``serve`` extra (``pip install 'glyphcpp[serve]'``: FastAPI, uvicorn, httpx,
prometheus_client). Neither ``import glyph`` nor the ``glyph`` command line imports them until a
server is made (the names below load on first use).
"""
from __future__ import annotations

from .settings import ServeSettings

_LAZY = {
    "create_app": ("app", "create_app"),
    "Server": ("app", "Server"),
    "ApiError": ("errors", "ApiError"),
    "ChatCall": ("request", "ChatCall"),
    "parse_chat": ("request", "parse_chat"),
    "TextStream": ("textstream", "TextStream"),
    "PageStore": ("pages", "PageStore"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'glyph.serve' has no attribute {name!r}")
    mod, attr = _LAZY[name]
    if mod == "app":
        try:
            import fastapi  # noqa: F401
            import prometheus_client  # noqa: F401
        except ImportError as e:
            raise ImportError(f"glyph.serve needs the serve extra ({e.name} is missing): "
                              "pip install 'glyphcpp[serve]'") from None
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{mod}"), attr)
    globals()[name] = value
    return value


__all__ = ["ServeSettings", *_LAZY]
