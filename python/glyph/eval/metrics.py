"""Scores for ``glyph eval``: LongBench's official metrics, MRCR's and RULER's, and Glyph's
post-processing of predictions.

Everything here is plain Python (no torch, no compiled module), so scoring a predictions file
works on any machine. The LongBench metrics give the same numbers as LongBench's official
``metrics.py`` (THUDM/LongBench), which Glyph's evaluation uses unchanged; they keep its function
names and its ``(prediction, ground_truth, **kwargs) -> float`` signature, so code written for
LongBench can call them as is::

    >>> from glyph.eval import metrics
    >>> metrics.qa_f1_score("The Eiffel Tower.", "Eiffel tower")
    1.0
    >>> pred = metrics.postprocess("<think>It is in Paris.</think>\\n\\nParis")
    >>> metrics.longbench_item_score("hotpotqa", pred, ["Paris", "Paris, France"])
    1.0
    >>> metrics.longbench_score([1.0, 0.5, 0.0])
    50.0

The ROUGE and Chinese metrics need the ``eval`` extra (``pip install glyphcpp[eval]``: ``rouge``
and ``jieba``, imported on first use). The code-similarity ratio is pinned to fuzzywuzzy's
pure-Python path (``difflib``); python-Levenshtein, which changes fuzzywuzzy's numbers, is neither
needed nor consulted. ``docs/eval-metrics.md`` lists the metric of every dataset and the fine print.
"""
from __future__ import annotations

import difflib
import importlib
import logging
import math
import re
import string
from collections import Counter
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

__all__ = [
    # LongBench's metric functions (official names and signatures)
    "normalize_answer",
    "normalize_zh_answer",
    "qa_f1_score",
    "qa_f1_zh_score",
    "rouge_score",
    "rouge_zh_score",
    "classification_score",
    "retrieval_score",
    "retrieval_zh_score",
    "count_score",
    "code_sim_score",
    "fuzz_ratio",
    "string_match_part_score",
    # LongBench protocol
    "LONGBENCH_DATASETS",
    "LONGBENCH_E_DATASETS",
    "LONGBENCH_METRIC",
    "LONGBENCH_CATEGORY",
    "LONGBENCH_E_BUCKETS",
    "FIRST_LINE_DATASETS",
    "CHOSE_NEWLINE_DATASETS",
    "longbench_base_dataset",
    "longbench_metric",
    "longbench_item_score",
    "longbench_score",
    "longbench_e_bucket",
    "longbench_e_scores",
    "longbench_e_category_scores",
    "longbench_category_scores",
    # post-processing
    "remove_think",
    "postprocess",
    # MRCR
    "MRCR_NEEDLES",
    "MRCR_LENGTH_BINS",
    "MRCR_CATEGORIES",
    "mrcr_extract_answer",
    "mrcr_score",
    "mrcr_category",
    # RULER
    "RULER_TASKS",
    "RULER_METRIC",
    "RULER_TABLE_TASKS",
    "ruler_clean",
    "ruler_postprocess",
    "ruler_item_score",
    "ruler_string_match_all",
    "ruler_string_match_part",
    "ruler_task_score",
    "ruler_average",
    # generic protocol
    "METRICS",
    "get_metric",
    "score_item",
]

MetricFn = Callable[..., float]

_EXTRA_HINT = "pip install glyphcpp[eval]"


# --------------------------------------------------------------------------------------------
# Optional libraries, imported on first use so that `import glyph.eval.metrics` always works.

_modules: Dict[str, Any] = {}


def _optional(module: str, needed_for: str) -> Any:
    mod = _modules.get(module)
    if mod is None:
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            raise ImportError(
                f"{needed_for} needs the '{module}' package, which is not installed: "
                f"{_EXTRA_HINT} (or pip install {module})"
            ) from exc
        if module == "jieba":
            # jieba logs "Building prefix dict ..." on its first cut; the eval shows progress bars.
            mod.setLogLevel(logging.WARNING)
        _modules[module] = mod
    return mod


def _jieba_tokens(text: str, needed_for: str) -> List[str]:
    # LongBench cuts in jieba's default ("accurate", HMM on) mode.
    return list(_optional("jieba", needed_for).cut(text, cut_all=False))


_rouge_instance: Any = None


