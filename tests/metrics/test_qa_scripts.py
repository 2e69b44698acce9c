"""QA exact match / F1 per script family: unspaced scripts get grapheme tokens, spaced scripts keep words.

Sentences are real FLORES-101 devtest lines shipped in samples/flores101/first5.devtest.tsv.
"""

import re
import string
import sys
import unicodedata
from collections import Counter

import pytest

from lingalign.metrics.qa import exact_match, f1, normalisation_name, tokenize
from lingalign.tasks.qa import read_squad


def whitespace_f1(pred, gold):
    """F1 over whitespace tokens: what SQuAD's and MLQA's non-Chinese rule give an unspaced script."""
    p, g = pred.split(), gold.split()
    same = sum((Counter(p) & Counter(g)).values())
    return 0.0 if same == 0 else 2 * same / (len(p) + len(g))


def codepoint_f1(pred, gold):
    p, g = list(pred), list(gold)
    same = sum((Counter(p) & Counter(g)).values())
    return 0.0 if same == 0 else 2 * same / (len(p) + len(g))


# ---- unspaced scripts ----------------------------------------------------------------------------

def test_thai_tokens_are_grapheme_clusters_with_their_vowel_and_tone_marks():
    # กิน = ก + SARA I (U+0E34, a combining mark, category Mn) + น; ข้าว: MAI THO (U+0E49) stays on ข
    assert unicodedata.category("\u0e34") == "Mn"
    assert tokenize("กินข้าว", "th") == ["กิ", "น", "ข้", "า", "ว"]
    # two unrelated syllables that share only a vowel sign: code points would give them credit
    assert f1("กิน", "ดิบ", "th") == 0.0
    assert codepoint_f1("กิน", "ดิบ") == pytest.approx(1 / 3)


def test_thai_partial_answer_gets_partial_credit(flores):
    context = flores["tha"][1]
    gold = "มหาวิทยาลัยดัลเฮาซี"  # "Dalhousie University", a span of FLORES tha devtest line 2
    prediction = "มหาวิทยาลัยดัลเฮาซีในแฮลิแฟกซ์"  # "... in Halifax", also a span of it
    assert gold in context and prediction in context
    assert len(tokenize(gold, "th")) == 15 and len(tokenize(prediction, "th")) == 24
    # all 15 gold clusters are in the prediction: precision 15/24, recall 1 -> F1 = 30/39
    assert f1(prediction, gold, "th") == pytest.approx(30 / 39)
    assert whitespace_f1(prediction, gold) == 0.0  # one "word" each
    assert exact_match(" มหาวิทยาลัยดัลเฮาซี。", gold, "th") == 1.0


def test_lao():
    assert tokenize("ພາສາລາວ ມີ", "lo") == ["ພ", "າ", "ສ", "າ", "ລ", "າ", "ວ", "ມີ"]  # ມີ: vowel sign II (Mn) kept
    assert f1("ພະຍາດເບົາຫວານ", "ເບົາຫວານ", "lo") > 0.6  # "diabetes" vs "sweet urine": shared characters


def test_khmer_zero_width_spaces_separate_words_and_coeng_stays_in_its_cluster(flores):
    text = flores["khm"][0]
    assert "\u200b" in text  # FLORES Khmer separates words with U+200B
    tokens = tokenize(text, "km")
    assert "\u200b" not in "".join(tokens)
    assert tokenize("គាត់\u200bបាន", "km") == ["គា", "ត់", "បា", "ន"]
    assert "ខ្មែ" in tokenize("ខ្មែរ", "km")  # COENG (U+17D2) + subscript letter + vowel sign: one cluster


def test_myanmar_follows_unicode_grapheme_clusters():
    # MEDIAL RA and ASAT are combining and stay on their letter; VOWEL SIGN AA and VISARGA are
    # spacing marks that UAX #29 deliberately leaves as clusters of their own
    assert tokenize("မြန်မာ", "my") == ["မြ", "န်", "မ", "ာ"]
    assert f1("မြန်မာနိုင်ငံ", "မြန်မာ", "my") == pytest.approx(2 * 4 / (4 + len(tokenize("မြန်မာနိုင်ငံ", "my"))))


def test_japanese_kanji_and_kana_are_characters_and_latin_runs_are_words(flores):
    assert tokenize("生後4か月のマウス", "ja") == ["生", "後", "4", "か", "月", "の", "マ", "ウ", "ス"]
    # ー: Script_Extensions kana
    assert tokenize("ラーメン と iPhone", "ja") == ["ラ", "ー", "メ", "ン", "と", "iphone"]
    context = flores["jpn"][0]
    gold, prediction = "生後4か月のマウス", "4か月のマウス"  # spans of FLORES jpn devtest line 1
    assert gold in context and prediction in context
    # 7 of 9 gold tokens, all 7 predicted tokens correct: F1 = 2*7/(7+9)
    assert f1(prediction, gold, "ja") == pytest.approx(14 / 16)
    assert whitespace_f1(prediction, gold) == 0.0
    assert exact_match("「ダルハウジー大学」", "ダルハウジー大学", "ja") == 1.0  # CJK brackets are punctuation


