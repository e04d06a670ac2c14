"""glyph.eval.metrics: LongBench's metrics, Glyph's post-processing, MRCR and RULER scores.

Hand-computed values pin the behaviour (including LongBench's quirks, which the official numbers
depend on); the library-backed metrics are also compared with the libraries called directly
(rouge, jieba, fuzzywuzzy's difflib path, difflib) on seeded random strings.
"""
import difflib
import json
import random
import subprocess
import sys
import warnings

import pytest

from glyph.eval import metrics as m


rouge = pytest.importorskip("rouge")
jieba = pytest.importorskip("jieba")


def rng_text(rng, alphabet, lo=0, hi=40):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


EN_ALPHABET = list("abcde xyz.,!?'-") + ["the ", "a ", "an ", "The ", "\n", "  ", "\t", "42", "."]
ZH_ALPHABET = list("我爱北京天安门上海的是不了人在有他这中大来，。！？、：；“”《》（） ab1")


# ------------------------------------------------------------------------------------------
# The module stays light.


def test_import_needs_neither_torch_nor_the_vlm_module():
    code = (
        "import sys, glyph.eval.metrics as m; m.qa_f1_score('a b', 'b'); "
        "assert 'torch' not in sys.modules, 'torch'; "
        "assert 'glyph._vlm' not in sys.modules, 'glyph._vlm'; "
        "assert 'rouge' not in sys.modules and 'jieba' not in sys.modules, 'eager import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_missing_optional_library_names_the_eval_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "rouge", None)  # makes `import rouge` fail
    monkeypatch.setattr(m, "_modules", {})
    monkeypatch.setattr(m, "_rouge_instance", None)
    with pytest.raises(ImportError, match=r"rouge_score needs the 'rouge' package.*glyphcpp\[eval\]"):
        m.rouge_score("a", "a")
    monkeypatch.setitem(sys.modules, "jieba", None)
    with pytest.raises(ImportError, match=r"qa_f1_zh_score needs the 'jieba'.*glyphcpp\[eval\]"):
        m.qa_f1_zh_score("我", "我")


# ------------------------------------------------------------------------------------------
# Normalisation and token F1.


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The Cat, sat on a mat!", "cat sat on mat"),
        ("An apple-pie", "applepie"),  # punctuation goes first, so "apple-pie" is one word
        ("theatre anthem", "theatre anthem"),  # articles only as whole words
        ("  Hello\n\tWORLD  ", "hello world"),
        ("“quoted” — dash", "“quoted” — dash"),  # non-ASCII punctuation stays in English
        ("", ""),
    ],
)
def test_normalize_answer(text, expected):
    assert m.normalize_answer(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("你好，世界！ Hello World.", "你好世界helloworld"),
        # LongBench's list has "》" but not "《": the opening one stays
        ("《红楼梦》（曹雪芹）", "《红楼梦曹雪芹"),
        ("a…b—c", "abc"),
        ("the cat", "thecat"),  # no article removal for Chinese
    ],
)
def test_normalize_zh_answer(text, expected):
    assert m.normalize_zh_answer(text) == expected


def test_qa_f1_score_by_hand():
    # "cat sat on mat" vs "cat sat": 2 common, precision 2/4, recall 2/2
    assert m.qa_f1_score("cat sat on the mat", "The cat sat.") == pytest.approx(2 / 3, abs=0)
    # repeated words count with multiplicity: x y y vs y y y -> 2 common, p = r = 2/3
    assert m.qa_f1_score("x y y", "y y y") == pytest.approx(2 / 3, abs=1e-15)
    assert m.qa_f1_score("The Eiffel Tower.", "eiffel tower") == 1.0
    assert m.qa_f1_score("", "paris") == 0.0
    assert m.qa_f1_score("the", "a") == 0.0  # both normalise to nothing
    assert isinstance(m.qa_f1_score("x", "y"), float)


def test_qa_f1_zh_score_by_hand():
    assert list(jieba.cut("我爱北京天安门", cut_all=False)) == ["我", "爱", "北京", "天安门"]
    # 我/爱/北京/天安门 vs 北京/天安门: 2 common, p = 2/4, r = 1
    assert m.qa_f1_zh_score("我爱北京天安门", "北京天安门") == pytest.approx(2 / 3, abs=1e-15)
    # punctuation tokens normalise to "" and are dropped
    assert m.qa_f1_zh_score("北京，天安门。", "北京天安门") == 1.0
    assert m.qa_f1_zh_score("", "北京") == 0.0


