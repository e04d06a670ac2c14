"""glyph.Tokenizer against Hugging Face `tokenizers` on byte-level BPEs these tests train themselves.

Every tokenizer here is trained on local text (Glyph's sample texts where present, Debian license
texts, Python sources, built-in multilingual strings), saved as tokenizer.json and loaded by both
libraries; ids and decoded text must be identical. No network, no downloads.
"""
from __future__ import annotations

import glob
import json
import os
import random
import sys
from pathlib import Path

import pytest

import glyph

tokenizers = pytest.importorskip("tokenizers")
from tokenizers import Regex, decoders, models, pre_tokenizers, trainers  # noqa: E402

REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared/data/glyph-reference"

# GLM-4 / cl100k split (digits in runs of up to 3) and Qwen2's (one digit per piece).
GLM4_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
GLM_SPECIALS = [
    "<|endoftext|>",
    "[MASK]",
    "[gMASK]",
    "[sMASK]",
    "<sop>",
    "<eop>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|observation|>",
    "<|begin_of_image|>",
    "<|end_of_image|>",
    "<|begin_of_video|>",
    "<|end_of_video|>",
    "<|image|>",
]

CHINESE = (
    "从前有个小姑娘，谁见了都喜欢，但最喜欢她的是她的奶奶，简直是她要什么就给她什么。"
    "一次，奶奶送给小姑娘一顶用丝绒做的小红帽，戴在她的头上正好合适。"
    "长文本建模的计算和内存开销随上下文长度急剧增长。我们将长文本渲染成图像，"
    "用视觉语言模型处理，在保持语义的同时实现三到四倍的压缩。2025年10月，第3.5版。"
)
MULTILINGUAL = [
    CHINESE,
    "日本語のテキスト：東京は日本の首都です。カタカナとひらがな。",
    "한국어 문장입니다. 서울은 대한민국의 수도입니다.",
    "Русский текст: Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Ελληνικά: Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    "مرحبا بالعالم! هذا نص عربي من اليمين إلى اليسار ١٢٣٤٥٦.",
    "שלום עולם, זה טקסט בעברית.",
    "हिन्दी पाठ: नमस्ते दुनिया। क्षत्रिय ज्ञान ॐ",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "Emoji: 😀👍🏽👨‍👩‍👧‍👦🇩🇪🏳️‍🌈 ❤️ ✨ 🫠",
    "Combining: e\u0301 a\u0308\u0304 Z\u0351\u0352\u0353\u0354 \u1e9b\u0323 ñ vs n\u0303",
    "Zalgo: H\u0337\u0321\u0327e\u0336\u0328\u0315l\u0334l\u0335o\u0338",
    "Math: ∑_{i=1}^{n} x_i² ≤ √(α·β) ∞ ≠ ℵ₀ ½ Ⅻ ①②③ ٣ ߁ ௰",
    "Spaces:\u00a0nbsp\u2003em\u3000ideo\u2028ls\u2029ps\u0085nel\u200bzwsp\u202fnnbsp\u180emvs",
    "Apostrophes: I'M, YOU'LL, he'S, they'RE, we'Ve, it'D, 'ſ 'K 'K ’s don’t",
    "Code: def f(x):\n    return {'a': [1, 2, 3]}  # comment\n\tif x != 0x1F: pass\r\n",
    "JSON: {\"k\": \"\\ud83d\\ude00\", \"lone\": \"\\ud800\", \"n\": -1.5e-10}",
]


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def _corpus_files() -> list:
    files = sorted(glob.glob(str(REFERENCE_DIR / "*.txt"))) + sorted(
        glob.glob(str(REFERENCE_DIR / "*.json"))
    )
    files += [p for p in sorted(glob.glob("/usr/share/common-licenses/*")) if os.path.isfile(p)]
    stdlib = os.path.dirname(os.__file__)
    files += [os.path.join(stdlib, n) for n in ("json/decoder.py", "textwrap.py", "difflib.py")]
    return [p for p in files if os.path.isfile(p)]


@pytest.fixture(scope="module")
def corpus() -> list:
    texts = [_read(p) for p in _corpus_files()]
    texts += MULTILINGUAL * 20
    # Invalid UTF-8 replaced, as a reader with errors="replace" hands it over.
    texts.append(b"caf\xc3 \xff\xfe bad \xed\xa0\x80 surrogate \xf4\x90\x80\x80".decode(
        "utf-8", "replace"))
    return texts


