"""glyphcpp: Glyph's visual-text compression (arXiv 2510.17800) in C++, driven from Python.

    import glyph
    renderer = glyph.Renderer()                       # Glyph's searched config, DejaVu Sans
    result = renderer.render(open("book.txt").read())
    result.pages[0].pixels                            # numpy (H, W, 3) uint8, zero-copy
    result.pages[0].to_pil().save("p1.png")
    glyph.Renderer("config_en.json").render_to_dir(text, "out", unique_id="doc-1")
    tok = glyph.load_tokenizer("tokenizer.json")      # HF byte-level BPE, e.g. GLM-4.1V's
    result.summary(tokenizer=tok)                     # text tokens and compression ratio

The VLM (glyph.vlm) needs torch and is imported on demand; nothing here imports torch. Every error
glyph raises derives from glyph.GlyphError.
"""
from __future__ import annotations

import os as _os

# The C++ side looks for its default font here first (DejaVu Sans ships with the package).
_os.environ.setdefault("GLYPH_FONT_DIR", _os.path.join(_os.path.dirname(__file__), "fonts"))

from ._core import (  # noqa: E402
    Alignment,
    Answer,
    ConfigError,
    ConfigField,
    FontError,
    GenerateOutput,
    GlyphError,
    InputError,
    IoError,
    LineInfo,
    ModelLoadError,
    NotImplementedError,
    OutOfMemoryError,
    Page,
    PageLayout,
    RenderConfig,
    RenderStats,
    SearchError,
    SearchProgress,
    ReasoningParser,
    TextSource,
    Tokenizer,
    TokenizerError,
    default_font_path,
    encode_png,
    find_cjk_font,
    smart_resize,
    split_reasoning,
    visual_tokens,
)
from ._deprecation import module_getattr as _module_getattr  # noqa: E402
from .pipeline import Pipeline  # noqa: E402  (no torch: the model brings it)
from .render import (  # noqa: E402
    MissingFontWarning,
    PagePaths,
    Renderer,
    RenderResult,
    render,
    render_to_dir,
    sample_text,
    text_source,
)
from .search import (  # noqa: E402
    AdvisorError,
    ConfigSearch,
    HttpAdvisor,
    OcrEvaluator,
    SearchOptions,
    SearchResult,
    SearchSpace,
    VlmEvaluator,
)
from .tokenizer import (  # noqa: E402
    GLM4V_PROMPT_TEMPLATE,
    count_tokens,
    glm4v_prompt,
    glm4v_prompt_ids,
    load_tokenizer,
)

from ._version import __version__  # noqa: E402  (the one place it is written)

# Names before 0.2 (removed in 0.3).
__getattr__ = _module_getattr("glyph", {
    "GlyphIOError": ("glyph.IoError", lambda: IoError),
    "GlyphNotImplementedError": ("glyph.NotImplementedError", lambda: NotImplementedError),
})

# glyph.NotImplementedError is left out of __all__, so that `from glyph import *` does not shadow
# the builtin (it derives from the builtin anyway).
__all__ = [
    "GLM4V_PROMPT_TEMPLATE",
    "AdvisorError",
    "Alignment",
    "Answer",
    "ConfigError",
    "ConfigField",
    "ConfigSearch",
    "FontError",
    "GenerateOutput",
    "GlyphError",
    "HttpAdvisor",
    "InputError",
    "IoError",
    "LineInfo",
    "MissingFontWarning",
    "ModelLoadError",
    "OcrEvaluator",
    "OutOfMemoryError",
    "Page",
    "PageLayout",
    "PagePaths",
    "Pipeline",
    "ReasoningParser",
    "RenderConfig",
    "RenderResult",
    "RenderStats",
    "Renderer",
    "SearchError",
    "SearchOptions",
    "SearchProgress",
    "SearchResult",
    "SearchSpace",
    "TextSource",
    "Tokenizer",
    "TokenizerError",
    "VlmEvaluator",
    "count_tokens",
    "default_font_path",
    "encode_png",
    "find_cjk_font",
    "glm4v_prompt",
    "glm4v_prompt_ids",
    "load_tokenizer",
    "render",
    "render_to_dir",
    "sample_text",
    "smart_resize",
    "split_reasoning",
    "text_source",
    "visual_tokens",
    "__version__",
]