def _rouge() -> Any:
    global _rouge_instance
    if _rouge_instance is None:
        # Rouge() holds only its settings, so one instance serves every call (the official code
        # builds one per call, with the same default metrics rouge-1, rouge-2 and rouge-l).
        _rouge_instance = _optional("rouge", "rouge_score").Rouge()
    return _rouge_instance


def _check_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}: {value!r:.80}")
    return value


# --------------------------------------------------------------------------------------------
# Answer normalisation (LongBench's, which is SQuAD's for English).

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_EN_PUNCTUATION = frozenset(string.punctuation)
# The full-width and CJK punctuation LongBench strips for Chinese answers, on top of ASCII's.
_CJK_PUNCTUATION = (
    "！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～"
    "｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏."
)
_ZH_PUNCTUATION = frozenset(string.punctuation + _CJK_PUNCTUATION)


def normalize_answer(s: str) -> str:
    """Lower-case, drop ASCII punctuation, then the articles a/an/the, then squeeze whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _EN_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", s).split())


def normalize_zh_answer(s: str) -> str:
    """Lower-case, drop ASCII and Chinese punctuation, remove all whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _ZH_PUNCTUATION)
    return "".join(s.split())


def _token_f1(prediction: Sequence[str], ground_truth: Sequence[str]) -> float:
    same = sum((Counter(prediction) & Counter(ground_truth)).values())
    if same == 0:
        return 0.0
    precision = same / len(prediction)
    recall = same / len(ground_truth)
    return (2 * precision * recall) / (precision + recall)


# --------------------------------------------------------------------------------------------
# LongBench's metric functions.


def qa_f1_score(prediction: str, ground_truth: str, **kwargs: Any) -> float:
    """Token F1 of the normalised answers (words split on whitespace)."""
    pred = normalize_answer(_check_str(prediction, "prediction")).split()
    truth = normalize_answer(_check_str(ground_truth, "ground_truth")).split()
    return _token_f1(pred, truth)


def qa_f1_zh_score(prediction: str, ground_truth: str, **kwargs: Any) -> float:
    """Token F1 over jieba words, each normalised with :func:`normalize_zh_answer` (empty ones dropped)."""
    pred = _jieba_tokens(_check_str(prediction, "prediction"), "qa_f1_zh_score")
    truth = _jieba_tokens(_check_str(ground_truth, "ground_truth"), "qa_f1_zh_score")
    pred = [t for t in map(normalize_zh_answer, pred) if t]
    truth = [t for t in map(normalize_zh_answer, truth) if t]
    return _token_f1(pred, truth)


def rouge_score(prediction: str, ground_truth: str, **kwargs: Any) -> float:
    """ROUGE-L F of the ``rouge`` package (sentences split on ".", words on spaces).

    Whatever the package raises scores 0.0, as in LongBench: an empty hypothesis or reference
    ("", "...", only dots), and a RecursionError from its recursive LCS walk when one
    "."-delimited sentence pair is about a thousand words long or more.
    """
    _check_str(prediction, "prediction")
    _check_str(ground_truth, "ground_truth")
    rouge = _rouge()
    try:
        scores = rouge.get_scores([prediction], [ground_truth], avg=True)
    except Exception:  # noqa: BLE001 - LongBench scores any failure of the package as 0
        return 0.0
    return float(scores["rouge-l"]["f"])


def rouge_zh_score(prediction: str, ground_truth: str, **kwargs: Any) -> float:
    """:func:`rouge_score` on the jieba words joined by spaces."""
    pred = " ".join(_jieba_tokens(_check_str(prediction, "prediction"), "rouge_zh_score"))
    truth = " ".join(_jieba_tokens(_check_str(ground_truth, "ground_truth"), "rouge_zh_score"))
    return rouge_score(pred, truth)