def test_qa_f1_zh_matches_jieba_on_random_strings():
    rng = random.Random(7)
    for _ in range(300):
        pred, truth = rng_text(rng, ZH_ALPHABET), rng_text(rng, ZH_ALPHABET)
        p = [t for t in (m.normalize_zh_answer(w) for w in jieba.cut(pred)) if t]
        g = [t for t in (m.normalize_zh_answer(w) for w in jieba.cut(truth)) if t]
        common = sum(min(p.count(w), g.count(w)) for w in set(p))
        want = 0.0 if common == 0 else 2 * common / (len(p) + len(g))
        assert m.qa_f1_zh_score(pred, truth) == pytest.approx(want, rel=1e-12), (pred, truth)


# ------------------------------------------------------------------------------------------
# ROUGE-L.


def test_rouge_score_by_hand():
    # rouge counts distinct words (sets): ref {the, cat, is, on, mat} = 5, hyp 5; the LCS
    # "the cat on the mat" has 4 distinct words, so r = p = 4/5 and f = 2pr / (p + r + 1e-8)
    f = m.rouge_score("the cat sat on the mat", "the cat is on the mat")
    assert f == pytest.approx(2 * 0.64 / (1.6 + 1e-8), abs=1e-15)
    # case matters (no normalisation) and sentences split on "."
    assert m.rouge_score("The cat", "the cat") == pytest.approx(2 * 0.25 / (1 + 1e-8), abs=1e-15)


@pytest.mark.parametrize("hyp, ref", [("", "a"), ("...", "a b"), ("a", ""), ("a", "..")])
def test_rouge_score_is_zero_where_rouge_raises(hyp, ref):
    with pytest.raises(ValueError):
        rouge.Rouge().get_scores([hyp], [ref], avg=True)
    assert m.rouge_score(hyp, ref) == 0.0


def test_rouge_score_of_one_very_long_sentence_is_zero_like_longbench():
    # rouge walks the LCS table recursively, one call per step: a "."-free answer of 1500 words
    # overflows Python's recursion limit, which LongBench (and so glyph) scores as 0 although
    # the reference is in it
    answer = "the answer " + " ".join(f"w{i % 50}" for i in range(1500))
    with pytest.raises(RecursionError):
        rouge.Rouge().get_scores([answer], ["the answer"], avg=True)
    assert m.rouge_score(answer, "the answer") == 0.0
    # the same words cut into sentences score: r = 1, p = 2 / 52 distinct words
    dotted = answer.replace(" w49 ", " w49. ")
    assert m.rouge_score(dotted, "the answer") == pytest.approx(2 * (2 / 52) / (1 + 2 / 52 + 1e-8))


def test_rouge_zh_score_by_hand():
    # 我/爱/北京/天安门 vs 我/爱/北京: r = 3/3, p = 3/4
    want = 2 * (0.75 * 1.0) / (1.75 + 1e-8)
    assert m.rouge_zh_score("我爱北京天安门", "我爱北京") == pytest.approx(want, abs=1e-15)
    assert m.rouge_zh_score("", "我爱北京") == 0.0


