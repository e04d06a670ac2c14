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

import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Mapping, Optional, Sequence, Union

from . import _core
from ._core import SearchOptions, SearchSpace, approx_text_tokens, char_accuracy
from .render import ConfigLike, as_config

__all__ = [
    "AdvisorError",
    "ConfigSearch",
    "HttpAdvisor",
    "OcrEvaluator",
    "VlmEvaluator",
    "SearchOptions",
    "SearchResult",
    "SearchSpace",
    "approx_text_tokens",
    "char_accuracy",
    "load_samples",
    "plot_history",
    "read_log",
]

Sample = Mapping[str, Any]


# ---------------------------------------------------------------- samples


def load_samples(paths: Union[str, "os.PathLike[str]", Sequence[Any]], limit_chars: int = 0) -> list:
    """Validation samples as dicts with "id" and "text" (other fields kept for the evaluator).

    Accepts .jsonl files (one object per line with "text", or "context"; optional "id"), plain
    text files (one sample each), strings of text, or dicts. ``limit_chars`` > 0 cuts each text.
    """
    if isinstance(paths, (str, os.PathLike)) or isinstance(paths, Mapping):
        paths = [paths]
    out: list = []
    for item in paths:
        if isinstance(item, Mapping):
            out.append(_sample_from_dict(dict(item), len(out)))
        elif isinstance(item, (str, os.PathLike)) and os.path.isfile(os.fspath(item)):
            path = os.fspath(item)
            if path.endswith(".jsonl"):
                with open(path, encoding="utf-8") as f:
                    for line_no, line in enumerate(f, 1):
                        if not line.strip():
                            continue
                        try:
                            d = json.loads(line)
                        except json.JSONDecodeError as e:
                            raise ValueError(f"{path}:{line_no}: not JSON: {e}") from None
                        if not isinstance(d, dict):
                            raise ValueError(f"{path}:{line_no}: expected an object")
                        out.append(_sample_from_dict(d, len(out), f"{path}:{line_no}"))
            else:
                with open(path, encoding="utf-8") as f:
                    out.append({"id": os.path.basename(path), "text": f.read()})
        elif isinstance(item, str):
            out.append({"id": f"sample-{len(out)}", "text": item})
        else:
            raise TypeError(f"sample must be a path, a text or a dict, got {type(item).__name__}")
    if limit_chars > 0:
        for s in out:
            s["text"] = s["text"][:limit_chars]
    if not out:
        raise ValueError("no validation samples")
    return out


def _sample_from_dict(d: dict, index: int, where: str = "sample") -> dict:
    text = d.get("text", d.get("context"))
    if not isinstance(text, str):
        raise ValueError(f"{where}: needs a string 'text' (or 'context')")
    d = dict(d)
    d["text"] = text
    d.setdefault("id", f"sample-{index}")
    d["id"] = str(d["id"])
    return d


# ---------------------------------------------------------------- OCR evaluator


class OcrEvaluator:
    """Legibility without a VLM: OCR each page with Tesseract and score character accuracy
    (1 - edit distance / length) against the text span the page shows; pages weigh by length.

    ``upscale`` enlarges pages before OCR (Tesseract is tuned for ~300 dpi scans; at 72 dpi a
    9 pt font is 9 px high). It is the same for every config, so rankings stay comparable; it is a
    proxy for how readable the page is, not for what a VLM reads. Whitespace is collapsed on both
    sides before comparing.
    """

    def __init__(
        self,
        lang: str = "eng",
        psm: int = 6,
        upscale: float = 2.0,
        tesseract: str = "tesseract",
        timeout: float = 300.0,
    ):
        self.tesseract = shutil.which(tesseract) or ""
        if not self.tesseract:
            raise RuntimeError(
                f"OcrEvaluator needs the '{tesseract}' binary (Debian: apt-get install "
                "tesseract-ocr tesseract-ocr-eng)"
            )
        self.lang, self.psm, self.upscale, self.timeout = lang, int(psm), float(upscale), timeout

    def ocr(self, page) -> str:
        with tempfile.TemporaryDirectory(prefix="glyph-ocr-") as tmp:
            path = os.path.join(tmp, "page.png")
            if self.upscale != 1.0:
                from PIL import Image

                img = page.to_pil()
                w, h = img.size
                img = img.resize((max(1, round(w * self.upscale)), max(1, round(h * self.upscale))),
                                 Image.LANCZOS)
                img.save(path)
            else:
                page.save(path, 1)
            env = dict(os.environ, OMP_THREAD_LIMIT="1")
            proc = subprocess.run(
                [self.tesseract, path, "stdout", "-l", self.lang, "--psm", str(self.psm)],
                capture_output=True, timeout=self.timeout, env=env,
            )
            if proc.returncode != 0:
                raise RuntimeError(
                    f"tesseract failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[:300]}"
                )
            return proc.stdout.decode("utf-8", errors="replace")

    @staticmethod
    def normalize(text: str) -> str:
        return " ".join(text.split())

    def __call__(self, config, pages, sample: Sample) -> float:
        text = sample["text"]
        total, weighted = 0, 0.0
        for page in pages:
            ref = self.normalize(text[page.char_begin : page.char_end])
            if not ref:
                continue
            hyp = self.normalize(self.ocr(page))
            weighted += char_accuracy(hyp, ref) * len(ref)
            total += len(ref)
        return weighted / total if total else 1.0


