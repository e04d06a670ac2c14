"""The LLM advisor over a real HTTP server on loopback that answers like chat-completions:
well-formed, malformed and hostile replies. The search must use good advice, log why bad advice was
dropped, and never crash."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import glyph
from glyph.search import AdvisorError, ConfigSearch, HttpAdvisor

SPACE = {
    "genes": [
        {"name": "margin-x", "min": 0, "max": 40, "step": 2},
        {"name": "margin-y", "min": 0, "max": 40, "step": 2},
        {"name": "font-size", "choices": [8, 9, 10]},
        {"name": "alignment", "choices": ["LEFT", "JUSTIFY"]},
    ],
}


def fitness(cfg):
    return -abs(cfg.margin_x - 34) - abs(cfg.margin_y - 6) - abs(cfg.font_size - 9), 1.0


def completion(content):
    return {"id": "x", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


class Server:
    """Answers each POST with the next scripted (status, body) and records the requests."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "body": json.loads(self.rfile.read(n))})
                status, body = outer.replies.pop(0) if outer.replies else (500, "script exhausted")
                data = body if isinstance(body, bytes) else (
                    body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def run_search(url, generations, **kw):
    advisor = HttpAdvisor(url, model="test-model", timeout=10)
    return ConfigSearch(glyph.SearchSpace.from_json(json.dumps(SPACE)), objective="accuracy",
                        population=6, generations=generations, patience=0, seed=3,
                        advisor_candidates=3, **kw).run(fitness=fitness, advisor=advisor)


def notes_of(result):
    return "\n".join(n for g in result.generations for n in g.advisor_notes)


def test_well_formed_advice_is_used(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    good = completion("Looking at the history, margins matter most.\n```json\n" + json.dumps({
        "analysis": "margin-x near 34 and margin-y near 6 look best",
        "candidates": [{"margin-x": 34, "margin-y": 6, "font-size": 9},
                       {"margin-x": "30pt", "margin-y": 5}],
    }) + "\n```")
    with Server([(200, good)]) as srv:
        res = run_search(srv.url, generations=2)
    assert len(srv.requests) == 1
    req = srv.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-test"
    assert req["body"]["model"] == "test-model"
    prompt = req["body"]["messages"][-1]["content"]
    assert "margin-x: 0 to 40 in steps of 2" in prompt and "accuracy" in prompt
    g1 = res.generations[1]
    assert g1.advisor_analysis == "margin-x near 34 and margin-y near 6 look best"
    assert g1.advisor_accepted == 2
    assert "'margin-y' = 5 repaired to 6" in notes_of(res)
    assert res.best["origin"] == "advisor" and res.best["accuracy"] == 0


def test_malformed_replies_are_logged_not_fatal():
    replies = [
        (200, completion("I think you should increase the margins. No JSON today.")),
        (200, b"<html>not json at all</html>"),
        (200, {"choices": []}),
        (500, {"error": {"message": "overloaded"}}),
        (200, completion('{"analysis": "truncated", "candidates": [{"margin-x": 3')),
        (200, completion(json.dumps({"analysis": ["a", "list"], "candidates": {"margin-x": 2}}))),
    ]
    with Server(replies) as srv:
        res = run_search(srv.url, generations=7)
    assert len(srv.requests) == 6
    notes = notes_of(res)
    assert "no JSON object found" in notes
    assert "not a chat completion" in notes
    assert "HTTP 500" in notes and "overloaded" in notes
    assert '"candidates" is not a list' in notes
    assert sum(g.advisor_accepted for g in res.generations) == 0
    assert len(res.generations) == 7 and res.best is not None
    # The malformed replies are in the log, so a resume replays rather than re-asks.


def test_hostile_replies_cannot_escape_the_space(tmp_path):
    hostile = [
        {"margin-x": 10, "font-path": "/etc/passwd"},
        {"margin-x": "NaN", "margin-y": 1e308},
        {"margin-x": 12, "__proto__": {"admin": True}, "font-size": "9; rm -rf /"},
        {"alignment": "JUSTIFY" * 1000},
    ] + [{"margin-x": 2 * (i % 21)} for i in range(2000)]
    deep = "[" * 100000 + "]" * 100000
    replies = [
        (200, completion(json.dumps({"analysis": "x" * 20000, "candidates": hostile}))),
        (200, completion(deep)),
        (200, completion('{"candidates": [' + "{}," * 50000 + "{}]}")),
        (200, completion("\u0000\ud7ff\uffff" * 1000)),
    ]
    log = tmp_path / "hostile.jsonl"
    with Server(replies) as srv:
        advisor = HttpAdvisor(srv.url, timeout=10)
        res = ConfigSearch(glyph.SearchSpace.from_json(json.dumps(SPACE)), objective="accuracy",
                           population=6, generations=5, patience=0, seed=3,
                           advisor_candidates=3).run(fitness=fitness, advisor=advisor, log=log)
    notes = notes_of(res)
    assert "unknown key 'font-path' dropped" in notes
    assert "unknown key '__proto__' dropped" in notes
    assert "not an allowed value" in notes  # the 7000-char alignment
    assert "beyond the 3 asked for" in notes
    assert "nested too deeply" in notes or "no JSON object" in notes
    assert len(res.generations[1].advisor_analysis) <= 4003
    for d in res.evaluated:
        assert res.space.feasible(d["genome"])[0]
        assert res.space.decode(d["genome"]).font_path == res.space.base.font_path


def test_advisor_client_errors():
    with pytest.raises(AdvisorError, match="unreachable"):
        HttpAdvisor("http://127.0.0.1:9/v1", timeout=2)("hello")  # discard port: refused
    with Server([(200, completion([{"type": "text", "text": "part one"}, {"type": "text",
                                                                         "text": " two"}]))]) as srv:
        assert HttpAdvisor(srv.url + "/chat/completions", timeout=10)("hi") == "part one two"


def test_python_callable_advisor_and_prompt():
    prompts = []

    def advisor(prompt):
        prompts.append(prompt)
        return json.dumps({"analysis": "ok", "candidates": [{"margin-x": 34, "margin-y": 6}]})

    res = ConfigSearch(glyph.SearchSpace.from_json(json.dumps(SPACE)), objective="accuracy",
                       population=6, generations=3, patience=0, seed=1,
                       min_compression=0.5).run(fitness=fitness, advisor=advisor)
    assert len(prompts) == 2
    assert "compression must be >= 0.5" in prompts[0]
    assert "Current population" in prompts[0]
    assert res.generations[1].advisor_accepted == 1
