"""Which language a text is in, with a model shipped inside the package (py3langid, 97 languages).

Used to check that a model answers in the user's language (the first thing cross-lingual tuning
changes), to filter training pairs, and to analyse answer languages. Codes are ISO 639-1 where
one exists (``zh``, ``vi``, ``en``), as py3langid reports them.
"""

from __future__ import annotations

from functools import lru_cache

UNKNOWN = "und"

# py3langid often labels short Chinese text as Cantonese; for "did it answer in Chinese" a Han-script
# answer counts as Chinese. (Users studying Cantonese itself would want this off.)
_MERGE = {"yue": "zh"}


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect(text: str) -> str:
    """The most likely language of ``text`` (``und`` for empty or letter-free text)."""
    return detect_with_score(text)[0]


def detect_with_score(text: str) -> tuple[str, float]:
    """Language code and its normalised probability."""
    cleaned = " ".join(str(text).split())
    if not any(ch.isalpha() for ch in cleaned):
        return UNKNOWN, 0.0
    code, prob = _identifier().classify(cleaned)
    return _MERGE.get(str(code), str(code)), float(prob)


def base_code(code: str) -> str:
    """Reduce a language code to the form ``detect`` returns: ``zh-Hans``/``zho``/``cmn`` -> ``zh``."""
    import langcodes

    primary = code.replace("_", "-").split("-")[0]  # cmn_Hans, zho_simpl, zh-Hans -> cmn, zho, zh
    try:
        return langcodes.standardize_tag(primary, macro=True).split("-")[0]
    except (ValueError, langcodes.tag_parser.LanguageTagError):
        return code.lower()


def share_in_language(texts, expected: str) -> float:
    """Fraction of texts detected as ``expected`` (any code form). 0.0 for no texts."""
    texts = list(texts)
    if not texts:
        return 0.0
    want = base_code(expected)
    return sum(detect(t) == want for t in texts) / len(texts)
