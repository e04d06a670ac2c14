"""glyph serve against calling glyph.vlm directly, in the same run.

A tiny random GLM-4.1V checkpoint (or --model CKPT) is served by a real `glyph serve` process on
loopback; clients send chat requests whose long context the server renders into pages. The same
requests are answered in this process by glyph.vlm (pages rendered once per context, then prompt +
generate, one request at a time), and the ratios say what the server costs and what its batching
gains:

    python bench/bench_serve.py                       # tiny model, CPU
    python bench/bench_serve.py --clients 32 --requests 8 --max-tokens 16

Prints requests/s, generated tokens/s and latency p50/p99 of each, and the ratios.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The server process runs torch with one thread (serve_helpers sets OMP_NUM_THREADS=1); so does
# this one, so that the two sides compute alike.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "tests" / "python"))


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="checkpoint folder (default: a tiny random one)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=4, help="requests per client")
    ap.add_argument("--max-tokens", type=int, default=8)
    ap.add_argument("--contexts", type=int, default=4, help="distinct long contexts")
    args = ap.parse_args()

    import openai

    import glyph
    import glyph.vlm as gv
    from glyph import chat
    from serve_helpers import ServerProcess, write_checkpoint

    ckpt = args.model or write_checkpoint(tempfile.mkdtemp(prefix="bench_serve_"),
                                          hidden=128, layers=4)
    base = glyph.sample_text()
    contexts = [f"Document {i}.\n" + base * 2 for i in range(args.contexts)]
    question = "Who is the story about?"
    n_total = args.clients * args.requests

    def messages(i):
        return [{"role": "user", "content": [{"type": "text", "text": contexts[i % len(contexts)]},
                                             {"type": "text", "text": question}]}]

    # ---- glyph.vlm directly, one request at a time (what an application without the server does)
    model = gv.Glm4v.from_pretrained(ckpt)
    tok = glyph.load_tokenizer(ckpt)
    renderer = glyph.Renderer(chat.glyph_config("en"))
    stop = sorted(set(model.generation_defaults["stop_ids"]) | set(chat.STOP_TOKEN_IDS))

    rendered = {}

    def direct(i):
        # the least an application does per request: pages rendered once per context (the
        # server caches them too), the prompt from the pages' visual tokens, one generate
        t = time.perf_counter()
        ctx = contexts[i % len(contexts)]
        if ctx not in rendered:
            rendered[ctx] = renderer.render(ctx).pages
        pages = rendered[ctx]
        ids = glyph.glm4v_prompt_ids(tok, pages, question)
        out = model.generate(ids, images=pages, max_new_tokens=args.max_tokens,
                             repetition_penalty=1.1, stop_ids=stop)
        tok.decode(out.tokens, skip_special_tokens=True)
        return time.perf_counter() - t, len(out.tokens)

    direct(0)  # warm-up
    t0 = time.perf_counter()
    d = [direct(i) for i in range(n_total)]
    d_wall = time.perf_counter() - t0


    with ServerProcess(["--model", ckpt, "--render-threshold", "500", "--queue-size",
                        str(max(64, 2 * args.clients)), "--max-batch", "16"]) as srv:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="x", max_retries=0,
                               timeout=600)

        def served(i):
            t = time.perf_counter()
            r = client.chat.completions.create(model="glyph", messages=messages(i),
                                               max_tokens=args.max_tokens)
            return time.perf_counter() - t, r.usage.completion_tokens

        served(0)
        # one client: the server's overhead on each request
        t0 = time.perf_counter()
        s1 = [served(i) for i in range(min(n_total, 32))]
        s1_wall = time.perf_counter() - t0
        # many clients: batching and overlap
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            sc = list(pool.map(served, range(n_total)))
        sc_wall = time.perf_counter() - t0

    def line(name, rows, wall):
        lat = [r[0] for r in rows]
        toks = sum(r[1] for r in rows)
        print(f"{name:34s} {len(rows) / wall:8.2f} req/s {toks / wall:9.1f} tok/s   "
              f"p50 {1000 * pct(lat, 50):8.1f} ms  p99 {1000 * pct(lat, 99):8.1f} ms")
        return len(rows) / wall, statistics.median(lat)

    print(f"checkpoint {ckpt}; {n_total} requests, max_tokens {args.max_tokens}, "
          f"{len(contexts)} contexts of {len(contexts[0])} chars; cpu count {os.cpu_count()}")
    d_rps, d_p50 = line("glyph.vlm direct (sequential)", d, d_wall)
    s1_rps, s1_p50 = line("glyph serve, 1 client", s1, s1_wall)
    sc_rps, _ = line(f"glyph serve, {args.clients} clients", sc, sc_wall)
    print(f"ratio server/direct, 1 client:  latency p50 x{s1_p50 / d_p50:.2f} "
          f"(server overhead), throughput x{s1_rps / d_rps:.2f}")
    print(f"ratio server/direct, {args.clients} clients: throughput x{sc_rps / d_rps:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
