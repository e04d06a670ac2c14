"""Files that survive kills: atomic writes and resumable JSON-lines outputs.

Batch rendering (``glyph render --batch``), SFT shards and evaluation predictions all write
through these, so a crash or Ctrl-C never leaves a half-written file, and a rerun picks up where
the last one stopped without losing or repeating a record.

    from glyph.io import atomic_write, JsonlWriter

    atomic_write("out/summary.json", json.dumps(summary))       # all or nothing
    with JsonlWriter("out/records.jsonl", key="unique_id") as out:  # resumes: reads what is done
        for rec in records:
            if rec["unique_id"] in out.done:
                continue
            out.write({"unique_id": rec["unique_id"], ...})       # one flushed line per record
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import IO, Any, Iterator, List, Optional, Set, Union

from ._core import InputError, IoError

__all__ = ["atomic_write", "atomic_open", "JsonlWriter", "read_jsonl", "repair_jsonl"]

PathLike = Union[str, "os.PathLike[str]"]


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", encoding: Optional[str] = "utf-8",
                fsync: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit it is flushed (and fsynced) and
    renamed over ``path``, on an exception it is removed and ``path`` is left as it was."""
    if mode not in ("w", "wb"):
        raise InputError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    except OSError as e:
        raise IoError(f"cannot write {path!r}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, IoError):
            raise IoError(f"cannot write {path!r}: {e.strerror or e}") from None
        raise


def atomic_write(path: PathLike, data: Union[str, bytes], fsync: bool = True) -> None:
    """Write ``data`` (str as UTF-8, or bytes) to ``path`` all at once or not at all."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w", fsync=fsync) as f:
        f.write(data)


def repair_jsonl(path: PathLike) -> int:
    """Cut a torn last line (a record a kill interrupted mid-write) off a JSON-lines file.
    Returns the number of bytes removed (0 when the file is whole or absent)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        return 0
    try:
        with open(path, "rb+") as f:
            data = f.read()
            good = data.rfind(b"\n") + 1  # everything after the last newline is a partial record
            if good < len(data):
                f.truncate(good)
            return len(data) - good
    except OSError as e:
        raise IoError(f"cannot repair {path!r}: {e.strerror or e}") from None


def read_jsonl(path: PathLike) -> List[Any]:
    """The records of a JSON-lines file; a torn last line is skipped, blank lines too. A bad line
    elsewhere is an error naming it (that file is not ours, or it was edited)."""
    path = os.fspath(path)
    out: List[Any] = []
    try:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
    except OSError as e:
        raise IoError(f"cannot read {path!r}: {e.strerror or e}") from None
    last = len(lines) - 1  # after the final newline: "" or a torn record
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            if i == last:
                break
            raise IoError(f"{path}:{i + 1}: not a JSON line") from None
    return out


class JsonlWriter:
    """Appends one JSON object per line, flushed (and optionally fsynced) as it is written. On
    open it repairs a torn last line and collects ``done``: the ``key`` values of the records
    already there (those with every field of ``require``), so a rerun skips them."""

    def __init__(self, path: PathLike, key: Optional[str] = None, require: tuple = (),
                 fsync: bool = False):
        self.path = os.fspath(path)
        self.key, self.require, self.fsync = key, tuple(require), fsync
        self.done: Set[str] = set()
        self._f: Optional[IO[str]] = None

    def __enter__(self) -> "JsonlWriter":
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            repair_jsonl(self.path)
            if self.key is not None and os.path.exists(self.path):
                for rec in read_jsonl(self.path):
                    if isinstance(rec, dict) and self.key in rec and all(k in rec for k in self.require):
                        self.done.add(str(rec[self.key]))
            self._f = open(self.path, "a", encoding="utf-8")
        except OSError as e:
            raise IoError(f"cannot write {self.path!r}: {e.strerror or e}") from None
        return self

    def write(self, record: Any) -> None:
        if self._f is None:
            raise IoError(f"{self.path}: JsonlWriter is not open (use it in a with block)")
        line = json.dumps(record, ensure_ascii=False) + "\n"
        start = self._f.tell()
        try:
            self._f.write(line)
            self._f.flush()
            if self.fsync:
                os.fsync(self._f.fileno())
        except OSError as e:
            # A full disk (or a file-size limit) may have let part of the line through: cut it
            # off so the next record starts on a fresh line and the file stays readable.
            self._drop_partial(start)
            raise IoError(f"cannot write {self.path!r}: {e.strerror or e}") from None
        if self.key is not None and isinstance(record, dict) and self.key in record:
            self.done.add(str(record[self.key]))

    def _drop_partial(self, start: int) -> None:
        f = self._f
        assert f is not None
        try:
            f.close()  # discards what could not be flushed (a second error is ignored below)
        except OSError:
            pass
        try:
            with open(self.path, "rb+") as raw:
                raw.truncate(start)
        except OSError:
            pass
        self._f = open(self.path, "a", encoding="utf-8")

    def __exit__(self, *exc) -> None:
        if self._f is not None:
            try:
                self._f.close()
            except OSError:
                pass  # a failed write already reported; the torn tail is repaired on reopen
            self._f = None