@pytest.mark.parametrize("code, lang", [("tha", "th"), ("lao", "lo"), ("khm", "km"), ("mya", "my"), ("jpn", "ja"),
                                        ("cmn_Hans", "zh")])
def test_unspaced_sentences_lose_nothing_and_no_token_is_a_lone_nonspacing_mark(flores, code, lang):
    punct = {chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")}
    for line in flores[code]:
        tokens = tokenize(line, lang)
        kept = "".join(ch for ch in line.lower() if ch not in punct and ch not in string.punctuation)
        assert "".join(tokens) == "".join(kept.replace("\u200b", " ").split())
        assert not any(unicodedata.category(t[0]) == "Mn" for t in tokens)
        assert len(tokens) > 2 * len(line.split())  # character tokens, not one token per spaced chunk


# ---- Han: Chinese keeps MLQA's official rule exactly -----------------------------------------------

_PUNCT = {chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")}.union(
    string.punctuation)


def mlqa_zh_tokens(s):
    """MLQA's official Chinese normalisation (mlqa_evaluation_v1.py), transcribed for comparison."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    out, run = [], ""
    for ch in s:
        if re.search(r"[\u4e00-\u9fa5]", ch) or ch in _PUNCT:
            out.extend(run.split())
            run = ""
            out.append(ch)
        else:
            run += ch
    out.extend(run.split())
    return " ".join(t for t in out if t.strip()).split()


def test_chinese_scores_equal_mlqa_official_normalisation(samples_dir):
    rows = read_squad(samples_dir / "mlqa-dev" / "zh.json")
    checked = 0
    for _, context, _, answers in rows:
        gold = answers[0]
        start = context.find(gold)
        # predictions around the gold span: longer, shorter, shifted, with Latin and digits nearby
        for pred in (context[max(0, start - 3):start + len(gold) + 3], gold[1:],
                     context[start + 2:start + len(gold) + 5],
                     gold + " 2019年 ABC", "𠮷" + gold + "䶮"):  # ideographs outside MLQA's range
            assert tokenize(pred, "zh") == mlqa_zh_tokens(pred)
            ours = f1(pred, gold, "zh")
            p, g = mlqa_zh_tokens(pred), mlqa_zh_tokens(gold)
            same = sum((Counter(p) & Counter(g)).values())
            assert ours == pytest.approx(0.0 if same == 0 else 2 * same / (len(p) + len(g)))
            checked += 1
    assert checked > 500
    assert normalisation_name("zh") == "mlqa-zh" and normalisation_name("th") == "mlqa-th+graphemes"


# ---- spaced scripts: words stay words --------------------------------------------------------------

MLQA_ARTICLES = {"en": r"\b(a|an|the)\b", "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
                 "vi": r"\b(của|là|cái|chiếc|những)\b", "ar": r"\sال^|ال"}  # MLQA's lists; none for el ru ko tr


@pytest.mark.parametrize("code, lang", [("eng", "en"), ("deu", "de"), ("ell", "el"), ("rus", "ru"), ("ara", "ar"),
                                        ("hin", "hi"), ("kor", "ko"), ("vie", "vi"), ("tur", "tr")])
def test_spaced_scripts_keep_mlqa_whitespace_tokens(flores, code, lang):
    for line in flores[code]:
        text = "".join(ch for ch in line.lower() if ch not in _PUNCT)
        if lang in MLQA_ARTICLES:
            text = re.sub(MLQA_ARTICLES[lang], " ", text)
        # MLQA's whitespace rule word for word, except that a zero-width space separates words (FLORES
        # Hindi has some: MLQA would keep "\u200b\u200bऔर" as a token that never matches "और")
        assert tokenize(line, lang) == text.replace("\u200b", " ").split()


def test_devanagari_vowel_signs_stay_in_the_word_and_danda_goes():
    # किताब: ि (U+093F) is a spacing combining mark (Mc); । (U+0964) is punctuation (Po)
    assert tokenize("किताब पढ़ो।", "hi") == ["किताब", "पढ़ो"]
    assert f1("नई किताब", "किताब", "hi") == pytest.approx(2 / 3)


def test_hangul_is_spaced_korean_words_are_tokens():
    assert tokenize("서울 특별시", "ko") == ["서울", "특별시"]
    assert f1("서울 특별시", "서울", "ko") == pytest.approx(2 / 3)


def test_greek_cyrillic_arabic_latin_by_hand():
    assert tokenize("Η Αθήνα, η πρωτεύουσα.", "el") == ["η", "αθήνα", "η", "πρωτεύουσα"]
    assert f1("в Москве", "Москве", "ru") == pytest.approx(2 / 3)
    assert exact_match("القاهرة؟", "قاهرة", "ar") == 1.0  # Arabic question mark, MLQA's article rule
    assert tokenize("Tokyo (東京)", "en") == ["tokyo", "東", "京"]  # Han inside an English answer: characters
