"""The share of answers in the expected language: results.json's ``answer_lang``."""

from __future__ import annotations

from lingalign.langid import share_in_language


def answer_language(predictions: list[str], expected: str) -> dict:
    """Share of predictions that py3langid detects as the expected language.

    For a language py3langid has no label for (Asturian, Cebuano, Maori, ... see
    ``lingalign.langid.UNSUPPORTED_FLORES``) there is no value, only a note: 0% would read as "never
    answered in it"."""
    share = share_in_language(predictions, expected)
    if share is None:
        return {"expected": expected, "note": "not supported by the language identifier (py3langid)"}
    return {"value": round(100 * share, 4), "expected": expected}