def _train(tmp: Path, name: str, corpus: list, pattern: str, vocab_size: int = 3000) -> Path:
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=GLM_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    # A non-special added token that goes through normalization, and one that is not ASCII.
    tok.add_tokens([tokenizers.AddedToken("<think>", normalized=True, special=False)])
    tok.add_tokens([tokenizers.AddedToken("长文本", normalized=False, special=False)])
    path = tmp / f"{name}.json"
    tok.save(str(path))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus) -> dict:
    tmp = tmp_path_factory.mktemp("tok")
    paths = {
        "glm4": _train(tmp, "glm4", corpus, GLM4_PATTERN),
        "qwen2": _train(tmp, "qwen2", corpus, QWEN2_PATTERN, vocab_size=2000),
    }
    # GPT-2 style: ByteLevel does the split itself and adds a prefix space.
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=1500,
            special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    paths["gpt2"] = tmp / "gpt2.json"
    tok.save(str(paths["gpt2"]))
    # Variants of the GLM-4 file, edited as JSON (what real tokenizer.json files do differently).
    base = json.loads(paths["glm4"].read_text(encoding="utf-8"))

    def variant(name, edit):
        d = json.loads(json.dumps(base))
        edit(d)
        p = tmp / f"{name}.json"
        p.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
        paths[name] = p

    def legacy_merges(d):
        d["model"]["merges"] = [" ".join(m) for m in d["model"]["merges"]]

    def template(d):
        ids = {t["content"]: t["id"] for t in d["added_tokens"]}
        d["post_processor"] = {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": "[gMASK]", "type_id": 0}},
                {"SpecialToken": {"id": "<sop>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
            ],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {
                t: {"id": t, "ids": [ids[t]], "tokens": [t]}
                for t in ("[gMASK]", "<sop>", "<|endoftext|>")
            },
        }

    def behavior(name, invert=False):
        def edit(d):
            d["pre_tokenizer"]["pretokenizers"][0]["behavior"] = name
            d["pre_tokenizer"]["pretokenizers"][0]["invert"] = invert

        return edit

    def ignore_merges(d):
        d["model"]["ignore_merges"] = True

    def literal_split(d):
        d["pre_tokenizer"]["pretokenizers"].insert(
            0, {"type": "Split", "pattern": {"String": "\n"}, "behavior": "MergedWithPrevious",
                "invert": False})

    def other_pattern(d):
        # Not one of the built-in patterns: runs on PCRE2 with the Unicode 16 class ranges.
        d["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = GLM4_PATTERN.replace(
            "{1,3}", "{1,2}").replace("\\s+(?!\\S)|", "\\s+(?!\\S)|\\P{L}\\p{N}|")

    variant("pcre2", other_pattern)
    variant("legacy_merges", legacy_merges)
    variant("template", template)
    variant("removed", behavior("Removed"))
    variant("merged_prev", behavior("MergedWithPrevious"))
    variant("merged_next", behavior("MergedWithNext"))
    variant("removed_inverted", behavior("Removed", invert=True))
    variant("ignore_merges", ignore_merges)
    variant("literal_split", literal_split)
    return paths


def _random_strings(corpus: list, n: int, seed: int) -> list:
    rng = random.Random(seed)
    pool = (
        "abcXYZ  \t\n\r'’0123456789٣٤.,;:!?-_()[]{}<>/\\\"#@$%^&*+=|~`"
        "é\u0301\u0308中文字日本한국語ßſK\u00a0\u3000\u2028\u0085😀👍🏽\u200d🇩🇪"
        "αβγабвгשלוםمرحبا"
    )
    specials = ["<|endoftext|>", "[gMASK]", "<sop>", "<|image|>", "<think>", "长文本", "<|im"]
    out = []
    joined = "\n".join(corpus)
    for _ in range(n):
        kind = rng.random()
        if kind < 0.4:
            a = rng.randrange(len(joined))
            out.append(joined[a : a + rng.randrange(1, 400)])
        elif kind < 0.8:
            out.append("".join(rng.choice(pool) for _ in range(rng.randrange(1, 60))))
        else:
            parts = [rng.choice(pool) * rng.randrange(1, 4) for _ in range(rng.randrange(1, 20))]
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(specials))
            out.append("".join(parts))
    return out


def _adversarial() -> list:
    rng = random.Random(7)
    return [
        "",
        " ",
        "a" * 1_000_000,  # 1 MB without spaces: one 1 MB pre-token
        "".join(rng.choice("abcdefghij中文") for _ in range(300_000)),
        "".join(rng.choice("!@#$%^&*()") for _ in range(200_000)),
        "1234567890" * 20_000,  # long digit run
        " " * 100_000 + "x",
        "\n" * 50_000 + " " * 50_000,
        " \n" * 50_000,
        "a\u0301" * 50_000,  # combining marks
        "\u0301" * 10_000,
        "مرحبا بالعالم " * 2_000,  # RTL
        "\u202eRTL override\u202c \u200f\u200e",
        json.dumps({"emoji": "😀" * 100, "text": "中文" * 100}),  # \ud83d\ude00 escapes as text
        "\\ud800\\udfff lone surrogates escaped in JSON \\udc00",
        "<|endoftext|>" * 1000,
        "<|endoftext|<|endoftext|>>[gMASK[gMASK]]<sop<sop>",
        "\x00\x01\x1f\x7f",
        "\U0010FFFF\U000E0001\uFFFD\uFEFF",
    ]


