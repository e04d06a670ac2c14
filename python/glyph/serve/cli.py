"""`glyph serve`: the OpenAI-compatible endpoint (docs/serve.md).

    glyph serve --model /models/Glyph --port 8000                 # local engine (glyph.vlm)
    glyph serve --upstream http://gpu-box:8000 --tokenizer /models/Glyph   # proxy engine

glyph.cli adds it with add_parser(subparsers); FastAPI, uvicorn and torch are imported only
when it runs.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys

from .._core import InputError
from .settings import ServeSettings

_D = ServeSettings()


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "serve", help="OpenAI-compatible chat endpoint that renders long text into pages",
        description="Serve Glyph behind the OpenAI chat API: long user text is rendered into "
                    "pages on the server (docs/serve.md).")
    eng = p.add_mutually_exclusive_group(required=True)
    eng.add_argument("--model", help="local engine: GLM-4.1V checkpoint folder (glyph.vlm)")
    eng.add_argument("--upstream", help="proxy engine: URL of an OpenAI-compatible VLM server "
                     "(vLLM, SGLang, another glyph serve)")
    p.add_argument("--config", help="render config JSON for every rendered part (default: "
                   "Glyph's config_en.json, config_zh.json for Chinese text)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                   "127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free "
                   "port, printed at start)")
    p.add_argument("--served-model-name", default=_D.model_name,
                   help=f"model name of /v1/models and replies (default {_D.model_name!r})")
    p.add_argument("--api-key-env", metavar="NAME", help="require 'Authorization: Bearer KEY' "
                   "with KEY read from environment variable NAME")
    p.add_argument("--tokenizer", help="tokenizer (folder or tokenizer.json): local engine "
                   "default --model; proxy: counts the text tokens in usage.glyph")
    p.add_argument("--device", default="auto", help="local engine: auto (the GPU when PyTorch "
                   "sees one, else the CPU; the default), cpu, cuda or cuda:N")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    p.add_argument("--upstream-model", help="proxy: the model name the upstream serves "
                   "(default: the request's)")
    p.add_argument("--upstream-kind", choices=["vllm", "openai"], default="vllm",
                   help="proxy: vllm forwards vLLM's sampling extensions, openai leaves them out")
    p.add_argument("--upstream-api-key-env", metavar="NAME",
                   help="proxy: environment variable holding the upstream's API key")
    lim = p.add_argument_group("limits")
    lim.add_argument("--max-pages", type=int, default=_D.max_pages,
                     help=f"pages and images per request (default {_D.max_pages})")
    lim.add_argument("--max-body-bytes", type=int, default=_D.max_body_bytes,
                     help=f"request body size (default {_D.max_body_bytes})")
    lim.add_argument("--max-prompt-tokens", type=int, default=_D.max_prompt_tokens,
                     help=f"prompt tokens, text and visual (default {_D.max_prompt_tokens})")
    lim.add_argument("--max-tokens", type=int, default=_D.max_tokens,
                     help=f"the most max_tokens a request may ask (default {_D.max_tokens})")
    lim.add_argument("--default-max-tokens", type=int, default=_D.default_max_tokens,
                     help=f"max_tokens when a request gives none (default "
                          f"{_D.default_max_tokens})")
    lim.add_argument("--max-page-pixels", type=int, default=_D.max_page_pixels,
                     help=f"pixels of one page or image (default {_D.max_page_pixels})")
    lim.add_argument("--timeout", type=float, default=_D.timeout_s,
                     help=f"seconds per request, then 504 (default {_D.timeout_s:g})")
    lim.add_argument("--queue-size", type=int, default=_D.queue_size,
                     help=f"requests queued or running; more get 429 (default {_D.queue_size})")
    lim.add_argument("--max-batch", type=int, default=_D.max_batch,
                     help=f"local: greedy requests decoded together (default {_D.max_batch})")
    lim.add_argument("--prefix-cache-slots", type=int, default=_D.prefix_cache_slots,
                     help="local: KV caches kept for a next turn that extends their tokens "
                          f"(default {_D.prefix_cache_slots}; 0: off)")
    lim.add_argument("--prefix-cache-tokens", type=int, default=_D.prefix_cache_tokens,
                     help="local: tokens all kept KV caches hold together (default "
                          f"{_D.prefix_cache_tokens}; GLM-4.1V-9B in bf16: 40 KB a token)")
    pol = p.add_argument_group("rendering and images")
    pol.add_argument("--render-threshold", type=int, default=_D.render_threshold,
                     help="render user text parts of at least this many characters (default "
                          f"{_D.render_threshold}; 0: only parts marked glyph.render)")
    pol.add_argument("--image-root", help="folder file:// image URLs must lie under (default: "
                     "local paths refused)")
    pol.add_argument("--allow-remote-images", action="store_true",
                     help="fetch http(s) image URLs (default: refused)")
    p.set_defaults(func=run)
    return p


def _env_key(name, flag):
    if not name:
        return None
    key = os.environ.get(name)
    if not key:
        raise SystemExit(f"error: {flag} {name}: the environment variable is not set or empty")
    return key


def run(args) -> int:
    import uvicorn

    from .app import create_app

    settings = ServeSettings(
        model_name=args.served_model_name, render_config=args.config,
        render_threshold=args.render_threshold, max_body_bytes=args.max_body_bytes,
        max_pages=args.max_pages, max_page_pixels=args.max_page_pixels,
        max_prompt_tokens=args.max_prompt_tokens, max_tokens=args.max_tokens,
        default_max_tokens=args.default_max_tokens, timeout_s=args.timeout,
        queue_size=args.queue_size, max_batch=args.max_batch,
        prefix_cache_slots=args.prefix_cache_slots,
        prefix_cache_tokens=args.prefix_cache_tokens,
        api_key=_env_key(args.api_key_env, "--api-key-env"), image_root=args.image_root,
        allow_remote_images=args.allow_remote_images)
    # the port first: a busy one fails in a second, not after the weights are loaded
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be in 0..65535, got {args.port}")
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as e:
        raise SystemExit(f"error: cannot listen on {args.host}:{args.port}: {e.strerror}")
    if args.model:
        app = create_app(args.model, tokenizer=args.tokenizer, settings=settings,
                         device=args.device, dtype=None if args.dtype == "auto" else args.dtype)
    else:
        app = create_app(upstream=args.upstream, tokenizer=args.tokenizer, settings=settings,
                         upstream_model=args.upstream_model, upstream_kind=args.upstream_kind,
                         upstream_api_key=_env_key(args.upstream_api_key_env,
                                                   "--upstream-api-key-env"))
    sock.listen(2048)  # once the model is loaded: nobody connects to a server not yet serving
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    # the device "auto" resolved to, so the log says where the model runs
    engine = (f"local on {app.state.glyph.engine.model.device}" if args.model
              else f"proxy -> {args.upstream}")
    print(f"glyph serve: listening on http://{host}:{port} ({engine}, model "
          f"{settings.model_name!r})", flush=True)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5,
                            access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="glyph")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