def test_rouge_scores_match_the_library_on_random_strings():
    rng = random.Random(11)
    scorer = rouge.Rouge()

    def lib(h, r):
        try:
            return scorer.get_scores([h], [r], avg=True)["rouge-l"]["f"]
        except ValueError:
            return 0.0

    seen_zero = seen_positive = 0
    for _ in range(400):
        hyp, ref = rng_text(rng, EN_ALPHABET), rng_text(rng, EN_ALPHABET)
        if rng.random() < 0.3:
            ref = hyp[: len(hyp) // 2] + ref
        got = m.rouge_score(hyp, ref)
        assert got == lib(hyp, ref), (hyp, ref)
        seen_zero += got == 0
        seen_positive += got > 0
    assert seen_zero > 10 and seen_positive > 100  # both branches were exercised
    for _ in range(200):
        hyp, ref = rng_text(rng, ZH_ALPHABET), rng_text(rng, ZH_ALPHABET)
        want = lib(" ".join(jieba.cut(hyp)), " ".join(jieba.cut(ref)))
        assert m.rouge_zh_score(hyp, ref) == want, (hyp, ref)


# ------------------------------------------------------------------------------------------
# Classification, retrieval, count.


def test_classification_score_by_hand():
    classes = ["location", "other location", "city"]
    # "location" is part of the ground truth "other location": dropped, the other counts fully
    assert m.classification_score("other location", "other location", all_classes=classes) == 1.0
    # both found and the ground truth is "location": 1 of 2 found classes
    assert m.classification_score("location or other location", "location", all_classes=classes) == 0.5
    assert m.classification_score("a town", "city", all_classes=classes) == 0.0
    assert m.classification_score("City", "city", all_classes=classes) == 0.0  # case-sensitive
    # Chinese classes (lsht)
    zh = ["体育", "经济", "财政、金融"]
    assert m.classification_score("类别：经济", "经济", all_classes=zh) == 1.0


def test_classification_score_keeps_longbench_skip_after_removal():
    # found = [a, ab, abc]; "a" is removed while walking the list, which skips "ab": it stays,
    # so the score is 1/2 (a filter over the whole list would give 1.0). LongBench gives 0.5.
    assert m.classification_score("abc", "abc", all_classes=["a", "ab", "abc"]) == 0.5
    # with the substrings not adjacent, both are removed
    assert m.classification_score("abc", "abc", all_classes=["a", "abc", "ab"]) == 1.0


def test_classification_score_needs_all_classes():
    with pytest.raises(ValueError, match="all_classes"):
        m.classification_score("x", "x")
    with pytest.raises(TypeError, match="all_classes must be a list of str"):
        m.classification_score("x", "x", all_classes="xyz")


def test_retrieval_and_count_scores_by_hand():
    # numbers 3, 7, 3: two of three are the right paragraph
    assert m.retrieval_score("Paragraph 3, not 7 (3)", "Paragraph 3") == pytest.approx(2 / 3)
    assert m.retrieval_score("none", "Paragraph 3") == 0.0
    assert m.retrieval_score("Paragraph 13", "Paragraph 3") == 0.0  # whole numbers only
    assert m.retrieval_zh_score("答案是段落12", "段落12") == 1.0
    assert m.retrieval_zh_score("段落12和段落2", "段落2") == 0.5
    assert m.count_score("There are 5 unique paragraphs, not 15 or 5.", "5") == pytest.approx(2 / 3)
    assert m.count_score("five", "5") == 0.0
    with pytest.raises(ValueError, match="names no paragraph.*Paragraph N"):
        m.retrieval_score("Paragraph 1", "the first one")
    with pytest.raises(ValueError, match="段落N"):
        m.retrieval_zh_score("段落1", "Paragraph 1")


# ------------------------------------------------------------------------------------------
# Code similarity and the pinned fuzzy ratio.


def test_fuzz_ratio_by_hand():
    assert m.fuzz_ratio("abcd", "abce") == 75  # 2 x 3 matches / 8 characters
    assert m.fuzz_ratio("", "") == 100  # equal strings first
    assert m.fuzz_ratio("", "x") == 0 and m.fuzz_ratio("x", "") == 0
    assert m.fuzz_ratio("ab", "ba") == 50
    assert m.fuzz_ratio("abcde", "abcdf") == 80


def test_fuzz_ratio_is_fuzzywuzzys_difflib_ratio_on_random_strings(monkeypatch):
    with warnings.catch_warnings():  # "Using slow pure-python SequenceMatcher": that is the point
        warnings.simplefilter("ignore")
        fuzz = pytest.importorskip("fuzzywuzzy.fuzz")
    # pin fuzzywuzzy to its pure-Python path even where python-Levenshtein is installed
    monkeypatch.setattr(fuzz, "SequenceMatcher", difflib.SequenceMatcher)
    rng = random.Random(3)
    code_alphabet = list("abc xyz()=+-_:.,'\"\n\t#/`{}[]0123456789") + ["return ", "self.", "  "]
    for _ in range(600):
        # up to 600 characters, past difflib's 200-character autojunk threshold
        a = rng_text(rng, code_alphabet, 0, rng.choice([20, 600]))
        if rng.random() < 0.5:
            b = a[: rng.randint(0, len(a))] + rng_text(rng, code_alphabet, 0, 30)
        else:
            b = rng_text(rng, code_alphabet, 0, 300)
        assert m.fuzz_ratio(a, b) == fuzz.ratio(a, b), (a, b)


def test_code_sim_score_by_hand():
    pred = "```python\n# complete the line\nreturn a + b\nprint(1)\n"
    assert m.code_sim_score(pred, "return a + b") == 1.0  # first line without ` # //
    assert m.code_sim_score("\n\nabce\n", "abcd") == 0.75
    assert m.code_sim_score("x = 1  # set x", "x = 1") == 0.0  # the only line has "#": ""
    assert m.code_sim_score("// c", "") == 1.0  # "" vs "": equal
    assert m.code_sim_score("int x;  // c\nint y;", "int y;") == 1.0


# ------------------------------------------------------------------------------------------
# The LongBench protocol.


def test_longbench_tables_agree_with_each_other_and_glyphs_prompts(ref_dir):
    prompts = json.loads((ref_dir / "dataset2prompt.json").read_text(encoding="utf-8"))
    assert list(m.LONGBENCH_DATASETS) == list(prompts)  # the 21, in Glyph's order
    assert set(m.LONGBENCH_METRIC) == set(m.LONGBENCH_DATASETS) == set(m.LONGBENCH_CATEGORY)
    assert len(m.LONGBENCH_E_DATASETS) == 13 and set(m.LONGBENCH_E_DATASETS) < set(m.LONGBENCH_DATASETS)
    assert all(name in m.METRICS for name in m.LONGBENCH_METRIC.values())
    assert m.FIRST_LINE_DATASETS == {"trec", "triviaqa", "samsum", "lsht"}
    assert len(m.CHOSE_NEWLINE_DATASETS) == 12 and m.CHOSE_NEWLINE_DATASETS < set(m.LONGBENCH_DATASETS)
    assert "lcc" not in m.CHOSE_NEWLINE_DATASETS and "passage_retrieval_en" in m.CHOSE_NEWLINE_DATASETS
    assert m.longbench_metric("lcc") is m.code_sim_score
    assert m.longbench_metric("multifieldqa_zh") is m.qa_f1_zh_score


def test_longbench_item_score_first_line_and_best_answer():
    pred = "\n\nParis\nLondon"
    assert m.longbench_item_score("triviaqa", pred, ["London"]) == 0.0  # only "Paris" counts
    assert m.longbench_item_score("triviaqa", pred, ["London", "Paris"]) == 1.0
    # other datasets score the whole prediction: "paris london" vs "london"
    assert m.longbench_item_score("hotpotqa", pred, ["London"]) == pytest.approx(2 / 3)
    assert m.longbench_item_score("hotpotqa_e", pred, ["London"]) == pytest.approx(2 / 3)
    assert m.longbench_item_score("trec", "Location\nCity", ["City"], all_classes=["Location", "City"]) == 0.0
    assert m.longbench_item_score("passage_count_e", "7", ["7"]) == 1.0


def test_longbench_item_score_bad_input():
    with pytest.raises(ValueError, match=r"unknown LongBench dataset 'nosuch'; known: narrativeqa, qasper"):
        m.longbench_item_score("nosuch", "x", ["x"])
    with pytest.raises(ValueError, match="'multifieldqa_zh' is not part of LongBench-E"):
        m.longbench_item_score("multifieldqa_zh_e", "x", ["x"])
    with pytest.raises(TypeError, match="answers must be a list of str"):
        m.longbench_item_score("qasper", "x", "x")
    with pytest.raises(ValueError, match="answers is empty"):
        m.longbench_item_score("qasper", "x", [])
    with pytest.raises(TypeError, match=r"answers\[1\] must be a str"):
        m.longbench_item_score("qasper", "x", ["x", 3])
    with pytest.raises(TypeError, match="prediction must be a str"):
        m.longbench_item_score("qasper", None, ["x"])
    with pytest.raises(ValueError, match="all_classes"):
        m.longbench_item_score("lsht", "x", ["x"])


def test_longbench_score_and_rounding():
    assert m.longbench_score([1.0, 0.5, 0.0]) == 50.0
    assert m.longbench_score([1 / 3] * 3) == 33.33
    assert m.longbench_score([2 / 3]) == 66.67
    assert m.longbench_score([0, 1]) == 50.0
    with pytest.raises(ValueError, match="no item scores"):
        m.longbench_score([])
    with pytest.raises(ValueError, match=r"scores\[1\] is not a number"):
        m.longbench_score([1.0, None])


def test_longbench_e_buckets():
    for length, bucket in [(0, "0-4k"), (3999, "0-4k"), (4000, "4-8k"), (7999, "4-8k"),
                           (8000, "8k+"), (10**6, "8k+")]:  # fmt: skip
        assert m.longbench_e_bucket(length) == bucket
    with pytest.raises(ValueError, match=">= 0"):
        m.longbench_e_bucket(-1)
    with pytest.raises(TypeError, match="length must be a number"):
        m.longbench_e_bucket("12")
    got = m.longbench_e_scores([1.0, 0.0, 1.0, 0.5], [100, 5000, 9000, 9999])
    assert got == {"0-4k": 100.0, "4-8k": 0.0, "8k+": 75.0}
    assert m.longbench_e_scores([1.0], [10]) == {"0-4k": 100.0, "4-8k": None, "8k+": None}
    with pytest.raises(ValueError, match="2 scores but 1 lengths"):
        m.longbench_e_scores([1.0, 1.0], [10])


def test_longbench_e_rounds_like_numpy_and_longbench_like_python():
    # the same item score: LongBench rounds a Python float (86.535 -> 86.53), LongBench-E the
    # numpy float from numpy.mean (86.535 -> 86.54); both scorers are reproduced as they are
    assert m.longbench_score([0.86535]) == 86.53
    assert m.longbench_e_scores([0.86535], [0])["0-4k"] == 86.54
    assert m.longbench_score([0.12345]) == 12.35
    assert m.longbench_e_scores([0.12345], [0])["0-4k"] == 12.34


def test_longbench_e_category_scores():
    e = {
        "hotpotqa_e": {"0-4k": 86.535, "4-8k": None, "8k+": 10.0},
        "2wikimqa_e": {"0-4k": 86.535, "4-8k": 1.0, "8k+": 20.0},
        "lcc_e": {"0-4k": 1.0, "4-8k": 2.0, "8k+": 3.0},
    }
    assert m.longbench_e_category_scores(e) == {
        "0-4k": {"Multi-doc QA": 86.54, "Code": 1.0},  # numpy's rounding, as Glyph's script
        "4-8k": {"Multi-doc QA": None, "Code": 2.0},  # an empty bucket: Glyph's NaN
        "8k+": {"Multi-doc QA": 15.0, "Code": 3.0},
    }


def test_longbench_category_scores():
    got = m.longbench_category_scores({"hotpotqa": 50.0, "2wikimqa": 40.0, "lcc_e": 10.0, "qasper": 1.005})
    assert got == {"Multi-doc QA": 45.0, "Code": 10.0, "Single-doc QA": 1.0}  # round(1.005, 2)


# ------------------------------------------------------------------------------------------
# Post-processing.


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("<think>\nLet me see.\n</think>\n\n  The answer:\n\tParis <|user|>", "The answer: Paris"),
        ("<think>a</think>x<think>b</think>y", "xy"),
        ("<think>never closed\nParis", "<think>never closed Paris"),
        ("Paris<|endoftext|><|user|>", "Paris"),
        ("a<||>b<|x|y|>c", "a<||>b<|x|y|>c"),  # not chat tags
        ("line one\n\nline two\u3000end", "line one line two end"),
        ("", ""),
    ],
)
def test_postprocess(raw, clean):
    assert m.postprocess(raw) == clean