def classification_score(prediction: str, ground_truth: str, **kwargs: Any) -> float:
    """1/k when the ground truth is among the k class names found in the prediction, else 0.

    Needs ``all_classes`` (the dataset's class names). Found classes that are a strict substring
    of the ground truth are discarded first, the way LongBench does it: it removes them from the
    list while walking it, so the entry right after each removed one is not looked at. That quirk
    is kept on purpose (the official numbers depend on it).
    """
    _check_str(prediction, "prediction")
    _check_str(ground_truth, "ground_truth")
    all_classes = kwargs.get("all_classes")
    if all_classes is None:
        raise ValueError(
            "classification_score needs all_classes= (the dataset's list of class names, "
            "the LongBench item's 'all_classes' field)"
        )
    if isinstance(all_classes, str) or not all(isinstance(c, str) for c in all_classes):
        raise TypeError(f"all_classes must be a list of str, got {all_classes!r:.120}")
    found = [name for name in all_classes if name in prediction]
    i = 0
    while i < len(found):
        name = found[i]
        if name in ground_truth and name != ground_truth:
            found.remove(name)  # first equal entry, as list.remove in the official loop
        i += 1
    if ground_truth in found:
        return 1.0 / len(found)
    return 0.0


_DIGITS = re.compile(r"\d+")


def _share_of_numbers_equal(prediction: str, target: str) -> float:
    numbers = _DIGITS.findall(prediction)
    if not numbers:
        return 0.0
    return sum(1 for n in numbers if n == target) / len(numbers)


def _paragraph_id(ground_truth: str, pattern: "re.Pattern[str]", form: str, fn: str) -> str:
    match = pattern.search(_check_str(ground_truth, "ground_truth"))
    if match is None:
        raise ValueError(
            f"{fn}: the ground truth {ground_truth!r:.80} names no paragraph "
            f"(expected {form!r} in it)"
        )
    return match.group(1)


_PARAGRAPH_EN = re.compile(r"Paragraph (\d+)")
_PARAGRAPH_ZH = re.compile(r"段落(\d+)")


def retrieval_score(prediction: str, ground_truth: str, **kwargs: Any) -> float:
    """Share of the numbers in the prediction that equal N of the ground truth's "Paragraph N"."""
    target = _paragraph_id(ground_truth, _PARAGRAPH_EN, "Paragraph N", "retrieval_score")
    return _share_of_numbers_equal(_check_str(prediction, "prediction"), target)


def retrieval_zh_score(prediction: str, ground_truth: str, **kwargs: Any) -> float:
    """Share of the numbers in the prediction that equal N of the ground truth's "段落N"."""
    target = _paragraph_id(ground_truth, _PARAGRAPH_ZH, "段落N", "retrieval_zh_score")
    return _share_of_numbers_equal(_check_str(prediction, "prediction"), target)


def count_score(prediction: str, ground_truth: str, **kwargs: Any) -> float:
    """Share of the numbers in the prediction that equal the ground truth (compared as text)."""
    return _share_of_numbers_equal(_check_str(prediction, "prediction"), str(ground_truth))


def fuzz_ratio(s1: str, s2: str) -> int:
    """fuzzywuzzy's ``fuzz.ratio`` as it computes it without python-Levenshtein (pinned).

    ``round(100 * difflib.SequenceMatcher(None, s1, s2).ratio())`` as an int; 100 for equal
    strings (two empty ones included), 0 when exactly one is empty. With python-Levenshtein
    installed fuzzywuzzy switches to Levenshtein's ratio, which gives other numbers; this function
    never does, so scores do not depend on what else is installed.
    """
    if s1 == s2:
        return 100
    if not s1 or not s2:
        return 0
    return int(round(100 * difflib.SequenceMatcher(None, s1, s2).ratio()))


def code_sim_score(prediction: str, ground_truth: str, **kwargs: Any) -> float:
    """:func:`fuzz_ratio` / 100 between the ground truth and the prediction's first code line.

    The first line (after leading newlines) that contains no backtick, "#" or "//"; "" if every
    line has one.
    """
    lines = _check_str(prediction, "prediction").lstrip("\n").split("\n")
    line = next((ln for ln in lines if "`" not in ln and "#" not in ln and "//" not in ln), "")
    return fuzz_ratio(line, _check_str(ground_truth, "ground_truth")) / 100


def string_match_part_score(prediction: str, ground_truth: str, **kwargs: Any) -> float:
    """1.0 when the ground truth occurs in the prediction, case-insensitively (RULER's test for
    one reference string; the max over several answers is RULER's ``string_match_part``)."""
    pred = _check_str(prediction, "prediction")
    return 1.0 if _check_str(ground_truth, "ground_truth").lower() in pred.lower() else 0.0


