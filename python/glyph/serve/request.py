"""A ``/v1/chat/completions`` body read and checked: every field known, typed and in range, or an
``ApiError`` (400) that names it. Nothing here renders or generates."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .errors import bad_request
from .settings import ServeSettings

#: Top-level request fields and what is done with them (docs/serve.md lists them).
ACCEPTED = frozenset({
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
    "stream", "stream_options", "seed", "n", "user",
    # vLLM's extensions, the ones Glyph's scripts send (and min_tokens-free neighbours)
    "top_k", "repetition_penalty", "stop_token_ids", "skip_special_tokens",
    "include_stop_str_in_output",
    # accepted only at their neutral value
    "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "logit_bias",
    "response_format",
})

#: Fields refused whatever their value, with the reason given in the 400.
REFUSED = {
    "tools": "tool calls are not supported",
    "tool_choice": "tool calls are not supported",
    "functions": "function calls are not supported",
    "function_call": "function calls are not supported",
    "parallel_tool_calls": "tool calls are not supported",
    "audio": "audio output is not supported",
    "modalities": "only text output is supported",
    "prediction": "predicted outputs are not supported",
}

ROLES = ("system", "user", "assistant")
GLYPH_PART_KEYS = frozenset({"render", "config", "language"})


@dataclass
class TextPart:
    text: str


@dataclass
class RenderPart:
    """Text the server renders into pages (``glyph`` marks it, or the threshold policy does)."""
    text: str
    config: Optional[Dict[str, Any]] = None  # Glyph keys over the server's config
    language: Optional[str] = None
    param: str = ""


@dataclass
class ImagePart:
    url: str
    param: str = ""


@dataclass
class Message:
    role: str
    parts: List[Any]


@dataclass
class Sampling:
    max_tokens: int
    temperature: Optional[float] = None
    top_p: Optional[float] = None
    top_k: Optional[int] = None
    repetition_penalty: Optional[float] = None
    seed: Optional[int] = None
    stop: List[str] = field(default_factory=list)
    stop_token_ids: List[int] = field(default_factory=list)
    skip_special_tokens: bool = True
    include_stop_str_in_output: bool = False
    max_tokens_given: bool = False

    def greedy(self, defaults: Dict[str, Any]) -> bool:
        """Whether this asks for greedy decoding: temperature 0 (or under 1e-3, as Glyph's
        0.0001), top_k 1, or, nothing given, the model's defaults say so."""
        if self.top_k == 1:
            return True
        if self.temperature is not None:
            return self.temperature < 1e-3
        return not defaults.get("do_sample", False)


@dataclass
class ChatCall:
    model: str
    messages: List[Message]
    sampling: Sampling
    stream: bool = False
    include_usage: bool = False


