"""`glyph serve` as a real process on loopback, talked to with the official `openai` client and
raw HTTP: answers equal glyph.vlm's greedy generation on the same pages (tiny random GLM-4.1V on
the CPU), streaming gives the same text, the `glyph` usage block equals the renderer's numbers,
the proxy engine in front of a second server gives the same answers; bad input of every kind is
refused with a status and the field named, the server living on; a client leaving mid-stream and
a request past its timeout stop their generation; a bounded load test."""
import base64
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")

import glyph  # noqa: E402
import glyph.vlm as gv  # noqa: E402
from glyph import chat  # noqa: E402
import vlm_tiny  # noqa: E402
from serve_helpers import ServerProcess, write_checkpoint  # noqa: E402

KEY = "test-key-7f3a"
CONTEXT = glyph.sample_text() * 2  # one page with Glyph's config
QUESTION = "Who is the story about?"
ENV = {"GLYPH_SERVE_TEST_KEY": KEY}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("serve_ckpt"))


@pytest.fixture(scope="module")
def image_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    page = glyph.Renderer().render("A page kept on the server.").pages[0]
    page.save(str(root / "page.png"))
    (root / "sub").mkdir()
    outside = tmp_path_factory.mktemp("outside") / "secret.png"
    page.save(str(outside))
    os.symlink(str(outside), str(root / "sub" / "link.png"))
    return root


@pytest.fixture(scope="module")
def local(ckpt, image_root):
    with ServerProcess(["--model", str(ckpt), "--device", "cpu", "--render-threshold", "500",
                        "--max-pages", "4", "--max-body-bytes", str(2 << 20),
                        "--api-key-env", "GLYPH_SERVE_TEST_KEY", "--image-root", str(image_root),
                        "--queue-size", "64", "--timeout", "120"], env=ENV) as s:
        yield s


@pytest.fixture(scope="module")
def proxy(ckpt, local):
    with ServerProcess(["--upstream", local.url, "--upstream-api-key-env",
                        "GLYPH_SERVE_TEST_KEY", "--tokenizer", str(ckpt),
                        "--render-threshold", "500", "--max-pages", "4"], env=ENV) as s:
        yield s


@pytest.fixture(scope="module")
def reference(ckpt):
    """glyph.vlm in this process on the same checkpoint: the answers the server must give."""
    model = gv.Glm4v.from_pretrained(str(ckpt))
    tok = glyph.load_tokenizer(str(ckpt))
    stop = sorted(set(model.generation_defaults["stop_ids"]) | set(chat.STOP_TOKEN_IDS))

    def answer(pages, question=QUESTION, max_tokens=12, system=None):
        ids = model.build_prompt(tok, question, images=pages, system=system)
        out = model.generate(ids, images=pages, max_new_tokens=max_tokens,
                             repetition_penalty=1.1, stop_ids=stop)
        text = tok.decode(out.tokens, skip_special_tokens=True)
        return ids, out, glyph.split_reasoning(text)

    return model, tok, answer


def client(server, key=KEY, **kw):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, **kw)


def ask_parts(context=CONTEXT, question=QUESTION):
    return [{"role": "user", "content": [{"type": "text", "text": context},
                                         {"type": "text", "text": question}]}]


def post(server, body, key=KEY, raw=None, headers=None):
    h = {"Authorization": f"Bearer {key}"} if key else {}
    h.update(headers or {})
    data = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(server.url + "/v1/chat/completions", content=data,
                      headers={"Content-Type": "application/json", **h}, timeout=120)


def health(server):
    return httpx.get(server.url + "/health", timeout=30).json()


# ---- answers

def test_start_line_names_the_engine_and_device(local, proxy):
    assert any("(local on cpu, model 'glyph')" in line for line in local.lines), local.lines
    assert any(f"(proxy -> {local.url}, model" in line for line in proxy.lines), proxy.lines