# --------------------------------------------------------------------------------------------
# LongBench protocol: datasets, metric per dataset, first-line rule, averages.

LONGBENCH_DATASETS: Tuple[str, ...] = (
    "narrativeqa", "qasper", "multifieldqa_en", "multifieldqa_zh", "hotpotqa", "2wikimqa",
    "musique", "dureader", "gov_report", "qmsum", "multi_news", "vcsum", "trec", "triviaqa",
    "samsum", "lsht", "passage_count", "passage_retrieval_en", "passage_retrieval_zh", "lcc",
    "repobench-p",
)  # fmt: skip

LONGBENCH_E_DATASETS: Tuple[str, ...] = (
    "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "gov_report", "multi_news", "trec",
    "triviaqa", "samsum", "passage_count", "passage_retrieval_en", "lcc", "repobench-p",
)  # fmt: skip

LONGBENCH_METRIC: Dict[str, str] = {
    "narrativeqa": "qa_f1_score",
    "qasper": "qa_f1_score",
    "multifieldqa_en": "qa_f1_score",
    "multifieldqa_zh": "qa_f1_zh_score",
    "hotpotqa": "qa_f1_score",
    "2wikimqa": "qa_f1_score",
    "musique": "qa_f1_score",
    "dureader": "rouge_zh_score",
    "gov_report": "rouge_score",
    "qmsum": "rouge_score",
    "multi_news": "rouge_score",
    "vcsum": "rouge_zh_score",
    "trec": "classification_score",
    "triviaqa": "qa_f1_score",
    "samsum": "rouge_score",
    "lsht": "classification_score",
    "passage_count": "count_score",
    "passage_retrieval_en": "retrieval_score",
    "passage_retrieval_zh": "retrieval_zh_score",
    "lcc": "code_sim_score",
    "repobench-p": "code_sim_score",
}

# The categories of LongBench's result tables (as Glyph's evaluation groups them).
LONGBENCH_CATEGORY: Dict[str, str] = {
    "narrativeqa": "Single-doc QA",
    "qasper": "Single-doc QA",
    "multifieldqa_en": "Single-doc QA",
    "multifieldqa_zh": "Single-doc QA",
    "hotpotqa": "Multi-doc QA",
    "2wikimqa": "Multi-doc QA",
    "musique": "Multi-doc QA",
    "dureader": "Multi-doc QA",
    "gov_report": "Summarization",
    "qmsum": "Summarization",
    "multi_news": "Summarization",
    "vcsum": "Summarization",
    "trec": "Few shot",
    "triviaqa": "Few shot",
    "samsum": "Few shot",
    "lsht": "Few shot",
    "passage_count": "Synthetic",
    "passage_retrieval_en": "Synthetic",
    "passage_retrieval_zh": "Synthetic",
    "lcc": "Code",
    "repobench-p": "Code",
}

# Few-shot datasets: only the prediction's first line is scored.
FIRST_LINE_DATASETS: frozenset = frozenset({"trec", "triviaqa", "samsum", "lsht"})

# Datasets that get the red inline newline marker under the "chose" newline setting.
CHOSE_NEWLINE_DATASETS: frozenset = frozenset({
    "passage_retrieval_en", "hotpotqa", "narrativeqa", "qmsum", "gov_report", "vcsum", "triviaqa",
    "multi_news", "dureader", "qasper", "samsum", "trec",
})  # fmt: skip

LONGBENCH_E_BUCKETS: Tuple[str, ...] = ("0-4k", "4-8k", "8k+")


def _unknown(kind: str, name: Any, known: Iterable[str]) -> ValueError:
    return ValueError(f"unknown {kind} {name!r}; known: {', '.join(known)}")


def longbench_base_dataset(dataset: str) -> str:
    """The LongBench dataset a name stands for: ``"qasper_e"`` -> ``"qasper"`` (LongBench-E)."""
    if not isinstance(dataset, str):
        raise TypeError(f"dataset must be a str, got {type(dataset).__name__}: {dataset!r:.80}")
    if dataset in LONGBENCH_METRIC:
        return dataset
    if dataset.endswith("_e"):
        base = dataset[:-2]
        if base in LONGBENCH_E_DATASETS:
            return base
        if base in LONGBENCH_METRIC:
            raise ValueError(
                f"LongBench dataset {dataset!r}: {base!r} is not part of LongBench-E; "
                f"LongBench-E datasets: {', '.join(d + '_e' for d in LONGBENCH_E_DATASETS)}"
            )
    raise _unknown(
        "LongBench dataset", dataset,
        list(LONGBENCH_DATASETS) + [d + "_e" for d in LONGBENCH_E_DATASETS],
    )  # fmt: skip


