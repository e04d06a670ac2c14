#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ from real files and real libraries.

Seeds are committed (the fuzz and replay runs need no Python); this script says where each came
from and rebuilds them: Glyph's configs and texts (../shared/data/glyph-reference), subsets of the
installed fonts (fontTools), byte-level BPE tokenizer.json files trained with Hugging Face
`tokenizers`, safetensors files written by the `safetensors` package, search spaces from
docs/search.md, advisor replies in the format the advisor prompt asks for, and PNG page sizes.

    python tests/fuzz/make_seeds.py      # needs fonttools, tokenizers, safetensors, numpy
"""
from __future__ import annotations

import io
import json
import shutil
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REF = ROOT.parent / "shared/data/glyph-reference"
CORPUS = HERE / "corpus"
FONTS = Path("/usr/share/fonts")
DEJAVU = ROOT / "python/glyph/fonts/DejaVuSans.ttf"


def out(target: str, name: str, data: bytes | str) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def ref_text(name: str, n: int) -> str:
    p = REF / name
    return p.read_text(encoding="utf-8")[:n] if p.exists() else ""


# ---- RenderConfig JSON -------------------------------------------------------------------------
def configs() -> None:
    for name in ("config_en.json", "config_zh.json"):
        if (REF / name).exists():
            out("config", name, (REF / name).read_bytes())
    base = json.loads((REF / "config_en.json").read_text()) if (REF / "config_en.json").exists() else {}
    variants = {
        "names.json": {"page-size": "A4", "alignment": "justify", "font-color": "black",
                       "para-bg-color": None, "para-border-color": "#abc", "line-height": None},
        "list_page.json": {"page-size": [300.5, 200], "dpi": 96, "horizontal-scale": 0.85,
                           "first-line-indent": 12, "left-indent": 3, "right-indent": 4},
        "markup.json": {"newline-markup": "<font color=\"#FF0000\">\\n</font>", "alignment": "CENTER"},
        "borders.json": {"border-width": 1.5, "border-padding": 2, "space-before": 3,
                         "space-after": 4, "auto-crop-width": 1, "auto-crop-last-page": "true"},
        "fallback.json": {"font-path": "DejaVuSans.ttf",
                          "fallback-font-paths": ["a.ttf", "/usr/share/fonts/x.ttc"]},
        "bad_key.json": {"font-sise": 9},
        "bad_values.json": {"dpi": 5000, "margin-x": -1, "page-size": "1,1", "font-color": "#12"},
    }
    for name, v in variants.items():
        out("config", name, json.dumps({**base, **v}, indent=1))
    out("config", "empty.json", "{}")


# ---- text through the renderer (first byte picks the config: 0 Latin, 1 CJK, 2 marker, 3 fancy)
def texts() -> list[str]:
    return [
        ref_text("input.txt", 1500),
        ref_text("case1.txt", 800),
        ref_text("case3.txt", 800),
        "从前有个小姑娘，谁见了都喜欢。长文本建模的计算和内存开销随上下文长度急剧增长。\n第二段：混合 English 文本 123。",
        "line one\nline two\n\n\nafter blank lines\n" + "x" * 200 + "\n  indented   spaces\ttab",
        "soft\u00adhyphen zero\u200bwidth \u0001\u0007 controls \ufeff bom \u00a0nbsp end",
        "Emoji 😀👍🏽 Arabic مرحبا Hebrew שלום Devanagari नमस्ते Thai ภาษาไทย Hangul 한국어",
        "<br/> literal <font color=\"red\">markup</font> &amp; &lt;tag&gt;",
        " ".join(["word"] * 150),
    ]


def render_text() -> None:
    for i, t in enumerate(texts()):
        for cfg in range(4):
            if (i + cfg) % 2 == 0 or i < 4:
                out("render_text", f"text{i}_cfg{cfg}", bytes([cfg]) + t.encode("utf-8"))
    out("render_text", "invalid_utf8", b"\x00ok \xff\xfe bad \xc3 \xe4\xb8 \xf0\x9f\x98 \xed\xa0\x80 end")
    out("render_text", "empty", b"\x01")


# ---- fonts: real fonts, subset to a few glyphs so the fuzzer can mutate them quickly -------------
def fonts() -> None:
    from fontTools import subset
    from fontTools.ttLib import TTCollection, TTFont

    chars = "Glyph renders text: Wäq 0.5 aegW.éΩЖ—€文字中\u00a0"
    sources = [
        (DEJAVU, 0, "dejavu_sans.ttf"),
        (FONTS / "truetype/dejavu/DejaVuSerif.ttf", 0, "dejavu_serif.ttf"),
        (FONTS / "truetype/dejavu/DejaVuSansMono.ttf", 0, "dejavu_mono.ttf"),
        (FONTS / "truetype/wqy/wqy-microhei.ttc", 0, "wqy_microhei.ttf"),
        (FONTS / "opentype/noto/NotoSansCJK-Regular.ttc", 0, "noto_cjk_cff.otf"),
    ]
    made = []
    for path, index, name in sources:
        if not path.exists():
            continue
        font = TTFont(str(path), fontNumber=index, lazy=False)
        opts = subset.Options()
        opts.layout_features = ["kern", "liga"]
        opts.name_IDs = [1, 2]
        opts.notdef_outline = True
        opts.hinting = name.startswith("dejavu_mono")  # one seed keeps its TrueType hinting
        s = subset.Subsetter(opts)
        s.populate(text=chars)
        s.subset(font)
        buf = io.BytesIO()
        font.save(buf)
        out("font", name, buf.getvalue())
        made.append(font)
    if len(made) >= 2:  # a two-face collection, as .ttc files are
        coll = TTCollection()
        coll.fonts = [TTFont(io.BytesIO((CORPUS / "font/dejavu_sans.ttf").read_bytes())),
                      TTFont(io.BytesIO((CORPUS / "font/dejavu_serif.ttf").read_bytes()))]
        buf = io.BytesIO()
        coll.save(buf)
        out("font", "collection.ttc", buf.getvalue())
    out("font", "not_a_font.bin", b"\x00\x01\x00\x00\x00\x00\x00\x00garbage")


# ---- tokenizer.json (trained with Hugging Face tokenizers) ----------------------------------------
GLM4_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIALS = ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>",
            "<|user|>", "<|assistant|>", "<|image|>"]


def train(vocab_size: int, pattern: str | None):
    import tokenizers
    from tokenizers import Regex, decoders, models, pre_tokenizers, trainers

    corpus = [t for t in texts() if t] * 3
    tok = tokenizers.Tokenizer(models.BPE())
    if pattern:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.add_tokens([tokenizers.AddedToken("<think>", normalized=True, special=False)])
    tok.add_tokens([tokenizers.AddedToken("长文本", normalized=False, special=False)])
    return tok


def qwen_tokenizer_seed() -> None:
    """Qwen2/Qwen3-style: NFC normalizer, Qwen2's split, added tokens with each option."""
    import tokenizers
    from tokenizers import AddedToken, Regex, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(GLM4_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}")), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([t for t in texts() if t] * 3, trainers.BpeTrainer(
        vocab_size=420, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.add_tokens([AddedToken("<think>", single_word=True, lstrip=True, normalized=False),
                    AddedToken("</think>", rstrip=True, normalized=True, special=True),
                    AddedToken("cafe\u0301", normalized=True)])
    out("tokenizer", "qwen_small.json", tok.to_str())


