"""Language codes as users write them, and language names as users read them.

Corpora name languages in many ways (``zh``, ``zho``, ``cmn_Hans``, ``zho_simpl``); records and
prompts need one form. Codes normalise to ISO 639-1 where one exists, and names come from
langcodes (a maintained ISO 639 / CLDR package), which says "Greek", not a catalogue label such
as "Modern Greek (1453-)".
"""

from __future__ import annotations

import difflib
from functools import lru_cache

import langcodes

from lingalign.errors import UserError

# Codes users commonly mean; used only to suggest a fix for a typo.
_COMMON = ("en", "zh", "vi", "ar", "el", "hi", "tr", "es", "fr", "de", "ru", "ja", "ko", "pt", "it",
           "id", "th", "sw", "eng", "zho", "cmn_Hans", "vie", "ara", "ell", "hin", "tur")


@lru_cache(maxsize=None)
def normalize_code(code: str) -> str:
    """``cmn_Hans``/``zho_simpl``/``zh-Hans`` -> ``zh``; ``vie`` -> ``vi``; unknown -> UserError."""
    text = str(code).strip()
    primary = text.replace("_", "-").split("-")[0]
    try:
        tag = langcodes.standardize_tag(primary, macro=True)
    except (ValueError, langcodes.tag_parser.LanguageTagError):
        tag = None
    if tag and langcodes.Language.get(tag).is_valid():
        return tag.split("-")[0]
    raise UserError(f"unknown language code {code!r}", hint=_suggest(text))


def _suggest(text: str) -> str:
    try:
        found = langcodes.find(text)  # the user wrote a name such as "Chinese"
        return f"did you mean '{found.language}' ({found.display_name()})?"
    except LookupError:
        pass
    close = difflib.get_close_matches(text, _COMMON, n=1)
    if close:
        return f"did you mean '{close[0]}' ({language_name(close[0])})?"
    return "use an ISO 639 code such as en, zh, vi, el (or eng, cmn_Hans, vie)"


@lru_cache(maxsize=None)
def language_name(code: str) -> str:
    """English name of a language: ``el`` -> "Greek", ``cmn_Hans`` -> "Chinese"."""
    return langcodes.Language.get(normalize_code(code)).display_name()


def is_english(code: str) -> bool:
    return normalize_code(code) == "en"
