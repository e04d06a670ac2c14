"""The engines behind ``glyph serve``: ``LocalEngine`` (glyph.vlm in this process) and
``ProxyEngine`` (any OpenAI-compatible VLM server). Both turn a prepared request into the same
events, which the app writes as a reply or as server-sent chunks:

    ("delta", reasoning_text, content_text)
    ("done", {"finish_reason", "prompt_tokens", "completion_tokens"})
"""
from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Dict, List, Optional, Sequence, Tuple

from .. import chat
from .._core import GlyphError, InputError, OutOfMemoryError, ReasoningParser
from .._tokenizers import as_codec
from .errors import ApiError, bad_request
from .pages import Image, Prepared
from .request import ChatCall, Sampling
from .settings import ServeSettings
from .textstream import TextStream

Event = Tuple[Any, ...]


def glyph_defaults(s: Sampling) -> Dict[str, Any]:
    """The sampling used: what the request gave, the rest Glyph's request settings
    (``glyph.chat.GLYPH_SAMPLING``: near-greedy, top_k 1, repetition penalty 1.1, GLM's stop
    ids)."""
    g = chat.GLYPH_SAMPLING
    # Glyph's top_k 1 makes decoding greedy: a client that asks for sampling (a temperature or
    # top_p of its own) and says nothing of top_k gets none (None: not forwarded, 0 locally).
    sampling_asked = s.temperature is not None or s.top_p is not None
    if s.top_k is not None:
        top_k = s.top_k
    else:
        top_k = None if sampling_asked else g["top_k"]
    return {
        "temperature": s.temperature if s.temperature is not None else g["temperature"],
        "top_p": s.top_p if s.top_p is not None else g["top_p"],
        "top_k": top_k,
        "repetition_penalty": (s.repetition_penalty if s.repetition_penalty is not None
                               else g["repetition_penalty"]),
        "stop_token_ids": (list(s.stop_token_ids) if s.stop_token_ids
                           else list(g["stop_token_ids"])),
    }


# ============================================================================ local engine

@dataclass
class _Job:
    ids: List[int]
    images: Optional[List[Any]]  # (H, W, 3) uint8 arrays, or None
    kw: Dict[str, Any]
    greedy: bool
    max_tokens: int
    stream: bool
    text: TextStream
    loop: asyncio.AbstractEventLoop
    events: "asyncio.Queue[Event]"
    cancel: threading.Event = field(default_factory=threading.Event)
    prompt_tokens: int = 0


