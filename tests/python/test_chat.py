"""glyph.chat: the OpenAI request/reply module shared by glyph eval, glyph serve and the notebooks."""
import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

import glyph
from glyph import chat


def decode_url(url):
    head, b64 = url.split(",", 1)
    assert head.startswith("data:image/") and head.endswith(";base64")
    return head[5:-7], Image.open(io.BytesIO(base64.b64decode(b64)))


@pytest.fixture(scope="module")
def pages():
    cfg = glyph.RenderConfig.glyph_default()
    cfg.page_size = (200, 150)
    return glyph.Renderer(cfg).render("The quick brown fox jumps over the lazy dog. " * 40).pages


def test_sampling_params_are_glyphs_and_overridable():
    p = chat.sampling_params()
    assert p == dict(chat.GLYPH_SAMPLING)
    assert p["stop_token_ids"] == [151329, 151348, 151336] and p["top_k"] == 1
    p["stop_token_ids"].append(1)  # a copy: the module's defaults stay
    assert chat.GLYPH_SAMPLING["stop_token_ids"] == [151329, 151348, 151336]
    q = chat.sampling_params({"max_tokens": 16, "top_k": None, "seed": 3})
    assert q["max_tokens"] == 16 and "top_k" not in q and q["seed"] == 3
    plain = chat.sampling_params(vllm_extensions=False)
    assert set(plain) == {"max_tokens", "temperature", "top_p"}
    with pytest.raises(TypeError):
        chat.GLYPH_SAMPLING["max_tokens"] = 1


def test_page_message_holds_every_page_in_order_then_the_question(pages):
    assert len(pages) >= 2
    msg = chat.page_message(pages, "What jumps?")
    assert msg["role"] == "user"
    parts = msg["content"]
    assert [p["type"] for p in parts] == ["image_url"] * len(pages) + ["text"]
    assert parts[-1]["text"] == "What jumps?"
    for page, part in zip(pages, parts):
        mime, img = decode_url(part["image_url"]["url"])
        assert mime == "image/png"
        assert np.array_equal(np.asarray(img.convert("RGB")), page.pixels)


def test_images_of_every_kind_and_the_pixel_cap(tmp_path, pages):
    arr = pages[0].pixels
    for src in (arr, Image.fromarray(arr), pages[0].to_png_bytes()):
        _, img = decode_url(chat.image_data_url(src))
        assert np.array_equal(np.asarray(img.convert("RGB")), arr)
    jpg = tmp_path / "p.jpg"
    Image.fromarray(arr).save(jpg, quality=90)
    mime, img = decode_url(chat.image_data_url(str(jpg)))
    assert mime == "image/jpeg" and img.size == (arr.shape[1], arr.shape[0])
    # Over the cap: scaled down with Lanczos, aspect ratio kept, as PNG (what PIL itself gives).
    cap = arr.shape[0] * arr.shape[1] // 4
    for src in (pages[0], arr, str(jpg)):
        mime, img = decode_url(chat.image_data_url(src, max_pixels=cap))
        assert mime == "image/png"
        w, h = img.size
        assert w * h <= cap and abs(w / h - arr.shape[1] / arr.shape[0]) < 0.02
    _, img = decode_url(chat.image_data_url(arr, max_pixels=cap))
    want = Image.fromarray(arr).resize(img.size, Image.LANCZOS)
    assert np.array_equal(np.asarray(img), np.asarray(want))
    with pytest.raises(glyph.InputError, match="not PNG"):
        chat.image_data_url(b"hello")
    with pytest.raises(glyph.InputError, match="missing.png"):
        chat.image_data_url(str(tmp_path / "missing.png"))
    with pytest.raises(glyph.InputError, match="uint8"):
        chat.image_data_url(np.zeros((4, 4), np.float32))
    with pytest.raises(glyph.InputError, match="cannot send int"):
        chat.image_data_url(3)


