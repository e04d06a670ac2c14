"""glyph.serve's parts in-process: request checking (each bad field named), the streamed text
(UTF-8 never split, <think> tags cut anywhere, stop strings), the page caches (pages identical to a
full render), the prompt of a conversation against the C++ prompt builder. The real server is
tested in test_serve.py."""
import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("fastapi")
tokenizers = pytest.importorskip("tokenizers")

import glyph  # noqa: E402
from glyph import chat  # noqa: E402
from glyph.serve import ApiError, ServeSettings, TextStream, parse_chat  # noqa: E402
from glyph.serve.pages import PageStore  # noqa: E402
from glyph.serve.request import ImagePart, RenderPart, TextPart  # noqa: E402

import vlm_tiny  # noqa: E402


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    hf = vlm_tiny.make_glm_tokenizer(glyph.sample_text() + " 世界 ünïcödé <think> </think>")
    p = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    hf.save(str(p))
    return glyph.Tokenizer.from_file(str(p))


def test_import_glyph_and_cli_do_not_import_fastapi():
    code = ("import sys, glyph, glyph.cli, glyph.serve; "
            "print(any(m in sys.modules for m in ('fastapi', 'uvicorn', 'httpx', "
            "'prometheus_client', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ---- request checking

S = ServeSettings(render_threshold=100, max_tokens=64)


def msg(content, role="user"):
    return {"model": "glyph", "messages": [{"role": role, "content": content}]}


@pytest.mark.parametrize("body, param, code", [
    ([1, 2], None, "invalid_type"),
    ({"model": "glyph"}, "messages", "missing_field"),
    ({"messages": "hi"}, "messages", "invalid_type"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "invalid_value"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content", "invalid_type"),
    ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]},
     "messages[0].content[0].type", "unsupported_parameter"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
     "messages[0].content[0].text", "invalid_type"),
    ({**msg("x"), "max_tokens": "5"}, "max_tokens", "invalid_type"),
    ({**msg("x"), "max_tokens": 65}, "max_tokens", "invalid_value"),
    ({**msg("x"), "max_tokens": 0}, "max_tokens", "invalid_value"),
    ({**msg("x"), "temperature": "hot"}, "temperature", "invalid_type"),
    ({**msg("x"), "temperature": 3}, "temperature", "invalid_value"),
    ({**msg("x"), "top_p": 0}, "top_p", "invalid_value"),
    ({**msg("x"), "n": 2}, "n", "unsupported_parameter"),
    ({**msg("x"), "logprobs": True}, "logprobs", "unsupported_parameter"),
    ({**msg("x"), "tools": []}, "tools", "unsupported_parameter"),
    ({**msg("x"), "frobnicate": 1}, "frobnicate", "unknown_parameter"),
    ({**msg("x"), "stop": [1]}, "stop", "invalid_type"),
    ({**msg("x"), "stop_token_ids": [-1]}, "stop_token_ids", "invalid_type"),
    ({**msg("x"), "stream": "yes"}, "stream", "invalid_type"),
    ({**msg("x"), "stream_options": {"x": 1}}, "stream_options.x", "unknown_parameter"),
    ({**msg("x"), "presence_penalty": 0.5}, "presence_penalty", "unsupported_parameter"),
    (msg([{"type": "text", "text": "x", "glyph": {"render": "yes"}}]),
     "messages[0].content[0].glyph.render", "invalid_type"),
    (msg([{"type": "text", "text": "x", "glyph": {"dpi": 96}}]),
     "messages[0].content[0].glyph.dpi", "unknown_parameter"),
    (msg([{"type": "image_url", "image_url": {"url": ""}}]),
     "messages[0].content[0].image_url.url", "invalid_type"),
    (msg("hello", role="assistant"), "messages[0].role", "invalid_value"),
    (msg("lone \ud800 surrogate"), "messages[0].content", "invalid_unicode"),
    (msg([{"type": "text", "text": "\udfff"}]), "messages[0].content[0].text", "invalid_unicode"),
    ({**msg("x"), "stop": ["\ud800"]}, "stop", "invalid_unicode"),
])
def test_bad_fields_are_named(body, param, code):
    with pytest.raises(ApiError) as e:
        parse_chat(body, S)
    assert e.value.status == 400
    assert e.value.param == param and e.value.code == code
    if param:
        assert e.value.message.startswith(param)


