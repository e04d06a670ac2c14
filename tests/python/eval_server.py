"""A small OpenAI-compatible chat server for the glyph eval tests (run by uvicorn in its own
process: ``python -m uvicorn eval_server:app --port N``).

It checks what it is sent (every image part must be a base64 PNG that PIL decodes), logs each
request (EVAL_SERVER_LOG: one JSON line with the images' sizes and pixel hashes, the text part and
the sampling keys), and answers deterministically: the first key of the EVAL_SERVER_ANSWERS JSON
file found in the request's text gives the answer (after a "<think>" block, as Glyph writes).
Markers in the text make it misbehave on demand:

    [[http500]]    always HTTP 500          [[flaky]]      HTTP 503 on the first try, then fine
    [[slow]]       sleeps 3 s (a timeout)   [[notjson]]    HTTP 200 with a plain-text body
    [[nochoices]]  a body without choices   [[errorbody]]  HTTP 200 with an "error" object
    [[nocontent]]  a message without content

EVAL_SERVER_DELAY (seconds) delays every answer (the kill test uses it).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import threading

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

app = FastAPI()
_lock = threading.Lock()
_seen: dict = {}


def _answers() -> dict:
    path = os.environ.get("EVAL_SERVER_ANSWERS")
    if not path or not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _log(entry: dict) -> None:
    path = os.environ.get("EVAL_SERVER_LOG")
    if path:
        with _lock, open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")


@app.get("/v1/models")
def models():
    return {"object": "list", "data": [{"id": "tiny-glyph", "object": "model"}]}


@app.post("/v1/chat/completions")
async def chat(request: Request):
    import numpy as np
    from PIL import Image

    body = await request.json()
    msg = body["messages"][-1]
    content = msg["content"]
    images, text = [], ""
    if isinstance(content, str):
        text = content
    else:
        for part in content:
            if part["type"] == "image_url":
                url = part["image_url"]["url"]
                head, _, b64 = url.partition(",")
                if head != "data:image/png;base64":
                    return JSONResponse({"error": {"message": f"bad image url {head}"}}, 400)
                img = Image.open(io.BytesIO(base64.b64decode(b64)))
                img.load()
                arr = np.asarray(img.convert("RGB"))
                images.append({"size": [img.width, img.height],
                               "sha": hashlib.sha256(arr.tobytes()).hexdigest()})
            elif part["type"] == "text":
                text += part["text"]
    sampling = {k: v for k, v in body.items() if k not in ("messages", "model")}
    _log({"model": body.get("model"), "images": images, "text": text, "sampling": sampling,
          "content_is_list": not isinstance(content, str)})
    delay = float(os.environ.get("EVAL_SERVER_DELAY", "0") or 0)
    if delay:
        await asyncio.sleep(delay)
    if "[[http500]]" in text:
        return PlainTextResponse("internal error", 500)
    if "[[flaky]]" in text:
        with _lock:
            n = _seen[text] = _seen.get(text, 0) + 1
        if n == 1:
            return PlainTextResponse("try again", 503)
    if "[[slow]]" in text:
        await asyncio.sleep(3)
    if "[[notjson]]" in text:
        return PlainTextResponse("<html>gateway</html>", 200)
    if "[[nochoices]]" in text:
        return {"id": "x", "object": "chat.completion"}
    if "[[errorbody]]" in text:
        return {"error": {"message": "model overloaded", "code": 503}}
    if "[[nocontent]]" in text:
        return {"id": "x", "choices": [{"index": 0, "message": {"role": "assistant"}}]}
    answer = "I do not know."
    for key, value in _answers().items():
        if key in text:
            answer = value
            break
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"),
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant",
                                 "content": f"<think>Reading {len(images)} pages.</think>{answer}<|user|>"}}],
        "usage": {"prompt_tokens": 100 * len(images) + len(text.split()),
                  "completion_tokens": len(answer.split()), "total_tokens": 0},
    }
