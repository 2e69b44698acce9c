r"""Extractive-QA scores: the paper's inclusion match, and SQuAD exact match / F1 per language.

Why per language: SQuAD's official normaliser lowercases, strips ASCII punctuation and the English
articles, and splits on spaces. For Chinese that turns a whole answer into one "word", so a
prediction that differs by one character gets F1 = 0; for Arabic it leaves the article "ال" and
non-ASCII punctuation in place. We follow the official MLQA evaluation script
(facebookresearch/MLQA, ``mlqa_evaluation_v1.py``: ``normalize_answer``, ``mixed_segmentation``,
``f1_score``), which fixes exactly these points:

* lowercase; remove every character whose Unicode category starts with ``P`` (plus ASCII
  punctuation);
* remove articles per language, with MLQA's lists: en ``a an the``; es ``un una unos unas el la los
  las``; de ``ein eine einen einem eines einer der die das den dem des``; vi ``của là cái chiếc
  những``; ar every occurrence of ``ال`` (MLQA's regex removes it wherever it occurs, not only as a
  word-initial prefix; we keep that for comparability); hi and zh none;
* tokens: whitespace split, except Chinese, where each CJK ideograph is its own token and runs of
  other characters are split on whitespace ("mixed segmentation").

**Scripts written without spaces between words.** MLQA's rule exists only for Chinese; a Thai,
Lao, Khmer, Burmese or Japanese answer split on whitespace is one token, and a prediction that
differs from the gold answer by one letter gets F1 = 0. We generalise mixed segmentation by script
rather than by language: for every language but ``zh``, each *grapheme cluster* (Unicode extended
grapheme cluster, UAX #29, via the ``regex`` package's ``\X``) that starts with a character of a
script written without word spaces is its own token, and runs of other characters are split on
whitespace (U+200B ZERO WIDTH SPACE, which Khmer text puts between words, counts as a space).
The scripts (by Unicode Script_Extensions, so that the kana length mark and the
ideographic iteration mark count): Han, Hiragana, Katakana, Bopomofo, Thai, Lao, Khmer, Myanmar,
Tibetan, Yi, Tai Le, New Tai Lue, Tai Tham, Tai Viet, Balinese and Javanese. Spaced scripts
(Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari and the other Indic scripts, Hangul: Korean
puts spaces between words) keep MLQA's whitespace tokens, so their scores are MLQA's unless an
answer contains characters of the scripts above or a zero-width space (FLORES Hindi has some).

Why grapheme clusters and not code points: Thai, Lao, Khmer and Myanmar vowel signs and tone
marks are combining characters (category ``M``, not ``P``, so punctuation removal keeps them);
as separate tokens they would match across unrelated syllables. A cluster keeps a sign on its
base letter: Thai ``กิน`` is ``กิ`` + ``น``. Why characters and not words: word segmenters for
these languages (PyThaiNLP, LaoNLP, khmer-nltk, MeCab) are one package and one dictionary per
language, and their segmentations differ across versions and tools, so the score would move
with the segmenter; character tokens need nothing, give partial credit for partial answers, and
are exactly MLQA's choice for Chinese. Chinese itself keeps MLQA's code-point rule and range
(U+4E00-U+9FA5) byte for byte, so ``zh`` scores equal the official script's (ideographs added to
Unicode later, and kana in a Chinese answer, are left in MLQA's whitespace runs).

Languages MLQA does not cover (el, tr, th, ja, ...) get lowercase + punctuation removal + the
tokens above, without article removal.
Several gold answers: the best score over them (SQuAD/MLQA ``metric_max_over_ground_truths``).

All functions return fractions in [0, 1]; the evaluate stage's scoring reports percentages.
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from functools import lru_cache

import regex

_ARTICLES = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "ar": r"\sال^|ال",  # as MLQA writes it: in effect, every "ال" is removed
}
# MLQA's CJK range for Chinese, used code point by code point as the official script does.
_MLQA_ZH = re.compile(r"[\u4e00-\u9fa5]")
# Every other language: a grapheme cluster starting with a character of a script written without
# spaces between words is a token (Script_Extensions, so the kana length mark ー counts).
UNSPACED_SCRIPTS = ("Han", "Hiragana", "Katakana", "Bopomofo", "Thai", "Lao", "Khmer", "Myanmar", "Tibetan",
                    "Yi", "Tai_Le", "New_Tai_Lue", "Tai_Tham", "Tai_Viet", "Balinese", "Javanese")
_UNSPACED = regex.compile("[" + "".join(rf"\p{{scx={name}}}" for name in UNSPACED_SCRIPTS) + "]")
_CLUSTER = regex.compile(r"\X")
# An invisible word separator (Khmer text puts one between words, Burmese and Thai text sometimes);
# it is a format character (Cf), not whitespace, so str.split would keep it as a token.
ZERO_WIDTH_SPACE = "\u200b"


@lru_cache(maxsize=1)
def _punctuation() -> frozenset[str]:
    unicode_p = (chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P"))
    return frozenset(unicode_p).union(string.punctuation)


def _base(lang: str) -> str:
    return lang.replace("_", "-").split("-")[0].lower()


def tokenize(text: str, lang: str) -> list[str]:
    """Tokens after MLQA-style normalisation for ``lang`` (an ISO 639-1 code)."""
    lang = _base(lang)
    punct = _punctuation()
    text = "".join(ch for ch in text.lower() if ch not in punct)
    if lang in _ARTICLES:
        text = re.sub(_ARTICLES[lang], " ", text)
    if lang == "zh":
        return _mixed_segmentation(list(text), _MLQA_ZH)
    text = text.replace(ZERO_WIDTH_SPACE, " ")
    if not _UNSPACED.search(text):  # most answers in spaced scripts: skip the cluster split
        return text.split()
    return _mixed_segmentation(_CLUSTER.findall(text), _UNSPACED)


def _mixed_segmentation(units: list[str], char_token) -> list[str]:
    """MLQA's mixed segmentation: ``units`` (code points or grapheme clusters) that ``char_token``
    matches at their first character are tokens; the runs between them are split on whitespace."""
    tokens, run = [], []
    for unit in units:
        if char_token.match(unit):
            tokens.extend("".join(run).split())
            tokens.append(unit)
            run = []
        else:
            run.append(unit)
    tokens.extend("".join(run).split())
    return tokens


def normalisation_name(lang: str) -> str:
    """What results.json records beside EM/F1: ``mlqa-zh`` is the official script's rule exactly;
    ``+graphemes`` marks the extension to scripts written without spaces (see the module docstring)."""
    lang = _base(lang)
    return f"mlqa-{lang}" if lang == "zh" else f"mlqa-{lang}+graphemes"


def normalize(text: str, lang: str) -> str:
    return " ".join(tokenize(text, lang))


def exact_match(prediction: str, gold: str | list[str], lang: str) -> float:
    golds = [gold] if isinstance(gold, str) else gold
    return max(float(normalize(prediction, lang) == normalize(g, lang)) for g in golds)


def _f1_one(prediction: str, gold: str, lang: str) -> float:
    pred_tokens, gold_tokens = tokenize(prediction, lang), tokenize(gold, lang)
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, gold: str | list[str], lang: str) -> float:
    golds = [gold] if isinstance(gold, str) else gold
    return max(_f1_one(prediction, g, lang) for g in golds)


def inclusion(prediction: str, gold: str | list[str]) -> float:
    """The paper's "inclusion match": 1 if a gold answer occurs in the prediction, ignoring case.

    The reference code checks only the first gold answer and does no other normalisation; with a
    single gold answer (XQuAD, MLQA) this is identical. With several we take the best, like EM/F1.
    """
    golds = [gold] if isinstance(gold, str) else gold
    low = prediction.lower()
    return max(float(g.strip().lower() in low) for g in golds)


def score_qa(predictions: list[str], golds: list[list[str]], lang: str) -> dict[str, float]:
    """Mean inclusion, EM and F1 (fractions) over examples."""
    n = len(predictions)
    if n == 0:
        return {"inclusion": 0.0, "em": 0.0, "f1": 0.0}
    return {
        "inclusion": sum(inclusion(p, g) for p, g in zip(predictions, golds)) / n,
        "em": sum(exact_match(p, g, lang) for p, g in zip(predictions, golds)) / n,
        "f1": sum(f1(p, g, lang) for p, g in zip(predictions, golds)) / n,
    }
