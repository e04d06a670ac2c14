#!/usr/bin/env python3
"""Peak memory of the streaming paths against holding the text, measured in one run.

    python bench/bench_memory.py [--mb 6] [--tokenizer tokenizer.json]

Generates a text of --mb megabytes (words, punctuation, some CRLF and invalid UTF-8), then runs
each workload in a fresh process:

  render, streamed      glyph render FILE (a TextSource: pages written as they are made)
  render, whole text    what glyph render did in 0.2: read and decode the file, Renderer.render
                        (every page kept), then save the pages
  count, streamed       glyph.count_tokens(tok, pathlib.Path(FILE)) (1 MiB windows)
  count, whole text     glyph.Tokenizer.count(the decoded text)

and prints the peak RSS of each (VmHWM, read by the process itself) and the whole/streamed
ratio. Without --tokenizer a small
GLM-4-style BPE is trained here (needs `tokenizers`). Both render workloads use the default
config (Glyph's searched config with DejaVu Sans) at PNG compression 3.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
from peak_rss import run_measured  # noqa: E402  (the same measurement the memory tests make)

WHOLE_RENDER = r"""
import os, sys, glyph
path, out = sys.argv[1], sys.argv[2]
text = open(path, "rb").read().decode("utf-8", "replace")
res = glyph.Renderer().render(text)
os.makedirs(out, exist_ok=True)
for p in res.pages:
    p.save(os.path.join(out, p.file_name), 3)
"""
STREAM_COUNT = r"""
import pathlib, sys, glyph
print(glyph.count_tokens(sys.argv[1], pathlib.Path(sys.argv[2])))
"""
WHOLE_COUNT = r"""
import sys, glyph
tok = glyph.Tokenizer.from_file(sys.argv[1])
print(tok.count(open(sys.argv[2], "rb").read().decode("utf-8", "replace")))
"""
PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
           r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def make_text(path: Path, megabytes: float) -> None:
    rnd = random.Random(1)
    words = ["Glyph", "renders", "long", "text", "into", "page", "images", "naïve", "über", "a",
             "compression", "x", "—", "“quoted”", "2025", "context"]
    lines = []
    for _ in range(2000):
        line = " ".join(rnd.choice(words) for _ in range(rnd.randrange(0, 30)))
        lines.append(line + ("\r\n" if rnd.random() < 0.2 else "\n"))
    block = "".join(lines).encode()
    target = int(megabytes * 1e6)
    with open(path, "wb") as f:
        n = 0
        while n < target:
            f.write(block + b"\xff")
            n += len(block) + 1


def train_tokenizer(path: Path, sample: str) -> None:
    import tokenizers
    from tokenizers import Regex, decoders, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([sample], trainers.BpeTrainer(
        vocab_size=2000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    tok.save(str(path))


def run(args, tmp: Path) -> tuple:
    """(peak RSS in MB, stdout) of `python -m MODULE ...` / `python -c CODE ...` (args without
    the interpreter), run alone in a fresh process."""
    r, peak = run_measured(args, stdout=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit(f"{args[:3]} failed:\n{r.stderr.decode(errors='replace')}")
    return peak, r.stdout.decode().strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=6.0, help="text size in MB (default 6)")
    ap.add_argument("--tokenizer", help="tokenizer.json (default: train a small BPE)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        text = tmp / "text.txt"
        make_text(text, args.mb)
        tok = args.tokenizer
        if tok is None:
            tok = str(tmp / "tokenizer.json")
            train_tokenizer(Path(tok), text.read_bytes()[:2_000_000].decode("utf-8", "replace"))
        print(f"text: {text.stat().st_size / 1e6:.1f} MB")
        s_render, _ = run(["-m", "glyph", "render", str(text), "--out", str(tmp / "a"),
                           "--json"], tmp)
        w_render, _ = run(["-c", WHOLE_RENDER, str(text), str(tmp / "b")], tmp)
        s_count, n1 = run(["-c", STREAM_COUNT, tok, str(text)], tmp)
        w_count, n2 = run(["-c", WHOLE_COUNT, tok, str(text)], tmp)
        if n1 != n2:
            raise SystemExit(f"streamed count {n1} != whole count {n2}")
        print(f"{'workload':<20} {'streamed MB':>12} {'whole text MB':>14} {'ratio':>7}")
        print(f"{'render':<20} {s_render:>12.0f} {w_render:>14.0f} {w_render / s_render:>6.1f}x")
        print(f"{'count (' + n1 + ')':<20} {s_count:>12.0f} {w_count:>14.0f} "
              f"{w_count / s_count:>6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