def test_answer_equals_glyph_vlm_greedy_on_the_same_pages(local, reference):
    model, tok, answer = reference
    pages = glyph.Renderer(chat.glyph_config("en")).render(CONTEXT).pages
    ids, out, split = answer(pages)
    r = client(local).chat.completions.create(model="glyph", messages=ask_parts(),
                                              max_tokens=12)
    assert r.choices[0].message.content == split.content
    assert r.usage.prompt_tokens == len(ids)  # the tokens the model read, visual included
    assert r.usage.completion_tokens == len(out.tokens)
    g = r.usage.model_extra["glyph"]
    assert g["pages"] == len(pages) and g["rendered_parts"] == 1
    assert g["visual_tokens"] == sum(p.visual_tokens for p in pages)
    assert g["text_tokens"] == tok.count(CONTEXT)
    assert g["compression"] == pytest.approx(g["text_tokens"] / g["visual_tokens"])
    assert r.choices[0].finish_reason == ("length" if out.stop_reason == "max_new_tokens"
                                          else "stop")
    # Glyph's own request (pages as PNG data URLs, glyph.chat) gets the same answer
    body = chat.chat_request(pages, QUESTION, model="glyph", params={"max_tokens": 12})
    r2 = post(local, body).json()
    assert r2["choices"][0]["message"]["content"] == split.content
    assert r2["usage"]["prompt_tokens"] == len(ids)
    assert r2["usage"]["glyph"]["images"] == len(pages) and r2["usage"]["glyph"]["pages"] == 0
    # an image of an odd size passes through the same way
    img = vlm_tiny.random_images([(70, 90)], seed=3)[0]
    ids3, out3, split3 = answer([img])
    r3 = post(local, chat.chat_request([img], QUESTION, model="glyph",
                                       params={"max_tokens": 12})).json()
    assert r3["usage"]["prompt_tokens"] == len(ids3)
    assert r3["choices"][0]["message"]["content"] == split3.content