def longbench_metric(dataset: str) -> MetricFn:
    """The official metric function of a LongBench (or LongBench-E ``*_e``) dataset."""
    return METRICS[LONGBENCH_METRIC[longbench_base_dataset(dataset)]]


def _answers_list(answers: Any) -> List[str]:
    if isinstance(answers, str) or not isinstance(answers, (list, tuple)):
        raise TypeError(
            f"answers must be a list of str (the item's 'answers'), got "
            f"{type(answers).__name__}: {answers!r:.80}"
        )
    if not answers:
        raise ValueError("answers is empty: the item has no reference answer to score against")
    for i, a in enumerate(answers):
        _check_str(a, f"answers[{i}]")
    return list(answers)


def longbench_item_score(
    dataset: str,
    prediction: str,
    answers: Sequence[str],
    all_classes: Optional[Sequence[str]] = None,
) -> float:
    """One LongBench item's score in [0, 1], as LongBench's scorer computes it.

    For trec, triviaqa, samsum and lsht only the first line of the prediction (after leading
    newlines) counts; the score is the best over ``answers``. Pass the prediction already
    post-processed (:func:`postprocess`), and ``all_classes`` for trec and lsht.
    """
    base = longbench_base_dataset(dataset)
    metric = METRICS[LONGBENCH_METRIC[base]]
    _check_str(prediction, "prediction")
    if base in FIRST_LINE_DATASETS:
        prediction = prediction.lstrip("\n").split("\n")[0]
    best = 0.0
    for answer in _answers_list(answers):
        best = max(best, metric(prediction, answer, all_classes=all_classes))
    return float(best)


def _check_scores(scores: Any, what: str) -> List[float]:
    if isinstance(scores, (str, bytes)) or not isinstance(scores, Iterable):
        raise TypeError(f"{what} must be a list of numbers, got {type(scores).__name__}")
    values = list(scores)
    for i, s in enumerate(values):
        if isinstance(s, bool) or not isinstance(s, (int, float)) or math.isnan(s):
            raise ValueError(f"{what}[{i}] is not a number: {s!r}")
    return values


def longbench_score(scores: Iterable[float]) -> float:
    """A dataset's score: 100 x the mean item score, rounded to 2 places (LongBench's rounding).

    Items that failed count as 0.0 here; an empty list is an error (there is nothing to average).
    """
    values = _check_scores(scores, "scores")
    if not values:
        raise ValueError("longbench_score: no item scores to average")
    total = 0.0
    for s in values:  # summed in order, as LongBench's scorer does (not math.fsum, not sum())
        total += s
    return round(100 * total / len(values), 2)


def longbench_e_bucket(length: int) -> str:
    """LongBench-E's length bucket of an item's ``length``: "0-4k", "4-8k" or "8k+"."""
    if isinstance(length, bool) or not isinstance(length, (int, float)) or math.isnan(length):
        raise TypeError(f"length must be a number (the item's 'length'), got {length!r}")
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length!r}")
    if length < 4000:
        return "0-4k"
    if length < 8000:
        return "4-8k"
    return "8k+"


def longbench_e_scores(
    scores: Iterable[float], lengths: Iterable[int]
) -> Dict[str, Optional[float]]:
    """LongBench-E's scores of one dataset: bucket -> 100 x mean, rounded to 2 places; None for a
    bucket without items (LongBench writes NaN).

    LongBench-E's scorer takes numpy's mean and rounds the numpy float it gets, and numpy rounds
    differently from Python's ``round`` in the last place now and then (86.535 -> 86.54, where
    Python gives 86.53); both are reproduced.
    """
    values = _check_scores(scores, "scores")
    lengths = list(lengths)
    if len(lengths) != len(values):
        raise ValueError(f"{len(values)} scores but {len(lengths)} lengths")
    buckets: Dict[str, List[float]] = {b: [] for b in LONGBENCH_E_BUCKETS}
    for s, n in zip(values, lengths):
        buckets[longbench_e_bucket(n)].append(s)
    import numpy as np  # a dependency of glyphcpp; imported here to keep this module light

    return {b: (float(round(100 * np.mean(v), 2)) if v else None) for b, v in buckets.items()}


