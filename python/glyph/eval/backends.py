"""Where ``glyph eval`` sends its questions: an OpenAI-compatible chat endpoint, or the in-process
GLM-4.1V runtime (``glyph.vlm``).

Both answer ``ask(pages, prompt)`` (pages: ``glyph.Page`` objects, or none for the text baseline)
with a ``Reply``, or raise ``BackendError`` whose ``reason`` is a short machine-readable cause
(``timeout``, ``connect_error``, ``http_500``, ``not_json``, ``error_body``, ``no_choices``,
``no_content``, ...), so that the runner records every failure with its reason.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .. import chat
from .._args import number, whole
from .._core import InputError

__all__ = ["Reply", "BackendError", "HttpBackend", "LocalBackend", "make_backend",
           "chat_completions_url"]


@dataclass
class Reply:
    """One answer: ``text`` as the model wrote it (reasoning included), ``content`` without the
    ``<think>`` part, the prompt tokens (as the server reports them, or as the local model
    counted them), seconds from request to reply, attempts made."""

    text: str
    content: str
    reasoning: str = ""
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    finish_reason: Optional[str] = None
    latency_s: float = 0.0
    attempts: int = 1


class BackendError(Exception):
    """A request that failed for good (after the retries, where retrying made sense)."""

    def __init__(self, reason: str, message: str, attempts: int = 1):
        super().__init__(message)
        self.reason = reason
        self.attempts = attempts


def chat_completions_url(url: str) -> str:
    """``http://host:port``, ``.../v1`` or ``.../v1/chat/completions`` -> the chat completions
    URL."""
    u = url.rstrip("/")
    if u.endswith("/chat/completions"):
        return u
    if u.endswith("/v1"):
        return u + "/chat/completions"
    return u + "/v1/chat/completions"


class HttpBackend:
    """Any OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, SGLang, ``glyph serve``).

    Requests carry Glyph's sampling (``glyph.chat.GLYPH_SAMPLING``) updated by ``params`` (a key
    set to None is dropped); ``vllm_extensions=False`` leaves out the keys only vLLM/SGLang know.
    Timeouts, connection errors, HTTP 429 and 5xx are retried ``retries`` times with exponential
    backoff (``backoff`` seconds, doubling, at most 30 s); other failures are not retried. Thread
    safe: the runner calls ``ask`` from up to ``concurrency`` threads.
    """

    kind = "http"

    def __init__(self, url: str, *, model: Optional[str] = None,
                 params: Optional[Mapping[str, Any]] = None, vllm_extensions: bool = True,
                 timeout: float = 600.0, retries: int = 3, backoff: float = 1.0,
                 api_key: Optional[str] = None, headers: Optional[Mapping[str, str]] = None):
        try:
            import httpx
        except ImportError:  # pragma: no cover - httpx is a dependency of the eval extra
            raise ImportError("glyph eval's HTTP backend needs httpx: pip install 'glyphcpp[eval]'") from None
        chat.require_http_url(url, "backend URL")
        retries = whole("retries", retries, 0)
        timeout, backoff = number("timeout", timeout), number("backoff", backoff)
        if timeout <= 0 or backoff < 0:
            raise InputError(f"backoff must be >= 0 and timeout > 0 (got {backoff}, {timeout})")
        self._httpx = httpx
        self.url = chat_completions_url(url)
        self.params = dict(params or {})
        self.vllm_extensions = vllm_extensions
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        hdrs = {"Content-Type": "application/json"}
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if key:
            hdrs["Authorization"] = f"Bearer {key}"
        hdrs.update(headers or {})
        self._client = httpx.Client(timeout=httpx.Timeout(self.timeout), headers=hdrs,
                                    limits=httpx.Limits(max_connections=256))
        self._model = model
        self._model_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.url

    @property
    def model(self) -> str:
        """The served model's name: given, else the first of ``GET /v1/models``, else "glyph"."""
        with self._model_lock:
            if self._model is None:
                self._model = self._discover_model() or "glyph"
            return self._model

    def _discover_model(self) -> Optional[str]:
        base = self.url[: -len("/chat/completions")]
        try:
            r = self._client.get(base + "/models", timeout=min(self.timeout, 10.0))
            data = r.json().get("data") if r.status_code == 200 else None
            if isinstance(data, list) and data and isinstance(data[0], Mapping):
                mid = data[0].get("id")
                return mid if isinstance(mid, str) and mid else None
        except Exception:  # noqa: BLE001 - any failure here only means "use the default name"
            return None
        return None

    def request_body(self, pages: Sequence[Any], prompt: str) -> Dict[str, Any]:
        if pages:
            return chat.chat_request(pages, prompt, model=self.model, params=self.params,
                                     vllm_extensions=self.vllm_extensions)
        return chat.text_request(prompt, model=self.model, params=self.params,
                                 vllm_extensions=self.vllm_extensions)

    def ask(self, pages: Sequence[Any], prompt: str) -> Reply:
        body = self.request_body(pages, prompt)
        return self.post(body)

    def post(self, body: Mapping[str, Any]) -> Reply:
        httpx = self._httpx
        attempt = 0
        while True:
            attempt += 1
            t0 = time.perf_counter()
            retryable, reason, message = False, "", ""
            try:
                resp = self._client.post(self.url, json=body)
            except httpx.TimeoutException as e:
                retryable, reason = True, "timeout"
                message = f"no answer within {self.timeout:g} s ({type(e).__name__})"
            except httpx.TransportError as e:
                retryable, reason = True, "connect_error"
                message = f"cannot reach {self.url}: {e or type(e).__name__}"
            else:
                latency = time.perf_counter() - t0
                if resp.status_code >= 500 or resp.status_code == 429:
                    retryable, reason = True, f"http_{resp.status_code}"
                    message = f"HTTP {resp.status_code}: {resp.text[:300]!r}"
                elif resp.status_code >= 400:
                    reason = f"http_{resp.status_code}"
                    message = f"HTTP {resp.status_code}: {resp.text[:300]!r}"
                else:
                    try:
                        r = chat.parse_chat_response(resp.content)
                    except chat.ChatResponseError as e:
                        raise BackendError(e.reason, str(e), attempt) from None
                    return Reply(text=r.text, content=r.content, reasoning=r.reasoning,
                                 prompt_tokens=r.prompt_tokens,
                                 completion_tokens=r.completion_tokens,
                                 finish_reason=r.finish_reason, latency_s=latency,
                                 attempts=attempt)
            if not retryable or attempt > self.retries:
                if retryable and self.retries:
                    message += f" (after {attempt} attempts)"
                raise BackendError(reason, message, attempt)
            time.sleep(min(30.0, self.backoff * (2 ** (attempt - 1))))

    def close(self) -> None:
        self._client.close()


