"""The search driver: ConfigSearch (options, seeds, run/resume) and evaluate_config."""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from typing import Any, Callable, Iterable, List, Mapping, Optional, Sequence, Union

from .. import _core
from .._core import InputError, RenderConfig, SearchOptions, SearchSpace
from ..render import ConfigLike, as_config
from .advisor import HttpAdvisor
from .results import SearchResult
from .samples import load_samples

__all__ = ["ConfigSearch", "evaluate_config"]

Sample = Any


class ConfigSearch:
    """Genetic search over RenderConfig (see the module docstring and docs/search.md).

    ``space`` is a SearchSpace, a path to a space JSON, or None for the built-in space.
    ``seeds`` are configs (paths, dicts, RenderConfigs) placed in the first generation, projected
    onto the space. Other keyword arguments set SearchOptions fields.
    """

    def __init__(
        self,
        space: Union[None, SearchSpace, str, "os.PathLike[str]"] = None,
        *,
        seeds: Iterable[ConfigLike] = (),
        **options: Any,
    ):
        if space is None:
            space = SearchSpace.builtin()
        elif isinstance(space, (str, os.PathLike)):
            space = SearchSpace.from_file(os.fspath(space))
        self.space = space
        self.options = SearchOptions()
        for k, v in options.items():
            if not hasattr(self.options, k):
                raise TypeError(f"unknown search option '{k}'")  # as for any bad keyword
            setattr(self.options, k, v)
        _core._ConfigSearch(self.space, self.options)  # an option out of range fails here, not in run()
        if isinstance(seeds, (str, os.PathLike, Mapping, RenderConfig)):
            seeds = [seeds]  # one seed (a str would be read one character at a time)
        self.seeds = [as_config(s) for s in seeds]
        self.seed_notes: List[str] = []

    def run(
        self,
        samples: Optional[Union[str, Sequence[Any]]] = None,
        evaluator: Optional[Callable[[Any, list, Sample], float]] = None,
        *,
        fitness: Optional[Callable[[Any], Any]] = None,
        text_tokens: Any = None,
        advisor: Optional[Union[str, Callable[[str], str]]] = None,
        log: Optional[Union[str, "os.PathLike[str]"]] = None,
        progress: Union[None, bool, Callable[[Any], None]] = None,
    ) -> SearchResult:
        """Runs (or, when ``log`` holds this search, resumes) the search.

        ``text_tokens(text) -> int`` counts text tokens (e.g.
        ``glyph.Tokenizer.from_file(path).count``), or is a tokenizer or its path (anything
        ``glyph.load_tokenizer`` takes); without it an approximation is used and results say
        "approx". ``advisor`` is a callable
        ``prompt -> reply`` or an OpenAI-compatible URL (see HttpAdvisor). ``progress`` is
        called with a glyph.SearchProgress after every evaluation and generation; ``True`` draws
        a tqdm bar per generation, as ``glyph search`` does (a widget in a notebook).
        """
        bar = None
        if progress is True:
            from ..search_cli import ProgressBar

            progress = bar = ProgressBar()
        elif progress is False:
            progress = None
        try:
            return self._run(samples, evaluator, fitness, text_tokens, advisor, log, progress)
        finally:
            if bar is not None:
                bar.close()

    def _run(self, samples, evaluator, fitness, text_tokens, advisor, log, progress) -> SearchResult:
        opts = self.options
        text_tokens, label = _token_counter(text_tokens)
        opts.text_token_counter = label
        opts.evaluation = ""  # a fitness function is opaque: its log is matched on the rest
        if fitness is None:
            if samples is None or evaluator is None:
                raise InputError("run() needs samples and an evaluator, or a fitness function")
            pairs, evaluate = _native_evaluator(samples, evaluator)
            # a resumed log must have measured the same thing: other samples or another evaluator
            # make it a different search (checked against the log's header)
            digest = hashlib.blake2b(json.dumps(pairs).encode(), digest_size=8).hexdigest()
            opts.evaluation = f"{_callable_name(evaluator)} on {len(pairs)} sample(s) {digest}"
        native = _core._ConfigSearch(self.space, opts)
        self.seed_notes = []
        for cfg in self.seeds:
            self.seed_notes += native.add_seed(cfg)
        if isinstance(advisor, str):
            advisor = HttpAdvisor(advisor)
        log_path = os.fspath(log) if log is not None else ""
        if fitness is not None:
            raw = native.run(fitness=fitness, advisor=advisor, log_path=log_path, progress=progress)
        else:
            raw = native.run(samples=pairs, evaluator=evaluate, text_tokens=text_tokens,
                             advisor=advisor, log_path=log_path, progress=progress)
        if raw.evaluated and not any(ind.ok for ind in raw.evaluated):
            # a bug in the evaluator or fitness fails every evaluation alike: say so here, not
            # only in the log
            warnings.warn(f"every evaluation of the search failed; the first: "
                          f"{raw.evaluated[0].error}", RuntimeWarning, stacklevel=3)
        return SearchResult(raw, opts.text_token_counter, log_path)


def _native_evaluator(samples, evaluator):
    """The samples as the C++ fitness takes them ((id, text) pairs) and the evaluator as it calls
    it (config, pages, sample index), the evaluator still seeing the whole sample dict."""
    sample_list = load_samples(samples)

    def evaluate(config, pages, index):
        return evaluator(config, pages, sample_list[index])

    return [(s["id"], s["text"]) for s in sample_list], evaluate


def _token_counter(text_tokens: Any):
    """(counter, label): a callable as given, or a tokenizer (a glyph.Tokenizer, another
    library's, or a tokenizer.json path / folder: anything glyph.load_tokenizer takes) as its
    token count; None is the approximation."""
    if text_tokens is None:
        return None, "approx"
    if isinstance(text_tokens, (str, bytes, os.PathLike)) or (
            not callable(text_tokens) and hasattr(text_tokens, "encode")):
        from ..tokenizer import count_tokens, load_tokenizer

        tok = load_tokenizer(text_tokens)
        where = (os.fsdecode(text_tokens) if isinstance(text_tokens, (str, bytes, os.PathLike))
                 else type(tok).__name__)
        return (lambda text: count_tokens(tok, text)), f"tokenizer {where}"
    if not callable(text_tokens):
        raise TypeError(f"text_tokens must be a callable text -> int or a tokenizer, got "
                        f"{type(text_tokens).__name__}")
    return text_tokens, _callable_name(text_tokens)


def _callable_name(fn: Callable) -> str:
    owner = getattr(fn, "__self__", None)
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    if owner is not None and not isinstance(owner, type):
        return f"{type(owner).__name__}.{getattr(fn, '__name__', name)}"
    return name


def evaluate_config(
    config: ConfigLike,
    samples: Union[str, Sequence[Any]],
    evaluator: Callable[[Any, list, Sample], float],
    text_tokens: Any = None,
) -> dict:
    """Accuracy and compression of one config, computed exactly as the search computes them (the
    same C++ fitness), for baselines such as Glyph's config_en.json that lie outside the space."""
    pairs, evaluate = _native_evaluator(samples, evaluator)
    scores = _core.evaluate_config(as_config(config), pairs, evaluate, _token_counter(text_tokens)[0])
    details = json.loads(scores.details)
    return {
        "accuracy": scores.accuracy,
        "compression": scores.compression,
        "text_tokens": details["text_tokens"],
        "visual_tokens": details["visual_tokens"],
        "text_token_counter": "approx" if text_tokens is None else _callable_name(text_tokens),
    }