def longbench_e_category_scores(
    e_scores: Mapping[str, Mapping[str, Optional[float]]]
) -> Dict[str, Dict[str, Optional[float]]]:
    """Per bucket, the mean of the LongBench-E dataset scores per category, 2 places (Glyph's
    LongBench-E tables). ``e_scores`` maps dataset -> :func:`longbench_e_scores`' result.

    As in Glyph's script the values are numpy floats, summed in order and rounded by numpy; a
    category with an empty bucket in one of its datasets gets None there (Glyph's NaN).
    """
    import numpy as np

    groups: Dict[str, Dict[str, List[Optional[float]]]] = {b: {} for b in LONGBENCH_E_BUCKETS}
    for dataset, by_bucket in e_scores.items():
        category = LONGBENCH_CATEGORY[longbench_base_dataset(dataset)]
        for b in LONGBENCH_E_BUCKETS:
            groups[b].setdefault(category, [])
            if b in by_bucket:
                groups[b][category].append(by_bucket[b])
    out: Dict[str, Dict[str, Optional[float]]] = {b: {} for b in LONGBENCH_E_BUCKETS}
    for b, by_category in groups.items():
        for category, values in by_category.items():
            if not values:
                continue
            if any(v is None for v in values):
                out[b][category] = None
                continue
            total = 0
            for v in values:
                total = total + np.float64(v)
            out[b][category] = float(round(total / len(values), 2))
    return out


def longbench_category_scores(dataset_scores: Mapping[str, float]) -> Dict[str, float]:
    """Mean of the dataset scores per LongBench category, rounded to 2 places (Glyph's tables).

    Keys may be base or ``*_e`` names. Only the categories with at least one dataset appear.
    """
    groups: Dict[str, List[float]] = {}
    for dataset, score in dataset_scores.items():
        category = LONGBENCH_CATEGORY[longbench_base_dataset(dataset)]
        groups.setdefault(category, []).append(score)
    return {c: round(sum(v) / len(v), 2) for c, v in groups.items()}


# --------------------------------------------------------------------------------------------
# Glyph's post-processing of a prediction (before LongBench scoring).

_THINK = re.compile(r"<think>.*?</think>\s*", re.DOTALL)
_CHAT_TAG = re.compile(r"<\|[^|]+\|>")
_WHITESPACE = re.compile(r"\s+")


def remove_think(text: str) -> str:
    """Remove every closed ``<think>...</think>`` block and the whitespace after it.

    An unclosed ``<think>`` is left as it is (the answer is then scored with the reasoning in it).
    """
    return _THINK.sub("", _check_str(text, "text"))


def postprocess(prediction: str) -> str:
    """Glyph's clean-up of a prediction before scoring.

    In order: remove ``<think>...</think>`` blocks (with the whitespace after them), remove chat
    tags of the form ``<|...|>`` (``<|user|>``, ``<|assistant|>``, ``<|endoftext|>``), replace
    every whitespace run, newlines included, by one space, and strip the ends. Note that the
    result is one line, so LongBench's first-line rule and code_sim's line choice see the whole
    answer, as in Glyph's reported numbers.
    """
    text = _CHAT_TAG.sub("", remove_think(_check_str(prediction, "prediction")))
    return _WHITESPACE.sub(" ", text).strip()


# --------------------------------------------------------------------------------------------
# MRCR (OpenAI's multi-round co-reference set, as Glyph scores it).

MRCR_NEEDLES: Tuple[int, ...] = (2, 4, 8)
MRCR_LENGTH_BINS: Tuple[str, ...] = (
    "0k_8k", "8k_16k", "16k_32k", "32k_64k", "64k_128k", "128k_256k", "256k_512k", "512k_1024k",
)  # fmt: skip
MRCR_CATEGORIES: Tuple[str, ...] = tuple(
    f"{n}needle_{b}" for n in MRCR_NEEDLES for b in MRCR_LENGTH_BINS
)
# Glyph tests the bins of each needle count in this order (8k_16k first); it matters only for an
# id that contains two category names.
_MRCR_LOOKUP_ORDER: Tuple[str, ...] = tuple(
    f"{n}needle_{b}"
    for n in MRCR_NEEDLES
    for b in ("8k_16k", "0k_8k") + MRCR_LENGTH_BINS[2:]
)


