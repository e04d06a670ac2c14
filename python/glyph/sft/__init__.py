"""SFT and pre-training data: text datasets -> rendered pages + conversations, in the formats
fine-tuning frameworks read (LLaMA-Factory, ms-swift, Hugging Face datasets / TRL Parquet).

    import glyph.sft
    res = glyph.sft.build("longqa.jsonl", "out/", task="qa", format="llamafactory",
                          config="config_en.json", max_pages=16)
    res.records, res.pages, res.failures, res.exit_code

Tasks: ``qa`` (context as pages, question and answer as text), ``ocr`` (pages -> their exact
text), ``interleaved`` (segments rendered or kept as text, in order), ``completion`` (a rendered
prefix, the text continues it), or ``f(ctx) -> samples``. Configs fixed or drawn per record from a
style (``style=``, seeded). Shards are atomic, runs resume by record id, ``ray=`` runs the same
pipeline on Ray Data. See docs/sft.md.
"""
from __future__ import annotations

from .pipeline import BuildResult, Options, Processor, build
from .formats import FORMATS
from .inputs import iter_items
from .styles import StyleSampler, load_style
from .targets import newline_rule, page_text
from .tasks import TASKS, Chunk, PageRef, RecordError, TaskContext

__all__ = ["BuildResult", "Chunk", "FORMATS", "Options", "PageRef", "Processor", "RecordError",
           "StyleSampler", "TASKS", "TaskContext", "build", "iter_items", "load_style",
           "newline_rule", "page_text"]
