"""The FastAPI application: routes, limits, authentication, metrics, the OpenAI reply schema."""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge,
                               Histogram, generate_latest)
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._core import InputError
from .errors import ApiError, bad_request
from .pages import PageStore, Prepared
from .request import ChatCall, parse_chat
from .settings import ServeSettings

_LAT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    """Prometheus metrics of one app (its own registry: several apps may share a process)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("glyph_requests", "HTTP requests answered", ["endpoint", "status"],
                                registry=r)
        self.errors = Counter("glyph_errors", "requests answered with an error", ["code"],
                              registry=r)
        self.cancelled = Counter("glyph_cancelled", "generations stopped early", ["reason"],
                                 registry=r)
        self.pages = Counter("glyph_pages_rendered", "pages rasterised", registry=r)
        self.pages_cached = Counter("glyph_pages_from_cache", "pages served from the render "
                                    "cache", registry=r)
        self.images = Counter("glyph_images", "image parts passed through", registry=r)
        self.prompt_tokens = Counter("glyph_prompt_tokens", "tokens the model read", registry=r)
        self.completion_tokens = Counter("glyph_completion_tokens", "tokens generated",
                                         registry=r)
        self.visual_tokens = Counter("glyph_visual_tokens", "visual tokens of rendered pages",
                                     registry=r)
        self.text_tokens = Counter("glyph_rendered_text_tokens", "text tokens the rendered "
                                   "parts would have cost", registry=r)
        self.latency = Histogram("glyph_request_seconds", "chat completion latency",
                                 ["stream"], buckets=_LAT_BUCKETS, registry=r)
        self.ttft = Histogram("glyph_time_to_first_token_seconds", "time to the first event",
                              buckets=_LAT_BUCKETS, registry=r)
        self.render = Histogram("glyph_render_seconds", "rendering and loading a request's "
                                "pages", buckets=_LAT_BUCKETS, registry=r)
        self.queued = Gauge("glyph_queue_depth", "requests waiting or running in the engine",
                            registry=r)


class Server:
    """What the routes share: settings, the engine, the page store, the metrics."""

    def __init__(self, engine: Any, settings: ServeSettings, text_tokenizer: Any = None):
        self.engine = engine
        self.settings = settings
        self.store = PageStore(settings, text_tokenizer)
        self.metrics = Metrics()
        self.metrics.queued.set_function(lambda: engine.pending)
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="glyph-serve-render")
        self.created = int(time.time())

    # ---- helpers

    def check_auth(self, request: Request) -> None:
        key = self.settings.api_key
        if key is None:
            return
        got = request.headers.get("authorization", "")
        scheme, _, token = got.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(),
                                                                key.encode())
        if not ok:
            raise ApiError(401, "missing or wrong API key (Authorization: Bearer <key>)",
                           code="invalid_api_key")

    async def read_json(self, request: Request) -> Any:
        cap = self.settings.max_body_bytes
        cl = request.headers.get("content-length")
        if cl is not None:
            if not cl.strip().isdigit():
                raise bad_request(None, "Content-Length is not a number")
            if int(cl) > cap:
                raise ApiError(413, f"the request body is {int(cl)} bytes, more than "
                               f"{cap} (--max-body-bytes)", code="body_too_large")
        buf = bytearray()
        async for chunk in request.stream():
            buf += chunk
            if len(buf) > cap:
                raise ApiError(413, f"the request body is more than {cap} bytes "
                               "(--max-body-bytes)", code="body_too_large")
        if not buf:
            raise bad_request(None, "the request body is empty (a JSON object is expected)",
                              "invalid_json")
        try:
            return json.loads(bytes(buf))
        except (ValueError, UnicodeDecodeError) as e:
            raise bad_request(None, f"the body is not valid JSON: {e}", "invalid_json") \
                from None
        except RecursionError:
            raise bad_request(None, "the body's JSON is nested too deeply", "invalid_json") \
                from None

    def check_model(self, call: ChatCall) -> None:
        if call.model != self.settings.model_name:
            raise ApiError(404, f"model: this server serves {self.settings.model_name!r}, not "
                           f"{call.model!r} (GET /v1/models)", param="model",
                           code="model_not_found")

    async def prepare(self, call: ChatCall) -> Prepared:
        loop = asyncio.get_running_loop()
        want = "pixels" if self.engine.kind == "local" else "urls"
        def work() -> Prepared:  # in a worker thread: rendering, image decoding, the prompt
            prep = self.store.prepare(call, want=want)
            if want == "pixels":
                prep.prompt = self.engine.prompt(prep)
            return prep

        prep = await loop.run_in_executor(self.pool, work)
        m = self.metrics
        m.render.observe(prep.render_seconds)
        m.pages.inc(prep.pages_rendered)
        m.pages_cached.inc(prep.usage.pages_from_cache)
        m.images.inc(prep.usage.images)
        m.visual_tokens.inc(prep.usage.visual_tokens)
        if prep.usage.text_tokens:
            m.text_tokens.inc(prep.usage.text_tokens)
        return prep

    def usage(self, prep: Prepared, info: Dict[str, Any]) -> Dict[str, Any]:
        pt = info.get("prompt_tokens")
        ct = info.get("completion_tokens")
        if pt:
            self.metrics.prompt_tokens.inc(pt)
        if ct:
            self.metrics.completion_tokens.inc(ct)
        total = pt + ct if isinstance(pt, int) and isinstance(ct, int) else None
        return {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": total,
                "glyph": prep.usage.to_dict()}


def _error_response(err: ApiError, metrics: Optional[Metrics] = None) -> Response:
    if metrics is not None:
        metrics.errors.labels(code=err.code or str(err.status)).inc()
    # ASCII JSON: a message quoting a field name with a lone surrogate still encodes
    return Response(json.dumps(err.body()), status_code=err.status,
                    media_type="application/json")


def create_app(model: Any = None, *, tokenizer: Any = None, upstream: Optional[str] = None,
               settings: Optional[ServeSettings] = None, upstream_model: Optional[str] = None,
               upstream_kind: str = "vllm", upstream_api_key: Optional[str] = None,
               device: str = "cpu", dtype: Any = None, engine: Any = None,
               **overrides: Any) -> FastAPI:
    """The ``glyph serve`` application (run it with uvicorn, or ``glyph serve``).

    Local engine: ``model`` is a checkpoint folder or a loaded ``glyph.vlm.Glm4v``; ``tokenizer``
    anything ``glyph.load_tokenizer`` takes (default: the checkpoint folder). Proxy engine:
    ``upstream`` is the URL of an OpenAI-compatible server (``http://host:8000`` or
    ``.../v1``), ``upstream_model`` the name it serves (default: the request's), ``upstream_kind``
    "vllm" (forward vLLM's sampling extensions) or "openai" (leave them out); ``tokenizer``
    (optional) counts the text tokens the rendered parts would have cost. ``settings`` (or
    keywords of ``ServeSettings``) set the limits and the rendering policy."""
    from .. import load_tokenizer
    from .._tokenizers import as_codec
    from .engines import LocalEngine, ProxyEngine

    if settings is None:
        settings = ServeSettings(**overrides)
    elif overrides:
        raise InputError("give settings or keyword overrides, not both")
    settings.check()
    if engine is None:
        if (model is None) == (upstream is None):
            raise InputError("give a model (local engine) or an upstream URL (proxy engine), "
                             "not both and not neither")
        if model is not None:
            from .. import vlm

            tok_src = tokenizer if tokenizer is not None else model
            if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
                model = vlm.Glm4v.from_pretrained(str(model), device=device, dtype=dtype)
            if isinstance(tok_src, vlm.Glm4v):
                raise InputError("give tokenizer= with a loaded model")
            tokenizer = load_tokenizer(tok_src)
            engine = LocalEngine(model, tokenizer, settings)
        else:
            if tokenizer is not None:
                tokenizer = load_tokenizer(tokenizer)
            engine = ProxyEngine(upstream, settings, model=upstream_model,
                                 api_key=upstream_api_key, kind=upstream_kind)
    srv = Server(engine, settings, as_codec(tokenizer) if tokenizer is not None else None)
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        await engine.close()
        srv.pool.shutdown(wait=False)

    app = FastAPI(title="glyph serve", version="0.2.0", docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan)
    app.state.glyph = srv
    m = srv.metrics

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        m.requests.labels(endpoint=request.url.path, status=str(exc.status)).inc()
        return _error_response(exc, m)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        err = ApiError(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}",
                       code="not_found" if exc.status_code == 404 else "http_error")
        return _error_response(err, m)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return _error_response(bad_request(None, str(exc)), m)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        m.requests.labels(endpoint=request.url.path, status="500").inc()
        return _error_response(ApiError(500, f"internal error: {type(exc).__name__}: {exc}",
                                        code="internal_error"), m)

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": settings.model_name, **engine.health(),
                "render_cache": {"entries": len(srv.store.renders), "bytes": srv.store.renders.bytes,
                                 "hits": srv.store.renders.hits,
                                 "misses": srv.store.renders.misses},
                "png_cache": {"entries": len(srv.store.urls), "hits": srv.store.urls.hits,
                              "misses": srv.store.urls.misses}}

    @app.get("/metrics")
    async def metrics(request: Request):
        srv.check_auth(request)
        return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models(request: Request):
        srv.check_auth(request)
        m.requests.labels(endpoint="/v1/models", status="200").inc()
        return {"object": "list", "data": [{"id": settings.model_name, "object": "model",
                                            "created": srv.created, "owned_by": "glyphcpp"}]}

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        t0 = time.perf_counter()
        srv.check_auth(request)
        body = await srv.read_json(request)
        call = parse_chat(body, settings)
        srv.check_model(call)
        deadline = t0 + settings.timeout_s

        def left() -> float:
            return max(0.0, deadline - time.perf_counter())

        try:
            prep = await asyncio.wait_for(srv.prepare(call), left())
        except asyncio.TimeoutError:
            m.cancelled.labels(reason="timeout").inc()
            raise ApiError(504, f"the request took more than {settings.timeout_s:g} s "
                           "(--timeout) while rendering", code="timeout") from None
        rid = "chatcmpl-" + uuid.uuid4().hex
        created = int(time.time())
        agen = engine.events(call, prep).__aiter__()
        try:
            first = await asyncio.wait_for(agen.__anext__(), left())
        except asyncio.TimeoutError:
            await agen.aclose()
            m.cancelled.labels(reason="timeout").inc()
            raise ApiError(504, f"the request took more than {settings.timeout_s:g} s "
                           "(--timeout); it was cancelled", code="timeout") from None
        except StopAsyncIteration:
            raise ApiError(500, "the engine gave no answer", code="internal_error") from None
        m.ttft.observe(time.perf_counter() - t0)
        if not call.stream:
            reasoning, content, info = [], [], {}
            ev = first
            try:
                while True:
                    if ev[0] == "delta":
                        reasoning.append(ev[1])
                        content.append(ev[2])
                    elif ev[0] == "done":
                        info = ev[1]
                        break
                    ev = await asyncio.wait_for(agen.__anext__(), left())
            except asyncio.TimeoutError:
                m.cancelled.labels(reason="timeout").inc()
                raise ApiError(504, f"the request took more than {settings.timeout_s:g} s "
                               "(--timeout); it was cancelled", code="timeout") from None
            finally:
                await agen.aclose()
            r = "".join(reasoning)
            message = {"role": "assistant", "content": "".join(content),
                       "reasoning_content": r or None}
            out = {"id": rid, "object": "chat.completion", "created": created,
                   "model": settings.model_name,
                   "choices": [{"index": 0, "message": message, "logprobs": None,
                                "finish_reason": info.get("finish_reason", "stop")}],
                   "usage": srv.usage(prep, info)}
            m.latency.labels(stream="false").observe(time.perf_counter() - t0)
            m.requests.labels(endpoint="/v1/chat/completions", status="200").inc()
            return JSONResponse(out)

        def chunk(delta: Dict[str, Any], finish: Optional[str] = None) -> str:
            c = {"id": rid, "object": "chat.completion.chunk", "created": created,
                 "model": settings.model_name,
                 "choices": [{"index": 0, "delta": delta, "logprobs": None,
                              "finish_reason": finish}]}
            return "data: " + json.dumps(c, ensure_ascii=False) + "\n\n"

        async def sse():
            ev = first
            finished = False
            try:
                yield chunk({"role": "assistant", "content": ""})
                while True:
                    if ev[0] == "delta":
                        d: Dict[str, Any] = {}
                        if ev[1]:
                            d["reasoning_content"] = ev[1]
                        if ev[2]:
                            d["content"] = ev[2]
                        if d:
                            yield chunk(d)
                    elif ev[0] == "done":
                        info = ev[1]
                        yield chunk({}, info.get("finish_reason", "stop"))
                        usage = srv.usage(prep, info)
                        if call.include_usage:
                            u = {"id": rid, "object": "chat.completion.chunk",
                                 "created": created, "model": settings.model_name,
                                 "choices": [], "usage": usage}
                            yield "data: " + json.dumps(u) + "\n\n"
                        break
                    ev = await asyncio.wait_for(agen.__anext__(), left())
                finished = True
                m.requests.labels(endpoint="/v1/chat/completions", status="200").inc()
            except asyncio.TimeoutError:
                m.cancelled.labels(reason="timeout").inc()
                err = ApiError(504, f"the request took more than {settings.timeout_s:g} s "
                               "(--timeout); it was cancelled", code="timeout")
                m.errors.labels(code="timeout").inc()
                yield "data: " + json.dumps(err.body()) + "\n\n"
            except ApiError as err:
                m.errors.labels(code=err.code or str(err.status)).inc()
                yield "data: " + json.dumps(err.body()) + "\n\n"
            except asyncio.CancelledError:
                m.cancelled.labels(reason="disconnect").inc()
                raise
            finally:
                await agen.aclose()
                m.latency.labels(stream="true").observe(time.perf_counter() - t0)
            if finished:
                yield "data: [DONE]\n\n"

        return StreamingResponse(sse(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    return app