def mrcr_extract_answer(response: str) -> str:
    """The answer part of a raw MRCR response: the text after the last ``</think>``, stripped."""
    return _check_str(response, "response").split("</think>")[-1].strip()


def mrcr_score(prediction: str, answer: str, random_string_to_prepend: str) -> float:
    """MRCR's grade in [0, 1].

    0.0 unless the prediction starts with the item's random prefix; otherwise difflib's
    ``SequenceMatcher(None, a, b).ratio()`` between the prediction without the prefix (and with
    ``<|user|>`` removed) and the answer without the prefix (when it has it).
    """
    _check_str(prediction, "prediction")
    _check_str(answer, "answer")
    prefix = _check_str(random_string_to_prepend, "random_string_to_prepend")
    if not prediction.startswith(prefix):
        return 0.0
    pred = prediction[len(prefix):].replace("<|user|>", "")
    truth = answer[len(prefix):] if answer.startswith(prefix) else answer
    return float(difflib.SequenceMatcher(None, pred, truth).ratio())


def mrcr_category(unique_id: str) -> str:
    """The needles x length-bin category in an MRCR item id, e.g. ``"4needle_16k_32k"``."""
    _check_str(unique_id, "unique_id")
    for category in _MRCR_LOOKUP_ORDER:
        if category in unique_id:
            return category
    raise ValueError(
        f"MRCR unique_id {unique_id!r:.120} names no category "
        f"(expected one of {', '.join(MRCR_CATEGORIES)} in it)"
    )


# --------------------------------------------------------------------------------------------
# RULER.

RULER_TASKS: Tuple[str, ...] = (
    "niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1", "niah_multikey_2",
    "niah_multikey_3", "niah_multivalue", "niah_multiquery", "vt", "cwe", "fwe", "qa_1", "qa_2",
)  # fmt: skip
RULER_METRIC: Dict[str, str] = {
    t: ("string_match_part" if t.startswith("qa_") else "string_match_all") for t in RULER_TASKS
}
# Glyph's RULER table leaves these two out (and so does its macro average).
RULER_TABLE_TASKS: Tuple[str, ...] = tuple(
    t for t in RULER_TASKS if t not in ("niah_single_3", "niah_multikey_3")
)

_CONTROL = re.compile(r"[\x00-\x1f]")


def ruler_clean(prediction: str) -> str:
    """RULER's cleaning: strip, turn every control character (U+0000-U+001F, newlines and tabs
    included) into a newline, strip again."""
    return _CONTROL.sub("\n", _check_str(prediction, "prediction").strip()).strip()


def ruler_postprocess(response: str, *, think: bool = True) -> str:
    """A raw RULER response made ready to score.

    Removes ``<think>...</think>`` blocks (``think=False`` keeps them, as Glyph's RULER script
    does: it scores the whole response), then one trailing ``<|user|>`` stop tag, then applies
    :func:`ruler_clean`.
    """
    text = remove_think(response) if think else _check_str(response, "response")
    if text.endswith("<|user|>"):
        text = text[: -len("<|user|>")].rstrip()
    return ruler_clean(text)


def _ruler_refs(refs: Any, where: str) -> List[str]:
    if isinstance(refs, str):
        return [refs]  # one reference string, as Glyph's RULER script reads a str 'outputs'
    if not isinstance(refs, (list, tuple)):
        raise TypeError(f"{where} must be a list of reference strings, got {refs!r:.80}")
    if not refs:
        raise ValueError(f"{where} is empty: nothing to look for in the prediction")
    for i, r in enumerate(refs):
        _check_str(r, f"{where}[{i}]")
    return list(refs)


def _ruler_recall(metric: str, pred: str, refs: List[str]) -> float:
    pred = pred.lower()
    hits = [1.0 if r.lower() in pred else 0.0 for r in refs]
    if metric == "string_match_all":
        return sum(hits) / len(refs)
    return max(hits)


