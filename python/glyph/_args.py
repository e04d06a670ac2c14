"""Checks for the numbers and flags the Python API passes on (no torch).

int() would make max_new_tokens=2.5 into 2 and "64" into 64, and bool("false") is True, all
without a word; a value given to C++ out of its parameter's range gives only pybind11's
"incompatible function arguments". These name the argument instead (InputError)."""
from __future__ import annotations

import operator
from typing import Any, Optional, Tuple

import numpy as np

from ._core import InputError

INT32 = (-(1 << 31), (1 << 31) - 1)
INT64 = (-(1 << 63), (1 << 63) - 1)
UINT64 = (0, (1 << 64) - 1)


def whole(name: str, value: Any, low: Optional[int] = None, *, meaning: str = "",
          fits: Optional[Tuple[int, int]] = INT64) -> int:
    """An int (numpy's too; not bool, not 2.0, not "2"), at least `low` when given, within the
    C++ type `fits` (None: any size, for Python's own use); `meaning` explains the bound in the
    message (e.g. "0: all cores")."""
    need = (f" >= {low}" if low is not None else "") + (f" ({meaning})" if meaning else "")
    try:
        if isinstance(value, bool):
            raise TypeError
        n = operator.index(value)
    except TypeError:
        raise InputError(f"{name} must be a whole number{need}, not {value!r}") from None
    if low is not None and n < low:
        raise InputError(f"{name} must be a whole number{need}, not {n}")
    if fits is not None and not fits[0] <= n <= fits[1]:
        raise InputError(f"{name} must be in [{fits[0]}, {fits[1]}], not {n}")
    return n


def flag(name: str, value: Any) -> bool:
    """True or False (numpy's bool too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False, not {value!r}")
    return bool(value)


def number(name: str, value: Any) -> float:
    """A real number (int, float, numpy's); not a string, not None."""
    if isinstance(value, (str, bytes)) or value is None:
        raise InputError(f"{name} must be a number, not {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, not {value!r}") from None
