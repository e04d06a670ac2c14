"""Shared by the SFT tests: small real inputs and a checker for an output folder."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT.parent / "shared" / "data" / "glyph-reference"
GPL = Path("/usr/share/common-licenses/GPL-3")
ZH = Path("/usr/share/gnupg/help.zh_CN.txt")


def real_texts() -> Dict[str, str]:
    """Glyph's sample texts, a Debian license, Chinese text (whatever of these is here)."""
    out = {}
    for name in ("input.txt", "case1.txt", "case3.txt"):
        p = REF / name
        if p.exists():
            out[name.split(".")[0]] = p.read_text(encoding="utf-8")[:9000]
    if GPL.exists():
        out["gpl3"] = GPL.read_text(encoding="utf-8")[:12000]
    if ZH.exists():
        out["zh"] = ZH.read_text(encoding="utf-8")[:5000]
    if not out:
        out["sample"] = __import__("glyph").sample_text()
    return out


def qa_records() -> List[Dict[str, Any]]:
    return [{"id": k, "context": v, "question": f"What is {k} about?", "answer": f"{k}."}
            for k, v in real_texts().items()]


def write_jsonl(path: Path, records: List[Dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    return path


def rows(out: Path) -> List[Dict[str, Any]]:
    res = []
    for shard in sorted((out / "data").iterdir()):
        if shard.suffix == ".jsonl":
            res.extend(json.loads(l) for l in shard.read_text(encoding="utf-8").splitlines() if l)
        elif shard.suffix == ".parquet":
            import pyarrow.parquet as pq

            res.extend(pq.read_table(shard).to_pylist())
    return res


def check_json_rows(out: Path, tag: str = "<image>") -> List[Dict[str, Any]]:
    """Every image exists and is a PNG; one tag per image; the page metadata is consistent."""
    rs = rows(out)
    assert rs, f"no rows in {out}"
    for r in rs:
        text = "".join(m["content"] for m in r["messages"])
        assert text.count(tag) == len(r["images"]) == len(r["glyph"]["pages"]), r["glyph"]["id"]
        assert r["messages"][-1]["role"] == "assistant"
        for img in r["images"]:
            p = Path(img) if os.path.isabs(img) else out / img
            assert p.is_file(), p
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", p
    return rs


def png_pixels(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def tree(out: Path, skip=("stats.json", "stats.md", "stats.png")) -> Dict[str, bytes]:
    """Every file of a build (the report aside: it holds timings), by relative path."""
    files = {}
    for dirpath, _, names in os.walk(out):
        for n in names:
            p = Path(dirpath) / n
            rel = str(p.relative_to(out))
            if n in skip or n.endswith(".tmp"):
                continue
            files[rel] = p.read_bytes()
    return files
