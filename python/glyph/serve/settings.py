"""What a ``glyph serve`` server allows and how it renders (one dataclass, the CLI's flags)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

from .._core import InputError


@dataclass
class ServeSettings:
    """Limits and policy of one server. Every field is a ``glyph serve`` flag (docs/serve.md).

    model_name: the name ``/v1/models`` lists and replies carry (requests may name any model:
        a server serves one).
    render_config: None (Glyph's ``config_en.json``, ``config_zh.json`` for text detected as
        Chinese), or a config (dict, RenderConfig, path) used for every rendered part.
    render_threshold: a user text part of at least this many characters is rendered (0: only
        parts marked ``"glyph": {"render": true}``).
    image_root: folder local image paths (``file://`` URLs) must lie under; None refuses them.
    """

    model_name: str = "glyph"
    render_config: Any = None
    render_threshold: int = 2000
    max_body_bytes: int = 32 << 20
    max_pages: int = 64
    max_page_pixels: int = 36_000_000
    max_prompt_tokens: int = 131072
    max_tokens: int = 8192
    default_max_tokens: int = 1024
    timeout_s: float = 600.0
    queue_size: int = 64
    max_batch: int = 8
    api_key: Optional[str] = field(default=None, repr=False)
    image_root: Optional[str] = None
    allow_remote_images: bool = False
    remote_image_bytes: int = 20 << 20
    render_cache_bytes: int = 256 << 20
    png_cache_bytes: int = 128 << 20
    prefix_cache_slots: int = 4
    prefix_cache_tokens: int = 65536

    def check(self) -> "ServeSettings":
        for name in ("max_body_bytes", "max_pages", "max_page_pixels", "max_prompt_tokens",
                     "max_tokens", "default_max_tokens", "queue_size", "max_batch"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InputError(f"serve setting {name} must be a positive integer, got {v!r}")
        for name in ("render_threshold", "render_cache_bytes", "png_cache_bytes",
                     "remote_image_bytes", "prefix_cache_slots",
                     "prefix_cache_tokens"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise InputError(f"serve setting {name} must be an integer >= 0, got {v!r}")
        if not (isinstance(self.timeout_s, (int, float)) and self.timeout_s > 0):
            raise InputError(f"serve setting timeout_s must be > 0 seconds, got {self.timeout_s!r}")
        if self.default_max_tokens > self.max_tokens:
            self.default_max_tokens = self.max_tokens
        if self.image_root is not None:
            root = os.path.realpath(os.fspath(self.image_root))
            if not os.path.isdir(root):
                raise InputError(f"serve setting image_root {self.image_root!r} is not a folder")
            self.image_root = root
        if self.api_key is not None and not self.api_key:
            raise InputError("serve setting api_key is empty (leave it None for no key)")
        if not isinstance(self.model_name, str) or not self.model_name:
            raise InputError("serve setting model_name must be a non-empty string")
        return self