def test_streaming_gives_the_same_text(local, reference):
    _, _, answer = reference
    pages = glyph.Renderer(chat.glyph_config("en")).render(CONTEXT).pages
    _, out, split = answer(pages, max_tokens=16)
    chunks = list(client(local).chat.completions.create(
        model="glyph", messages=ask_parts(), max_tokens=16, stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == split.content
    assert all("\ufffd" not in (c.choices[0].delta.content or "") or "\ufffd" in split.content
               for c in chunks if c.choices)
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and
              c.choices[0].finish_reason]
    assert len(finals) == 1
    assert chunks[-1].usage.completion_tokens == len(out.tokens)
    assert chunks[-1].usage.model_extra["glyph"]["pages"] == len(pages)


def test_multi_turn_reuses_pages_and_features(local, reference):
    model, tok, answer = reference
    c = client(local)
    before = health(local)
    first = c.chat.completions.create(model="glyph", messages=ask_parts(), max_tokens=4)
    msgs = ask_parts() + [{"role": "assistant", "content": first.choices[0].message.content},
                          {"role": "user", "content": "And who else?"}]
    second = c.chat.completions.create(model="glyph", messages=msgs, max_tokens=4)
    g = second.usage.model_extra["glyph"]
    assert g["pages"] == g["pages_from_cache"] == 1  # not rendered again
    after = health(local)
    assert after["feature_cache"]["hits"] > before["feature_cache"]["hits"]  # not re-embedded
    assert after["render_cache"]["hits"] > before["render_cache"]["hits"]
    # the conversation's prompt is GLM-4.1V's chat format
    pages = glyph.Renderer(chat.glyph_config("en")).render(CONTEXT).pages
    n1 = len(model.build_prompt(tok, QUESTION, images=pages))
    assert second.usage.prompt_tokens > n1


def test_next_turn_reuses_the_kv_cache_of_its_prefix(local, reference):
    """A turn whose prompt begins with an earlier request's tokens (prompt and answer) prefills
    only the new tokens, and answers what glyph.vlm answers on the whole prompt from scratch."""
    model, tok, _ = reference
    pages = glyph.Renderer(chat.glyph_config("en")).render(CONTEXT).pages
    c = client(local)
    first = c.chat.completions.create(model="glyph", messages=ask_parts(), max_tokens=1)
    before = health(local)["prefix_cache"]
    msgs = ask_parts() + [{"role": "assistant", "content": "Alice."},
                          {"role": "user", "content": "And then?"}]
    second = c.chat.completions.create(model="glyph", messages=msgs, max_tokens=10)
    after = health(local)["prefix_cache"]
    assert after["hits"] == before["hits"] + 1
    assert after["tokens_reused"] - before["tokens_reused"] == first.usage.prompt_tokens
    template = ("[gMASK]<sop><|user|>\n{images}{question}<|assistant|>\nAlice.<|user|>\n"
                "And then?<|assistant|>\n")
    ids = model.build_prompt(tok, QUESTION, images=pages, prompt_template=template)
    stop = sorted(set(model.generation_defaults["stop_ids"]) | set(chat.STOP_TOKEN_IDS))
    out = model.generate(ids, images=pages, max_new_tokens=10, repetition_penalty=1.1,
                         stop_ids=stop)
    assert second.usage.prompt_tokens == len(ids)
    assert second.usage.completion_tokens == len(out.tokens)
    assert second.choices[0].message.content == glyph.split_reasoning(
        tok.decode(out.tokens, skip_special_tokens=True)).content


def test_system_message_prompt(local, reference):
    _, _, answer = reference
    pages = glyph.Renderer(chat.glyph_config("en")).render(CONTEXT).pages
    ids, out, split = answer(pages, system="Answer briefly.", max_tokens=6)
    r = client(local).chat.completions.create(
        model="glyph", max_tokens=6,
        messages=[{"role": "system", "content": "Answer briefly."}] + ask_parts())
    assert r.usage.prompt_tokens == len(ids)
    assert r.choices[0].message.content == split.content


def test_proxy_returns_the_same_answer(local, proxy, reference):
    _, tok, _ = reference
    direct = client(local).chat.completions.create(model="glyph", messages=ask_parts(),
                                                   max_tokens=10)
    via = client(proxy).chat.completions.create(model="glyph", messages=ask_parts(),
                                                max_tokens=10)
    assert via.choices[0].message.content == direct.choices[0].message.content
    assert via.usage.prompt_tokens == direct.usage.prompt_tokens
    gd, gp = direct.usage.model_extra["glyph"], via.usage.model_extra["glyph"]
    for k in ("pages", "visual_tokens", "text_tokens", "compression"):
        assert gp[k] == gd[k], k
    streamed = "".join(c.choices[0].delta.content or "" for c in client(proxy).chat.completions
                       .create(model="glyph", messages=ask_parts(), max_tokens=10, stream=True)
                       if c.choices)
    assert streamed == direct.choices[0].message.content
    assert health(proxy)["png_cache"]["hits"] >= 1  # the page was encoded once


# ---- bad input

def err(r):
    return r.status_code, r.json()["error"]


def test_bad_requests_get_named_errors(local, image_root):
    assert err(post(local, None, raw=b'{"messages": [')) [0] == 400
    s, e = err(post(local, None, raw=b'{"messages": ['))
    assert e["code"] == "invalid_json" and "not valid JSON" in e["message"]
    s, e = err(post(local, {"model": "glyph", "messages": "hello"}))
    assert (s, e["param"]) == (400, "messages")
    s, e = err(post(local, {"model": "glyph", "messages": ask_parts(), "max_tokens": "9"}))
    assert (s, e["param"], e["code"]) == (400, "max_tokens", "invalid_type")
    for field, value in (("n", 2), ("logprobs", True), ("tools", [{"type": "function"}])):
        s, e = err(post(local, {"model": "glyph", "messages": ask_parts(), field: value}))
        assert (s, e["param"], e["code"]) == (400, field, "unsupported_parameter")
    s, e = err(post(local, {"model": "gpt-4", "messages": ask_parts()}))
    assert (s, e["param"]) == (404, "model")
    # too many pages (--max-pages 4)
    s, e = err(post(local, {"model": "glyph", "messages": ask_parts(glyph.sample_text() * 14)}))
    assert (s, e["code"]) == (400, "too_many_pages")
    # a body over --max-body-bytes (2 MB): 413, with or without Content-Length
    big = {"model": "glyph", "messages": ask_parts("x " * (1_100_000))}
    s, e = err(post(local, big))
    assert (s, e["code"]) == (413, "body_too_large")

    def chunked():
        yield b'{"model": "glyph", "messages": [{"role": "user", "content": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}]}'
    r = httpx.post(local.url + "/v1/chat/completions", content=chunked(),
                   headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    assert r.status_code == 413
    # images: traversal, a symlink out of the root, remote URLs, bad data
    for url, code in ((f"file://{image_root}/../outside/secret.png", "path_outside_root"),
                      ("file://../../etc/passwd", "path_outside_root"),
                      (f"file://{image_root}/sub/link.png", "path_outside_root"),
                      ("http://127.0.0.1:9/x.png", "remote_url_refused"),
                      ("data:image/png;base64,@@@", "invalid_value"),
                      ("data:image/png;base64," + base64.b64encode(b"not a png").decode(),
                       "bad_image")):
        body = {"model": "glyph", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "?"}]}]}
        s, e = err(post(local, body))
        assert (s, e["code"], e["param"]) == (400, code, "messages[0].content[0].image_url.url"), url
    ok = {"model": "glyph", "max_tokens": 2, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "file://page.png"}},
        {"type": "text", "text": "?"}]}]}
    assert post(local, ok).status_code == 200
    s, e = err(post(local, {"model": "glyph", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "x", "glyph": {"render": True,
                                                 "config": {"font-path": "/etc/passwd"}}}]}]}))
    assert (s, e["code"]) == (400, "forbidden_key")
    # authentication
    assert err(post(local, {"model": "glyph", "messages": ask_parts()}, key=None))[0] == 401
    s, e = err(post(local, {"model": "glyph", "messages": ask_parts()}, key="wrong"))
    assert (s, e["code"]) == (401, "invalid_api_key")
    with pytest.raises(openai.AuthenticationError):
        client(local, key="wrong").models.list()
    assert [m.id for m in client(local).models.list().data] == ["glyph"]
    assert httpx.get(local.url + "/metrics").status_code == 401
    assert httpx.get(local.url + "/nope").json()["error"]["code"] == "not_found"
    assert local.proc.poll() is None and health(local)["status"] == "ok"