# ---------------------------------------------------------------- VLM evaluator


class VlmEvaluator:
    """Accuracy from glyphcpp's own GLM-4.1V (glyph.vlm): for each question of a sample, the pages
    go into the chat prompt, the model answers greedily, and the answer scores 1 when it contains
    the expected answer (``match="contains"``, case- and whitespace-insensitive) or equals it
    (``match="exact"``). The sample's score is the mean over its questions.

    Samples carry ``"question"`` and ``"answer"``, or ``"qa": [{"question", "answer"}, ...]``.
    ``model`` is a ``glyph.vlm.Glm4v``; ``tokenizer`` anything with encode/decode (glyph.Tokenizer
    or a transformers tokenizer). Generation stops at ``stop_ids`` (default: the checkpoint's
    eos ids) or after ``max_new_tokens``.
    """

    def __init__(self, model, tokenizer, max_new_tokens: int = 32, match: str = "contains",
                 stop_ids: Optional[Sequence[int]] = None, **generate_kw):
        if match not in ("contains", "exact"):
            raise ValueError(f"match must be 'contains' or 'exact', got {match!r}")
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.match, self.generate_kw = int(max_new_tokens), match, generate_kw
        if stop_ids is None:
            eos = model.config.get("text_config", {}).get("eos_token_id", model.config.get("eos_token_id"))
            stop_ids = [eos] if isinstance(eos, int) else list(eos or [])
        self.stop_ids = [int(s) for s in stop_ids]
        self.last_answers: List[str] = []

    @staticmethod
    def _norm(text: str) -> str:
        return " ".join(text.lower().split())

    def answer(self, pages, question: str) -> str:
        from .pipeline import _decode

        ids = self.model.build_prompt(self.tokenizer, question, images=list(pages))
        out = self.model.generate(ids, images=list(pages), max_new_tokens=self.max_new_tokens,
                                  stop_ids=self.stop_ids, **self.generate_kw)
        tokens = out.tokens[:-1] if out.stop_reason == "stop_id" else out.tokens
        return _decode(self.tokenizer, tokens)

    def __call__(self, config, pages, sample: Sample) -> float:
        qas = sample.get("qa")
        if qas is None:
            if "question" not in sample or "answer" not in sample:
                raise ValueError(f"sample {sample.get('id')!r}: VlmEvaluator needs 'question' and "
                                 "'answer' (or a 'qa' list)")
            qas = [{"question": sample["question"], "answer": sample["answer"]}]
        self.last_answers = []
        hits = 0
        for qa in qas:
            got = self.answer(pages, str(qa["question"]))
            self.last_answers.append(got)
            want, have = self._norm(str(qa["answer"])), self._norm(got)
            hits += (want == have) if self.match == "exact" else (want in have)
        return hits / len(qas) if qas else 0.0


# ---------------------------------------------------------------- HTTP advisor


class AdvisorError(RuntimeError):
    """The advisor endpoint answered with an error or something that is not a chat completion."""


