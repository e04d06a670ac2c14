"""For the serve tests and bench/bench_serve.py: a tiny random GLM-4.1V checkpoint with a GLM
tokenizer written to a folder, and a real `glyph serve` process on loopback."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List, Optional

import glyph



def write_checkpoint(path, seed: int = 7, **model_kw) -> str:
    """A tiny GLM-4.1V (transformers, random weights) and a byte-level BPE tokenizer with GLM's
    special tokens, saved as a checkpoint folder glyph.vlm and glyph serve load."""
    import glyph
    import vlm_tiny

    path = str(path)
    os.makedirs(path, exist_ok=True)
    hf = vlm_tiny.make_glm_tokenizer(glyph.sample_text())
    hf.save(os.path.join(path, "tokenizer.json"))
    ids = [hf.token_to_id(t) for t in ("<|image|>", "<|begin_of_image|>", "<|end_of_image|>")]
    model = vlm_tiny.make_model(seed=seed, vocab=hf.get_vocab_size(), image_ids=ids, **model_kw)
    vlm_tiny.save(model, path)
    return path


class ServerProcess:
    """`python -m glyph serve ARGS --port 0` in a subprocess; ``url`` once it listens."""

    def __init__(self, args: List[str], env: Optional[dict] = None, timeout: float = 120.0):
        e = dict(os.environ)
        # the glyph these tests import (the tree's python/ in development, site-packages in CI)
        py = str(Path(glyph.__file__).resolve().parents[1])
        e["PYTHONPATH"] = py + os.pathsep + e.get("PYTHONPATH", "")
        e.setdefault("OMP_NUM_THREADS", "1")
        e.update(env or {})
        cmd = [sys.executable, "-m", "glyph", "serve", "--host", "127.0.0.1", "--port", "0",
               *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=e, text=True, bufsize=1)
        self.lines: List[str] = []
        self.url: Optional[str] = None
        ready = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                if self.url is None and "listening on " in line:
                    self.url = line.split("listening on ", 1)[1].split()[0]
                    ready.set()
            ready.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        t0 = time.time()
        while not ready.wait(0.2):
            if time.time() - t0 > timeout:
                self.close()
                raise RuntimeError("glyph serve did not start:\n" + "\n".join(self.lines))
        if self.url is None:
            self.close()
            raise RuntimeError("glyph serve exited:\n" + "\n".join(self.lines))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_bytes(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
