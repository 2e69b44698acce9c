"""Extractive-QA scores: the paper's inclusion match, and SQuAD exact match / F1 per language.

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

Languages MLQA does not cover (el, tr, ...) get lowercase + punctuation removal + whitespace
tokens, without article removal; Japanese gets mixed segmentation with kana counted as characters.
Several gold answers: the best score over them (SQuAD/MLQA ``metric_max_over_ground_truths``).

All functions return fractions in [0, 1]; results.py reports percentages.
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from functools import lru_cache

_ARTICLES = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "ar": r"\sال^|ال",  # as MLQA writes it: in effect, every "ال" is removed
}
# MLQA's CJK range for Chinese; Japanese adds hiragana and katakana.
_CHAR_TOKEN = {
    "zh": re.compile(r"[\u4e00-\u9fa5]"),
    "ja": re.compile(r"[\u4e00-\u9fa5\u3040-\u30ff]"),
}


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
    char_token = _CHAR_TOKEN.get(lang)
    if char_token is None:
        return text.split()
    tokens, run = [], ""
    for ch in text:
        if char_token.match(ch):
            tokens.extend(run.split())
            tokens.append(ch)
            run = ""
        else:
            run += ch
    tokens.extend(run.split())
    return tokens


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
