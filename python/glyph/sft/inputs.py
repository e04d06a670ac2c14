"""Records in: JSON lines, a JSON list, Parquet, or a Hugging Face ``datasets`` dataset.

Every record comes out as an :class:`Item`: its position, its id and either its fields or the
reason it cannot be used (a malformed line, invalid UTF-8, an unreadable file). Reading streams:
JSON lines line by line, Parquet batch by batch, so memory stays bounded by the largest record.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Union

__all__ = ["Item", "iter_items", "source_name"]


@dataclass
class Item:
    """One input record: ``record`` is its fields, or None with ``kind`` and ``reason`` set."""

    index: int                      # position in the whole input (all sources), from 0
    source: str                     # file path or "dataset"
    position: str                   # "line 12" or "row 3" inside that source
    auto_id: str                    # id used when the record has no id field: "name:12"
    record: Optional[Dict[str, Any]] = None
    kind: str = ""                  # failure kind when record is None
    reason: str = ""


def source_name(src: Any) -> str:
    if isinstance(src, (str, os.PathLike)):
        return os.path.basename(os.path.normpath(os.fspath(src)))
    return getattr(src, "_glyph_name", None) or "dataset"


def _utf8_error(line: bytes, e: UnicodeDecodeError) -> str:
    return f"invalid UTF-8 at byte {e.start} of the line (0x{line[e.start]:02x})"


def _check_surrogates(value: Any, path: str = "") -> Optional[str]:
    """JSON may spell lone surrogates (\\ud800): text that is not valid Unicode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            return f"invalid text (lone surrogate U+{ord(value[e.start]):04X}) in field {path or 'value'!r}"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            why = _check_surrogates(v, f"{path}.{k}" if path else str(k))
            if why:
                return why
    elif isinstance(value, list):
        for i, v in enumerate(value):
            why = _check_surrogates(v, f"{path}[{i}]")
            if why:
                return why
    return None


def _jsonl(path: str, name: str, start: int) -> Iterator[Item]:
    with open(path, "rb") as f:
        n = 0
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            pos, aid = f"line {lineno}", f"{name}:{lineno}"
            item = Item(start + n, path, pos, aid)
            n += 1
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                item.kind, item.reason = "invalid_utf8", _utf8_error(line, e)
                yield item
                continue
            try:
                rec = json.loads(text)
            except ValueError as e:
                item.kind, item.reason = "malformed_line", f"not a JSON line: {e}"
                yield item
                continue
            del line, text  # not kept while the record is made (a 50 MB line is 200 MB as str)
            item.record = rec
            yield item


def _json(path: str, name: str, start: int) -> Iterator[Item]:
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _Unreadable("invalid_utf8", f"invalid UTF-8 at byte {e.start} of the file") from None
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n" in stripped.strip():
        try:
            json.loads(text)
        except ValueError:  # several objects, one a line: JSON lines under a .json name
            yield from _jsonl(path, name, start)
            return
    try:
        data = json.loads(text)
    except ValueError as e:
        raise _Unreadable("malformed_input", f"invalid JSON: {e}") from None
    if isinstance(data, dict):
        lists = [k for k, v in data.items() if isinstance(v, list)]
        if len(lists) == 1:  # {"data": [...]} and the like
            data = data[lists[0]]
        else:
            data = [data]
    if not isinstance(data, list):
        raise _Unreadable("malformed_input", "a JSON input must be a list of records")
    for i, rec in enumerate(data):
        yield Item(start + i, path, f"row {i}", f"{name}:{i}", rec)


def _parquet(path: str, name: str, start: int) -> Iterator[Item]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise _Unreadable("unreadable_input", "reading Parquet needs pyarrow "
                          "(pip install 'glyphcpp[sft]')") from None
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid / OSError for non-Parquet files
        raise _Unreadable("unreadable_input", f"not a Parquet file: {e}") from None
    i = 0
    for batch in pf.iter_batches(batch_size=256):
        for rec in batch.to_pylist():
            yield Item(start + i, path, f"row {i}", f"{name}:{i}", rec)
            i += 1


