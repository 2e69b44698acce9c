"""The translation instruction used for evaluation, shared with the data stage when it is installed.

Training and evaluation must use the same words, so the data stage owns the sentence
(``lingalign.data.instructions.eval_instruction``). If that module is absent, we fall back to the
same fixed sentence, the paper's evaluation template: "Translate the following sentences from
{Source} to {Target}." with English language names from langcodes.
"""

from __future__ import annotations


def language_name(code: str) -> str:
    import langcodes

    try:
        return langcodes.Language.get(code.replace("_", "-")).display_name("en")
    except (LookupError, ValueError):
        return code


def eval_instruction(src: str, tgt: str) -> str:
    try:
        from lingalign.data.instructions import eval_instruction as shared
    except ImportError:
        from lingalign.langid import base_code

        return (f"Translate the following sentences from {language_name(base_code(src))} "
                f"to {language_name(base_code(tgt))}.")
    return shared(src, tgt)