def test_render_policy():
    long = "word " * 40
    call = parse_chat(msg([{"type": "text", "text": long}, {"type": "text", "text": "Q?"},
                           {"type": "text", "text": "short", "glyph": {"render": True}},
                           {"type": "text", "text": long, "glyph": {"render": False}},
                           {"type": "image_url", "image_url": {"url": "data:image/png;base64,"}}]),
                      S)
    kinds = [type(p) for p in call.messages[0].parts]
    assert kinds == [RenderPart, TextPart, RenderPart, TextPart, ImagePart]
    # system and assistant text is never rendered by the threshold
    call = parse_chat({"messages": [{"role": "system", "content": long},
                                    {"role": "user", "content": "hi"}]}, S)
    assert isinstance(call.messages[0].parts[0], TextPart)
    with pytest.raises(ApiError, match="only user text is rendered"):
        parse_chat({"messages": [{"role": "system", "content": [
            {"type": "text", "text": "x", "glyph": {"render": True}}]},
            {"role": "user", "content": "hi"}]}, S)
    # threshold 0: only marked parts
    call = parse_chat(msg(long), ServeSettings(render_threshold=0))
    assert isinstance(call.messages[0].parts[0], TextPart)
    s = parse_chat({**msg("x"), "temperature": 0.0001, "top_k": -1, "stop": "END"}, S).sampling
    assert s.top_k == 0 and s.stop == ["END"] and s.max_tokens == S.default_max_tokens


# ---- the streamed text

def stream_all(tok, ids, **kw):
    ts = TextStream(tok, **kw)
    out = []
    for t in ids:
        out.append(ts.push(t))
        if ts.stopped:
            break
    out.append(ts.finish())
    return ts, out


def test_stream_never_splits_utf8_and_splits_reasoning(tok):
    text = "<think>Wer ist es? 世界 ünï</think><answer>Alice 世界 im Wunderland</answer>"
    ids = tok.encode(text, add_special_tokens=False)
    assert any("\ufffd" in tok.decode([i]) for i in ids)  # some token holds half a character
    ts, out = stream_all(tok, ids)
    for r, c in out:
        assert "\ufffd" not in r and "\ufffd" not in c
    whole = glyph.split_reasoning(tok.decode(ids))
    assert "".join(r for r, _ in out) == whole.reasoning
    assert "".join(c for _, c in out) == whole.content == "Alice 世界 im Wunderland"


def test_stream_stop_strings(tok):
    text = "Alice was beginning to get very tired of sitting by her sister"
    ids = tok.encode(text, add_special_tokens=False)
    ts, out = stream_all(tok, ids, stop=["very tired"])
    got = "".join(c for _, c in out)
    assert got == "Alice was beginning to get " and ts.stopped
    assert len(ts.ids) < len(ids)  # generation is told to stop there
    ts, out = stream_all(tok, ids, stop=["very tired"], include_stop=True)
    assert "".join(c for _, c in out) == "Alice was beginning to get very tired"
    ts, out = stream_all(tok, ids, stop=["not in it"])
    assert "".join(c for _, c in out) == text and not ts.stopped


# ---- pages

def test_page_caches_give_the_pages_of_a_full_render(tok):
    store = PageStore(ServeSettings(max_pages=50), glyph._tokenizers.as_codec(tok))
    a = glyph.sample_text() * 6
    b = a + "\n\nAnd then the Queen came in, and everybody stood up at once."
    call_a = parse_chat(msg([{"type": "text", "text": a, "glyph": {"render": True}}]), S)
    call_b = parse_chat(msg([{"type": "text", "text": b, "glyph": {"render": True}}]), S)
    pa = store.prepare(call_a, want="urls")
    again = store.prepare(call_a, want="urls")
    assert again.usage.pages_from_cache == pa.usage.pages == len(pa.messages[0][1]) >= 3
    assert [i.url for i in again.messages[0][1]] == [i.url for i in pa.messages[0][1]]
    hits = store.urls.hits
    pb = store.prepare(call_b, want="urls")
    fresh = glyph.Renderer(chat.glyph_config("en")).render(b).pages
    assert [i.url for i in pb.messages[0][1]] == [chat.image_data_url(p) for p in fresh]
    for got, want in zip(pb.messages[0][1], fresh):
        assert np.array_equal(got.page.pixels, want.pixels)
    # the grown context's pages before the change were encoded once, not again
    assert store.urls.hits - hits >= len(fresh) - 1
    u = pb.usage
    assert u.text_tokens == tok.count(b)
    assert u.visual_tokens == sum(p.visual_tokens for p in fresh)


def test_request_config_is_checked(tok):
    store = PageStore(ServeSettings(max_pages=3))
    def prep(cfg, text="some text"):
        call = parse_chat(msg([{"type": "text", "text": text,
                                "glyph": {"render": True, "config": cfg}}]), S)
        return store.prepare(call, want="urls")
    with pytest.raises(ApiError, match=r"glyph\.config\.font-path: names a file"):
        prep({"font-path": "/etc/passwd"})
    with pytest.raises(ApiError, match="unknown config key 'dpii'"):
        prep({"dpii": 96})
    with pytest.raises(ApiError, match="pixels, more than"):
        prep({"dpi": 1200})
    with pytest.raises(ApiError) as e:
        prep(None, glyph.sample_text() * 12)
    assert e.value.code == "too_many_pages"
    p = prep({"dpi": 96})
    assert p.usage.pages == 1
    want = glyph.Renderer({**chat.glyph_config("en").to_dict(), "dpi": 96}).render(
        "some text").pages[0]
    assert np.array_equal(p.messages[0][1][0].page.pixels, want.pixels)


