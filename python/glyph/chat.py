"""OpenAI chat requests that carry rendered pages, and the replies that come back.

One module for every part of glyphcpp that talks to a vision-language model through the OpenAI chat
API (``glyph eval``'s HTTP backend, ``glyph serve``'s request handling and proxy engine, the
notebooks), so that they all build the request Glyph's own evaluation builds and read replies the
same way:

    from glyph import chat
    cfg = chat.glyph_config(chat.detect_language(context))      # config_en / config_zh
    pages = glyph.Renderer(cfg).render(context).pages
    body = chat.chat_request(pages, question, model="glyph")     # JSON body for /v1/chat/completions
    reply = chat.parse_chat_response(http_response_json)         # .content, .reasoning, .prompt_tokens

What Glyph's evaluation sends (../shared/docs/EVALUATION.md, in our words): one user message whose
content is the pages as ``image_url`` parts holding base64 PNG data URLs, then one text part (the
question); images over 36,000,000 pixels are first scaled down with Lanczos; sampling is nearly
greedy with a repetition penalty and GLM's stop ids (``GLYPH_SAMPLING``; the vLLM extensions
``top_k``, ``repetition_penalty``, ``stop_token_ids``, ``skip_special_tokens`` and
``include_stop_str_in_output`` are listed in ``VLLM_EXTENSIONS`` so that a client talking to a
server without them can leave them out).

Nothing here does HTTP (callers choose their client) and nothing imports torch.
"""
from __future__ import annotations

import base64
import io
import json
import math
import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from ._core import (FontError, InputError, RenderConfig, encode_png, find_cjk_font,
                    split_reasoning)

__all__ = [
    "GLYPH_SAMPLING", "STOP_TOKEN_IDS", "VLLM_EXTENSIONS", "OPENAI_SAMPLING_KEYS", "MAX_PIXELS",
    "ChatResponseError", "ChatReply", "sampling_params", "image_data_url", "image_part",
    "text_part", "page_message", "chat_request", "text_request", "parse_chat_response",
    "detect_language", "is_chinese", "glyph_config",
]

#: GLM-4.1V's end-of-turn ids: <|user|>, <|endoftext|>, <|observation|>.
STOP_TOKEN_IDS = (151329, 151348, 151336)

#: The request parameters Glyph's evaluation sends (read-only; copy with ``sampling_params()``).
GLYPH_SAMPLING: Mapping[str, Any] = MappingProxyType({
    "max_tokens": 8192,
    "temperature": 0.0001,
    "top_p": 1.0,
    "top_k": 1,
    "repetition_penalty": 1.1,
    "skip_special_tokens": False,
    "stop_token_ids": list(STOP_TOKEN_IDS),
    "include_stop_str_in_output": True,
})

#: Sampling keys of vLLM's (and SGLang's) OpenAI server that the OpenAI API itself does not define.
VLLM_EXTENSIONS = frozenset({
    "top_k", "min_p", "repetition_penalty", "stop_token_ids", "skip_special_tokens",
    "include_stop_str_in_output", "min_tokens", "ignore_eos",
})

#: Sampling keys of the OpenAI chat API itself.
OPENAI_SAMPLING_KEYS = frozenset({
    "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed", "n",
    "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "logit_bias",
})

#: Images with more pixels than this are scaled down (Lanczos) before they are sent, as Glyph does.
MAX_PIXELS = 36_000_000


class ChatResponseError(InputError):
    """A reply that cannot be used: not JSON, an error object (also under HTTP 200), no
    ``choices``, or no message text. ``reason`` is a short machine-readable cause
    (``"not_json"``, ``"error_body"``, ``"no_choices"``, ``"no_content"``); ``body`` the reply as
    received (text, truncated to 2,000 characters)."""

    def __init__(self, reason: str, message: str, body: str = ""):
        super().__init__(message)
        self.reason = reason
        self.body = body[:2000]


@dataclass
class ChatReply:
    """What ``parse_chat_response`` read from a chat completion.

    ``text`` is the message as the model wrote it (reasoning included when the server left it in);
    ``content`` the answer without the reasoning; ``reasoning`` the ``<think>`` part (from the
    server's ``reasoning_content`` when it split it, else split here with
    ``glyph.split_reasoning``). Token counts are the server's ``usage`` (None when absent)."""

    text: str
    content: str
    reasoning: str = ""
    finish_reason: Optional[str] = None
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    model: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


