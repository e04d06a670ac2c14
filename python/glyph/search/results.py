"""What a search found: results, the log, the accuracy-vs-compression plot."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, List, Optional, Union

from .._core import SearchSpace
from ..io import atomic_write, make_folder, read_jsonl

__all__ = ["SearchResult", "history_figure", "plot_history", "read_log"]


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

    def __repr__(self) -> str:
        best = self.best
        found = (f"best accuracy {best['accuracy']:.4f} compression {best['compression']:.3f}"
                 if best else "no feasible config")
        return (f"<glyph.SearchResult {found}; {len(self.raw.evaluated)} evaluations, "
                f"{len(self.front)} on the front; {self.stop_reason}>")

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

    def plot(self, ax: Any = None):
        """Accuracy vs compression of every evaluation, coloured by generation, with the Pareto
        front: a matplotlib Figure (Jupyter shows it inline; ``.savefig(path)`` writes it).
        ``ax``: draw into an existing matplotlib Axes. Needs matplotlib."""
        return history_figure(self, ax)

    def _repr_html_(self) -> str:
        from .._display import search_result_html

        return search_result_html(self)

    def save(self, out_dir: Union[str, "os.PathLike[str]"], plot: bool = True) -> dict:
        """best_config.json (Glyph-compatible), front.json, summary.json and (with matplotlib)
        plot.png; returns the paths written."""
        out_dir = os.fspath(out_dir)
        make_folder(out_dir)  # IoError naming it (a file there)
        paths = {}
        if self.raw.best is not None:
            paths["best_config"] = os.path.join(out_dir, "best_config.json")
            self.best_config.save(paths["best_config"])
        paths["front"] = os.path.join(out_dir, "front.json")
        atomic_write(paths["front"], json.dumps(self.front, indent=2))
        paths["summary"] = os.path.join(out_dir, "summary.json")
        atomic_write(
            paths["summary"],
            json.dumps(
                {
                    "stop_reason": self.stop_reason,
                    "evaluations": len(self.raw.evaluated),
                    "generations": len(self.raw.generations),
                    "text_token_counter": self.text_token_counter,
                    "best": self.best,
                },
                indent=2,
            ),
        )
        if plot:
            try:
                paths["plot"] = plot_history(self, os.path.join(out_dir, "plot.png"))
            except ImportError:
                pass
        return paths


def read_log(path: Union[str, "os.PathLike[str]"]) -> List[dict]:
    """The records of a search log (JSON lines), skipping a torn last line."""
    return read_jsonl(path)


def plot_history(source: Union[SearchResult, str, "os.PathLike[str]"], path: str) -> str:
    """Accuracy vs compression of every evaluation, coloured by generation, front highlighted,
    saved to ``path`` (PNG). Needs matplotlib (ImportError otherwise)."""
    fig = history_figure(source)
    fig.savefig(path, dpi=120)
    return path


def history_figure(source: Union[SearchResult, str, "os.PathLike[str]"], ax: Any = None):
    """The plot of plot_history as a matplotlib Figure (a SearchResult or a search log), drawn
    into ``ax`` when given. Made without pyplot, so it leaves the notebook's backend alone and
    no window opens; Jupyter shows a returned Figure inline. Needs matplotlib."""
    if isinstance(source, SearchResult):
        points = [(d["generation"], d["accuracy"], d["compression"]) for d in source.evaluated if d["ok"]]
        front = [(d["accuracy"], d["compression"]) for d in source.front]
    else:
        recs = read_log(source)
        points = [(r["generation"], r["accuracy"], r["compression"]) for r in recs
                  if r.get("type") == "eval" and r.get("ok")]
        results = [r for r in recs if r.get("type") == "result"]
        front = [(d["accuracy"], d["compression"]) for d in (results[-1]["front"] if results else [])]
    if ax is None:
        fig = _figure_class()(figsize=(6, 4.5))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
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
    return fig


_FIGURE_CLASS = None


def _figure_class():
    """matplotlib's Figure, plus the PNG Jupyter shows for it: a figure made without pyplot is
    otherwise shown as its text repr unless the notebook's inline backend was set up first."""
    global _FIGURE_CLASS
    if _FIGURE_CLASS is None:
        from matplotlib.figure import Figure

        class PlotFigure(Figure):
            def _repr_png_(self) -> bytes:
                import io

                buf = io.BytesIO()
                self.savefig(buf, format="png", dpi=100)
                return buf.getvalue()

        _FIGURE_CLASS = PlotFigure
    return _FIGURE_CLASS
