"""Results of an evaluation: scores per group and category, averages, failures, token and latency
statistics (``summarize``), written as ``results.json``, ``results.md`` and PNG plots (``write``).

Headline scores count every item that failed (request failures after the retries, and bad items
whose dataset/task is known) as 0; ``answered_score`` is the same score over the answered items
only, and ``failed`` says how many did not answer, so a failure can never raise a score.
"""
from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ..io import atomic_write
from .protocols import EvalItem, Protocol

__all__ = ["summarize", "write", "markdown", "make_plots"]


def _percentile(values: Sequence[float], q: float) -> Optional[float]:
    if not values:
        return None
    import numpy as np

    return round(float(np.percentile(np.asarray(values, dtype=float), q)), 4)


def _mean(values: Sequence[float], places: int = 2) -> Optional[float]:
    return round(sum(values) / len(values), places) if values else None


def _mode_summary(protocol: Protocol, items: Sequence[EvalItem], bad: Sequence[Mapping[str, Any]],
                  recs: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    by_group: Dict[str, List[Optional[float]]] = defaultdict(list)
    failures: Counter = Counter()
    cats: Dict[str, Dict[str, Dict[str, List[Optional[float]]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list)))
    pages, vis, txt, prompt_toks, lat = [], [], [], [], []
    answered = 0
    for it in items:
        rec = recs.get(it.id)
        if rec is None:
            s: Optional[float] = None
            failures["not_run"] += 1
        elif "prediction" in rec:
            s = float(rec.get("score", 0.0))
            answered += 1
            if rec.get("prompt_tokens") is not None:
                prompt_toks.append(int(rec["prompt_tokens"]))
            if rec.get("latency_s") is not None:
                lat.append(float(rec["latency_s"]))
        else:
            s = None
            failures[str(rec.get("error", "unknown"))] += 1
        if rec is not None:
            if rec.get("pages") is not None:
                pages.append(int(rec["pages"]))
            if rec.get("visual_tokens") is not None:
                vis.append(int(rec["visual_tokens"]))
            if rec.get("text_tokens") is not None:
                txt.append(int(rec["text_tokens"]))
        by_group[it.group].append(s)
        for axis, cat in protocol.categories(it).items():
            cats[axis][cat][it.group].append(s)
    bad_in_groups = 0
    for b in bad:
        if b.get("group") is not None:
            by_group[str(b["group"])].append(None)
            failures[f"bad_input:{b['reason']}"] += 1
            bad_in_groups += 1

    def scored(vals: Sequence[Optional[float]], axis: Optional[str] = None):
        fn = protocol.group_score if axis is None else (lambda v: protocol.cell_score(axis, v))
        head = fn([0.0 if v is None else v for v in vals])
        ans = [v for v in vals if v is not None]
        return head, fn(ans), len(vals), len(vals) - len(ans)

    groups: Dict[str, Any] = {}
    for g in sorted(by_group):
        head, ans, n, nf = scored(by_group[g])
        groups[g] = {"score": head, "answered_score": ans, "items": n, "failed": nf}
    head_avg = protocol.average({g: v["score"] for g, v in groups.items()})
    ans_avg = protocol.average({g: v["answered_score"] for g, v in groups.items()
                                if v["answered_score"] is not None})
    all_vals = [v for vals in by_group.values() for v in vals]
    if head_avg is None:  # protocols scored over all items (MRCR, or a single custom group)
        head_avg, ans_avg, _, _ = scored(all_vals)
    categories: Dict[str, Any] = {}
    for axis, by_cat in cats.items():
        categories[axis] = {}
        for cat in sorted(by_cat, key=_natural):
            cell = {g: scored(v, axis) for g, v in by_cat[cat].items()}
            avg = protocol.average({g: c[0] for g, c in cell.items()})
            ans = protocol.average({g: c[1] for g, c in cell.items() if c[1] is not None})
            flat = [v for vals in by_cat[cat].values() for v in vals]
            if avg is None:
                avg, ans, _, _ = scored(flat)
            categories[axis][cat] = {
                "score": avg, "answered_score": ans, "items": len(flat),
                "failed": sum(1 for v in flat if v is None),
                "groups": {g: c[0] for g, c in sorted(cell.items())}}
    n_items = len(all_vals)
    tokens = {
        "pages_mean": _mean(pages), "pages_total": sum(pages) if pages else None,
        "visual_tokens_mean": _mean(vis), "visual_tokens_total": sum(vis) if vis else None,
        "text_tokens_mean": _mean(txt), "text_tokens_total": sum(txt) if txt else None,
        "compression": (round(sum(txt) / sum(vis), 2) if vis and txt and len(vis) == len(txt)
                        and sum(vis) else None),
        "prompt_tokens_mean": _mean(prompt_toks), "prompt_tokens_total":
            sum(prompt_toks) if prompt_toks else None,
        "latency_p50_s": _percentile(lat, 50), "latency_p95_s": _percentile(lat, 95),
    }
    return {"score": head_avg, "answered_score": ans_avg, "items": n_items, "answered": answered,
            "failed": n_items - answered, "failures": dict(sorted(failures.items())),
            "groups": groups, "categories": categories, "tokens": tokens}


def _natural(key: str):
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(key))]