def _assert_parity(hf, g, texts, add_special=False):
    expected = [e.ids for e in hf.encode_batch(texts, add_special_tokens=add_special)]
    got = g.encode_batch(texts, add_special_tokens=add_special)
    bad = [i for i, (a, b) in enumerate(zip(expected, got)) if a != b]
    assert not bad, f"{len(bad)} of {len(texts)} differ; first: {texts[bad[0]][:200]!r}"
    for t, ids in zip(texts, got):
        assert g.decode(ids) == hf.decode(ids, skip_special_tokens=False)
        assert g.decode(ids, skip_special_tokens=True) == hf.decode(ids, skip_special_tokens=True)
    return len(texts)


@pytest.mark.parametrize("name", ["glm4", "qwen2", "gpt2"])
def test_parity_random_and_corpus(trained, corpus, name):
    hf = tokenizers.Tokenizer.from_file(str(trained[name]))
    g = glyph.Tokenizer.from_file(str(trained[name]))
    lines = [line for text in corpus for line in text.split("\n")]
    texts = lines + _random_strings(corpus, 3000, seed=len(name)) + corpus
    assert _assert_parity(hf, g, texts) > 4000


@pytest.mark.parametrize("name", ["glm4", "qwen2", "gpt2"])
def test_parity_adversarial(trained, name):
    hf = tokenizers.Tokenizer.from_file(str(trained[name]))
    g = glyph.Tokenizer.from_file(str(trained[name]))
    _assert_parity(hf, g, _adversarial())


@pytest.mark.parametrize(
    "name",
    ["pcre2", "legacy_merges", "template", "removed", "merged_prev", "merged_next", "removed_inverted",
     "ignore_merges", "literal_split"],
)
def test_parity_variants(trained, corpus, name):
    hf = tokenizers.Tokenizer.from_file(str(trained[name]))
    g = glyph.Tokenizer.from_file(str(trained[name]))
    texts = _random_strings(corpus, 800, seed=3) + MULTILINGUAL
    _assert_parity(hf, g, texts, add_special=False)
    _assert_parity(hf, g, texts, add_special=True)


def test_round_trip_text(trained, corpus):
    g = glyph.Tokenizer.from_file(str(trained["glm4"]))
    texts = [line for text in corpus for line in text.split("\n")][:3000] + _adversarial()
    for t in texts:
        assert g.decode(g.encode(t, add_special_tokens=False)) == t


@pytest.mark.parametrize("name", ["glm4", "qwen2", "gpt2", "pcre2"])
def test_every_code_point_splits_like_tokenizers(trained, name):
    """Unicode classes (\\p{L}, \\p{N}, \\s) for all of Unicode: pre-tokens of every code point."""
    hf = tokenizers.Tokenizer.from_file(str(trained[name]))
    g = glyph.Tokenizer.from_file(str(trained[name]))
    # GPT-2 and Qwen2 share the class table and matcher code with GLM-4: the BMP suffices there.
    top = 0x110000 if name in ("glm4", "pcre2") else 0x10000
    cps = [c for c in range(1, top) if not 0xD800 <= c <= 0xDFFF]
    step = 2048
    for start in range(0, len(cps), step):
        # Each code point between a letter, a digit and a space: its class decides the pieces.
        s = "".join(f"x{chr(c)}1{chr(c)} {chr(c)}'S{chr(c)}\n" for c in cps[start : start + step])
        expected = [p for p, _ in hf.pre_tokenizer.pre_tokenize_str(s)]
        got = g.pre_tokenize(s)
        if expected != got:
            for c in cps[start : start + step]:
                one = f"x{chr(c)}1{chr(c)} {chr(c)}'S{chr(c)}\n"
                assert g.pre_tokenize(one) == [
                    p for p, _ in hf.pre_tokenizer.pre_tokenize_str(one)
                ], f"U+{c:04X} splits differently"
            raise AssertionError(f"block at U+{cps[start]:04X} differs")


def test_api(trained):
    g = glyph.Tokenizer.from_file(str(trained["template"]))
    hf = tokenizers.Tokenizer.from_file(str(trained["template"]))
    assert g.vocab_size == hf.get_vocab_size(with_added_tokens=True)
    image = g.token_to_id("<|image|>")
    assert image == hf.token_to_id("<|image|>")
    assert g.id_to_token(image) == "<|image|>"
    assert g.special_token_id("<|image|>") == image
    assert g.is_special(image) and not g.is_special(g.token_to_id("<think>"))
    assert g.token_to_id("no such token") is None and g.id_to_token(10**8) is None
    assert "<|user|>" in g.special_tokens
    text = "Hello 世界"
    assert g.count(text) == len(hf.encode(text, add_special_tokens=False).ids)
    assert g.count(text, add_special_tokens=True) == len(hf.encode(text).ids)
    assert g.tokenize(text) == hf.encode(text, add_special_tokens=False).tokens
    texts = [text * i for i in range(50)]
    assert g.encode_batch(texts, threads=3) == [g.encode(t) for t in texts]
    assert g.count_batch(texts, threads=2) == [g.count(t) for t in texts]
    assert g.decode_batch([g.encode(t) for t in texts]) == [g.decode(g.encode(t)) for t in texts]
    assert g.encode(text.encode("utf-8")) == g.encode(text)
    with pytest.raises(glyph.InputError, match="not valid UTF-8"):
        g.encode(b"bad \xff")
    with pytest.raises(glyph.InputError, match="Cannot decode id"):
        g.decode([10**7])
    with pytest.raises(glyph.TokenizerError, match="Unknown special token"):
        g.special_token_id("<|nope|>")


