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

__all__ = ["atomic_write", "atomic_open", "JsonlWriter", "make_folder", "read_jsonl", "repair_jsonl"]

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


def make_folder(path: PathLike) -> str:
    """`path` as a folder, made with its parents if needed; IoError naming it when it cannot be
    (a file there, no permission)."""
    path = os.fspath(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise IoError(f"cannot create output folder {path!r}: {e.strerror or e}") from None
    return path


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
    """Appends one JSON object per line, each written whole (one ``os.write`` loop on an
    unbuffered descriptor) and optionally fsynced. On open it repairs a torn last line and
    collects ``done``: the ``key`` values of the records already there (those with every field of
    ``require``), so a rerun skips them. ``fresh=True`` starts an empty file instead (a file that
    belongs to one run, such as a failures list).

    A write that fails (disk full, file size limit, I/O error) is undone: the file is cut back to
    the records before it, so nothing written earlier is lost or followed by a partial line, and
    IoError names the file.
    """

    def __init__(self, path: PathLike, key: Optional[str] = None, require: tuple = (),
                 fsync: bool = False, fresh: bool = False):
        self.path = os.fspath(path)
        self.key, self.require, self.fsync, self.fresh = key, tuple(require), fsync, fresh
        self.done: Set[str] = set()
        self._fd: Optional[int] = None
        self._size = 0  # bytes of whole records in the file

    def __enter__(self) -> "JsonlWriter":
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            if self.fresh:
                atomic_write(self.path, b"", fsync=False)
            repair_jsonl(self.path)
            if self.key is not None and os.path.exists(self.path):
                for rec in read_jsonl(self.path):
                    if isinstance(rec, dict) and self.key in rec and all(k in rec for k in self.require):
                        self.done.add(str(rec[self.key]))
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            self._size = os.fstat(self._fd).st_size
        except OSError as e:
            raise IoError(f"cannot write {self.path!r}: {e.strerror or e}") from None
        return self

    def write(self, record: Any) -> None:
        if self._fd is None:
            raise IoError(f"{self.path}: JsonlWriter is not open (use it in a with block)")
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            if self.fsync:
                os.fsync(self._fd)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)  # no partial line left behind
            raise IoError(f"cannot write {self.path!r}: {e.strerror or e} (the {self._size} "
                          "bytes of records before this one are intact)") from None
        self._size += len(data)
        if self.key is not None and isinstance(record, dict) and self.key in record:
            self.done.add(str(record[self.key]))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __exit__(self, *exc) -> None:
        self.close()
