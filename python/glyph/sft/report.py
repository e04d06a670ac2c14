"""The statistics report of a build: stats.json, stats.md and stats.png (matplotlib, if there)."""
from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any, Dict, List, Sequence

from ..io import atomic_open, atomic_write

__all__ = ["Stats"]


def _pct(xs: Sequence[float], q: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    i = min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))
    return float(s[i])


def _summary(xs: Sequence[float]) -> Dict[str, float]:
    if not xs:
        return {"total": 0, "mean": 0.0, "min": 0, "p50": 0.0, "p90": 0.0, "max": 0}
    return {"total": float(sum(xs)), "mean": sum(xs) / len(xs), "min": float(min(xs)),
            "p50": _pct(xs, 0.5), "p90": _pct(xs, 0.9), "max": float(max(xs))}


class Stats:
    """Per-record numbers gathered from the journal (so a resumed run reports the whole set)."""

    def __init__(self) -> None:
        self.pages: List[int] = []
        self.visual: List[int] = []
        self.text: List[int] = []
        self.compression: List[float] = []
        self.samples = 0
        self.records = 0
        self.dropped: List[Dict[str, str]] = []
        self.failures: List[Dict[str, Any]] = []

    def add(self, entry: Dict[str, Any]) -> None:
        if entry.get("dropped"):
            self.dropped.append({"id": entry["id"], "reason": entry["dropped"]})
            return
        s = entry.get("stats") or {}
        self.records += 1
        self.samples += int(s.get("samples", 0))
        self.pages.append(int(s.get("pages", 0)))
        self.visual.append(int(s.get("visual_tokens", 0)))
        self.text.append(int(s.get("text_tokens", 0)))
        if s.get("visual_tokens"):
            self.compression.append(s.get("text_tokens", 0) / s["visual_tokens"])

    def to_dict(self, extra: Dict[str, Any]) -> Dict[str, Any]:
        return {
            **extra,
            "records": self.records, "samples": self.samples,
            "dropped": len(self.dropped), "failed": len(self.failures),
            "pages_per_record": _summary(self.pages),
            "visual_tokens_per_record": _summary(self.visual),
            "text_tokens_per_record": _summary(self.text),
            "compression_per_record": _summary(self.compression),
            "failures_by_kind": dict(Counter(f["kind"] for f in self.failures)),
            # the first failure of each kind, its reason in full (all of them: failures.jsonl)
            "failure_examples": self._examples(),
            "dropped_reasons": dict(Counter(d["reason"].split(" after ")[0] for d in self.dropped)),
        }

    def _examples(self) -> Dict[str, Dict[str, str]]:
        out: Dict[str, Dict[str, str]] = {}
        for f in self.failures:
            out.setdefault(f["kind"], {"id": f["id"], "reason": f["reason"]})
        return out

    def write(self, out_dir: str, extra: Dict[str, Any], plot: bool = True) -> Dict[str, Any]:
        d = self.to_dict(extra)
        png = os.path.join(out_dir, "stats.png")
        if plot:
            plot_name = self._plot(png)
            why = "matplotlib is not installed (pip install matplotlib)"
        else:
            plot_name, why = "", "not asked for (plot=False / --no-plot)"
            if os.path.exists(png):
                os.unlink(png)
        plot = plot_name
        d["plot"] = plot
        atomic_write(os.path.join(out_dir, "stats.json"), json.dumps(d, indent=2, ensure_ascii=False) + "\n")
        with atomic_open(os.path.join(out_dir, "stats.md")) as f:
            f.write(f"# SFT build statistics\n\n")
            for k in ("task", "format", "seed", "inputs"):
                if k in d:
                    f.write(f"- {k}: {d[k]}\n")
            f.write(f"- records: {d['records']} kept, {d['dropped']} dropped by the budget, "
                    f"{d['failed']} failed\n- samples (rows): {d['samples']}\n\n")
            f.write("| per record | total | mean | min | p50 | p90 | max |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
            for label, key in (("pages", "pages_per_record"), ("visual tokens", "visual_tokens_per_record"),
                               ("text tokens", "text_tokens_per_record"),
                               ("compression (text/visual)", "compression_per_record")):
                s = d[key]
                total = f"{s['total']:.0f}" if key != "compression_per_record" else "-"
                f.write(f"| {label} | {total} | {s['mean']:.2f} | {s['min']:.2f} | {s['p50']:.2f} | "
                        f"{s['p90']:.2f} | {s['max']:.2f} |\n")
            f.write("\nText tokens are " + d.get("text_token_counter", "approximate") + ".\n")
            if d["failures_by_kind"]:
                f.write("\n## Failures (failures.jsonl)\n\n| kind | records | first (id: reason) |\n"
                        "| --- | ---: | --- |\n")
                for k, n in sorted(d["failures_by_kind"].items()):
                    ex = d["failure_examples"][k]
                    why = f"{ex['id']}: {ex['reason']}".replace("|", "\\|").replace("\n", " ")
                    f.write(f"| {k} | {n} | {why[:200]} |\n")
            if d["dropped_reasons"]:
                f.write("\n## Dropped by the budget (dropped.jsonl)\n\n| reason | records |\n| --- | ---: |\n")
                for k, n in sorted(d["dropped_reasons"].items()):
                    f.write(f"| {k} | {n} |\n")
            f.write("\n" + ("![histograms](stats.png)\n" if plot else f"No histogram: {why}.\n"))
        return d

    def _plot(self, path: str) -> str:
        try:
            # a Figure without pyplot: no backend switch (a notebook keeps its inline plots)
            from matplotlib.figure import Figure
        except ImportError:
            return ""
        fig = Figure(figsize=(10, 7))
        axes = fig.subplots(2, 2)
        for ax, xs, title in ((axes[0][0], self.pages, "pages per record"),
                              (axes[0][1], self.visual, "visual tokens per record"),
                              (axes[1][0], self.text, "text tokens per record"),
                              (axes[1][1], self.compression, "compression (text / visual tokens)")):
            ax.hist(xs or [0], bins=min(50, max(5, len(xs) // 4 or 5)), color="#4a7ab8")
            ax.set_title(title)
            ax.set_ylabel("records")
        fails = len(self.failures)
        fig.suptitle(f"{self.records} records, {sum(self.pages)} pages, {len(self.dropped)} dropped, "
                     f"{fails} failed")
        fig.tight_layout()
        with atomic_open(path, "wb") as f:
            fig.savefig(f, format="png", dpi=80)
        return os.path.basename(path)
