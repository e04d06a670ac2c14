"""From a checked request to what an engine sends the model: rendered pages and images, with
the page caches and the numbers of the ``glyph`` usage block.

Caches (all bounded, least recently used out, thread-safe):

- renders: (config, text) -> pages. A conversation sends its long context again every turn;
  the same text with the same config is not rendered again (the pages are the ones rendered
  the first time, hence identical to a full render).
- data URLs (proxy engine): page pixels -> base64 PNG. A page identical to one already encoded
  (also a page of a *grown* context: the renderer lays a text out from its start, so the pages
  before the changed part come out the same) is not encoded again.
- vision features (local engine): the model's own content-keyed cache
  (``Glm4v.feature_cache_stats``): an identical page is not run through the vision tower again.

Text that changed is rasterised again in full: the renderer has no way to redraw only the pages
a change touches (it is fast: hundreds of pages a second).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote, urlparse

from .. import chat
from .._core import ConfigError, FontError, GlyphError, InputError, RenderConfig
from ..render import Renderer, as_config
from .errors import ApiError, bad_request
from .request import ChatCall, ImagePart, RenderPart, TextPart
from .settings import ServeSettings

#: Config keys a request may not set: they name files on the server.
SERVER_ONLY_KEYS = frozenset(f.key for f in RenderConfig.fields()
                             if f.kind in ("path", "path-list"))

#: Characters of a text langdetect looks at (the start says enough; langdetect takes about
#: 50 ms on 8,000 characters, so each text's answer is also cached).
DETECT_CHARS = 4000


class LRU:
    """A byte-bounded least-recently-used map."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._d: "OrderedDict[Any, Tuple[Any, int]]" = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            item = self._d.get(key)
            if item is None:
                self.misses += 1
                return None
            self._d.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key, value, size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._d.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._d[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes and self._d:
                _, (_, s) = self._d.popitem(last=False)
                self.bytes -= s

    def __len__(self) -> int:
        return len(self._d)


def page_key(pixels) -> bytes:
    """A 128-bit hash of a page's (or image's) pixels and shape."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(tuple(pixels.shape)).encode())
    h.update(memoryview(pixels).cast("B") if pixels.flags.c_contiguous else pixels.tobytes())
    return h.digest()


@dataclass
class Usage:
    """The ``glyph`` block of ``usage``."""
    rendered_parts: int = 0
    pages: int = 0
    visual_tokens: int = 0
    text_tokens: Optional[int] = 0
    characters: int = 0
    pages_from_cache: int = 0
    images: int = 0

    def to_dict(self) -> Dict[str, Any]:
        out = {"rendered_parts": self.rendered_parts, "pages": self.pages,
               "visual_tokens": self.visual_tokens, "text_tokens": self.text_tokens,
               "compression": None, "characters": self.characters,
               "pages_from_cache": self.pages_from_cache, "images": self.images}
        if self.text_tokens is not None and self.visual_tokens:
            out["compression"] = self.text_tokens / self.visual_tokens
        return out


@dataclass
class Image:
    """A page or an image as it goes to an engine: pixels (H, W, 3) uint8 for the local engine;
    ``url`` (a data URL) for the proxy."""
    pixels: Any = None
    url: Optional[str] = None
    page: Any = None  # the glyph.Page, for rendered pages


@dataclass
class Prepared:
    """Messages as (role, [str | Image, ...]) and the usage block."""
    messages: List[Tuple[str, List[Any]]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    render_seconds: float = 0.0
    pages_rendered: int = 0  # pages rasterised for this request (not from the cache)
    prompt: Any = None  # local engine: (ids, (pixel_values, grid_thw)), built off the event loop


class _TooManyPages(Exception):
    pass


class PageStore:
    """Renders parts with the server's policy and keeps the caches."""

    def __init__(self, settings: ServeSettings, tokenizer: Any = None):
        self.settings = settings
        self.tokenizer = tokenizer
        self._fixed = as_config(settings.render_config) if settings.render_config is not None \
            else None
        self._lang_configs: Dict[bool, RenderConfig] = {}
        self._renderers: "OrderedDict[str, Renderer]" = OrderedDict()
        self._lock = threading.Lock()
        self.renders = LRU(settings.render_cache_bytes)
        self.urls = LRU(settings.png_cache_bytes)
        self._detect_lock = threading.Lock()
        self._languages: "OrderedDict[bytes, str]" = OrderedDict()

    # ---- configs

    def base_config(self, part: RenderPart) -> RenderConfig:
        if self._fixed is not None:  # --config: one config for every part
            return self._fixed
        if part.language is not None:
            lang = part.language
        else:
            head = part.text[:DETECT_CHARS]
            hk = hashlib.blake2b(head.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            with self._detect_lock:  # langdetect's seed is global
                lang = self._languages.get(hk)
                if lang is None:
                    lang = chat.detect_language(head)
                    self._languages[hk] = lang
                    while len(self._languages) > 4096:
                        self._languages.popitem(last=False)
        zh = chat.is_chinese(lang)
        with self._lock:
            cfg = self._lang_configs.get(zh)
        if cfg is None:
            try:
                cfg = chat.glyph_config("zh" if zh else "en")
            except FontError as e:
                raise ApiError(503, f"{part.param}: Chinese text needs a CJK font on the "
                               f"server: {e}", param=part.param, code="no_cjk_font") from None
            with self._lock:
                self._lang_configs[zh] = cfg
        return cfg

    def config_for(self, part: RenderPart) -> RenderConfig:
        base = self.base_config(part)
        if not part.config:
            return base
        where = f"{part.param}.glyph.config"
        for k in part.config:
            if k in SERVER_ONLY_KEYS:
                raise bad_request(f"{where}.{k}", "names a file on the server; fonts are the "
                                  "server's choice (glyph serve --config)", "forbidden_key")
        merged = base.to_dict()
        merged.update(part.config)
        try:
            cfg = RenderConfig.from_dict(merged)
            cfg.validate()
        except (ConfigError, InputError, TypeError, ValueError) as e:
            raise bad_request(where, str(e), "invalid_config") from None
        w, h = (float(x) for x in str(cfg.to_dict()["page-size"]).split(","))
        px = (w * cfg.dpi / 72.0) * (h * cfg.dpi / 72.0)
        if px > self.settings.max_page_pixels:
            raise bad_request(where, f"a page of {w:g}x{h:g} pt at {cfg.dpi:g} dpi has "
                              f"{px:,.0f} pixels, more than this server renders "
                              f"({self.settings.max_page_pixels:,}; --max-page-pixels)")
        return cfg

    def renderer(self, cfg: RenderConfig) -> Tuple[str, Renderer]:
        key = cfg.to_json(-1)
        with self._lock:
            r = self._renderers.get(key)
            if r is not None:
                self._renderers.move_to_end(key)
                return key, r
        r = Renderer(cfg)  # opens the fonts (outside the lock)
        with self._lock:
            self._renderers[key] = r
            while len(self._renderers) > 16:
                self._renderers.popitem(last=False)
        return key, r

    # ---- rendering

    def render(self, part: RenderPart, budget: int) -> Tuple[List[Any], bool]:
        """(pages, from_cache) of one part; at most ``budget`` pages (else 400)."""
        cfg = self.config_for(part)
        key, renderer = self.renderer(cfg)
        ck = hashlib.blake2b(key.encode() + b"\0" + part.text.encode("utf-8", "surrogatepass"),
                             digest_size=16).digest()
        pages = self.renders.get(ck)
        if pages is not None:
            if len(pages) > budget:
                raise self._too_many(part)
            return list(pages), True
        out: List[Any] = []

        def keep(page) -> None:
            out.append(page)
            if len(out) > budget:
                raise _TooManyPages()

        try:
            renderer.render_each(part.text, keep)
        except _TooManyPages:
            raise self._too_many(part) from None
        except GlyphError as e:
            raise bad_request(part.param, f"cannot render this text: {e}", "render_failed") \
                from None
        size = sum(p.width * p.height * 3 for p in out) + len(part.text)
        self.renders.put(ck, tuple(out), size)
        return out, False

    def _too_many(self, part: RenderPart) -> ApiError:
        return ApiError(400, f"{part.param}: the request renders into more than "
                        f"{self.settings.max_pages} pages (--max-pages); send less text or a "
                        "denser config", param=part.param, code="too_many_pages")

    def data_url(self, page) -> str:
        px = page.pixels
        k = page_key(px)
        url = self.urls.get(k)
        if url is None:
            url = chat.image_data_url(page)
            self.urls.put(k, url, len(url))
        return url

    # ---- images

    def image_bytes(self, part: ImagePart) -> bytes:
        url = part.url
        where = f"{part.param}.image_url.url"
        if url.startswith("data:"):
            head, sep, data = url.partition(",")
            if not sep or ";base64" not in head:
                raise bad_request(where, "a data URL must be data:<mime>;base64,<data>")
            try:
                return base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError) as e:
                raise bad_request(where, f"the data URL's base64 is invalid: {e}") from None
        parsed = urlparse(url)
        if parsed.scheme == "file":
            # file:///abs/path, or file://rel/path (relative to the image root)
            host = "" if parsed.netloc in ("", "localhost") else parsed.netloc
            return self._local_file(unquote(host + parsed.path), where)
        if parsed.scheme in ("http", "https"):
            if not self.settings.allow_remote_images:
                raise bad_request(where, "remote image URLs are not fetched by this server "
                                  "(glyph serve --allow-remote-images); send a data URL",
                                  "remote_url_refused")
            return self._fetch(url, where)
        raise bad_request(where, "must be a data: URL, a file:// URL under the server's image "
                          "root, or (when enabled) an http(s) URL")

    def _local_file(self, path: str, where: str) -> bytes:
        root = self.settings.image_root
        if root is None:
            raise bad_request(where, "local image paths are refused (the server has no "
                              "--image-root)", "local_path_refused")
        full = path if os.path.isabs(path) else os.path.join(root, path)
        real = os.path.realpath(full)  # resolves '..' and every symlink
        if os.path.commonpath([real, root]) != root:
            raise bad_request(where, "the path lies outside the server's image root",
                              "path_outside_root")
        try:
            size = os.path.getsize(real)
            if size > self.settings.max_body_bytes:
                raise bad_request(where, f"the image file is {size} bytes, more than "
                                  f"{self.settings.max_body_bytes}")
            with open(real, "rb") as f:
                return f.read()
        except OSError as e:
            raise bad_request(where, f"cannot read the image file: {e.strerror}") from None

    def _fetch(self, url: str, where: str) -> bytes:
        import httpx

        cap = self.settings.remote_image_bytes
        try:
            with httpx.stream("GET", url, timeout=10.0, follow_redirects=False) as r:
                if r.status_code != 200:
                    raise bad_request(where, f"fetching the image gave HTTP {r.status_code}")
                buf = bytearray()
                for chunk in r.iter_bytes():
                    buf += chunk
                    if len(buf) > cap:
                        raise bad_request(where, f"the remote image is over {cap} bytes")
                return bytes(buf)
        except httpx.HTTPError as e:
            raise bad_request(where, f"cannot fetch the image: {e}") from None

    def image_pixels(self, data: bytes, where: str):
        try:
            from PIL import Image as PILImage
        except ImportError:  # pragma: no cover - pillow is a dependency
            raise ApiError(503, "reading images needs Pillow on the server") from None
        import numpy as np

        try:
            with PILImage.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w * h > self.settings.max_page_pixels:
                    raise bad_request(where, f"the image has {w}x{h} pixels, more than "
                                      f"{self.settings.max_page_pixels:,} (--max-page-pixels)")
                return np.ascontiguousarray(np.asarray(im.convert("RGB")))
        except ApiError:
            raise
        except Exception as e:  # PIL raises many types on bad data
            raise bad_request(where, f"the image cannot be decoded: {e}", "bad_image") from None

    # ---- a whole request

    def prepare(self, call: ChatCall, *, want: str) -> Prepared:
        """Render and load what ``call`` holds. ``want``: "pixels" (local engine) or "urls"
        (proxy)."""
        import time

        t0 = time.perf_counter()
        prep = Prepared()
        u = prep.usage
        count = 0
        text_tokens: Optional[int] = 0 if self.tokenizer is not None else None
        for m in call.messages:
            items: List[Any] = []
            for p in m.parts:
                if isinstance(p, TextPart):
                    items.append(p.text)
                elif isinstance(p, RenderPart):
                    pages, cached = self.render(p, self.settings.max_pages - count)
                    count += len(pages)
                    u.rendered_parts += 1
                    u.pages += len(pages)
                    u.visual_tokens += sum(int(pg.visual_tokens) for pg in pages)
                    u.characters += len(p.text)
                    if cached:
                        u.pages_from_cache += len(pages)
                    else:
                        prep.pages_rendered += len(pages)
                    if text_tokens is not None:
                        text_tokens += int(self.tokenizer.count(p.text))
                    for pg in pages:
                        if want == "pixels":
                            items.append(Image(pixels=pg.pixels, page=pg))
                        else:
                            items.append(Image(url=self.data_url(pg), page=pg))
                else:
                    count += 1
                    if count > self.settings.max_pages:
                        raise ApiError(400, f"{p.param}: the request holds more than "
                                       f"{self.settings.max_pages} pages and images "
                                       "(--max-pages)", param=p.param, code="too_many_pages")
                    data = self.image_bytes(p)
                    u.images += 1
                    where = f"{p.param}.image_url.url"
                    if want == "pixels":
                        items.append(Image(pixels=self.image_pixels(data, where)))
                    else:
                        try:
                            items.append(Image(url=chat.image_data_url(data)))
                        except (InputError, ImportError) as e:
                            raise bad_request(where, str(e), "bad_image") from None
            prep.messages.append((m.role, items))
        u.text_tokens = text_tokens
        prep.render_seconds = time.perf_counter() - t0
        return prep


__all__ = ["PageStore", "Prepared", "Usage", "Image", "LRU", "page_key", "SERVER_ONLY_KEYS"]