class LocalEngine:
    """glyph.vlm's GLM-4.1V in this process. One worker thread runs the model (the C++ releases
    the GIL: the event loop keeps serving); requests wait in a bounded queue (full: 429).
    Waiting greedy requests that do not stream are decoded together with ``generate_batch``
    (its greedy tokens equal ``generate`` alone), up to ``max_batch``; a streaming or sampling
    request runs alone, token by token, and stops at the next token when its client goes or
    its time is up.

    A greedy request that runs alone decodes on a KV cache kept afterwards; a later prompt that
    begins with a kept cache's tokens prefills only its new tokens (``_greedy_with_prefix``).
    Unchanged pages are not re-embedded either (the model's vision-feature cache)."""

    kind = "local"

    def __init__(self, model: Any, tokenizer: Any, settings: ServeSettings):
        self.model = model
        self.tokenizer = tokenizer
        self.codec = as_codec(tokenizer)
        self.settings = settings
        cfg = model.config
        self.image_ids = (int(cfg["image_start_token_id"]), int(cfg["image_token_id"]),
                          int(cfg["image_end_token_id"]))
        self.eos = [int(t) for t in model.generation_defaults.get("stop_ids", [])]
        self._q: "queue.Queue[_Job]" = queue.Queue()
        self._sizes: Dict[Tuple[int, int], int] = {}
        self._prefixes: "OrderedDict[Tuple[int, ...], Any]" = OrderedDict()
        self.prefix_hits = 0
        self.prefix_tokens_reused = 0
        self._pending = 0
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self.batches = 0  # generate_batch calls
        self.batched_requests = 0
        self.max_batch_seen = 0
        self.stopped_early = 0  # generations stopped by a client gone or a timeout
        self.skipped = 0  # requests given up before they ran

    # ---- prompt

    def image_tokens(self, pixels) -> int:
        """Visual tokens of an image for this model's image processor. They depend only on the
        size: each size is measured once (a blank image of it through ``image_token_counts``),
        so that a queued request holds its pages (uint8, shared with the render cache) and not
        their float32 pixel values, which are made in the model thread when it runs."""
        h, w = int(pixels.shape[0]), int(pixels.shape[1])
        n = self._sizes.get((h, w))
        if n is None:
            import numpy as np

            try:
                n = int(self.model.image_token_counts([np.zeros((h, w, 3), np.uint8)])[0])
            except (InputError, GlyphError) as e:
                raise bad_request("messages", f"an image of {w}x{h} pixels cannot be read by "
                                  f"the model: {e}", "bad_image") from None
            self._sizes[(h, w)] = n
        return n

    def prompt(self, prep: Prepared) -> Tuple[List[int], List[Any]]:
        """GLM-4.1V's chat format: [gMASK]<sop>, then <|role|>\\n + content per message, then
        <|assistant|>\\n. Text between images is encoded as one piece (as the C++ prompt
        builder does); each page or image enters as <|begin_of_image|> + N x <|image|> +
        <|end_of_image|>, N from this model's image processor. Returns the ids and the images
        (uint8 arrays)."""
        images = [it.pixels for _, items in prep.messages for it in items
                  if isinstance(it, Image)]
        counts = [self.image_tokens(im) for im in images]
        begin, image, end = self.image_ids
        ids: List[int] = []
        buf = ["[gMASK]<sop>"]
        k = 0
        for role, items in prep.messages:
            buf.append(f"<|{role}|>\n")
            for it in items:
                if isinstance(it, Image):
                    ids += self.codec.encode("".join(buf))
                    buf = []
                    ids += [begin] + [image] * counts[k] + [end]
                    k += 1
                else:
                    buf.append(it)
        buf.append("<|assistant|>\n")
        ids += self.codec.encode("".join(buf))
        return ids, images

    # ---- queue

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="glyph-serve-model",
                                            daemon=True)
            self._thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, call: ChatCall, prep: Prepared, loop) -> _Job:
        ids, images = prep.prompt if prep.prompt is not None else self.prompt(prep)
        if len(ids) > self.settings.max_prompt_tokens:
            raise ApiError(400, f"messages: the prompt is {len(ids)} tokens (text and visual), "
                           f"more than this server reads ({self.settings.max_prompt_tokens}; "
                           "--max-prompt-tokens)", param="messages",
                           code="context_length_exceeded")
        limit = int(self.model.config["text_config"].get("max_position_embeddings", 0) or 0)
        if limit and len(ids) >= limit:
            raise ApiError(400, f"messages: the prompt is {len(ids)} tokens, the model's "
                           f"context is {limit}", param="messages",
                           code="context_length_exceeded")
        s = call.sampling
        d = glyph_defaults(s)
        top_k = d["top_k"] or 0
        greedy = top_k == 1 or d["temperature"] < 1e-3
        kw = dict(do_sample=not greedy, temperature=max(d["temperature"], 1e-3),
                  top_p=d["top_p"], top_k=top_k,
                  repetition_penalty=d["repetition_penalty"],
                  seed=(s.seed or 0) % (1 << 63),
                  stop_ids=sorted(set(self.eos) | set(d["stop_token_ids"])))
        text = TextStream(self.tokenizer, skip_special_tokens=s.skip_special_tokens,
                          stop=s.stop, include_stop=s.include_stop_str_in_output)
        job = _Job(ids=ids, images=images or None, kw=kw, greedy=greedy,
                   max_tokens=s.max_tokens, stream=call.stream, text=text, loop=loop,
                   events=asyncio.Queue(), prompt_tokens=len(ids))
        with self._lock:
            if self._pending >= self.settings.queue_size:
                raise ApiError(429, f"the server is busy: {self._pending} requests queued "
                               f"(--queue-size {self.settings.queue_size}); retry later",
                               code="queue_full")
            self._pending += 1
        self._start()
        self._q.put(job)
        return job

    def _emit(self, job: _Job, ev: Event) -> None:
        try:
            job.loop.call_soon_threadsafe(job.events.put_nowait, ev)
        except RuntimeError:
            pass  # the loop is gone (shutdown)

    def _done(self, job: _Job, tokens: Sequence[int], stop_reason: str) -> None:
        n = len(tokens)
        if job.text.stopped:
            n = len(job.text.ids)
        r, c = job.text.finish()
        if r or c:
            self._emit(job, ("delta", r, c))
        if job.text.stopped or stop_reason == "stop_id":
            finish = "stop"
        elif stop_reason in ("max_new_tokens", "max_position_embeddings"):
            finish = "length"
        else:
            finish = "stop"
        self._emit(job, ("done", {"finish_reason": finish, "prompt_tokens": job.prompt_tokens,
                                  "completion_tokens": n}))

    def _fail(self, job: _Job, exc: BaseException) -> None:
        if isinstance(exc, OutOfMemoryError):
            err = ApiError(503, f"the model ran out of memory on this request: {exc}",
                           code="out_of_memory")
        elif isinstance(exc, (InputError, GlyphError)):
            err = bad_request("messages", str(exc), "invalid_input")
        else:
            err = ApiError(500, f"generation failed: {type(exc).__name__}: {exc}",
                           code="internal_error")
        self._emit(job, ("error", err))

    def _work(self) -> None:
        carry: Optional[_Job] = None
        while True:
            job = carry if carry is not None else self._q.get()
            carry = None
            jobs = [job]
            if job.greedy and not job.stream:
                while len(jobs) < self.settings.max_batch:
                    try:
                        nxt = self._q.get_nowait()
                    except queue.Empty:
                        break
                    if nxt.greedy and not nxt.stream and nxt.kw == job.kw:
                        jobs.append(nxt)
                    else:
                        carry = nxt
                        break
            self._run(jobs)

    def _run(self, jobs: List[_Job]) -> None:
        live = [j for j in jobs if not j.cancel.is_set()]
        self.skipped += len(jobs) - len(live)
        try:
            if not live:
                return
            if len(live) == 1:
                self._run_one(live[0])
            else:
                self._run_batch(live)
        finally:
            with self._lock:
                self._pending -= len(jobs)

    def _run_one(self, job: _Job) -> None:
        def on_token(tok: int):
            r, c = job.text.push(tok)
            if r or c:
                self._emit(job, ("delta", r, c))
            if job.text.stopped or job.cancel.is_set():
                return False
            return None

        try:
            if job.greedy and self.settings.prefix_cache_slots > 0:
                tokens, reason = self._greedy_with_prefix(job, on_token)
            else:
                out = self.model.generate(job.ids, images=job.images,
                                          max_new_tokens=job.max_tokens, stream=on_token,
                                          **job.kw)
                tokens, reason = out.tokens, out.stop_reason
        except BaseException as e:  # noqa: BLE001 - reported to the request, never the loop
            self._fail(job, e)
            return
        if job.cancel.is_set():
            self.stopped_early += 1
            return
        self._done(job, tokens, reason)

    # ---- greedy decoding on a kept KV cache (prompt-prefix reuse)

    def _image_runs(self, ids: Sequence[int]) -> List[Tuple[int, int]]:
        begin, _, end = self.image_ids
        runs, b = [], None
        for i, t in enumerate(ids):
            if t == begin:
                b = i
            elif t == end and b is not None:
                runs.append((b, i))
                b = None
        return runs

    def _take_prefix(self, job: _Job):
        """(start, cache, suffix images): the longest kept cache whose tokens begin job.ids
        (and do not end inside an image), taken out of the store; or (0, None, images)."""
        ids = job.ids
        best = None
        for key in self._prefixes:
            n = len(key)
            if n < len(ids) and (best is None or n > len(best)) and tuple(ids[:n]) == key:
                best = key
        images = list(job.images or [])
        if best is None:
            return 0, None, images
        start = len(best)
        runs = self._image_runs(ids)
        if any(b < start <= e for b, e in runs):
            return 0, None, images
        later = [k for k, (b, _) in enumerate(runs) if b >= start]
        cache = self._prefixes.pop(best)
        return start, cache, [images[k] for k in later]

    def _greedy_with_prefix(self, job: _Job, on_token) -> Tuple[List[int], str]:
        """Greedy decoding with ``prefill`` / ``decode_step`` on a KV cache kept from an earlier
        request whose tokens (prompt and answer) begin this prompt: only the new tokens are
        prefilled. The same tokens ``generate`` gives (argmax after Hugging Face's repetition
        penalty over every token so far; tested against glyph.vlm). The cache is kept
        afterwards for a next turn (``prefix_cache_slots``, least recently used out)."""
        import torch

        start, cache, images = self._take_prefix(job)
        if cache is None:
            cache = self.model.new_cache()
        else:
            self.prefix_hits += 1
            self.prefix_tokens_reused += start
        held = list(job.ids)
        logits = self.model.prefill(job.ids[start:], cache, images=images or None)
        penalty = float(job.kw["repetition_penalty"])
        stops = set(job.kw["stop_ids"])
        seen = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
        seen[torch.tensor([i for i in job.ids if 0 <= i < logits.shape[-1]],
                          dtype=torch.long, device=logits.device)] = True
        limit = int(self.model.config["text_config"].get("max_position_embeddings", 0) or 0)
        tokens: List[int] = []
        reason = "max_new_tokens"
        try:  # noqa: SIM105 - the except below says what happens to the cache
            while True:
                lg = logits.reshape(-1).float()
                if penalty != 1.0:
                    lg = lg.clone()
                    sel = lg[seen]
                    lg[seen] = torch.where(sel < 0, sel * penalty, sel / penalty)
                t = int(lg.argmax())
                tokens.append(t)
                keep_going = on_token(t) is not False
                if t in stops:
                    reason = "stop_id"
                    break
                if len(tokens) >= job.max_tokens:
                    break
                if not keep_going:
                    reason = "stream"
                    break
                if limit and len(held) + 1 >= limit:
                    reason = "max_position_embeddings"
                    break
                if 0 <= t < seen.shape[0]:
                    seen[t] = True
                logits = self.model.decode_step(t, cache)
                held.append(t)
        except BaseException:
            raise  # the cache may be half-filled: dropped
        if len(held) <= self.settings.prefix_cache_tokens:
            self._prefixes[tuple(held)] = cache  # holds the prompt and tokens[:-1]
        while self._prefixes and (
                len(self._prefixes) > self.settings.prefix_cache_slots
                or sum(len(k) for k in self._prefixes) > self.settings.prefix_cache_tokens):
            self._prefixes.popitem(last=False)
        return tokens, reason

    def _run_batch(self, jobs: List[_Job]) -> None:
        self.batches += 1
        self.batched_requests += len(jobs)
        self.max_batch_seen = max(self.max_batch_seen, len(jobs))
        n = max(j.max_tokens for j in jobs)
        try:
            outs = self.model.generate_batch([(j.ids, j.images) for j in jobs],
                                             max_new_tokens=n, **jobs[0].kw)
        except BaseException as e:  # noqa: BLE001
            for j in jobs:
                self._fail(j, e)
            return
        for j, o in zip(jobs, outs):
            if j.cancel.is_set():
                continue
            toks = list(o.tokens)
            reason = o.stop_reason
            if len(toks) > j.max_tokens:  # decoded further for a longer neighbour
                toks = toks[:j.max_tokens]
                reason = "max_new_tokens"
            for t in toks:
                r, c = j.text.push(t)
                if r or c:
                    self._emit(j, ("delta", r, c))
                if j.text.stopped:
                    break
            self._done(j, toks, reason)

    async def events(self, call: ChatCall, prep: Prepared) -> AsyncIterator[Event]:
        job = self.submit(call, prep, asyncio.get_running_loop())
        try:
            while True:
                ev = await job.events.get()
                if ev[0] == "error":
                    raise ev[1]
                yield ev
                if ev[0] == "done":
                    return
        finally:
            job.cancel.set()  # a client gone, a timeout: the next token stops it

    def health(self) -> Dict[str, Any]:
        return {"engine": "local", "device": self.model.device, "queued": self._pending,
                "batches": self.batches, "batched_requests": self.batched_requests,
                "largest_batch": self.max_batch_seen, "stopped_early": self.stopped_early,
                "skipped": self.skipped, "prefix_cache": {
                    "entries": len(self._prefixes), "hits": self.prefix_hits,
                    "tokens_reused": self.prefix_tokens_reused},
                "feature_cache": dict(self.model.feature_cache_stats)}

    async def close(self) -> None:
        return None