def test_client_leaving_mid_stream_stops_generation(local):
    before = health(local)["stopped_early"]
    with httpx.stream("POST", local.url + "/v1/chat/completions",
                      json={"model": "glyph", "messages": ask_parts(), "max_tokens": 3000,
                            "stream": True},
                      headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        got = [next(lines) for _ in range(6)]
        assert got[0].startswith("data: ")
    t0 = time.time()
    while health(local)["stopped_early"] == before and time.time() - t0 < 60:
        time.sleep(0.1)
    h = health(local)
    assert h["stopped_early"] == before + 1
    assert h["queued"] == 0
    # and the next request is served
    r = client(local).chat.completions.create(model="glyph", messages=ask_parts(), max_tokens=2)
    assert r.usage.completion_tokens <= 2


def test_timeout_and_full_queue(ckpt):
    with ServerProcess(["--model", str(ckpt), "--device", "cpu", "--timeout", "0.5",
                        "--queue-size", "1", "--render-threshold", "500"]) as s:
        c = client(s)
        res = {}

        def long():
            try:
                c.chat.completions.create(model="glyph", max_tokens=3500, messages=[
                    {"role": "user", "content": "Tell me a long story."}])
            except openai.APIStatusError as e:
                res["long"] = e

        th = threading.Thread(target=long)
        th.start()
        t0 = time.time()
        while health(s)["queued"] == 0 and th.is_alive() and time.time() - t0 < 60:
            time.sleep(0.02)
        with pytest.raises(openai.RateLimitError) as busy:
            c.chat.completions.create(model="glyph", messages=[{"role": "user", "content": "hi"}],
                                      max_tokens=1)
        assert busy.value.body["code"] == "queue_full"
        th.join(60)
        assert res["long"].status_code == 504 and res["long"].body["code"] == "timeout"
        t0 = time.time()
        while health(s)["stopped_early"] == 0 and time.time() - t0 < 60:
            time.sleep(0.05)
        assert health(s)["stopped_early"] == 1 and health(s)["queued"] == 0
        r = c.chat.completions.create(model="glyph", messages=[{"role": "user", "content": "hi"}],
                                      max_tokens=1)
        assert r.usage.completion_tokens == 1


# ---- load

def test_load_32_clients(local, reference):
    """32 concurrent clients x 8 requests: zero errors, every answer the one glyph.vlm gives
    alone (batched or not, streamed or not); resident memory after the run within 10% of after
    the first round."""
    model, tok, answer = reference
    texts = [glyph.sample_text() * 2, glyph.sample_text()[:2500], "short question " * 5]
    want = []
    for t in texts:
        pages = glyph.Renderer(chat.glyph_config("en")).render(t).pages if len(t) >= 500 else None
        want.append(answer(pages, question=QUESTION if pages else t + QUESTION,
                           max_tokens=3)[2].content)
    c = client(local, timeout=300)

    def one(i):
        t = texts[i % 3]
        msgs = ask_parts(t) if len(t) >= 500 else [{"role": "user", "content": t + QUESTION}]
        r = c.chat.completions.create(model="glyph", messages=msgs, max_tokens=3,
                                      stream=bool(i % 4 == 3))
        if i % 4 == 3:
            return "".join(x.choices[0].delta.content or "" for x in r if x.choices)
        return r.choices[0].message.content

    with ThreadPoolExecutor(32) as pool:
        first = list(pool.map(one, range(32)))
        rss_first = local.rss_bytes()
        rest = list(pool.map(one, range(32, 32 * 8)))
    rss_end = local.rss_bytes()
    got = first + rest
    assert len(got) == 256
    assert [i for i, a in enumerate(got) if a != want[i % 3]] == []
    assert rss_end <= rss_first * 1.10, (rss_first, rss_end)
    h = health(local)
    assert h["batches"] >= 1 and h["queued"] == 0  # greedy requests were decoded together



def test_proxy_with_its_upstream_down_answers_503():
    with ServerProcess(["--upstream", "http://127.0.0.1:9", "--render-threshold", "500"]) as s:
        with pytest.raises(openai.APIStatusError) as e:
            client(s).chat.completions.create(model="glyph", messages=ask_parts(), max_tokens=2)
        assert e.value.status_code == 503 and e.value.body["code"] == "upstream_unavailable"
        assert health(s)["status"] == "ok"


def test_sampling_is_seeded(local, reference):
    model, tok, _ = reference
    pages = glyph.Renderer(chat.glyph_config("en")).render(CONTEXT).pages
    c = client(local)
    kw = dict(model="glyph", messages=ask_parts(), max_tokens=12, temperature=1.5, seed=11)
    a = c.chat.completions.create(**kw)
    assert c.chat.completions.create(**kw).choices[0].message.content == a.choices[0].message.content
    ids = model.build_prompt(tok, QUESTION, images=pages)
    stop = sorted(set(model.generation_defaults["stop_ids"]) | set(chat.STOP_TOKEN_IDS))
    out = model.generate(ids, images=pages, max_new_tokens=12, do_sample=True, temperature=1.5,
                         top_p=1.0, top_k=0, repetition_penalty=1.1, seed=11, stop_ids=stop)
    assert a.choices[0].message.content == glyph.split_reasoning(
        tok.decode(out.tokens, skip_special_tokens=True)).content