def test_requests(pages):
    body = chat.chat_request(pages[:1], "Q?", model="glyph", params={"max_tokens": 5},
                             stream=True, history=[{"role": "system", "content": "be brief"}])
    assert body["model"] == "glyph" and body["stream"] is True and body["max_tokens"] == 5
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    json.dumps(body)  # serialisable as it is
    t = chat.text_request("context and question", model="qwen3", vllm_extensions=False)
    assert t["messages"] == [{"role": "user", "content": "context and question"}]
    assert "top_k" not in t and t["temperature"] == 0.0001
    with pytest.raises(glyph.InputError, match="model"):
        chat.chat_request([], "q", model="")


def reply(content, **extra):
    msg = {"role": "assistant", "content": content, **extra}
    return {"id": "x", "model": "glyph", "choices": [{"index": 0, "message": msg,
                                                      "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 7, "total_tokens": 127}}


def test_parse_reply_splits_reasoning_either_way():
    r = chat.parse_chat_response(json.dumps(reply("<think>count them</think><answer>4</answer>")))
    assert (r.content, r.reasoning, r.prompt_tokens, r.completion_tokens) == ("4", "count them",
                                                                              120, 7)
    assert r.text.startswith("<think>") and r.finish_reason == "stop" and r.model == "glyph"
    # vLLM's reasoning parser returns the reasoning in its own field.
    r = chat.parse_chat_response(reply("4", reasoning_content="count them"))
    assert (r.content, r.reasoning) == ("4", "count them")
    r = chat.parse_chat_response(reply("plain answer").__repr__().replace("'", '"').encode())
    assert r.content == "plain answer" and r.reasoning == ""


@pytest.mark.parametrize("body,reason", [
    (b"<html>502 Bad Gateway</html>", "not_json"),
    ("[1, 2]", "not_json"),
    ({"error": {"message": "model overloaded", "code": 503}}, "error_body"),
    ({"object": "error", "message": "x", "error": "boom"}, "error_body"),
    ({"id": "x", "choices": []}, "no_choices"),
    ({"id": "x"}, "no_choices"),
    ({"choices": [{"index": 0}]}, "no_content"),
    ({"choices": [{"message": {"role": "assistant"}}]}, "no_content"),
    ({"choices": [{"message": {"content": 3}}]}, "no_content"),
])
def test_bad_replies_name_their_cause(body, reason):
    with pytest.raises(chat.ChatResponseError) as e:
        chat.parse_chat_response(body)
    assert e.value.reason == reason
    assert isinstance(e.value, glyph.InputError)


def test_language_detection_is_seeded_and_picks_the_config():
    pytest.importorskip("langdetect")
    zh = "小红帽是一个可爱的小女孩，她的外婆送给她一顶红色的帽子。" * 3
    en = "Little Red Riding Hood walked through the forest to her grandmother's house."
    assert chat.is_chinese(chat.detect_language(zh))
    assert chat.detect_language(en) == "en"
    # Short ambiguous text: langdetect is random unless seeded; seeded it is the same every time.
    amb = "ok ja si"
    assert len({chat.detect_language(amb) for _ in range(10)}) == 1
    assert chat.detect_language("1234 5678 !!") == "en"  # nothing to go on: the default
    assert chat.glyph_config("en").to_json() == glyph.RenderConfig.glyph_default().to_json()
    cjk = glyph.find_cjk_font()
    if not cjk:
        with pytest.raises(glyph.FontError, match="CJK font"):
            chat.glyph_config("zh-cn")
        return
    cfg = chat.glyph_config("zh-cn")
    assert cfg.font_path == cjk and list(cfg.fallback_font_paths) == [glyph.default_font_path()]
    assert cfg.page_size == (595, 842) and cfg.margin_x == 10 and cfg.line_height == 10
    with pytest.raises(glyph.FontError, match="does not exist"):
        chat.glyph_config("zh", cjk_font="/nonexistent/font.otf")