def sampling_params(overrides: Optional[Mapping[str, Any]] = None, *,
                    vllm_extensions: bool = True) -> Dict[str, Any]:
    """Glyph's request parameters updated by ``overrides`` (a key set to None is removed).
    ``vllm_extensions=False`` leaves out the keys in ``VLLM_EXTENSIONS``, for servers that would
    reject them (the official OpenAI API does)."""
    params: Dict[str, Any] = {k: (list(v) if isinstance(v, list) else v)
                              for k, v in GLYPH_SAMPLING.items()}
    for k, v in (overrides or {}).items():
        if not isinstance(k, str):
            raise InputError(f"request parameter names are strings, got {k!r}")
        if v is None:
            params.pop(k, None)
        elif isinstance(v, float) and not math.isfinite(v):  # JSON has no token for it
            raise InputError(f"request parameter '{k}' must be a finite number, got {v!r}")
        else:
            params[k] = v
    if not vllm_extensions:
        params = {k: v for k, v in params.items() if k not in VLLM_EXTENSIONS}
    return params


def _sniff_mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise InputError("image bytes are not PNG, JPEG, GIF or WebP (first bytes "
                     f"{data[:8]!r})")


def _scaled_size(width: int, height: int, max_pixels: int) -> Optional[tuple]:
    if max_pixels <= 0 or width * height <= max_pixels:
        return None
    scale = math.sqrt(max_pixels / float(width * height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _pil_png(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("scaling or converting this image needs Pillow: pip install pillow "
                          "(glyphcpp's 'pil' extra)") from None
    return Image


def _png_size(data: bytes) -> Optional[tuple]:
    # A PNG's IHDR (the first chunk) holds width and height: no decoder needed to read them.
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return None


def image_data_url(image: Any, *, max_pixels: int = MAX_PIXELS) -> str:
    """A ``data:`` URL (base64) for one image: a ``glyph.Page``, a PIL image, an (H, W, 3) uint8
    array, encoded image bytes (PNG, JPEG, GIF, WebP) or the path of an image file. Pages and
    arrays become PNG with glyphcpp's encoder; encoded bytes and files are sent as they are. An
    image of more than ``max_pixels`` pixels is scaled down with Lanczos (keeping the aspect ratio)
    and sent as PNG (``max_pixels`` 0: never scaled). Pages, arrays and PNG files under the cap
    need no Pillow."""
    if hasattr(image, "to_png_bytes") and hasattr(image, "width") and hasattr(image, "height"):
        if _scaled_size(int(image.width), int(image.height), max_pixels) is None:
            return "data:image/png;base64," + base64.b64encode(image.to_png_bytes()).decode()
        return _pil_data_url(image.to_pil(), max_pixels)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _bytes_data_url(bytes(image), max_pixels)
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise InputError(f"image file {path!r}: {e.strerror or e}") from None
        return _bytes_data_url(data, max_pixels)
    if hasattr(image, "shape") and hasattr(image, "dtype"):
        import numpy as np

        arr = np.asarray(image)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise InputError(f"an image array must be (height, width, 3) uint8, got shape "
                             f"{tuple(arr.shape)} dtype {arr.dtype}")
        if _scaled_size(arr.shape[1], arr.shape[0], max_pixels) is None:
            png = encode_png(np.ascontiguousarray(arr))
            return "data:image/png;base64," + base64.b64encode(png).decode()
        return _pil_data_url(_pil().fromarray(arr, "RGB"), max_pixels)
    if hasattr(image, "resize") and hasattr(image, "mode") and hasattr(image, "size"):
        return _pil_data_url(image, max_pixels)  # a PIL image
    raise InputError(f"cannot send {type(image).__name__} as an image (a glyph.Page, PIL "
                     "image, (H, W, 3) uint8 array, image bytes or a file path)")


def _bytes_data_url(data: bytes, max_pixels: int) -> str:
    mime = _sniff_mime(data)
    size = _png_size(data)
    if size is not None and _scaled_size(size[0], size[1], max_pixels) is None:
        return f"data:{mime};base64," + base64.b64encode(data).decode()
    Image = _pil()
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if _scaled_size(probe.size[0], probe.size[1], max_pixels) is None:
                return f"data:{mime};base64," + base64.b64encode(data).decode()
            img = probe.convert("RGB")
    except (OSError, ValueError) as e:
        raise InputError(f"image bytes ({mime}) cannot be decoded: {e}") from None
    return _pil_data_url(img, max_pixels)


def _pil_data_url(img: Any, max_pixels: int) -> str:
    Image = _pil()
    target = _scaled_size(img.width, img.height, max_pixels)
    if target is not None:
        img = img.resize(target, Image.LANCZOS)
    if img.mode not in ("RGB", "L", "RGBA", "P"):
        img = img.convert("RGB")
    return "data:image/png;base64," + base64.b64encode(_pil_png(img)).decode()


def image_part(image: Any, *, max_pixels: int = MAX_PIXELS) -> Dict[str, Any]:
    """One ``{"type": "image_url", ...}`` content part (see ``image_data_url``)."""
    return {"type": "image_url", "image_url": {"url": image_data_url(image, max_pixels=max_pixels)}}


def text_part(text: str) -> Dict[str, Any]:
    """One ``{"type": "text", ...}`` content part."""
    if not isinstance(text, str):
        raise InputError(f"a text part must be a string, got {type(text).__name__}")
    return {"type": "text", "text": text}


def page_message(images: Iterable[Any], text: str, *, role: str = "user",
                 max_pixels: int = MAX_PIXELS) -> Dict[str, Any]:
    """Glyph's message: every image as an ``image_url`` part, in order, then ``text``."""
    parts: List[Dict[str, Any]] = [image_part(im, max_pixels=max_pixels) for im in images]
    parts.append(text_part(text))
    return {"role": role, "content": parts}


def require_http_url(url: Any, what: str) -> str:
    """`url` when it is an http(s) URL (a server glyph talks to: eval's backends, serve's upstream),
    else an InputError saying `what` it was for."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InputError(f"{what} must be the http:// or https:// URL of an OpenAI-compatible "
                         f"server, got {url!r}")
    return url


def _check_model(model: str) -> str:
    if not isinstance(model, str) or not model:
        raise InputError(f"model must be a non-empty string (the served model's name), got {model!r}")
    return model


def chat_request(images: Iterable[Any], text: str, *, model: str,
                 params: Optional[Mapping[str, Any]] = None, vllm_extensions: bool = True,
                 stream: bool = False, history: Sequence[Mapping[str, Any]] = (),
                 max_pixels: int = MAX_PIXELS) -> Dict[str, Any]:
    """The JSON body of a ``/v1/chat/completions`` request for pages + question, with Glyph's
    parameters (``sampling_params(params, vllm_extensions=...)``). ``history`` holds earlier
    messages (OpenAI dicts) to put before the page message."""
    body: Dict[str, Any] = {
        "model": _check_model(model),
        "messages": [dict(m) for m in history] + [page_message(images, text,
                                                               max_pixels=max_pixels)],
    }
    body.update(sampling_params(params, vllm_extensions=vllm_extensions))
    if stream:
        body["stream"] = True
    return body


def text_request(prompt: str, *, model: str, params: Optional[Mapping[str, Any]] = None,
                 vllm_extensions: bool = True, stream: bool = False) -> Dict[str, Any]:
    """The same request for a text-only model: one user message holding ``prompt`` as a string
    (the text baseline of an evaluation)."""
    body: Dict[str, Any] = {"model": _check_model(model),
                            "messages": [{"role": "user", "content": text_part(prompt)["text"]}]}
    body.update(sampling_params(params, vllm_extensions=vllm_extensions))
    if stream:
        body["stream"] = True
    return body


def _int_or_none(v: Any) -> Optional[int]:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def parse_chat_response(body: Union[bytes, str, Mapping[str, Any]]) -> ChatReply:
    """Read a (non-streamed) chat completion. Raises ``ChatResponseError`` naming the cause when
    the body is not JSON, carries an ``error`` object (servers do that under HTTP 200 too), has no
    ``choices`` or no message text. The first choice is read."""
    text_body = ""
    if isinstance(body, (bytes, bytearray)):
        text_body = bytes(body).decode("utf-8", "replace")
    elif isinstance(body, str):
        text_body = body
    elif not isinstance(body, Mapping):  # a caller's slip (None, a list, a Response object)
        raise TypeError(f"parse_chat_response takes the reply's body as bytes, str or a dict, "
                        f"not {type(body).__name__}")
    if not isinstance(body, Mapping):
        try:
            obj = json.loads(text_body)
        except ValueError as e:
            raise ChatResponseError("not_json", f"the reply is not JSON ({e}): "
                                    f"{text_body[:200]!r}", text_body) from None
    else:
        obj = body
        text_body = json.dumps(obj, default=str)[:2000]
    if not isinstance(obj, Mapping):
        raise ChatResponseError("not_json", f"the reply is JSON but not an object: "
                                f"{text_body[:200]!r}", text_body)
    err = obj.get("error")
    if err:
        msg = err.get("message", err) if isinstance(err, Mapping) else err
        raise ChatResponseError("error_body", f"the server answered with an error: {msg}",
                                text_body)
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ChatResponseError("no_choices", "the reply has no 'choices' "
                                f"({text_body[:200]!r})", text_body)
    first = choices[0] if isinstance(choices[0], Mapping) else {}
    message = first.get("message")
    if not isinstance(message, Mapping):
        raise ChatResponseError("no_content", "the reply's first choice has no 'message'",
                                text_body)
    content = message.get("content")
    server_reasoning = message.get("reasoning_content") or message.get("reasoning")
    if content is None and not server_reasoning:
        raise ChatResponseError("no_content", "the reply's message has no 'content'", text_body)
    if content is not None and not isinstance(content, str):
        raise ChatResponseError("no_content", "the reply's message content is not a string",
                                text_body)
    content = content or ""
    if isinstance(server_reasoning, str) and server_reasoning:
        raw_text = f"<think>{server_reasoning}</think>{content}"
        reasoning, answer = server_reasoning.strip(), split_reasoning(content).content
    else:
        raw_text = content
        split = split_reasoning(content)
        reasoning, answer = split.reasoning, split.content
    usage = obj.get("usage") if isinstance(obj.get("usage"), Mapping) else {}
    return ChatReply(text=raw_text, content=answer, reasoning=reasoning,
                     finish_reason=first.get("finish_reason"),
                     prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
                     completion_tokens=_int_or_none(usage.get("completion_tokens")),
                     model=obj.get("model") if isinstance(obj.get("model"), str) else None,
                     raw=dict(obj))


def detect_language(text: str, *, seed: int = 0, default: str = "en") -> str:
    """The language code ``langdetect`` gives ``text`` (``"en"``, ``"zh-cn"``, ...), seeded so
    the same text always gets the same answer (langdetect is random otherwise). Text without
    letters to go on gives ``default``. Needs ``pip install langdetect`` (in glyphcpp's ``eval``
    extra)."""
    try:
        from langdetect import DetectorFactory, detect
        from langdetect.lang_detect_exception import LangDetectException
    except ImportError:
        raise ImportError("glyph.chat.detect_language needs langdetect: "
                          "pip install 'glyphcpp[eval]' (or pip install langdetect)") from None
    DetectorFactory.seed = int(seed)
    try:
        return str(detect(text))
    except LangDetectException:
        return default


def is_chinese(language: str) -> bool:
    """Glyph's rule: a ``zh*`` language code gets the Chinese config."""
    return str(language).lower().startswith("zh")


def glyph_config(language: str = "en", *, cjk_font: Optional[str] = None) -> RenderConfig:
    """Glyph's rendering config for a language: ``config_en.json`` (``RenderConfig.glyph_default``,
    shipped DejaVu Sans with a CJK fallback when one is installed) for anything but Chinese;
    ``config_zh.json`` for ``zh*``: the same layout with a CJK font as the main font (Glyph uses
    Source Han Sans), ``cjk_font`` or the one ``glyph.find_cjk_font()`` finds, DejaVu Sans as its
    fallback. Raises ``FontError`` naming the fix when Chinese is asked for and no CJK font is
    found."""
    cfg = RenderConfig.glyph_default()
    if not is_chinese(language):
        return cfg
    font = cjk_font or find_cjk_font()
    if not font:
        raise FontError("Chinese text needs a CJK font and none was found: install one (Debian: "
                        "apt-get install fonts-noto-cjk) or pass cjk_font='/path/to/font.otf'")
    if not os.path.exists(font):
        raise FontError(f"cjk_font {font!r} does not exist")
    main = cfg.font_path
    cfg.font_path = font
    cfg.fallback_font_paths = [main]
    return cfg