def summarize(protocol: Protocol, items: Sequence[EvalItem], bad: Sequence[Mapping[str, Any]],
              records: Mapping[str, Mapping[str, Mapping[str, Any]]],
              info: Mapping[str, Any]) -> Dict[str, Any]:
    """The results dict of a run (see docs/eval.md for its fields)."""
    from .protocols import _LAYOUT_SUPPORTED

    warn = Counter(w for it in items for w in it.warnings)
    for mode, recs in records.items():  # answers the metric could not score (0, reason kept)
        n = sum(1 for r in recs.values() if r.get("score_error"))
        if n:
            warn[f"{mode}: the metric could not score the answer; scored 0 (score_error in the "
                 f"predictions)"] = n
    out: Dict[str, Any] = dict(info)
    out.update({
        "group_label": protocol.group_label,
        "items": len(items) + len(bad),
        "bad_input": {"count": len(bad), "reasons": dict(Counter(b["reason"] for b in bad))},
        "evaluation_layout": bool(_LAYOUT_SUPPORTED),
        "warnings": dict(warn.most_common(20)),
        "modes": {mode: _mode_summary(protocol, items, bad, recs) for mode, recs in records.items()},
        "token_stat": {mode: token_stat(protocol, items, recs) for mode, recs in records.items()},
    })
    if not _LAYOUT_SUPPORTED and items:
        out["warnings"]["this build's renderer lacks the evaluation layout keys (paragraph-lines, "
                        "tab-nbsp): pages used the demo layout"] = len(items)
    pages, text = records.get("pages", {}), records.get("text", {})
    vis: Dict[str, int] = defaultdict(int)
    txt: Dict[str, int] = defaultdict(int)
    for it in items:
        r = pages.get(it.id) or {}
        if r.get("visual_tokens") and r.get("text_tokens") is not None:
            vis[it.group] += int(r["visual_tokens"])
            txt[it.group] += int(r["text_tokens"])
    out["group_compression"] = {g: round(txt[g] / vis[g], 2) for g in sorted(vis) if vis[g]}
    if pages and text:
        both = [(pages[i.id]["prompt_tokens"], text[i.id]["prompt_tokens"]) for i in items
                if i.id in pages and i.id in text and pages[i.id].get("prompt_tokens")
                and text[i.id].get("prompt_tokens")]
        out["prompt_compression"] = (round(sum(t for _, t in both) / sum(p for p, _ in both), 2)
                                     if both else None)
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def markdown(results: Mapping[str, Any]) -> str:
    """The results as Markdown tables (what ``results.md`` holds)."""
    modes = results["modes"]
    names = list(modes)
    label = results.get("group_label", "group")
    lines = [f"# {results['benchmark']}: {results.get('backend')}"
             + (f" vs text {results['text_baseline']}" if results.get("text_baseline") else ""), ""]
    lines.append(f"Items: {results['items']} (bad input: {results['bad_input']['count']}"
                 + (", " + ", ".join(f"{k} {v}" for k, v in results['bad_input']['reasons'].items())
                    if results['bad_input']['reasons'] else "") + ")."
                 + f" Newline: {results.get('newline')}. Evaluation layout: "
                 f"{'yes' if results.get('evaluation_layout') else 'no'}.")
    lines.append("")
    head = [label] + [f"{m} score" for m in names] + [f"{m} answered" for m in names] + \
        [f"{m} failed" for m in names] + ["items"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    groups = sorted({g for m in names for g in modes[m]["groups"]})
    for g in groups:
        row = [g]
        row += [_fmt(modes[m]["groups"].get(g, {}).get("score")) for m in names]
        row += [_fmt(modes[m]["groups"].get(g, {}).get("answered_score")) for m in names]
        row += [_fmt(modes[m]["groups"].get(g, {}).get("failed")) for m in names]
        row += [_fmt(max(modes[m]["groups"].get(g, {}).get("items", 0) for m in names))]
        lines.append("| " + " | ".join(row) + " |")
    row = ["**average**"] + [f"**{_fmt(modes[m]['score'])}**" for m in names] + \
        [_fmt(modes[m]["answered_score"]) for m in names] + [_fmt(modes[m]["failed"]) for m in names] + \
        [_fmt(max(modes[m]["items"] for m in names))]
    lines.append("| " + " | ".join(row) + " |")
    axes = sorted({a for m in names for a in modes[m]["categories"]})
    for axis in axes:
        lines += ["", f"## by {axis}", ""]
        head = [axis] + [f"{m} score" for m in names] + [f"{m} answered" for m in names] + ["items"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        cats = []
        for m in names:
            for c in modes[m]["categories"].get(axis, {}):
                if c not in cats:
                    cats.append(c)
        for c in cats:
            cells = [modes[m]["categories"].get(axis, {}).get(c, {}) for m in names]
            row = [c] + [_fmt(x.get("score")) for x in cells] + \
                [_fmt(x.get("answered_score")) for x in cells] + \
                [_fmt(max(x.get("items", 0) for x in cells))]
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## tokens and latency", ""]
    keys = ["pages_mean", "visual_tokens_mean", "text_tokens_mean", "compression",
            "prompt_tokens_mean", "latency_p50_s", "latency_p95_s"]
    lines += ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(_fmt(modes[m]["tokens"].get(k)) for m in names) + " |")
    if results.get("prompt_compression") is not None:
        lines += ["", f"Prompt tokens, text / pages (as the servers report them): "
                      f"**{results['prompt_compression']:.2f}x**"]
    fails = {m: modes[m]["failures"] for m in names if modes[m]["failures"]}
    if fails:
        lines += ["", "## failures", ""]
        for m, f in fails.items():
            lines.append(f"- {m}: " + ", ".join(f"{k} {v}" for k, v in f.items()))
    if results.get("warnings"):
        lines += ["", "## warnings", ""]
        lines += [f"- {w} ({n} items)" for w, n in results["warnings"].items()]
    return "\n".join(lines) + "\n"


def make_plots(results: Mapping[str, Any], out: str) -> List[str]:
    """PNG plots: score vs compression per group (pages; the text baseline at 1x), and for
    RULER / MRCR score vs context length, pages vs text. Returns the files written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written: List[str] = []
    modes = results["modes"]
    pages = modes.get("pages")
    os.makedirs(out, exist_ok=True)
    if pages:
        fig, ax = plt.subplots(figsize=(6, 4))
        xs, ys, names = [], [], []
        comp = results.get("group_compression", {})
        for g, v in pages["groups"].items():
            c = comp.get(g)
            if c is not None and v["score"] is not None:
                xs.append(c)
                ys.append(v["score"])
                names.append(g)
        ax.scatter(xs, ys, label="pages")
        for x, y, n in zip(xs, ys, names):
            ax.annotate(n, (x, y), fontsize=7)
        text = modes.get("text")
        if text:
            tx = [1.0 for g in text["groups"] if text["groups"][g]["score"] is not None]
            ty = [text["groups"][g]["score"] for g in text["groups"]
                  if text["groups"][g]["score"] is not None]
            ax.scatter(tx, ty, marker="x", label="text")
        ax.set_xlabel("compression (text tokens / visual tokens)")
        ax.set_ylabel("score")
        ax.set_title(f"{results['benchmark']}: score vs compression")
        ax.legend()
        fig.tight_layout()
        p = os.path.join(out, "score_vs_compression.png")
        fig.savefig(p, dpi=100)
        plt.close(fig)
        written.append(p)
    axis = {"ruler": "length", "mrcr": "bin"}.get(results["benchmark"])
    if axis:
        fig, ax = plt.subplots(figsize=(6, 4))
        for m, v in modes.items():
            cats = v["categories"].get(axis, {})
            keys = [k for k in cats if cats[k]["score"] is not None]
            ax.plot(keys, [cats[k]["score"] for k in keys], marker="o", label=m)
        ax.set_xlabel("context length" + (" (tokens)" if axis == "length" else " bin"))
        ax.set_ylabel("score")
        ax.set_title(f"{results['benchmark']}: score vs context length")
        ax.legend()
        fig.tight_layout()
        p = os.path.join(out, "score_vs_length.png")
        fig.savefig(p, dpi=100)
        plt.close(fig)
        written.append(p)
    return written


def token_stat(protocol: Protocol, items: Sequence[EvalItem],
               recs: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """Glyph's ``token_stat.json`` (its LongBench scorer's fields): the server's prompt tokens of
    the answered items, averaged overall, per dataset and per category."""
    per_group: Dict[str, List[int]] = defaultdict(list)
    per_cat: Dict[str, List[int]] = defaultdict(list)
    for it in items:
        r = recs.get(it.id) or {}
        if "prediction" not in r or r.get("prompt_tokens") is None:
            continue
        n = int(r["prompt_tokens"])
        per_group[it.group].append(n)
        cat = protocol.categories(it).get("category")
        if cat is not None:
            per_cat[cat].append(n)
    total = sum(sum(v) for v in per_group.values())
    count = sum(len(v) for v in per_group.values())
    return {
        "overall_avg_prompt_tokens": round(total / count, 2) if count else 0,
        "avg_prompt_tokens_per_dataset": {g: round(sum(v) / len(v), 2) for g, v in per_group.items()},
        "avg_prompt_tokens_per_category": {c: round(sum(v) / len(v), 2) for c, v in per_cat.items()},
        "total_prompt_tokens": total,
        "total_records": count,
    }


def write(results: Dict[str, Any], out: str, *, plot: bool = True) -> None:
    """results.json, results.md, token_stat*.json and the plots in ``out``."""
    for mode, stat in results.get("token_stat", {}).items():
        name = "token_stat.json" if mode == "pages" else f"token_stat_{mode}.json"
        atomic_write(os.path.join(out, name), json.dumps(stat, indent=4, ensure_ascii=False))
    atomic_write(os.path.join(out, "results.md"), markdown(results))
    if plot:
        results["plots"] = [os.path.basename(p) for p in make_plots(results, out)]
    atomic_write(os.path.join(out, "results.json"),
                 json.dumps(results, indent=2, ensure_ascii=False, default=str))
