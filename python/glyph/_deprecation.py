"""Names that changed in 0.2 keep working until 0.3, with a DeprecationWarning that names the
new one (CHANGELOG.md lists them). The compiled module's aliases warn the same way."""
from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, Tuple


def warn(old: str, new: str, stacklevel: int = 3) -> None:
    warnings.warn(f"{old} is deprecated and will be removed in glyphcpp 0.3; use {new}",
                  DeprecationWarning, stacklevel=stacklevel)


def module_getattr(module: str, aliases: Dict[str, Tuple[str, Callable[[], Any]]]):
    """A module __getattr__ (PEP 562) serving old names: {old: (new name, getter of the object)}."""

    def __getattr__(name: str) -> Any:
        if name in aliases:
            new, get = aliases[name]
            warn(f"{module}.{name}", new)
            return get()
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