class HttpAdvisor:
    """Any OpenAI-compatible chat-completions endpoint as the search's advisor (stdlib only).

    ``url`` is the API base (".../v1") or the full ".../chat/completions" URL; the key is read from
    the environment variable ``api_key_env`` (none sent if unset). Errors raise AdvisorError; the
    search then goes on without advice for that generation and logs why.
    """

    SYSTEM = (
        "You are an expert in typography and vision-language models. You analyse search "
        "histories and propose rendering configs. Answer with JSON only."
    )
    MAX_RESPONSE_BYTES = 4 << 20

    def __init__(
        self,
        url: str,
        model: str = "",
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        temperature: float = 0.7,
        max_tokens: int = 2048,
    ):
        url = url.rstrip("/")
        self.url = url if url.endswith("/chat/completions") else url + "/chat/completions"
        self.model = model or os.environ.get("GLYPH_ADVISOR_MODEL", "")
        self.api_key_env = api_key_env
        self.timeout, self.temperature, self.max_tokens = timeout, temperature, max_tokens

    def __call__(self, prompt: str) -> str:
        body = {
            "messages": [
                {"role": "system", "content": self.SYSTEM},
                {"role": "user", "content": prompt},
            ],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.model:
            body["model"] = self.model
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(
            self.url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read(self.MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as e:
            detail = e.read(300).decode("utf-8", errors="replace")
            raise AdvisorError(f"advisor HTTP {e.code} from {self.url}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            raise AdvisorError(f"advisor unreachable at {self.url}: {e}") from None
        if len(raw) > self.MAX_RESPONSE_BYTES:
            raise AdvisorError(f"advisor response larger than {self.MAX_RESPONSE_BYTES} bytes")
        try:
            doc = json.loads(raw.decode("utf-8", errors="replace"))
            content = doc["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise AdvisorError(
                "advisor reply is not a chat completion: " + raw[:200].decode("utf-8", "replace")
            ) from None
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise AdvisorError(f"advisor message content is {type(content).__name__}, not text")
        return content


# ---------------------------------------------------------------- results


def _individual_dict(space: SearchSpace, ind) -> dict:
    d = {
        "genome": list(ind.genome),
        "origin": ind.origin,
        "generation": ind.generation,
        "ok": ind.ok,
        "settings": json.loads(space.describe(ind.genome)),
    }
    if ind.ok:
        d["accuracy"] = ind.accuracy
        d["compression"] = ind.compression
        if ind.details:
            d["details"] = json.loads(ind.details)
    else:
        d["error"] = ind.error
    return d


@dataclass
class SearchResult:
    """What a search found: the best config, the Pareto front and every evaluation."""

    raw: Any
    text_token_counter: str = "approx"
    log_path: str = ""

    @property
    def space(self) -> SearchSpace:
        return self.raw.space

    @property
    def stop_reason(self) -> str:
        return self.raw.stop_reason

    @property
    def best(self) -> Optional[dict]:
        return _individual_dict(self.space, self.raw.best) if self.raw.best is not None else None

    @property
    def best_config(self):
        """The best config as a RenderConfig (raises SearchError when nothing was feasible)."""
        return self.raw.best_config()

    @property
    def front(self) -> List[dict]:
        """Feasible Pareto front, by increasing compression; each with its full "config"."""
        out = []
        for ind in self.raw.front:
            d = _individual_dict(self.space, ind)
            d["config"] = json.loads(self.space.decode(ind.genome).to_json())
            out.append(d)
        return out

    @property
    def evaluated(self) -> List[dict]:
        return [_individual_dict(self.space, i) for i in self.raw.evaluated]

    @property
    def generations(self) -> list:
        return list(self.raw.generations)

    def save(self, out_dir: Union[str, "os.PathLike[str]"], plot: bool = True) -> dict:
        """best_config.json (Glyph-compatible), front.json, summary.json and (with matplotlib)
        plot.png; returns the paths written."""
        out_dir = os.fspath(out_dir)
        os.makedirs(out_dir, exist_ok=True)
        paths = {}
        if self.raw.best is not None:
            paths["best_config"] = os.path.join(out_dir, "best_config.json")
            self.best_config.save(paths["best_config"])
        paths["front"] = os.path.join(out_dir, "front.json")
        with open(paths["front"], "w", encoding="utf-8") as f:
            json.dump(self.front, f, indent=2)
        paths["summary"] = os.path.join(out_dir, "summary.json")
        with open(paths["summary"], "w", encoding="utf-8") as f:
            json.dump(
                {
                    "stop_reason": self.stop_reason,
                    "evaluations": len(self.raw.evaluated),
                    "generations": len(self.raw.generations),
                    "text_token_counter": self.text_token_counter,
                    "best": self.best,
                },
                f,
                indent=2,
            )
        if plot:
            try:
                paths["plot"] = plot_history(self, os.path.join(out_dir, "plot.png"))
            except ImportError:
                pass
        return paths


def read_log(path: Union[str, "os.PathLike[str]"]) -> List[dict]:
    """The records of a search log (JSON lines), skipping a torn last line."""
    out = []
    with open(os.fspath(path), encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return out


def plot_history(source: Union[SearchResult, str, "os.PathLike[str]"], path: str) -> str:
    """Accuracy vs compression of every evaluation, coloured by generation, front highlighted.
    Needs matplotlib (ImportError otherwise)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(source, SearchResult):
        points = [(d["generation"], d["accuracy"], d["compression"]) for d in source.evaluated if d["ok"]]
        front = [(d["accuracy"], d["compression"]) for d in source.front]
    else:
        recs = read_log(source)
        points = [(r["generation"], r["accuracy"], r["compression"]) for r in recs
                  if r.get("type") == "eval" and r.get("ok")]
        results = [r for r in recs if r.get("type") == "result"]
        front = [(d["accuracy"], d["compression"]) for d in (results[-1]["front"] if results else [])]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    if points:
        g, a, c = zip(*points)
        sc = ax.scatter(c, a, c=g, cmap="viridis", s=18, alpha=0.8)
        fig.colorbar(sc, ax=ax, label="generation")
    if front:
        fa, fc = zip(*sorted(front, key=lambda p: p[1]))
        ax.plot(fc, fa, "r.-", label="Pareto front")
        ax.legend()
    ax.set_xlabel("compression (text tokens / visual tokens)")
    ax.set_ylabel("accuracy")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- the search


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
                raise TypeError(f"unknown search option '{k}'")
            setattr(self.options, k, v)
        self.seeds = [as_config(s) for s in seeds]
        self.seed_notes: List[str] = []

    def run(
        self,
        samples: Optional[Union[str, Sequence[Any]]] = None,
        evaluator: Optional[Callable[[Any, list, Sample], float]] = None,
        *,
        fitness: Optional[Callable[[Any], Any]] = None,
        text_tokens: Optional[Callable[[str], int]] = None,
        advisor: Optional[Union[str, Callable[[str], str]]] = None,
        log: Optional[Union[str, "os.PathLike[str]"]] = None,
        progress: Optional[Callable[[dict], None]] = None,
    ) -> SearchResult:
        """Runs (or, when ``log`` holds this search, resumes) the search.

        ``text_tokens(text) -> int`` counts text tokens (e.g. ``glyph.Tokenizer(...).count``);
        without it an approximation is used and results say "approx". ``advisor`` is a callable
        ``prompt -> reply`` or an OpenAI-compatible URL (see HttpAdvisor).
        """
        opts = self.options
        opts.text_token_counter = "approx" if text_tokens is None else _callable_name(text_tokens)
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
            if samples is None or evaluator is None:
                raise ValueError("run() needs samples and an evaluator, or a fitness function")
            sample_list = load_samples(samples)

            def evaluate(config, pages, index):
                return evaluator(config, pages, sample_list[index])

            raw = native.run(
                samples=[(s["id"], s["text"]) for s in sample_list],
                evaluator=evaluate,
                text_tokens=text_tokens,
                advisor=advisor,
                log_path=log_path,
                progress=progress,
            )
        return SearchResult(raw, opts.text_token_counter, log_path)


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
    text_tokens: Optional[Callable[[str], int]] = None,
) -> dict:
    """Accuracy and compression of one config, computed as the search does (for baselines such as
    Glyph's config_en.json that lie outside the space)."""
    from .render import Renderer

    cfg = as_config(config)
    renderer = Renderer(cfg)
    count = text_tokens or approx_text_tokens
    acc, tt, vt = 0.0, 0, 0
    sample_list = load_samples(samples)
    for s in sample_list:
        res = renderer.render(s["text"])
        acc += float(evaluator(cfg, res.pages, s))
        tt += int(count(s["text"]))
        vt += res.visual_tokens
    return {
        "accuracy": acc / len(sample_list),
        "compression": tt / vt if vt else 0.0,
        "text_tokens": tt,
        "visual_tokens": vt,
        "text_token_counter": "approx" if text_tokens is None else _callable_name(text_tokens),
    }


__all__.append("evaluate_config")