def _dataset(ds: Any, name: str, start: int) -> Iterator[Item]:
    if hasattr(ds, "keys") and not hasattr(ds, "features"):
        raise _Unreadable("unreadable_input", f"a DatasetDict with splits {sorted(ds.keys())}: "
                          "pass one split, e.g. ds['train']")
    for i, rec in enumerate(ds):
        yield Item(start + i, name, f"row {i}", f"{name}:{i}", dict(rec))


class _Unreadable(Exception):
    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind, self.reason = kind, reason


def _open_source(src: Any, name: str, start: int) -> Iterator[Item]:
    if not isinstance(src, (str, os.PathLike)):
        if isinstance(src, dict):
            src = [src]
        if isinstance(src, (list, tuple)):
            return (Item(start + i, name, f"row {i}", f"{name}:{i}", r) for i, r in enumerate(src))
        return _dataset(src, name, start)
    path = os.fspath(src)
    if os.path.isdir(path):
        if not any(os.path.exists(os.path.join(path, f)) for f in ("state.json", "dataset_dict.json")):
            raise _Unreadable("unreadable_input", "a folder input must be a datasets.save_to_disk "
                              "folder (state.json or dataset_dict.json not found)")
        try:
            import datasets
        except ImportError:
            raise _Unreadable("unreadable_input", "a saved dataset folder needs `datasets` "
                              "(pip install datasets)") from None
        try:
            ds = datasets.load_from_disk(path)
        except Exception as e:
            raise _Unreadable("unreadable_input", f"datasets.load_from_disk failed: {e}") from None
        return _dataset(ds, name, start)
    if not os.path.exists(path):
        raise _Unreadable("unreadable_input", "no such file")
    if not os.access(path, os.R_OK):
        raise _Unreadable("unreadable_input", "permission denied")
    lower = path.lower()
    if lower.endswith(".parquet"):
        return _parquet(path, name, start)
    if lower.endswith(".json"):
        return _json(path, name, start)
    return _jsonl(path, name, start)  # .jsonl, .ndjson and anything else: JSON lines


def _as_sources(sources: Union[Any, Sequence[Any]]) -> List[Any]:
    if isinstance(sources, (str, os.PathLike, dict)) or not isinstance(sources, (list, tuple)):
        return [sources]
    if sources and all(isinstance(s, dict) for s in sources):
        return [list(sources)]  # a list of records is one in-memory source
    return list(sources)


def missing_paths(sources: Union[Any, Sequence[Any]]) -> List[str]:
    """The path inputs that do not exist: a typo is refused before anything is written, where
    a file that exists but cannot be read is one failed item of the build."""
    return [os.fspath(s) for s in _as_sources(sources)
            if isinstance(s, (str, os.PathLike)) and not os.path.exists(os.fspath(s))]


def iter_items(sources: Union[Any, Sequence[Any]]) -> Iterator[Item]:
    """Items of every source in order. An unreadable source yields one failed Item for itself
    (id ``name:*``) and the others are still read."""
    sources = _as_sources(sources)
    index = 0
    names: Dict[str, int] = {}
    for src in sources:
        name = source_name(src)
        if name in names:  # two inputs with one base name: keep their auto ids apart
            names[name] += 1
            name = f"{name}#{names[name]}"
        else:
            names[name] = 0
        label = os.fspath(src) if isinstance(src, (str, os.PathLike)) else name
        try:
            for item in _open_source(src, name, index):
                if item.record is not None:
                    if not isinstance(item.record, dict):
                        item.kind = "malformed_line"
                        item.reason = f"a record must be an object, got {type(item.record).__name__}"
                        item.record = None
                    else:
                        why = _check_surrogates(item.record)
                        if why:
                            item.kind, item.reason, item.record = "invalid_utf8", why, None
                index = item.index + 1
                yield item
        except _Unreadable as e:
            yield Item(index, label, "file", f"{name}:*", None, e.kind, f"{label}: {e.reason}")
            index += 1
        except OSError as e:
            yield Item(index, label, "file", f"{name}:*", None, "unreadable_input",
                       f"{label}: cannot read: {e.strerror or e}")
            index += 1