def test_remove_think_keeps_what_follows():
    assert m.remove_think("<think>x</think>  \n answer \n") == "answer \n"
    with pytest.raises(TypeError, match="prediction must be a str, got NoneType"):
        m.postprocess(None)


# ------------------------------------------------------------------------------------------
# MRCR.


def test_mrcr_score_by_hand():
    prefix = "ab12"
    assert m.mrcr_score("ab12hello world<|user|>", "ab12hello world", prefix) == 1.0
    assert m.mrcr_score("hello world", "ab12hello world", prefix) == 0.0  # no prefix: 0
    assert m.mrcr_score("ab12abcd", "ab12abce", prefix) == 0.75
    assert m.mrcr_score("ab12abcd", "abce", prefix) == 0.75  # answer without the prefix
    assert m.mrcr_score("x", "", "") == 0.0


def test_mrcr_score_is_difflibs_ratio_on_random_strings():
    rng = random.Random(5)
    for _ in range(300):
        prefix = rng_text(rng, list("0123456789abcdef"), 0, 10)
        ans = rng_text(rng, EN_ALPHABET, 0, 300)
        pred = prefix + ans[: rng.randint(0, len(ans))] + rng_text(rng, EN_ALPHABET, 0, 40)
        want = difflib.SequenceMatcher(None, pred[len(prefix):], ans).ratio()
        assert m.mrcr_score(pred, prefix + ans, prefix) == want


