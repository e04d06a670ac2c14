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
        (lambda d: d.__setitem__("decoder", {"type": "WordPiece"}), "Unsupported decoder 'WordPiece'"),
        (lambda d: d["model"].__setitem__("type", "Unigram"), "Unsupported model 'Unigram'"),
        (lambda d: d["model"].__setitem__("dropout", 0.1), "Unsupported BPE option 'dropout'"),
        (lambda d: d["model"].__setitem__("byte_fallback", True), "'byte_fallback'"),
        (lambda d: d.__setitem__("post_processor", {"type": "RobertaProcessing"}),
         "Unsupported post_processor 'RobertaProcessing'"),
        (lambda d: d["added_tokens"][0].__setitem__("lstrip", True), "option 'lstrip'"),
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
    with pytest.raises(glyph.GlyphIOError):
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
