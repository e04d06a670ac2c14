"""A dependency-free progress bar for long CLI work (stderr; quiet when not a terminal)."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, desc: str = "", unit: str = "it", stream=None, enabled=None):
        self.total = max(0, int(total))
        self.desc = desc
        self.unit = unit
        self.n = 0
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, k: int = 1) -> None:
        self.n += k
        now = time.perf_counter()
        if self.enabled and (now - self._last > 0.1 or self.n >= self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.start, 1e-9)
        rate = self.n / elapsed
        frac = self.n / self.total if self.total else 1.0
        width = 28
        filled = int(width * min(frac, 1.0))
        eta = (self.total - self.n) / rate if rate > 0 and self.total else 0.0
        self.stream.write(
            f"\r{self.desc} [{'#' * filled}{'.' * (width - filled)}] {self.n}/{self.total} "
            f"{self.unit} {rate:.1f}/s eta {eta:.0f}s "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
