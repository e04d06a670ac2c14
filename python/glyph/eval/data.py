"""Reading evaluation items: JSONL or JSON files (Glyph's processed files, raw LongBench), folders
of them, or a Hugging Face ``datasets`` folder (``save_to_disk``). Nothing is downloaded.

``read_records(path)`` yields ``Record``s: the item (a dict) with where it came from, or, for a
line that is not a JSON object, the reason instead, so that bad lines are reported and the run
goes on.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from .._core import InputError, IoError

__all__ = ["Record", "read_records", "data_files"]

_EXTS = (".jsonl", ".json", ".ndjson")


@dataclass
class Record:
    """One item as read: ``item`` (None when the line was bad: see ``reason``/``message``),
    ``source`` (file path) and ``line`` (1-based line, or index in a JSON list / dataset)."""

    item: Optional[Dict[str, Any]]
    source: str
    line: int
    reason: str = ""
    message: str = ""

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    @property
    def stem(self) -> str:
        """The file's name without extension (Glyph names LongBench items after it)."""
        name = os.path.basename(self.source)
        for ext in _EXTS:
            if name.endswith(ext):
                return name[: -len(ext)]
        return name


def _is_hf_dataset_dir(path: str) -> bool:
    return any(os.path.exists(os.path.join(path, f))
               for f in ("dataset_info.json", "state.json", "dataset_dict.json"))


def data_files(path: Union[str, os.PathLike]) -> List[str]:
    """The data files under ``path``: the file itself, or a folder's ``*.jsonl`` / ``*.json``
    files (sorted, not recursive)."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise IoError(f"--data {p!r}: no such file or folder")
    if os.path.isfile(p):
        return [p]
    files = sorted(os.path.join(p, f) for f in os.listdir(p)
                   if f.endswith(_EXTS) and os.path.isfile(os.path.join(p, f)))
    if not files:
        raise InputError(f"--data {p!r}: a folder without .jsonl / .json files (or a Hugging "
                         "Face datasets folder written by save_to_disk)")
    return files


def _read_file(path: str) -> Iterator[Record]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise IoError(f"cannot read {path!r}: {e.strerror or e}") from None
    head = data.lstrip()[:1]
    if head == b"[":  # a JSON list (Glyph's MRCR files), else JSON lines
        try:
            items = json.loads(data.decode("utf-8", "replace"))
        except ValueError as e:
            yield Record(None, path, 1, "malformed_json", f"not a JSON list: {e}")
            return
        for i, it in enumerate(items, 1):
            if isinstance(it, dict):
                yield Record(it, path, i)
            else:
                yield Record(None, path, i, "not_an_object",
                             f"list entry is {type(it).__name__}, not an object")
        return
    for i, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            it = json.loads(raw.decode("utf-8", "replace"))
        except ValueError as e:
            yield Record(None, path, i, "malformed_json", f"not a JSON line: {e}")
            continue
        if isinstance(it, dict):
            yield Record(it, path, i)
        else:
            yield Record(None, path, i, "not_an_object",
                         f"the line holds {type(it).__name__}, not an object")


def _read_hf(path: str, split: Optional[str]) -> Iterator[Record]:
    try:
        import datasets
    except ImportError:
        raise ImportError(f"{path!r} is a Hugging Face datasets folder: pip install datasets") from None
    ds = datasets.load_from_disk(path)
    if isinstance(ds, datasets.DatasetDict):
        splits = [split] if split else list(ds.keys())
        for s in splits:
            if s not in ds:
                raise InputError(f"{path!r} has no split {s!r} (it has {', '.join(ds.keys())})")
            for i, it in enumerate(ds[s], 1):
                yield Record(dict(it), os.path.join(path, s), i)
    else:
        for i, it in enumerate(ds, 1):
            yield Record(dict(it), path, i)


def _paths(paths: Any) -> List[str]:
    return [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]


def check_data(paths: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]], *,
               split: Optional[str] = None) -> None:
    """Fails before any model loads or item runs: a path that does not exist, a folder without
    data files, a ``split`` for inputs that have none, or one a datasets folder lacks."""
    plain = []
    for p in _paths(paths):
        if os.path.isdir(p) and _is_hf_dataset_dir(p):
            if split:
                known = _splits(p)
                if known is None:
                    raise InputError(f"split {split!r}: {p!r} is a dataset without splits")
                if split not in known:
                    raise InputError(f"{p!r} has no split {split!r} (it has {', '.join(known)})")
        else:
            data_files(p)
            plain.append(p)
    if split and plain:
        raise InputError(f"split {split!r} picks a split of a datasets.save_to_disk folder; "
                         f"{', '.join(map(repr, plain))} has none (drop --split)")


def _splits(path: str) -> Optional[List[str]]:
    """The splits a save_to_disk folder lists (dataset_dict.json), None for a single Dataset."""
    try:
        with open(os.path.join(path, "dataset_dict.json"), encoding="utf-8") as f:
            return [str(s) for s in json.load(f).get("splits", [])]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError) as e:
        raise InputError(f"{path!r}: dataset_dict.json cannot be read: {e}") from None


def read_records(paths: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]], *,
                 split: Optional[str] = None) -> Iterator[Record]:
    """Every item of ``paths`` (a file, a folder, a datasets folder, or a list of those)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p) and _is_hf_dataset_dir(p):
            yield from _read_hf(p, split)
            continue
        for f in data_files(p):
            yield from _read_file(f)
