"""QA metrics computed by hand, including where SQuAD's English-only normaliser goes wrong."""

import re
import string
from collections import Counter

import pytest

from lingalign.metrics.qa import exact_match, f1, inclusion, normalize, score_qa, tokenize


def english_only_tokens(text):
    """SQuAD v1.1's normaliser (ASCII punctuation, English articles, whitespace split), for contrast."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


def english_only_f1(pred, gold):
    p, g = english_only_tokens(pred), english_only_tokens(gold)
    same = sum((Counter(p) & Counter(g)).values())
    return 0.0 if same == 0 else 2 * (same / len(p)) * (same / len(g)) / (same / len(p) + same / len(g))


def test_english_by_hand():
    assert normalize("The Eiffel Tower!", "en") == "eiffel tower"
    assert exact_match("The Eiffel Tower!", "Eiffel tower", "en") == 1.0
    # "in paris france" vs "paris": precision 1/3, recall 1 -> F1 = 2*(1/3)/(4/3) = 0.5
    assert f1("in Paris, France", "Paris", "en") == pytest.approx(0.5)
    assert exact_match("in Paris, France", "Paris", "en") == 0.0
    assert f1("Berlin", "Paris", "en") == 0.0


def test_chinese_characters_are_tokens():
    assert tokenize("北京大学", "zh") == ["北", "京", "大", "学"]
    # 2 shared characters; precision 2/4, recall 2/2 -> F1 = 2*0.5*1/1.5 = 2/3
    assert f1("北京大学", "北京", "zh") == pytest.approx(2 / 3)
    assert english_only_f1("北京大学", "北京") == 0.0  # one "word" each: the English normaliser gives 0


def test_chinese_mixed_segmentation_keeps_latin_runs_as_words():
    assert tokenize("2008年奥运会 in Beijing", "zh") == ["2008", "年", "奥", "运", "会", "in", "beijing"]
    # [2008, 年, 奥, 运, 会] vs [2008, 年]: precision 2/5, recall 1 -> F1 = 0.8/1.4
    assert f1("2008年奥运会", "2008年", "zh") == pytest.approx(0.8 / 1.4)


def test_unicode_punctuation_is_removed():
    assert exact_match("“北京”。", "北京", "zh") == 1.0
    assert english_only_tokens("“北京”。") != english_only_tokens("北京")  # ASCII-only punctuation keeps them
    assert exact_match("القاهرة،", "القاهرة", "ar") == 1.0  # Arabic comma U+060C


def test_arabic_article_removed_as_mlqa_does():
    assert normalize("القاهرة", "ar") == "قاهرة"
    assert exact_match("قاهرة", "القاهرة", "ar") == 1.0
    assert english_only_f1("قاهرة", "القاهرة") == 0.0
    # [مدينة, قاهرة] vs [قاهرة]: precision 1/2, recall 1 -> F1 = 2/3
    assert f1("مدينة القاهرة", "القاهرة", "ar") == pytest.approx(2 / 3)


def test_vietnamese_and_other_languages():
    assert normalize("những con mèo", "vi") == "con mèo"  # MLQA's Vietnamese list
    assert normalize("Η Αθήνα.", "el") == "η αθήνα"  # no article list: lowercase + punctuation only
    assert normalize("the cat", "tr") == "the cat"


def test_several_gold_answers_take_the_best():
    assert f1("Paris", ["London", "Paris"], "en") == 1.0
    assert exact_match("Paris", ["London", "the Paris"], "en") == 1.0


def test_inclusion_is_case_insensitive_containment():
    assert inclusion("The answer is PARIS.", "paris") == 1.0
    assert inclusion("答案是北京。", "北京") == 1.0
    assert inclusion("Par is", "Paris") == 0.0
    scores = score_qa(["The answer is Paris", "Rome"], [["Paris"], ["Milan"]], "en")
    assert scores["inclusion"] == 0.5
    assert scores["em"] == 0.0
    # example 1: [answer, is, paris] vs [paris] -> F1 0.5; example 2 -> 0
    assert scores["f1"] == pytest.approx(0.25)
