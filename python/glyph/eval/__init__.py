"""``glyph eval``: Glyph's evaluation protocols (LongBench / LongBench-E, MRCR, RULER, and a
generic one for your own data) against the in-process model, any OpenAI-compatible server, and a
text-only baseline. docs/eval.md has a worked example.

    import glyph.eval
    res = glyph.eval.run("longbench", "data/longbench/", "http://localhost:8000",
                         out="runs/lb", text_baseline="http://localhost:8001", newline="chose")
    res["modes"]["pages"]["score"], res["modes"]["text"]["score"]

Nothing here imports torch unless the local backend is used.
"""
from __future__ import annotations

import importlib
from typing import Any

# What lives where; imported on first use, so that `glyph --help` and `import glyph.eval` stay
# light (httpx, langdetect, rouge and jieba come in with the modules that need them).
_WHERE = {
    "BackendError": "backends", "HttpBackend": "backends", "LocalBackend": "backends",
    "Reply": "backends", "make_backend": "backends",
    "Record": "data", "read_records": "data",
    "NEWLINE_MARKER": "protocols", "PROTOCOLS": "protocols", "Custom": "protocols",
    "EvalItem": "protocols", "ItemError": "protocols", "LongBench": "protocols", "MRCR": "protocols",
    "Options": "protocols", "Protocol": "protocols", "Ruler": "protocols",
    "get_protocol": "protocols", "item_config": "protocols",
    "prepare_items": "runner",
}

__all__ = ["run"] + sorted(_WHERE)


def run(benchmark: Any, data: Any, backend: Any, out: Any, **options: Any) -> dict:
    """Evaluate ``backend`` on ``benchmark`` ("longbench", "mrcr", "ruler", "custom") over
    ``data`` and write predictions, results.json, results.md and plots to ``out``; returns the
    results. Options and outputs: glyph.eval.runner.run and docs/eval.md."""
    from .runner import run as _run

    return _run(benchmark, data, backend, out, **options)


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'glyph.eval' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{mod}"), name)