def test_mrcr_answer_and_category():
    assert m.mrcr_extract_answer("<think>x</think>\n ab12 y ") == "ab12 y"
    assert m.mrcr_extract_answer("a</think>b</think> c") == "c"
    assert m.mrcr_extract_answer("  plain ") == "plain"
    assert len(m.MRCR_CATEGORIES) == 24
    assert m.mrcr_category("mrcr_4needle_16k_32k_17") == "4needle_16k_32k"
    assert m.mrcr_category("8needle_512k_1024k-3") == "8needle_512k_1024k"
    with pytest.raises(ValueError, match="names no category"):
        m.mrcr_category("mrcr_3needle_0k_8k")


# ------------------------------------------------------------------------------------------
# RULER.


def test_ruler_tables():
    assert len(m.RULER_TASKS) == 13 and len(m.RULER_TABLE_TASKS) == 11
    assert "niah_single_3" not in m.RULER_TABLE_TASKS and "niah_multikey_3" not in m.RULER_TABLE_TASKS
    assert {t for t, v in m.RULER_METRIC.items() if v == "string_match_part"} == {"qa_1", "qa_2"}


def test_ruler_string_match_by_hand():
    preds = ["The special magic numbers are 123 and 456.", "nothing here"]
    refs = [["123", "456", "789"], ["x1"]]
    assert m.ruler_string_match_all(preds, refs) == 33.33  # (2/3 + 0) / 2
    assert m.ruler_string_match_part(preds, refs) == 50.0
    assert m.ruler_task_score("qa_1", preds, refs) == 50.0
    assert m.ruler_task_score("vt", preds, refs) == 33.33
    assert m.ruler_item_score("cwe", "ABC and def", ["abc", "DEF", "g"]) == pytest.approx(2 / 3)
    assert m.ruler_item_score("qa_2", "ABC", ["x", "b"]) == 1.0


