"""Helpers for the glyph eval tests: the loopback server process and small items in each
benchmark's shape."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """tests/python/eval_server.py under uvicorn, on a free loopback port."""

    def __init__(self, tmp: Path, answers: dict = None, delay: float = 0.0):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.answers_path = self.tmp / "answers.json"
        self.log_path = self.tmp / "requests.jsonl"
        self.set_answers(answers or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, EVAL_SERVER_ANSWERS=str(self.answers_path),
                   EVAL_SERVER_LOG=str(self.log_path), EVAL_SERVER_DELAY=str(delay))
        env["PYTHONPATH"] = str(HERE) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "eval_server:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=str(HERE), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        import httpx

        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("eval_server exited: " + self.proc.stderr.read().decode())
            try:
                if httpx.get(self.url + "/v1/models", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.close()
        raise RuntimeError("eval_server did not start in 30 s")

    def set_answers(self, answers: dict) -> None:
        self.answers_path.write_text(json.dumps(answers, ensure_ascii=False), encoding="utf-8")

    def requests(self) -> list:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text(encoding="utf-8").splitlines()
                if line.strip()]

    def clear_log(self) -> None:
        if self.log_path.exists():
            self.log_path.unlink()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_jsonl(path: Path, items, extra_lines=()) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(it, ensure_ascii=False) for it in items] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


EN_STORY = ("Once upon a time there was a little girl who lived in a village near the forest.\n"
            "Whenever she went out, the little girl wore a red riding cloak, so everyone in the "
            "village called her Little Red Riding Hood.\n\tOne morning she walked to her "
            "grandmother's house with a basket of bread and butter.\n") * 3
ZH_STORY = ("从前有一个小女孩，住在森林附近的村庄里。她总是穿着一件红色的斗篷，所以村里的人都叫她小红帽。"
            "一天早上，她提着一篮面包和黄油去看望外婆。\n") * 4