def test_tokenizer_config_roles_and_template(trained, tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    (d / "tokenizer.json").write_bytes(trained["glm4"].read_bytes())
    (d / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "eos_token": "<|endoftext|>",
                "pad_token": {"content": "<|endoftext|>"},
                "chat_template": "[gMASK]<sop>{% for m in messages %}...{% endfor %}",
            }
        ),
        encoding="utf-8",
    )
    g = glyph.Tokenizer.from_file(str(d / "tokenizer.json"))
    assert g.special_token_id("eos_token") == g.token_to_id("<|endoftext|>")
    assert g.special_token_id("pad_token") == g.token_to_id("<|endoftext|>")
    assert g.chat_template.startswith("[gMASK]<sop>")
    assert glyph.load_tokenizer(d).vocab_size == g.vocab_size


def _edited(trained, tmp_path, edit):
    d = json.loads(trained["glm4"].read_text(encoding="utf-8"))
    edit(d)
    p = tmp_path / "edited.json"
    p.write_text(json.dumps(d), encoding="utf-8")
    return str(p)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.__setitem__("pre_tokenizer", {"type": "Metaspace", "replacement": "▁"}),
         "Unsupported pre_tokenizer 'Metaspace'"),
        (lambda d: d.__setitem__("normalizer", {"type": "NFKC"}), "Unsupported normalizer 'NFKC'"),
        (lambda d: d.__setitem__("normalizer", {"type": "Sequence", "normalizers": [
            {"type": "NFC"}, {"type": "Lowercase"}]}),
         "Unsupported normalizer 'Lowercase' in a Sequence"),
        (lambda d: d.__setitem__("decoder", {"type": "WordPiece"}), "Unsupported decoder 'WordPiece'"),
        (lambda d: d["model"].__setitem__("type", "Unigram"), "Unsupported model 'Unigram'"),
        (lambda d: d["model"].__setitem__("dropout", 0.1), "Unsupported BPE option 'dropout'"),
        (lambda d: d["model"].__setitem__("byte_fallback", True), "'byte_fallback'"),
        (lambda d: d.__setitem__("post_processor", {"type": "RobertaProcessing"}),
         "Unsupported post_processor 'RobertaProcessing'"),
        (lambda d: d["added_tokens"][0].__setitem__("lstrip", "yes"), "non-boolean 'lstrip'"),
        (lambda d: d["pre_tokenizer"]["pretokenizers"][0]["pattern"].__setitem__("Regex", r"\w+"),
         r"Unsupported regex construct '\\w'"),
        (lambda d: d["pre_tokenizer"]["pretokenizers"][0].__setitem__("behavior", "Contiguous"),
         "Unsupported Split behavior 'Contiguous'"),
        (lambda d: d.__setitem__("truncation", {"max_length": 8}), "Unsupported truncation"),
        (lambda d: d["model"]["merges"].append(["nope", "zzz"]), "missing from the vocab"),
    ],
)
def test_unsupported_components_are_refused(trained, tmp_path, edit, message):
    with pytest.raises(glyph.TokenizerError, match=message):
        glyph.Tokenizer.from_file(_edited(trained, tmp_path, edit))


def test_missing_file():
    with pytest.raises(glyph.IoError):
        glyph.Tokenizer.from_file("/nonexistent/tokenizer.json")


# ---- GLM-4.1V prompts ---------------------------------------------------------------------------


def test_glm4v_prompt_string():
    p = glyph.glm4v_prompt([2, 1], "Who?")
    assert p == (
        "[gMASK]<sop><|user|>\n<|begin_of_image|><|image|><|image|><|end_of_image|>"
        "<|begin_of_image|><|image|><|end_of_image|>Who?<|assistant|>\n"
    )
    custom = glyph.glm4v_prompt([1], "Q", "<|system|>\nsys{{x}}<|user|>\n{images}{question}")
    assert custom == "<|system|>\nsys{x}<|user|>\n<|begin_of_image|><|image|><|end_of_image|>Q"
    with pytest.raises(glyph.InputError):
        glyph.glm4v_prompt([-1], "Q")
    with pytest.raises(glyph.InputError, match="no \\{images\\}"):
        glyph.glm4v_prompt([1], "Q", "{question}")
    with pytest.raises(glyph.InputError, match="unknown"):
        glyph.glm4v_prompt([1], "Q", "{images}{oops}")