def test_ruler_bad_input():
    with pytest.raises(ValueError, match=r"unknown RULER task 'niah'; known: niah_single_1"):
        m.ruler_task_score("niah", ["a"], [["a"]])
    with pytest.raises(ValueError, match="1 predictions but 2 reference lists"):
        m.ruler_string_match_all(["a"], [["a"], ["b"]])
    with pytest.raises(ValueError, match="no predictions"):
        m.ruler_string_match_part([], [])
    with pytest.raises(TypeError, match=r"refs\[0\] must be a list of reference strings"):
        m.ruler_string_match_all(["a"], [None])
    # a str is one reference (Glyph's reading of a str 'outputs'), not a list of characters
    assert m.ruler_string_match_all(["xy"], ["xyz"]) == 0.0
    assert m.ruler_item_score("vt", "the XYZ", "xyz") == 1.0
    with pytest.raises(ValueError, match=r"refs\[0\] is empty"):
        m.ruler_string_match_all(["a"], [[]])


def test_ruler_cleaning_and_average():
    assert m.ruler_clean(" a\tb\x01c\r\n ") == "a\nb\nc"
    assert m.ruler_postprocess("<think>t 123</think> 456 <|user|>") == "456"
    assert m.ruler_postprocess("<think>t 123</think> 456 <|user|>", think=False) == "<think>t 123</think> 456"
    assert m.ruler_average({"niah_single_1": 100.0, "niah_single_3": 0.0, "qa_1": 50.0}) == 75.0
    with pytest.raises(ValueError, match="unknown RULER task"):
        m.ruler_average({"qa_3": 1.0})
    with pytest.raises(ValueError, match="none of the table's tasks"):
        m.ruler_average({"niah_multikey_3": 1.0})


# ------------------------------------------------------------------------------------------
# The generic protocol.


def test_get_metric_and_score_item():
    assert m.get_metric("rouge_score") is m.rouge_score
    assert set(m.METRICS) >= {"qa_f1_score", "qa_f1_zh_score", "rouge_score", "rouge_zh_score",
                              "classification_score", "retrieval_score", "retrieval_zh_score",
                              "count_score", "code_sim_score", "string_match_part"}  # fmt: skip

    def exact(prediction, ground_truth, **kwargs):
        return float(prediction == ground_truth)

    assert m.get_metric(exact) is exact
    assert m.score_item(exact, "b", ["a", "b"]) == 1.0
    assert m.score_item("string_match_part", "The Key is 42", ["key is 41", "KEY IS 42"]) == 1.0
    assert m.score_item("classification_score", "City", ["City"], all_classes=["City"]) == 1.0
    with pytest.raises(ValueError, match=r"unknown metric 'f1'; known: qa_f1_score, qa_f1_zh_score"):
        m.get_metric("f1")
    with pytest.raises(TypeError, match="metric <lambda> returned 'x', not a number"):
        m.score_item(lambda p, g: "x", "a", ["a"])