def _unicode(text: str, where: str) -> str:
    """``text`` if it is valid Unicode (JSON's \\ud800 escapes can make lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise bad_request(where, f"holds a lone surrogate (U+{ord(text[e.start]):04X} at "
                          f"{e.start}): not valid Unicode", "invalid_unicode") from None
    return text


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(float(v)))


def _number(body, key, lo, hi, *, lo_open=False):
    v = body.get(key)
    if v is None:
        return None
    if not _is_num(v):
        raise bad_request(key, f"must be a number, got {type(v).__name__}", "invalid_type")
    v = float(v)
    if v < lo or v > hi or (lo_open and v == lo):
        rng = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
        raise bad_request(key, f"must be in {rng}, got {v}")
    return v


def _integer(body, key, lo, hi):
    v = body.get(key)
    if v is None:
        return None
    if not _is_int(v):
        raise bad_request(key, f"must be an integer, got {type(v).__name__}", "invalid_type")
    if v < lo or v > hi:
        raise bad_request(key, f"must be in [{lo}, {hi}], got {v}")
    return v


def _bool(body, key, default):
    v = body.get(key)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise bad_request(key, f"must be true or false, got {type(v).__name__}", "invalid_type")
    return v


def parse_chat(body: Any, settings: ServeSettings) -> ChatCall:
    """The request, checked. Raises ApiError (400) naming the first bad field."""
    if not isinstance(body, dict):
        raise bad_request(None, f"the request body must be a JSON object, got "
                          f"{type(body).__name__}", "invalid_type")
    for key in body:
        if key in REFUSED:
            raise bad_request(key, REFUSED[key], "unsupported_parameter")
        if key not in ACCEPTED:
            raise bad_request(key, "unknown field (docs/serve.md lists the accepted ones)",
                              "unknown_parameter")
    model = body.get("model", settings.model_name)
    if not isinstance(model, str) or not model:
        raise bad_request("model", "must be a non-empty string", "invalid_type")
    n = _integer(body, "n", 1, 1 << 30)
    if n is not None and n != 1:
        raise bad_request("n", f"only n=1 is supported, got {n}", "unsupported_parameter")
    if body.get("logprobs") not in (None, False):
        raise bad_request("logprobs", "log probabilities are not supported",
                          "unsupported_parameter")
    if body.get("top_logprobs") is not None:
        raise bad_request("top_logprobs", "log probabilities are not supported",
                          "unsupported_parameter")
    if body.get("logit_bias") not in (None, {}):
        raise bad_request("logit_bias", "logit bias is not supported", "unsupported_parameter")
    for key in ("presence_penalty", "frequency_penalty"):
        v = _number(body, key, -2.0, 2.0)
        if v not in (None, 0.0):
            raise bad_request(key, "only 0 is supported (use repetition_penalty)",
                              "unsupported_parameter")
    rf = body.get("response_format")
    if rf is not None and rf != {"type": "text"}:
        raise bad_request("response_format", "only {\"type\": \"text\"} is supported",
                          "unsupported_parameter")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise bad_request("user", "must be a string", "invalid_type")

    mt_key = "max_completion_tokens" if body.get("max_completion_tokens") is not None \
        else "max_tokens"
    max_tokens = _integer(body, mt_key, 1, 1 << 31)
    if max_tokens is not None and max_tokens > settings.max_tokens:
        raise bad_request(mt_key, f"{max_tokens} is more than this server generates "
                          f"(at most {settings.max_tokens}; --max-tokens)")
    sampling = Sampling(
        max_tokens=max_tokens if max_tokens is not None else settings.default_max_tokens,
        max_tokens_given=max_tokens is not None,
        temperature=_number(body, "temperature", 0.0, 2.0),
        top_p=_number(body, "top_p", 0.0, 1.0, lo_open=True),
        top_k=_integer(body, "top_k", -1, 1 << 20),
        repetition_penalty=_number(body, "repetition_penalty", 0.0, 10.0, lo_open=True),
        seed=_integer(body, "seed", -(1 << 63), (1 << 64) - 1),
        skip_special_tokens=_bool(body, "skip_special_tokens", True),
        include_stop_str_in_output=_bool(body, "include_stop_str_in_output", False),
    )
    if sampling.top_k is not None and sampling.top_k < 0:
        sampling.top_k = 0  # vLLM: -1 means no top-k
    stop = body.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise bad_request("stop", "must be a string or a list of strings", "invalid_type")
        if len(stops) > 16:
            raise bad_request("stop", f"at most 16 stop strings, got {len(stops)}")
        if any(not s for s in stops):
            raise bad_request("stop", "stop strings must not be empty")
        for s_ in stops:
            _unicode(s_, "stop")
        sampling.stop = list(stops)
    sti = body.get("stop_token_ids")
    if sti is not None:
        if not isinstance(sti, list) or not all(_is_int(t) and t >= 0 for t in sti):
            raise bad_request("stop_token_ids", "must be a list of non-negative integers",
                              "invalid_type")
        sampling.stop_token_ids = list(sti)
    stream = _bool(body, "stream", False)
    include_usage = False
    so = body.get("stream_options")
    if so is not None:
        if not isinstance(so, dict):
            raise bad_request("stream_options", "must be an object", "invalid_type")
        for k in so:
            if k != "include_usage":
                raise bad_request(f"stream_options.{k}", "unknown field", "unknown_parameter")
        include_usage = _bool(so, "include_usage", False)
    messages = _messages(body.get("messages"), settings)
    return ChatCall(model=model, messages=messages, sampling=sampling, stream=stream,
                    include_usage=include_usage)


def _messages(raw: Any, settings: ServeSettings) -> List[Message]:
    if raw is None:
        raise bad_request("messages", "is required", "missing_field")
    if not isinstance(raw, list) or not raw:
        raise bad_request("messages", "must be a non-empty list of messages", "invalid_type")
    out: List[Message] = []
    for i, m in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise bad_request(where, "must be an object", "invalid_type")
        role = m.get("role")
        if role not in ROLES:
            raise bad_request(f"{where}.role", f"must be one of {', '.join(ROLES)}, got "
                              f"{role!r}", "invalid_value")
        for k in m:
            if k not in ("role", "content", "name"):
                raise bad_request(f"{where}.{k}", "is not supported in a message",
                                  "unsupported_parameter")
        content = m.get("content")
        parts: List[Any] = []
        if isinstance(content, str):
            parts.append(_text(content, None, role, f"{where}.content", settings))
        elif isinstance(content, list):
            if not content:
                raise bad_request(f"{where}.content", "is an empty list")
            for j, p in enumerate(content):
                parts.append(_part(p, role, f"{where}.content[{j}]", settings))
        else:
            raise bad_request(f"{where}.content", "must be a string or a list of content parts",
                              "invalid_type" if content is not None else "missing_field")
        out.append(Message(role, parts))
    if out[-1].role == "assistant":
        raise bad_request(f"messages[{len(out) - 1}].role", "the last message must not be the "
                          "assistant's (continuing a reply is not supported)")
    return out


def _part(p: Any, role: str, where: str, settings: ServeSettings):
    if not isinstance(p, dict):
        raise bad_request(where, "must be an object", "invalid_type")
    kind = p.get("type")
    if kind == "text":
        for k in p:
            if k not in ("type", "text", "glyph"):
                raise bad_request(f"{where}.{k}", "unknown field in a text part",
                                  "unknown_parameter")
        text = p.get("text")
        if not isinstance(text, str):
            raise bad_request(f"{where}.text", "must be a string", "invalid_type")
        return _text(text, p.get("glyph"), role, where, settings)
    if kind == "image_url":
        if role != "user":
            raise bad_request(where, f"images are only read in user messages, not {role}")
        for k in p:
            if k not in ("type", "image_url"):
                raise bad_request(f"{where}.{k}", "unknown field in an image part",
                                  "unknown_parameter")
        iu = p.get("image_url")
        url = iu.get("url") if isinstance(iu, dict) else iu
        if not isinstance(url, str) or not url:
            raise bad_request(f"{where}.image_url.url", "must be a non-empty string",
                              "invalid_type")
        return ImagePart(_unicode(url, f"{where}.image_url.url"), where)
    raise bad_request(f"{where}.type", f"must be 'text' or 'image_url', got {kind!r}",
                      "unsupported_parameter")


def _text(text: str, glyph_obj: Any, role: str, where: str, settings: ServeSettings):
    _unicode(text, where if where.endswith("content") else f"{where}.text")
    if glyph_obj is None:
        if role == "user" and settings.render_threshold and len(text) >= settings.render_threshold:
            return RenderPart(text, None, None, where)
        return TextPart(text)
    gw = f"{where}.glyph"
    if not isinstance(glyph_obj, dict):
        raise bad_request(gw, "must be an object {render, config, language}", "invalid_type")
    for k in glyph_obj:
        if k not in GLYPH_PART_KEYS:
            raise bad_request(f"{gw}.{k}", "unknown field (render, config, language)",
                              "unknown_parameter")
    render = glyph_obj.get("render", True)
    if not isinstance(render, bool):
        raise bad_request(f"{gw}.render", "must be true or false", "invalid_type")
    cfg = glyph_obj.get("config")
    if cfg is not None and not isinstance(cfg, dict):
        raise bad_request(f"{gw}.config", "must be an object of Glyph config keys",
                          "invalid_type")
    lang = glyph_obj.get("language")
    if lang is not None and (not isinstance(lang, str) or not lang):
        raise bad_request(f"{gw}.language", "must be a language code such as 'en' or 'zh'",
                          "invalid_type")
    if not render:
        if cfg is not None or lang is not None:
            raise bad_request(gw, "config and language only apply to a part that is rendered")
        return TextPart(text)
    if role != "user":
        raise bad_request(gw, f"only user text is rendered, not {role}")
    if not text:
        raise bad_request(f"{where}.text", "a part to render is empty")
    return RenderPart(text, cfg, lang, where)