def _render_chat_template(template: str, question: str, n_images: int) -> str:
    jinja2 = pytest.importorskip("jinja2")
    env = jinja2.Environment()
    content = [{"type": "image"} for _ in range(n_images)] + [{"type": "text", "text": question}]
    return env.from_string(template).render(
        messages=[{"role": "user", "content": content}], add_generation_prompt=True
    )


def test_glm4v_prompt_matches_real_chat_template():
    """Where a GLM-4.1V tokenizer_config.json is available (GLYPH_GLM4V_TOKENIZER_CONFIG), the
    builder with one <|image|> per page must equal transformers' chat template output."""
    path = os.environ.get("GLYPH_GLM4V_TOKENIZER_CONFIG")
    if not path or not os.path.isfile(path):
        pytest.skip("no GLM-4.1V tokenizer_config.json (set GLYPH_GLM4V_TOKENIZER_CONFIG)")
    template = json.loads(_read(path))["chat_template"]
    assert _render_chat_template(template, "Who?", 2) == glyph.glm4v_prompt([1, 1], "Who?")


def test_glm4v_prompt_ids(trained):
    g = glyph.Tokenizer.from_file(str(trained["glm4"]))
    hf = tokenizers.Tokenizer.from_file(str(trained["glm4"]))
    pages = [630, 630, 212]
    ids = glyph.glm4v_prompt_ids(g, pages, "Who met the wolf?")
    assert ids == hf.encode(glyph.glm4v_prompt(pages, "Who met the wolf?"),
                            add_special_tokens=False).ids
    image = g.token_to_id("<|image|>")
    assert ids.count(image) == sum(pages)
    assert ids.count(g.token_to_id("<|begin_of_image|>")) == 3
    assert ids[:3] == [g.token_to_id(t) for t in ("[gMASK]", "<sop>", "<|user|>")]
    # Pages straight from the renderer.
    result = glyph.Renderer().render(glyph.sample_text())
    ids = glyph.glm4v_prompt_ids(g, result, "Q")
    assert ids.count(image) == result.visual_tokens


def test_renderer_summary_counts_text_tokens(trained):
    text = glyph.sample_text()
    result = glyph.Renderer().render(text)
    g = glyph.Tokenizer.from_file(str(trained["glm4"]))
    s = result.summary(tokenizer=str(trained["glm4"]))
    assert s["text_tokens"] == g.count(text)
    assert s["compression"] == pytest.approx(g.count(text) / result.visual_tokens)
    assert result.summary(tokenizer=g)["text_tokens"] == s["text_tokens"]
    assert "text_tokens" not in result.summary()


def test_threads_release_gil(trained):
    """Batch encode from several Python threads at once gives the same ids (thread-safe cache)."""
    import concurrent.futures

    g = glyph.Tokenizer.from_file(str(trained["glm4"]))
    texts = MULTILINGUAL * 10
    want = [g.encode(t) for t in texts]
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda _: [g.encode(t) for t in texts], range(8)))
    assert all(r == want for r in results)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


def _streaming_texts(corpus) -> list:
    rng = random.Random(3)
    joined = "\n".join(corpus)
    tricky = ["\n<think>x", "\n长文本 y", "\n's a", "\r\nWord", "  \n\nA", "!!\nb", "1\n2\nc",
              "\t \n\u3000中", "\n\u00e9t\u00e9", "<|endoftext|>\nz", "\nй", "x\n"]
    parts = []
    for _ in range(400):
        if rng.random() < 0.5:
            a = rng.randrange(len(joined))
            parts.append(joined[a:a + rng.randrange(1, 300)])
        else:
            parts.append(rng.choice(tricky))
    return ["".join(parts), "".join(_random_strings(corpus, 300, seed=5)), "x" * 5000,
            "\nA" * 3000, ""]


