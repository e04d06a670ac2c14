"""Validation samples for a search: texts (with whatever fields an evaluator needs) from JSONL
files, text files, strings or dicts."""
from __future__ import annotations

import json
import operator
import os
from typing import Any, Mapping, Sequence, Union

from .._core import InputError, IoError

__all__ = ["load_samples"]


def load_samples(paths: Union[str, "os.PathLike[str]", Sequence[Any]], limit_chars: int = 0) -> list:
    """Validation samples as dicts with "id" and "text" (other fields kept for the evaluator).

    Accepts .jsonl files (one object per line with "text", or "context"; optional "id"), plain
    text files (one sample each), strings of text, or dicts. ``limit_chars`` > 0 cuts each text.
    A path (os.PathLike, or a one-line str ending in .jsonl/.json/.txt/.md, or a folder) that
    is not a file raises IoError: a typo is not searched on as the text.
    """
    try:
        limit_chars = operator.index(limit_chars)  # numpy integers too
    except TypeError:
        limit_chars = -1
    if limit_chars < 0:
        raise InputError(f"limit_chars must be an int >= 0 (0: whole samples), not {limit_chars!r}")
    if isinstance(paths, (str, os.PathLike)) or isinstance(paths, Mapping):
        paths = [paths]
    out: list = []
    for item in paths:
        if isinstance(item, Mapping):
            out.append(_sample_from_dict(dict(item), len(out)))
        elif isinstance(item, (str, os.PathLike)) and os.path.isfile(os.fspath(item)):
            path = os.fspath(item)
            try:
                _read_sample_file(path, out)
            except UnicodeDecodeError as e:
                raise InputError(f"{path}: not UTF-8 text (byte {e.start}: "
                                 f"{e.object[e.start:e.start + 1]!r})") from None
        elif isinstance(item, os.PathLike) or (isinstance(item, str) and _looks_like_a_path(item)):
            # a typo in a file name would otherwise be searched on as the sample's text
            path = os.fspath(item)
            why = "is a folder" if os.path.isdir(path) else "no such file"
            raise IoError(f"sample file {path!r}: {why} (a text that looks like a file name is "
                          f"given as {{'text': ...}})")
        elif isinstance(item, str):
            out.append({"id": f"sample-{len(out)}", "text": item})
        else:
            raise TypeError(f"sample must be a path, a text or a dict, got {type(item).__name__}")
    if limit_chars > 0:
        for s in out:
            s["text"] = s["text"][:limit_chars]
    if not out:
        raise InputError("no validation samples")
    return out


_SAMPLE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".txt", ".md")


def _looks_like_a_path(s: str) -> bool:
    """One short line naming a sample file or a folder: meant as a path, not as the text."""
    if "\n" in s or len(s) > 1024:
        return False
    return s.lower().endswith(_SAMPLE_SUFFIXES) or os.path.isdir(s)


def _sample_from_dict(d: dict, index: int, where: str = "sample") -> dict:
    text = d.get("text", d.get("context"))
    if not isinstance(text, str):
        raise InputError(f"{where}: needs a string 'text' (or 'context')")
    d = dict(d)
    d["text"] = text
    d.setdefault("id", f"sample-{index}")
    d["id"] = str(d["id"])
    return d


def _read_sample_file(path: str, out: list) -> None:
    """The samples of one file onto `out`: JSONL records, or the whole file as one text."""
    if path.endswith(".jsonl"):
        with open(path, encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}:{line_no}: not JSON: {e}") from None
                if not isinstance(d, dict):
                    raise InputError(f"{path}:{line_no}: expected an object")
                out.append(_sample_from_dict(d, len(out), f"{path}:{line_no}"))
    else:
        with open(path, encoding="utf-8") as f:
            out.append({"id": os.path.basename(path), "text": f.read()})