def ruler_item_score(task: str, prediction: str, references: Sequence[str]) -> float:
    """One RULER item's score in [0, 1]: the share of the references found in the prediction
    (string_match_all tasks), or 1.0 if any is found (qa_1, qa_2); case-insensitive. A single
    str counts as one reference."""
    if task not in RULER_METRIC:
        raise _unknown("RULER task", task, RULER_TASKS)
    pred = _check_str(prediction, "prediction")
    return _ruler_recall(RULER_METRIC[task], pred, _ruler_refs(references, "references"))


def _ruler_score(metric: str, preds: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    preds = list(preds)
    refs = list(refs)
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions but {len(refs)} reference lists")
    if not preds:
        raise ValueError(f"{metric}: no predictions to score")
    recalls = [
        _ruler_recall(metric, _check_str(p, f"preds[{i}]"), _ruler_refs(r, f"refs[{i}]"))
        for i, (p, r) in enumerate(zip(preds, refs))
    ]
    # RULER's order of operations (divide, then x100), so the rounding matches it.
    return round(sum(recalls) / len(preds) * 100, 2)


def ruler_string_match_all(preds: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """RULER's string_match_all: 100 x mean over items of the share of references found in the
    prediction (case-insensitive), rounded to 2 places."""
    return _ruler_score("string_match_all", preds, refs)


def ruler_string_match_part(preds: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """RULER's string_match_part: 100 x share of items where any reference is found in the
    prediction (case-insensitive), rounded to 2 places."""
    return _ruler_score("string_match_part", preds, refs)


def ruler_task_score(task: str, preds: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """A RULER task's score with the task's metric (:data:`RULER_METRIC`)."""
    if task not in RULER_METRIC:
        raise _unknown("RULER task", task, RULER_TASKS)
    return _ruler_score(RULER_METRIC[task], preds, refs)


def ruler_average(task_scores: Mapping[str, float]) -> float:
    """Glyph's RULER macro average: the mean of the task scores of :data:`RULER_TABLE_TASKS`
    present in ``task_scores`` (niah_single_3 and niah_multikey_3 are left out), 2 places."""
    for task in task_scores:
        if task not in RULER_METRIC:
            raise _unknown("RULER task", task, RULER_TASKS)
    kept = [task_scores[t] for t in RULER_TABLE_TASKS if t in task_scores]
    if not kept:
        raise ValueError(
            f"ruler_average: none of the table's tasks ({', '.join(RULER_TABLE_TASKS)}) has a score"
        )
    return round(sum(kept) / len(kept), 2)


# --------------------------------------------------------------------------------------------
# Generic protocol: a metric by name or a function.

METRICS: Dict[str, MetricFn] = {
    "qa_f1_score": qa_f1_score,
    "qa_f1_zh_score": qa_f1_zh_score,
    "rouge_score": rouge_score,
    "rouge_zh_score": rouge_zh_score,
    "classification_score": classification_score,
    "retrieval_score": retrieval_score,
    "retrieval_zh_score": retrieval_zh_score,
    "count_score": count_score,
    "code_sim_score": code_sim_score,
    "string_match_part": string_match_part_score,
}


def get_metric(metric: "str | MetricFn") -> MetricFn:
    """A metric function ``(prediction, ground_truth, **kwargs) -> float`` by name, or the given
    callable itself. Names: the keys of :data:`METRICS`."""
    if callable(metric):
        return metric
    if isinstance(metric, str):
        fn = METRICS.get(metric)
        if fn is not None:
            return fn
    raise _unknown("metric", metric, METRICS)


def score_item(
    metric: "str | MetricFn", prediction: str, answers: Sequence[str], **kwargs: Any
) -> float:
    """The best score of ``prediction`` over ``answers`` with ``metric`` (LongBench's rule).

    ``kwargs`` go to the metric (``all_classes=`` for classification_score). A user function's
    result must be a number; like LongBench, the best starts at 0.0, so negative values count as 0.
    """
    fn = get_metric(metric)
    _check_str(prediction, "prediction")
    best = 0.0
    for answer in _answers_list(answers):
        value = fn(prediction, answer, **kwargs)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            name = getattr(fn, "__name__", repr(fn))
            raise TypeError(f"metric {name} returned {value!r}, not a number")
        best = max(best, float(value))
    return best