@pytest.mark.parametrize("name", ["glm4", "qwen2", "gpt2", "gpt2_noprefix", "pcre2"])
def test_count_of_a_streamed_text_equals_the_whole_count(trained, corpus, tmp_path, name):
    if name == "gpt2_noprefix":
        d = json.loads(trained["gpt2"].read_text(encoding="utf-8"))
        d["pre_tokenizer"]["add_prefix_space"] = False
        path = tmp_path / "gpt2_noprefix.json"
        path.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    else:
        path = trained[name]
    g = glyph.Tokenizer.from_file(str(path))
    hf = tokenizers.Tokenizer.from_file(str(path))
    # Cuts are exact only for the built-in split patterns without a prefix space.
    assert g.streams_count == (name in ("glm4", "qwen2", "gpt2_noprefix"))
    for text in _streaming_texts(corpus):
        data = text.encode("utf-8")
        expected = len(hf.encode(text, add_special_tokens=False).ids)
        assert g.count(text) == expected
        rng = random.Random(len(data))
        for window in (64, 200, 4096):
            cuts = sorted({rng.randrange(len(data) + 1) for _ in range(len(data) // 50 + 1)})
            pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
            src = glyph.text_source(pieces)
            assert g.count(src, window=window) == expected, (name, window)
        assert glyph.count_tokens(g, pieces) == expected
    # Invalid UTF-8 in a source is replaced, as errors="replace" would.
    bad = b"caf\xc3 \xff\nbad\n\xe4\xb8\nend" * 50
    assert g.count(glyph.text_source([bad]), window=64) == len(
        hf.encode(bad.decode("utf-8", "replace"), add_special_tokens=False).ids)


# ---- Qwen2 / Qwen3-style tokenizers: NFC normalizer, added-token options ------------------------
#
# Qwen2's and Qwen3's tokenizer.json: normalizer NFC, pre_tokenizer Sequence[Split(Qwen2's
# pattern, Isolated), ByteLevel(add_prefix_space=False, use_regex=False)], post_processor and
# decoder ByteLevel, special tokens with normalized=False. The tests build such tokenizers and add
# tokens with every combination of single_word, lstrip, rstrip, normalized and special.

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
                 "<|image_pad|>"]
# (content, single_word, lstrip, rstrip, normalized, special): every combination of the options,
# on contents that are punctuation (<a..>), words (wordN: single_word matters inside text), not
# in NFC (decomposed é: matched only where NFC makes it, when normalized) and with a space.
FLAG_COMBOS = [(sw, ls, rs, nz, sp) for sw in (False, True) for ls in (False, True)
               for rs in (False, True) for nz in (False, True) for sp in (False, True)]
QWEN_ADDED = (
    [(f"<a{i}>",) + combo for i, combo in enumerate(FLAG_COMBOS)]
    + [(f"word{i}",) + combo for i, combo in enumerate(FLAG_COMBOS[::3])]
    + [("cafe\u0301", False, False, False, True, False),
       ("ne\u0301e", True, True, True, True, True),
       ("re\u0301sume\u0301", False, True, True, False, False),
       (" <sp>", False, True, True, False, True),
       ("<tool_call>", False, False, False, False, False),
       ("</tool_call>", False, False, False, False, False),
       ("<think>", False, False, False, True, False)]
)
NFD_TEXTS = [
    "Cafe\u0301 de\u0301ja\u0300 vu, re\u0301sume\u0301 e\u0301te\u0301 na\u0131\u0308ve",
    "Tie\u0302\u0301ng Vie\u0323\u0302t co\u0301 dau: Vie\u0323\u0302t Nam, ngu\u031b\u01a1\u0300i",
    "A\u030a\u0301 \u212b \u2126 K\u0323\u0307 q\u0307\u0323 s\u0323\u0307 \u1e9b\u0323 o\u0328\u0304",
    "\u1100\u1161\u11a8 \u1112\u1161\u11ab\u1100\u1173\u11af \u110b\u1165 (Hangul jamo)",
    "\u0915\u093c \u0958 \u09c7\u09be \u0b47\u0b3e\u0b56 \u0dd9\u0dcf\u0dca \u1025\u102e",
    "a\U00011d42\u0301 \U000110a5\U000110ba \U00011131\U00011127 \u0344\u0340\u0341 \u0f73\u0f75",
    "\u05d9\u05b4 \ufb1d \ufb2a\u05bc \u0627\u0653 \u0648\u0654",
]


def _train_qwen(tmp: Path, corpus: list, vocab_size: int = 3000, added=QWEN_ADDED) -> Path:
    from tokenizers import AddedToken, normalizers, processors

    tok = tokenizers.Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=QWEN_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus + NFD_TEXTS * 5, trainer)
    tok.add_tokens([
        AddedToken(c, single_word=sw, lstrip=ls, rstrip=rs, normalized=nz, special=sp)
        for c, sw, ls, rs, nz, sp in added
    ])
    path = tmp / "qwen.json"
    tok.save(str(path))
    return path


@pytest.fixture(scope="module")
def qwen(tmp_path_factory, corpus) -> Path:
    return _train_qwen(tmp_path_factory.mktemp("qwen"), corpus)


def _qwen_texts(corpus: list, n: int, seed: int) -> list:
    """Texts around the added tokens: at both edges, next to spaces, letters, digits, marks."""
    rng = random.Random(seed)
    contents = [a[0] for a in QWEN_ADDED] + QWEN_SPECIALS
    nfc_forms = ["caf\u00e9", "n\u00e9e", "r\u00e9sum\u00e9", "<a1", "word", "<|im_"]
    around = ["", " ", "  ", "\t", "\n", " \n ", "\u3000", "\u00a0", "a", "Z", "1", "_", "\u00e9",
              "e", "\u0301", "\u4e2d", "!", "<", "\U0001f600", "\u200d"]
    joined = "\n".join(corpus)
    out = []
    for _ in range(n):
        k = rng.random()
        parts = []
        for _ in range(rng.randrange(1, 8)):
            r = rng.random()
            if r < 0.45:
                parts.append(rng.choice(contents))
            elif r < 0.55:
                parts.append(rng.choice(nfc_forms))
            elif r < 0.85:
                parts.append(rng.choice(around) * rng.randrange(1, 3))
            else:
                a = rng.randrange(len(joined))
                parts.append(joined[a:a + rng.randrange(1, 40)])
        text = "".join(parts)
        if k < 0.2:
            text = unicodedata_nfd(text)
        out.append(text)
    return out


def unicodedata_nfd(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFD", text)


def _random_unicode(n: int, seed: int) -> list:
    """Random strings over all of Unicode, dense in what NFC touches (marks, jamo, composables)."""
    rng = random.Random(seed)
    interesting = [chr(c) for c in list(range(0x300, 0x370)) + list(range(0x1100, 0x1200))
                   + list(range(0x0590, 0x0600)) + list(range(0x0900, 0x0E00))
                   + list(range(0x1DC0, 0x1E00)) + list(range(0xFB1D, 0xFB50))
                   + [0x212B, 0x2126, 0x212A, 0x0344, 0x0F73, 0x0F75, 0x0F81, 0x1D15E, 0x1D160,
                      0x110BA, 0x11D42, 0x16FF0, 0x1E94A]]
    out = []
    for _ in range(n):
        chars = []
        for _ in range(rng.randrange(1, 40)):
            r = rng.random()
            if r < 0.5:
                chars.append(rng.choice(interesting))
            elif r < 0.7:
                chars.append(rng.choice("aeiouAEOUcnsz \n"))
            else:
                c = rng.randrange(1, 0x110000)
                chars.append(chr(c) if not 0xD800 <= c <= 0xDFFF else "x")
        out.append("".join(chars))
    return out


def test_qwen_parity(qwen, corpus):
    hf = tokenizers.Tokenizer.from_file(str(qwen))
    g = glyph.Tokenizer.from_file(str(qwen))
    assert hf.normalizer is not None and g.normalize("e\u0301") == "\u00e9"
    lines = [line for text in corpus for line in text.split("\n")]
    texts = (lines + corpus + MULTILINGUAL + NFD_TEXTS + [unicodedata_nfd(t) for t in MULTILINGUAL]
             + [unicodedata_nfd(t) for t in lines[:2000]] + _qwen_texts(corpus, 4000, seed=11)
             + _random_unicode(3000, seed=12) + _random_strings(corpus, 1000, seed=13))
    assert _assert_parity(hf, g, texts) > 10000
    assert _assert_parity(hf, g, texts[:3000], add_special=True)
    _assert_parity(hf, g, _adversarial())


def test_qwen_added_token_options(qwen):
    """Each option on its own, against hand-derived expectations (besides parity)."""
    g = glyph.Tokenizer.from_file(str(qwen))
    hf = tokenizers.Tokenizer.from_file(str(qwen))
    opts = {c: (sw, ls, rs, nz, sp) for c, sw, ls, rs, nz, sp in QWEN_ADDED}

    def name(sw, ls, rs, nz, sp):
        return next(c for c, o in opts.items() if o == (sw, ls, rs, nz, sp) and c.startswith("<a"))

    plain = name(False, False, False, False, False)
    lstrip = name(False, True, False, False, False)
    rstrip = name(False, False, True, False, False)
    single = name(True, False, False, False, False)
    enc = lambda s: g.encode(s, add_special_tokens=False)  # noqa: E731
    tid = g.token_to_id
    assert enc(f"x  {plain}  y") == enc("x  ") + [tid(plain)] + enc("  y")
    assert enc(f"x  {lstrip}  y") == enc("x") + [tid(lstrip)] + enc("  y")
    assert enc(f"x  {rstrip}  y") == enc("x  ") + [tid(rstrip)] + enc("y")
    assert enc(f"x {single} y") == enc("x ") + [tid(single)] + enc(" y")
    assert tid(single) not in enc(f"x{single} y") and tid(single) not in enc(f"x {single}y")
    # normalized=True: matched on the NFC text, by its NFC form; normalized=False: on the raw text.
    assert enc("un caf\u00e9") == enc("un cafe\u0301") and tid("cafe\u0301") in enc("un caf\u00e9")
    raw = tid("re\u0301sume\u0301")
    assert raw in enc("mon re\u0301sume\u0301") and raw not in enc("mon r\u00e9sum\u00e9")
    # Decoding gives a normalized token back in its normalized form (as `tokenizers`).
    for ids in ([tid("cafe\u0301")], [tid("ne\u0301e")], [raw]):
        assert g.decode(ids) == hf.decode(ids, skip_special_tokens=False)
    assert [g.id_to_token(i) for i in range(g.vocab_size)] == [
        hf.id_to_token(i) for i in range(g.vocab_size)]


def test_qwen_decode_keeps_special_tokens_by_default(qwen):
    g = glyph.Tokenizer.from_file(str(qwen))
    hf = tokenizers.Tokenizer.from_file(str(qwen))
    ids = g.encode("<|im_start|>user\nhi<|im_end|>", add_special_tokens=False)
    assert g.decode(ids) == "<|im_start|>user\nhi<|im_end|>" == hf.decode(ids, skip_special_tokens=False)
    assert g.decode(ids, skip_special_tokens=True) == "user\nhi" == hf.decode(ids)
    doc = glyph.Tokenizer.decode.__doc__
    assert "Special tokens are kept unless skip_special_tokens=True" in doc and "transformers" in doc


def test_nfc_of_every_code_point_matches_tokenizers(qwen):
    """NFC (Unicode 9.0 data in `tokenizers`) of every code point, alone and among marks."""
    from tokenizers import normalizers

    nfc = normalizers.NFC()
    g = glyph.Tokenizer.from_file(str(qwen))
    cps = [c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    step = 4096
    for start in range(0, len(cps), step):
        block = cps[start:start + step]
        # Each code point after a letter, before and after marks of classes 220 and 230, and
        # after a Hangul LV syllable (T jamo compose with it).
        s = "".join(f"a{chr(c)}\u0301{chr(c)}\u0323{chr(c)} \uac00{chr(c)}|" for c in block)
        if g.normalize(s) != nfc.normalize_str(s):
            for c in block:
                one = f"a{chr(c)}\u0301{chr(c)}\u0323{chr(c)} \uac00{chr(c)}|"
                assert g.normalize(one) == nfc.normalize_str(one), f"U+{c:04X}"
            raise AssertionError(f"block at U+{block[0]:04X} differs")
    for s in _random_unicode(20000, seed=5) + NFD_TEXTS:
        assert g.normalize(s) == nfc.normalize_str(s), ascii(s)


def test_single_word_and_strip_of_every_code_point(tmp_path, corpus):
    """single_word (Rust regex \\w) and lstrip/rstrip (White_Space) beside every code point."""
    added = [("<w>", True, False, False, False, True), ("<l>", False, True, False, False, True),
             ("<r>", False, False, True, False, True)]
    path = _train_qwen(tmp_path, corpus[:3], vocab_size=400, added=added)
    hf = tokenizers.Tokenizer.from_file(str(path))
    g = glyph.Tokenizer.from_file(str(path))
    # Every code point, but only samples of the large uniform ranges (CJK ideographs, Hangul
    # syllables, Tangut, private use, the unassigned planes), to keep `tokenizers`' time short.
    uniform = [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xF8FF),
               (0x17000, 0x18AFF), (0x20000, 0x323AF), (0x323B0, 0xEFFFF), (0xF0000, 0x10FFFF)]

    def sampled(c):
        return not any(a + 1 < c < b - 1 for a, b in uniform) or c % 251 == 0

    cps = [c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF and sampled(c)]
    step = 8192
    for start in range(0, len(cps), step):
        block = cps[start:start + step]
        texts = ["".join(f"{chr(c)}<w>|<w>{chr(c)}|{chr(c)}<l>|<r>{chr(c)}|" for c in block)]
        if g.encode(texts[0], add_special_tokens=False) != hf.encode(
                texts[0], add_special_tokens=False).ids:
            for c in block:
                one = f"{chr(c)}<w>|<w>{chr(c)}|{chr(c)}<l>|<r>{chr(c)}|"
                assert g.encode(one, add_special_tokens=False) == hf.encode(
                    one, add_special_tokens=False).ids, f"U+{c:04X}"
            raise AssertionError(f"block at U+{block[0]:04X} differs")


def test_qwen_streamed_count_equals_the_whole_count(qwen, corpus):
    g = glyph.Tokenizer.from_file(str(qwen))
    hf = tokenizers.Tokenizer.from_file(str(qwen))
    assert g.streams_count
    rng = random.Random(9)
    tricky = ["\ne\u0301t\u00e9", "\nA\u030a", "\n\u1161\u11a8", "\n\u1100\u1161", "\n\u212bx",
              "\ncafe\u0301", "\nword3 ", "\n<a5>\n", "\n\u0958", "x\n", "\n\u00e9"]
    joined = "\n".join(corpus)
    parts = []
    for _ in range(600):
        if rng.random() < 0.4:
            a = rng.randrange(len(joined))
            parts.append(joined[a:a + rng.randrange(1, 200)])
        else:
            parts.append(rng.choice(tricky + NFD_TEXTS))
    for text in ["".join(parts), unicodedata_nfd("".join(parts)),
                 "".join(_qwen_texts(corpus, 300, seed=2))]:
        data = text.encode("utf-8")
        expected = len(hf.encode(text, add_special_tokens=False).ids)
        assert g.count(text) == expected
        for window in (64, 300, 4096):
            cuts = sorted({rng.randrange(len(data) + 1) for _ in range(len(data) // 40 + 1)})
            pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
            assert g.count(glyph.text_source(pieces), window=window) == expected, window
