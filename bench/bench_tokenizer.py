#!/usr/bin/env python3
"""Tokens/s of glyph.Tokenizer vs Hugging Face `tokenizers` on the same texts, in one run.

Trains a byte-level BPE on local text (Glyph's sample texts, Debian license texts, Python
sources), GLM-4-style (cl100k split pattern, GLM special tokens; --style glm4, the default) or
Qwen2/Qwen3-style (--style qwen: NFC normalizer, Qwen2's split pattern, Qwen's special tokens and
added tokens with lstrip/rstrip/single_word/normalized, a tenth of the documents in decomposed
NFD form so that NFC has work), then times:
  single : encode() of each document, one call at a time, one thread
  big    : encode() of one long document (all documents joined), one thread
  batch  : encode_batch() of all documents (tokenizers: rayon, all cores; glyph: thread pool)
  count  : glyph count() (no id list) vs len(encode().ids)
Both sides get a warm-up pass first (both cache BPE words). Ids are checked to be identical.

    python bench/bench_tokenizer.py [--style glm4|qwen] [--vocab 16000] [--seconds 2]
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

import unicodedata

import tokenizers
from tokenizers import (AddedToken, Regex, decoders, models, normalizers, pre_tokenizers,
                        processors, trainers)

ROOT = Path(__file__).resolve().parents[1]
PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN_PATTERN = PATTERN.replace(r"\p{N}{1,3}", r"\p{N}")
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
                 "<|vision_end|>", "<|image_pad|>"]


def corpus() -> list:
    files = sorted(glob.glob(str(ROOT.parent / "shared/data/glyph-reference/*.txt")))
    files += [p for p in sorted(glob.glob("/usr/share/common-licenses/*")) if os.path.isfile(p)]
    stdlib = os.path.dirname(os.__file__)
    files += sorted(glob.glob(os.path.join(stdlib, "*.py")))[:60]
    docs = []
    for p in files:
        with open(p, encoding="utf-8", errors="replace") as f:
            text = f.read()
        # ~4 KB documents, the size of a few rendered paragraphs.
        docs += [text[i : i + 4096] for i in range(0, len(text), 4096)]
    return docs


def qwen_docs(docs: list) -> list:
    """The documents with every tenth in NFD (decomposed accents) and chat markup in some."""
    out = []
    for i, d in enumerate(docs):
        if i % 10 == 5:
            d = unicodedata.normalize("NFD", d)
        if i % 7 == 3:
            d = f"<|im_start|>user\n{d}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>"
        out.append(d)
    return out


def train(docs: list, vocab: int, path: str, style: str = "glm4") -> None:
    tok = tokenizers.Tokenizer(models.BPE())
    qwen = style == "qwen"
    if qwen:
        tok.normalizer = normalizers.NFC()
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PATTERN if qwen else PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        docs,
        trainers.BpeTrainer(
            vocab_size=vocab,
            special_tokens=QWEN_SPECIALS if qwen else
            ["<|endoftext|>", "[gMASK]", "<sop>", "<|user|>", "<|assistant|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    if qwen:
        tok.add_tokens([
            AddedToken("<think>", normalized=False, special=False),
            AddedToken("</think>", normalized=False, special=False),
            AddedToken("<tool_call>", lstrip=True, rstrip=True, normalized=False),
            AddedToken("<mask>", single_word=True, lstrip=True, special=True),
            AddedToken("caf\u00e9", normalized=True, special=False),
        ])
    tok.save(path)


def rate(fn, tokens: int, seconds: float) -> float:
    fn()  # warm-up (caches)
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return tokens * n / dt


def main() -> int:
    import glyph  # here, so that bench/compare_builds.py can reuse corpus() and train()

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", choices=("glm4", "qwen"), default="glm4",
                    help="GLM-4-style tokenizer or Qwen2/Qwen3-style (NFC, added-token options)")
    ap.add_argument("--vocab", type=int, default=16000)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()

    docs = corpus()
    if args.style == "qwen":
        docs = qwen_docs(docs)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tokenizer.json")
        train(docs, args.vocab, path, args.style)
        hf = tokenizers.Tokenizer.from_file(path)
        g = glyph.Tokenizer.from_file(path)
        # Same split, spelled so that glyph does not recognise it: runs on PCRE2 JIT with the
        # Unicode classes as explicit ranges (the fallback for unknown patterns).
        with open(path, encoding="utf-8") as f:
            text = f.read()
        wrapped = (QWEN_PATTERN if args.style == "qwen" else PATTERN).replace(
            "\\", "\\\\").replace('"', '\\"')
        text = text.replace(wrapped, "(?:" + wrapped + ")", 1)
        assert "(?:" in text
        g_pcre2 = glyph.Tokenizer.from_json(text)
    big = "\n".join(docs)
    want = [e.ids for e in hf.encode_batch(docs, add_special_tokens=False)]
    assert g.encode_batch(docs, add_special_tokens=False) == want, "ids differ"
    assert g.encode(big, add_special_tokens=False) == hf.encode(big, add_special_tokens=False).ids
    assert g_pcre2.encode_batch(docs, add_special_tokens=False) == want, "PCRE2 path ids differ"
    tokens = sum(len(w) for w in want)
    big_tokens = g.count(big)

    rows = []

    def row(name, hf_fn, g_fn, n):
        a, b = rate(hf_fn, n, args.seconds), rate(g_fn, n, args.seconds)
        rows.append((name, a, b))

    row("single (encode per doc)",
        lambda: [hf.encode(d, add_special_tokens=False) for d in docs],
        lambda: [g.encode(d, add_special_tokens=False) for d in docs], tokens)
    row("single, glyph's PCRE2 fallback",
        lambda: [hf.encode(d, add_special_tokens=False) for d in docs],
        lambda: [g_pcre2.encode(d, add_special_tokens=False) for d in docs], tokens)
    row("big (one long text)",
        lambda: hf.encode(big, add_special_tokens=False),
        lambda: g.encode(big, add_special_tokens=False), big_tokens)
    row("batch (all cores)",
        lambda: hf.encode_batch(docs, add_special_tokens=False),
        lambda: g.encode_batch(docs, add_special_tokens=False), tokens)
    row("count per doc (glyph count)",
        lambda: [len(hf.encode(d, add_special_tokens=False).ids) for d in docs],
        lambda: [g.count(d) for d in docs], tokens)

    print(f"tokenizers {tokenizers.__version__}, glyph {glyph.__version__}, "
          f"{os.cpu_count()} cpus, {len(docs)} docs, {len(big) / 1e6:.2f} M chars, "
          f"{tokens} tokens, vocab {args.vocab}, style {args.style}")
    print()
    print("| case | tokenizers (tokens/s) | glyph (tokens/s) | glyph / tokenizers |")
    print("| --- | ---: | ---: | ---: |")
    for name, a, b in rows:
        print(f"| {name} | {a / 1e6:.2f} M | {b / 1e6:.2f} M | {b / a:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