# ============================================================================ proxy engine

class ProxyEngine:
    """In front of an OpenAI-compatible VLM server (vLLM, SGLang, another ``glyph serve``): the
    pages go as base64 PNG ``image_url`` parts, with Glyph's request parameters for whatever the
    client left out. ``kind="vllm"`` forwards vLLM's extensions (top_k, repetition_penalty,
    stop_token_ids, skip_special_tokens, include_stop_str_in_output); ``kind="openai"`` leaves
    them out (the OpenAI API rejects them)."""

    kind = "proxy"

    def __init__(self, upstream: str, settings: ServeSettings, *, model: Optional[str] = None,
                 api_key: Optional[str] = None, kind: str = "vllm", client: Any = None):
        import httpx

        if kind not in ("vllm", "openai"):
            raise InputError(f"upstream kind must be 'vllm' or 'openai', got {kind!r}")
        chat.require_http_url(upstream, "upstream")
        url = upstream.rstrip("/")
        if not url.endswith("/v1"):
            url += "/v1"
        self.base = url
        self.model = model
        self.kind_of_upstream = kind
        self.settings = settings
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(settings.timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=max(8, settings.queue_size)))
        self._pending = 0

    @property
    def pending(self) -> int:
        return self._pending

    def body(self, call: ChatCall, prep: Prepared) -> Dict[str, Any]:
        messages = []
        for role, items in prep.messages:
            if role != "user" and all(isinstance(i, str) for i in items):
                messages.append({"role": role, "content": "".join(items)})
                continue
            parts = []
            for it in items:
                if isinstance(it, Image):
                    parts.append({"type": "image_url", "image_url": {"url": it.url}})
                else:
                    parts.append({"type": "text", "text": it})
            messages.append({"role": role, "content": parts})
        s = call.sampling
        d = glyph_defaults(s)
        body: Dict[str, Any] = {"model": self.model or call.model, "messages": messages,
                                "max_tokens": s.max_tokens, "temperature": d["temperature"],
                                "top_p": d["top_p"]}
        if s.stop:
            body["stop"] = list(s.stop)
        if s.seed is not None:
            body["seed"] = s.seed
        if self.kind_of_upstream == "vllm":
            body.update(repetition_penalty=d["repetition_penalty"],
                        stop_token_ids=d["stop_token_ids"],
                        skip_special_tokens=s.skip_special_tokens)
            if d["top_k"] is not None:
                body["top_k"] = d["top_k"]
            if s.include_stop_str_in_output:
                body["include_stop_str_in_output"] = True
        if call.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def _upstream_error(self, status: int, text: str) -> ApiError:
        try:
            msg = json.loads(text)["error"]["message"]
        except Exception:  # noqa: BLE001 - any body
            msg = text[:500]
        mapped = status if status in (400, 401, 403, 404, 413, 429) else 502
        return ApiError(mapped, f"upstream answered HTTP {status}: {msg}", code="upstream_error")

    async def events(self, call: ChatCall, prep: Prepared) -> AsyncIterator[Event]:
        import httpx

        body = self.body(call, prep)
        url = self.base + "/chat/completions"
        if self._pending >= self.settings.queue_size:
            raise ApiError(429, f"the server is busy: {self._pending} requests in flight "
                           f"(--queue-size {self.settings.queue_size})", code="queue_full")
        self._pending += 1
        try:
            if not call.stream:
                try:
                    r = await self.client.post(url, json=body)
                except httpx.TimeoutException as e:
                    raise ApiError(504, f"upstream timed out: {e}", code="upstream_timeout")
                except httpx.HTTPError as e:
                    raise ApiError(503, f"upstream {self.base} unreachable: {e}",
                                   code="upstream_unavailable") from None
                if r.status_code != 200:
                    raise self._upstream_error(r.status_code, r.text)
                try:
                    reply = chat.parse_chat_response(r.content)
                except chat.ChatResponseError as e:
                    raise ApiError(502, f"upstream reply unusable: {e}",
                                   code="upstream_error") from None
                yield ("delta", reply.reasoning, reply.content)
                yield ("done", {"finish_reason": reply.finish_reason or "stop",
                                "prompt_tokens": reply.prompt_tokens,
                                "completion_tokens": reply.completion_tokens})
                return
            async for ev in self._stream(url, body):
                yield ev
        finally:
            self._pending -= 1

    async def _stream(self, url: str, body: Dict[str, Any]) -> AsyncIterator[Event]:
        import httpx

        parser = ReasoningParser()
        finish = None
        usage: Dict[str, Any] = {}
        try:
            async with self.client.stream("POST", url, json=body) as r:
                if r.status_code != 200:
                    raise self._upstream_error(r.status_code, (await r.aread()).decode(
                        "utf-8", "replace"))
                async for line in r.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        raise ApiError(502, f"upstream sent a chunk that is not JSON: "
                                       f"{data[:200]!r}", code="upstream_error") from None
                    if not isinstance(chunk, dict):
                        continue
                    if chunk.get("error"):
                        raise ApiError(502, f"upstream error mid-stream: {chunk['error']}",
                                       code="upstream_error")
                    if isinstance(chunk.get("usage"), dict):
                        usage = chunk["usage"]
                    for ch in chunk.get("choices") or []:
                        delta = ch.get("delta") or {}
                        rs = delta.get("reasoning_content") or delta.get("reasoning") or ""
                        c = delta.get("content") or ""
                        r2, c2 = parser.feed(c) if c else ("", "")
                        if rs or r2 or c2:
                            yield ("delta", rs + r2, c2)
                        if ch.get("finish_reason"):
                            finish = ch["finish_reason"]
        except httpx.TimeoutException as e:
            raise ApiError(504, f"upstream timed out: {e}", code="upstream_timeout") from None
        except httpx.HTTPError as e:
            raise ApiError(503, f"upstream {self.base} unreachable: {e}",
                           code="upstream_unavailable") from None
        r2, c2 = parser.finish()
        if r2 or c2:
            yield ("delta", r2, c2)
        yield ("done", {"finish_reason": finish or "stop",
                        "prompt_tokens": usage.get("prompt_tokens"),
                        "completion_tokens": usage.get("completion_tokens")})

    def health(self) -> Dict[str, Any]:
        return {"engine": "proxy", "upstream": self.base, "in_flight": self._pending}

    async def close(self) -> None:
        await self.client.aclose()


__all__ = ["LocalEngine", "ProxyEngine", "glyph_defaults"]