def test_chinese_text_gets_config_zh():
    if not glyph.find_cjk_font():
        pytest.skip("no CJK font installed")
    store = PageStore(ServeSettings())
    part = RenderPart("这是一个很长的中文故事，讲的是一个小女孩和一只狼。" * 20, param="p")
    assert store.config_for(part).font_path == chat.glyph_config("zh").font_path
    assert store.config_for(RenderPart(glyph.sample_text(), param="p")).font_path == \
        chat.glyph_config("en").font_path


# ---- the proxy's request, the CLI

def test_proxy_forwards_only_what_the_upstream_takes():
    from glyph.serve.engines import ProxyEngine

    s = ServeSettings(render_threshold=100).check()
    call = parse_chat({**msg([{"type": "text", "text": "word " * 40},
                              {"type": "text", "text": "Q?"}]),
                       "max_tokens": 7, "top_k": 5, "skip_special_tokens": False}, s)
    prep = PageStore(s).prepare(call, want="urls")
    vllm = ProxyEngine("http://127.0.0.1:9", s, kind="vllm").body(call, prep)
    openai_ = ProxyEngine("http://127.0.0.1:9/v1", s, kind="openai", model="up").body(call, prep)
    assert vllm["top_k"] == 5 and vllm["skip_special_tokens"] is False
    assert vllm["repetition_penalty"] == chat.GLYPH_SAMPLING["repetition_penalty"]
    assert vllm["stop_token_ids"] == list(chat.STOP_TOKEN_IDS)
    assert not set(openai_) & chat.VLLM_EXTENSIONS
    assert openai_["model"] == "up" and vllm["model"] == "glyph" and openai_["max_tokens"] == 7
    parts = openai_["messages"][0]["content"]
    assert parts[0]["type"] == "image_url" and parts[0]["image_url"]["url"].startswith(
        "data:image/png;base64,")
    assert parts[1] == {"type": "text", "text": "Q?"}
    assert "glyph" not in json.dumps(openai_["messages"])  # our part marks never leave


def test_cli_refuses_a_missing_key_variable(monkeypatch):
    from glyph import cli

    monkeypatch.delenv("GLYPH_NO_SUCH_KEY", raising=False)
    with pytest.raises(SystemExit, match="GLYPH_NO_SUCH_KEY"):
        cli.main(["serve", "--upstream", "http://127.0.0.1:9", "--api-key-env",
                  "GLYPH_NO_SUCH_KEY"])
    with pytest.raises(SystemExit):  # neither engine
        cli.main(["serve"])


def test_server_config_applies_to_every_part(tmp_path):
    cfg = chat.glyph_config("en").to_dict()
    cfg["dpi"] = 96
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    store = PageStore(ServeSettings(render_config=str(path)))
    for text, lang in ((glyph.sample_text(), None), ("这是中文。" * 50, "zh")):
        got = store.config_for(RenderPart(text, language=lang, param="p"))
        assert got.dpi == 96 and got.font_path == cfg["font-path"]


def test_app_answers_any_bad_body_with_json(tmp_path):
    """In-process through the ASGI app (proxy engine, upstream never reached): odd bodies get
    OpenAI-style JSON errors, never a crash or a non-JSON 500."""
    from fastapi.testclient import TestClient

    from glyph.serve import create_app

    app = create_app(upstream="http://127.0.0.1:9", max_body_bytes=4096)
    with TestClient(app) as c:
        for raw, status in ((b"", 400), (b"[[[[" * 5000, 413), (b"[" * 2000 + b"]" * 2000, 400),
                            (b'{"messages": [], "\\ud800": 1}', 400), (b"\xff\xfe", 400),
                            (b'{"messages": [{"role": "user", "content": "hi"}], '
                             b'"max_tokens": 1e999}', 400),
                            (b'{"model": "\\ud800", "messages": [{"role": "user", '
                             b'"content": "x"}]}', 404)):
            r = c.post("/v1/chat/completions", content=raw)
            assert r.status_code == status, (raw[:40], r.text)
            assert r.json()["error"]["message"]
        assert c.get("/health").json()["status"] == "ok"


def test_sampling_defaults():
    from glyph.serve.engines import glyph_defaults

    g = glyph_defaults(parse_chat(msg("x"), S).sampling)
    assert (g["temperature"], g["top_k"], g["repetition_penalty"]) == (0.0001, 1, 1.1)
    g = glyph_defaults(parse_chat({**msg("x"), "temperature": 0.8}, S).sampling)
    assert g["top_k"] is None and g["temperature"] == 0.8  # asked to sample: no top_k 1
    g = glyph_defaults(parse_chat({**msg("x"), "temperature": 0.8, "top_k": 1}, S).sampling)
    assert g["top_k"] == 1