# GLM-4.1V's stop ids and Glyph's sampling in the in-process runtime's terms: top_k 1 and a
# temperature of 0.0001 are greedy decoding; the repetition penalty is kept.
def _local_sampling(params: Mapping[str, Any]) -> Dict[str, Any]:
    p = chat.sampling_params(params)
    top_k = whole("top_k", p.get("top_k") or 0)  # 2.5 is refused, not truncated
    temperature = number("temperature", p.get("temperature", 1.0))
    out: Dict[str, Any] = {"max_new_tokens": whole("max_tokens", p.get("max_tokens", 8192)),
                           "repetition_penalty": number("repetition_penalty",
                                                        p.get("repetition_penalty", 1.0))}
    if top_k == 1 or temperature <= 1e-3:  # greedy
        out["do_sample"] = False
    else:
        out.update(do_sample=True, temperature=temperature,
                   top_p=number("top_p", p.get("top_p", 1.0)), top_k=top_k)
    return out


class LocalBackend:
    """The in-process GLM-4.1V runtime (``glyph.vlm``): ``local:CKPT`` loads the checkpoint folder
    (its ``tokenizer.json`` too, unless ``tokenizer`` is given). Glyph's sampling is mapped to the
    runtime's (greedy, repetition penalty 1.1, ``max_tokens`` -> ``max_new_tokens``; override with
    ``params``); the stop ids are Glyph's three plus the checkpoint's own end-of-sequence ids.
    With ``batch_size`` > 1, requests that arrive together (the runner's ``concurrency``) are
    decoded together with ``Glm4v.generate_batch`` (greedy tokens equal one-at-a-time
    generation); a batch that fails is retried one request at a time, so one bad prompt fails
    alone. ``prompt_tokens`` is the prompt's length in tokens, pages included."""

    kind = "local"

    def __init__(self, checkpoint: Any = None, *, model: Any = None, tokenizer: Any = None,
                 device: str = "cpu", dtype: Any = None,
                 params: Optional[Mapping[str, Any]] = None, system: Optional[str] = None,
                 batch_size: int = 1):
        import glyph

        # the request settings first: a bad value fails here, not on every item after the load
        try:
            sampling = _local_sampling(params or {})
            stop_ids = (params or {}).get("stop_token_ids")  # the caller's replace the defaults
            if stop_ids is not None:
                if isinstance(stop_ids, (str, bytes)) or not hasattr(stop_ids, "__iter__"):
                    raise InputError(f"stop_token_ids must be a list of token ids, "
                                     f"not {stop_ids!r}")
                stop_ids = [whole(f"stop_token_ids[{i}]", t) for i, t in enumerate(stop_ids)]
        except (TypeError, ValueError, InputError) as e:
            raise InputError(f"local backend params {dict(params or {})!r}: {e}") from None
        if sampling["max_new_tokens"] < 1:
            raise InputError(f"local backend params: max_tokens must be >= 1, got "
                             f"{sampling['max_new_tokens']}")
        batch_size = whole("batch_size", batch_size, 1)
        if model is None:
            if checkpoint is None:
                raise InputError("LocalBackend needs a checkpoint folder or a loaded model")
            if not os.path.isdir(os.fspath(checkpoint)):
                raise InputError(f"local backend: checkpoint folder {checkpoint!r} does not exist")
            from .. import vlm  # torch comes in here, only for this backend

            model = vlm.Glm4v.from_pretrained(os.fspath(checkpoint), device=device, dtype=dtype)
        if tokenizer is None:
            if checkpoint is None:
                raise InputError("LocalBackend with a model object needs tokenizer=")
            tokenizer = checkpoint
        self.model = model
        self.tokenizer = glyph.load_tokenizer(tokenizer)
        self.checkpoint = os.fspath(checkpoint) if checkpoint is not None else "<model>"
        self.sampling = sampling
        stops = list(chat.STOP_TOKEN_IDS)
        stops += [int(s) for s in model.generation_defaults.get("stop_ids", []) if int(s) not in stops]
        self.sampling.setdefault("stop_ids", stops)
        if stop_ids is not None:
            self.sampling["stop_ids"] = stop_ids
        self.system = system
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._queue: "queue.Queue" = queue.Queue()
        self._worker: Optional[threading.Thread] = None

    @property
    def name(self) -> str:
        return f"local:{self.checkpoint}"

    def _decode(self, ids: List[int]) -> str:
        tok = self.tokenizer
        if hasattr(tok, "decode"):
            try:
                return tok.decode(ids, skip_special_tokens=False)
            except TypeError:
                return tok.decode(ids)
        from .._tokenizers import as_codec

        return as_codec(tok).decode(ids)

    def _one(self, ids, images):
        with self._lock:
            return self.model.generate(ids, images=images, **self.sampling)

    def _serve(self) -> None:
        """The batching thread: takes what is waiting (up to batch_size) and decodes it together."""
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.perf_counter() + 0.01  # let the other in-flight requests arrive
            while len(batch) < self.batch_size:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.perf_counter())))
                except queue.Empty:
                    break
                if batch[-1] is None:
                    batch.pop()
                    self._queue.put(None)
                    break
            try:
                with self._lock:
                    outs = self.model.generate_batch([(b[0], b[1]) for b in batch], **self.sampling)
                for b, o in zip(batch, outs):
                    b[2].set_result(o)
            except Exception:  # noqa: BLE001 - retried alone below, so one bad prompt fails alone
                for b in batch:
                    try:
                        b[2].set_result(self._one(b[0], b[1]))
                    except Exception as e:  # noqa: BLE001
                        b[2].set_exception(e)

    def _generate(self, ids, images):
        if self.batch_size <= 1:
            return self._one(ids, images)
        from concurrent.futures import Future

        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._serve, name="glyph-eval-local",
                                                daemon=True)
                self._worker.start()
        fut: Future = Future()
        self._queue.put((ids, images, fut))
        return fut.result()

    def ask(self, pages: Sequence[Any], prompt: str) -> Reply:
        images = list(pages) if pages else None
        t0 = time.perf_counter()
        try:
            ids = self.model.build_prompt(self.tokenizer, prompt, images=images,
                                          system=self.system)
            out = self._generate(ids, images)
        except Exception as e:  # noqa: BLE001 - recorded per item: OOM, a prompt too long, ...
            raise BackendError(f"local_{type(e).__name__}", f"{type(e).__name__}: {e}") from None
        tokens = [int(t) for t in out.tokens]
        stops = set(self.sampling["stop_ids"])
        if tokens and tokens[-1] in stops:
            tokens = tokens[:-1]  # the server's include_stop_str_in_output keeps it; scores strip it
        text = self._decode(tokens)
        split = chat.split_reasoning(text)
        return Reply(text=text, content=split.content, reasoning=split.reasoning,
                     prompt_tokens=len(ids), completion_tokens=len(out.tokens),
                     finish_reason="stop" if out.stop_reason == "stop_id" else "length",
                     latency_s=time.perf_counter() - t0)

    def close(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=60)
            self._worker = None


def make_backend(spec: Any, **kw: Any):
    """A backend from ``local:CKPT``, an ``http(s)://`` URL, or a backend object (returned as is).

    Keywords go to the backend: HTTP (model, params, vllm_extensions, timeout, retries, backoff,
    api_key) or local (tokenizer, device, dtype, params)."""
    if spec is None:
        return None
    if hasattr(spec, "ask"):
        return spec
    if not isinstance(spec, str):
        raise InputError(f"a backend is 'local:CKPT', an http(s):// URL or a backend object, "
                         f"not {type(spec).__name__}")
    if spec.startswith("local:"):
        local_kw = {k: kw[k] for k in ("tokenizer", "device", "dtype", "params", "system",
                                       "batch_size") if k in kw}
        return LocalBackend(spec[len("local:"):], **local_kw)
    if spec.startswith(("http://", "https://")):
        http_kw = {k: kw[k] for k in ("model", "params", "vllm_extensions", "timeout", "retries",
                                      "backoff", "api_key", "headers") if k in kw}
        return HttpBackend(spec, **http_kw)
    raise InputError(f"backend {spec!r}: give local:CKPT (a checkpoint folder) or an http(s):// "
                     "URL of an OpenAI-compatible server")
