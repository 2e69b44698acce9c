"""Which language a text is in, with a model shipped inside the package (py3langid 0.4: 142 labels).

Used to check that a model answers in the user's language (the first thing cross-lingual tuning
changes), to filter training pairs, and to analyse answer languages. Codes are ISO 639-1 where
one exists (``zh``, ``vi``, ``en``), as py3langid reports them.

Comparing a detection with a task's language goes through ``identifier_code``, because a code as
the tasks write it (``base_code``: langcodes' CLDR form) and the identifier's label are not always
the same string: Tagalog is ``fil`` for CLDR and ``tl`` for py3langid, Norwegian Bokmål ``nb`` and
``no``, Fula ``ff`` and ``fuv`` (Nigerian Fulfulde, FLORES-101's ``ful``). A language with no label
at all is *not supported*: a share of answers "in" it would be 0% whatever the model wrote, so
``supported`` lets callers say so instead. On the first 200 FLORES-101 devtest sentences
(``python scripts/langid_coverage.py --flores DIR``) py3langid 0.4.0 has no label for 11 of the 101 languages
(``UNSUPPORTED_FLORES``) and confuses three close pairs: Bosnian is detected as Bosnian for 47% of
sentences (Croatian otherwise), Croatian 72.5% (Bosnian), Malay 81.5% (Indonesian).
"""

from __future__ import annotations

from functools import lru_cache

import langcodes
from py3langid.langid import MODEL_FILE, LanguageIdentifier

UNKNOWN = "und"

# py3langid labels some Chinese text as Cantonese (yue) or Wu (wuu): 21 of the first 200 FLORES
# cmn_Hans sentences come out as wuu. For "did it answer in Chinese" Han-script Chinese counts as
# Chinese. (Users studying Cantonese itself would want this off.)
_MERGE = {"yue": "zh", "wuu": "zh"}
# Where langcodes' standard code (what base_code returns) and py3langid's label differ.
_LABEL_FOR = {"fil": "tl", "nb": "no", "ff": "fuv"}
# FLORES-101 file codes (devtest) whose language py3langid 0.4.0 has no label for.
UNSUPPORTED_FLORES = ("ast", "ceb", "ckb", "kam", "kea", "luo", "mri", "nya", "snd", "umb", "wol")


@lru_cache(maxsize=1)
def _identifier():
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=1)
def labels() -> frozenset[str]:
    """The codes ``detect`` can return (py3langid's labels after merging Chinese varieties)."""
    return frozenset(_MERGE.get(str(c), str(c)) for c in _identifier().nb_classes)


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
    """Reduce a language code to its ISO 639-1 form: ``zh-Hans``/``zho``/``cmn`` -> ``zh``, ``msa`` -> ``ms``."""
    primary = code.replace("_", "-").split("-")[0]  # cmn_Hans, zho_simpl, zh-Hans -> cmn, zho, zh
    try:
        return langcodes.standardize_tag(primary, macro=True).split("-")[0]
    except (ValueError, langcodes.tag_parser.LanguageTagError):
        return code.lower()


def identifier_code(code: str) -> str | None:
    """The label ``detect`` gives text in language ``code`` (any code form), or None if it has none."""
    base = base_code(code)
    label = _LABEL_FOR.get(base, _MERGE.get(base, base))
    return label if label in labels() else None


def supported(code: str) -> bool:
    """Whether the language identifier can recognise language ``code`` at all."""
    return identifier_code(code) is not None


def in_language(text: str, expected: str) -> bool:
    """Whether ``text`` is detected as language ``expected`` (any code form; False if unsupported)."""
    want = identifier_code(expected)
    return want is not None and detect(text) == want


def share_in_language(texts, expected: str) -> float | None:
    """Fraction of texts detected as ``expected`` (any code form): 0.0 for no texts, None when the
    identifier does not know the language (a 0% would say the model never answered in it)."""
    want = identifier_code(expected)
    if want is None:
        return None
    texts = list(texts)
    if not texts:
        return 0.0
    return sum(detect(t) == want for t in texts) / len(texts)