def tokenizer() -> None:
    qwen_tokenizer_seed()
    big = train(1200, GLM4_PATTERN)
    (HERE / "data").mkdir(exist_ok=True)
    big.save(str(HERE / "data/tokenizer.json"))  # the real file fuzz_tokenizer_text encodes with
    small = json.loads(train(420, GLM4_PATTERN).to_str())
    out("tokenizer", "glm4_small.json", json.dumps(small, ensure_ascii=False))
    gpt2 = json.loads(train(380, None).to_str())
    out("tokenizer", "gpt2_small.json", json.dumps(gpt2, ensure_ascii=False))
    legacy = json.loads(json.dumps(small))
    legacy["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in legacy["model"]["merges"]]
    out("tokenizer", "legacy_merges.json", json.dumps(legacy, ensure_ascii=False))
    tmpl = json.loads(json.dumps(small))
    ids = {t["content"]: t["id"] for t in tmpl["added_tokens"]}
    tmpl["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "[gMASK]", "type_id": 0}},
                   {"SpecialToken": {"id": "<sop>", "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in ("[gMASK]", "<sop>")},
    }
    tmpl["model"]["ignore_merges"] = True
    out("tokenizer", "template_ignore_merges.json", json.dumps(tmpl, ensure_ascii=False))
    for i, t in enumerate(texts()):
        out("tokenizer_text", f"text{i}", bytes([i % 2]) + t.encode("utf-8"))
    out("tokenizer_text", "specials", b"\x01" + "<|endoftext|>[gMASK]<sop><think>长文本</think><|user|>".encode())
    out("tokenizer_text", "invalid", b"\x00abc\xff\xc3(")


# ---- safetensors (written by the safetensors package) --------------------------------------------
def safetensors_seeds() -> None:
    import numpy as np
    from safetensors.numpy import save

    rng = np.random.default_rng(0)
    files = {
        "f32_bf16.safetensors": ({"model.embed_tokens.weight": rng.random((4, 3), dtype=np.float32),
                                  "lm_head.bias": rng.random((3,)).astype(np.float16)},
                                 {"format": "pt"}),
        "ints_bool.safetensors": ({"a": np.arange(6, dtype=np.int64).reshape(2, 3),
                                   "b": np.array([1, 0, 1], dtype=np.bool_),
                                   "c": np.arange(4, dtype=np.int8), "d": np.arange(2, dtype=np.uint8),
                                   "e": np.arange(2, dtype=np.int32), "f": np.arange(2, dtype=np.int16),
                                   "g": np.arange(2, dtype=np.float64)}, None),
        "scalar_empty.safetensors": ({"scalar": np.array(3.5, dtype=np.float32),
                                      "empty": np.zeros((0, 4), dtype=np.float32)}, None),
        "unsupported_dtype.safetensors": ({"u16": np.arange(3, dtype=np.uint16)}, None),
    }
    for name, (tensors, meta) in files.items():
        out("safetensors", name, save(tensors, metadata=meta))
    # The same tensors, sharded as transformers' save_pretrained does.
    index = {"metadata": {"total_size": 60},
             "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors",
                            "lm_head.bias": "model-00002-of-00002.safetensors"}}
    out("safetensors_index", "two_shards.json", json.dumps(index, indent=2))
    out("safetensors_index", "one_shard.json",
        json.dumps({"weight_map": {f"model.layers.{i}.w": "model.safetensors" for i in range(5)}}))
    out("safetensors_index", "bad_shard.json", json.dumps({"weight_map": {"x": "../escape.safetensors"}}))
    out("safetensors_index", "no_map.json", json.dumps({"metadata": {}}))
    # A header whose length runs past the file, and one that is not an object.
    out("safetensors", "truncated.safetensors", struct.pack("<Q", 1000) + b"{}")
    h = b"[1, 2]"
    out("safetensors", "not_object.safetensors", struct.pack("<Q", len(h)) + h)


# ---- search spaces (docs/search.md) -------------------------------------------------------------
def search_spaces() -> None:
    doc = {
        "genes": [
            {"name": "margin-x", "min": 10, "max": 40, "step": 5},
            {"name": "line-height", "min": 0, "max": 3, "step": 0.5, "relative-to": "font-size"},
            {"name": "font-size", "choices": [7, 8, 9]},
            {"name": "theme", "labels": ["light", "dark"],
             "choices": [{"page-bg-color": "#FFF", "font-color": "#000"},
                         {"page-bg-color": "#000", "font-color": "#FFF"}]},
            {"name": "dpi", "choices": [72, 96, 120], "weights": [3, 2, 1]},
        ],
        "constraints": [{"lhs": "line-height", "op": ">=", "rhs": "font-size", "offset": 1},
                        {"lhs": "font-px", "op": ">", "rhs": 6}],
    }
    out("search_space", "docs_example.json", json.dumps(doc, indent=2))
    with_base = dict(doc, base=json.loads((REF / "config_en.json").read_text()) if (REF / "config_en.json").exists() else {})
    with_base["base"].pop("font-path", None)
    out("search_space", "with_base.json", json.dumps(with_base))
    out("search_space", "tests_space.json", json.dumps({
        "genes": [{"name": "margin-x", "min": 0, "max": 40, "step": 2},
                  {"name": "margin-y", "min": 0, "max": 40, "step": 2},
                  {"name": "font-size", "choices": [7, 8, 9, 10, 11, 12]},
                  {"name": "line-height", "min": 0, "max": 3, "step": 1, "relative-to": "font-size"},
                  {"name": "alignment", "choices": ["LEFT", "JUSTIFY"]}],
        "constraints": [{"lhs": "line-height", "op": ">=", "rhs": "font-size", "offset": 1}]}))
    try:
        import glyph
        out("search_space", "builtin.json", glyph.SearchSpace.builtin().to_json())
    except Exception as e:  # the installed package is optional here
        print("skipping the builtin space:", e)
    out("search_space", "bad.json", '{"genes": [{"name": "dpi", "min": 5, "max": 1}]}')


# ---- advisor replies (the JSON format the advisor prompt asks for, with what LLMs add) ------------
def advisor_replies() -> None:
    replies = [
        '{"analysis": "wider margins help", "candidates": [{"margin-x": 30, "font-size": 10}]}',
        "Sure! Here is my analysis.\n```json\n{\"analysis\": \"wider margins help\", \"candidates\": "
        "[{\"margin-x\": 30, \"font-size\": \"10pt\"}, {\"margin-y\": 41, \"alignment\": \"left\"}, "
        "{\"line-height\": 12.2}]}\n```\nGood luck",
        '{"candidates": [42, {"colour": "blue"}, {"line-height": 9}, {"margin-x": "wide"}, '
        '{"font-size": 9, "margin-x": 10}, {"margin-x": 12}, {"margin-x": 12}, {"theme": "dark"}]}',
        '<think>the front is flat</think>\n{"analysis": "try dark", "candidates": [{"theme": "dark", '
        '"page-bg-color": "#000000"}, {"theme": {"page-bg-color": "#FFFFFF", "font-color": "#000000"}}]}',
        '{"analysis": 5, "candidates": {"margin-x": 2}}',
        "no json here at all",
        '{"candidates": [{"margin-x": 1e308, "margin-y": -1e308, "font-size": NaN}]}',
    ]
    for i, r in enumerate(replies):
        out("advisor_reply", f"reply{i}", bytes([3]) + r.encode("utf-8"))


# ---- PNG: width-1, height-1, level, then pixels --------------------------------------------------
def png() -> None:
    for name, (w, h, level) in {"1x1": (0, 0, 3), "1x9_l0": (0, 8, 0), "257x2_l9": (0, 1, 9),
                                "odd_7x13": (6, 12, 6), "255x255": (254, 254, 1)}.items():
        out("png", name, bytes([w, h, level]) + bytes(range(0, 256, 7)) * 3)


def main() -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    configs()
    render_text()
    fonts()
    tokenizer()
    safetensors_seeds()
    search_spaces()
    advisor_replies()
    png()
    for d in sorted(CORPUS.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
