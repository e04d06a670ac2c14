"""ConfigSearch from Python: Glyph's LLM-driven genetic search over rendering configs.

    import glyph
    from glyph.search import ConfigSearch, OcrEvaluator, HttpAdvisor

    search = ConfigSearch(glyph.SearchSpace.builtin(), population=16, generations=20, seed=0,
                          min_accuracy=0.9, seeds=["config_en.json"])
    result = search.run(samples=["some long text", ...], evaluator=OcrEvaluator(),
                        advisor=HttpAdvisor("http://localhost:8000/v1", model="qwen"),
                        log="out/search.jsonl")
    result.best_config.save("out/best_config.json")
    result.save("out")                     # best_config.json, front.json, plot.png if matplotlib

An evaluator is ``f(config, pages, sample) -> score`` (higher is better, e.g. a VLM's QA accuracy
on that sample's rendered pages). ``fitness=f(config) -> (accuracy, compression)`` replaces
rendering altogether (synthetic objectives, external pipelines). See docs/search.md.
"""
from __future__ import annotations

from .._core import SearchOptions, SearchSpace, approx_text_tokens, char_accuracy
from .advisor import AdvisorError, HttpAdvisor
from .driver import ConfigSearch, evaluate_config
from .ocr import OcrEvaluator
from .results import SearchResult, plot_history, read_log
from .samples import load_samples
from .vlm_eval import VlmEvaluator

__all__ = [
    "AdvisorError",
    "ConfigSearch",
    "HttpAdvisor",
    "OcrEvaluator",
    "SearchOptions",
    "SearchResult",
    "SearchSpace",
    "VlmEvaluator",
    "approx_text_tokens",
    "char_accuracy",
    "evaluate_config",
    "load_samples",
    "plot_history",
    "read_log",
]
