"""Translation pairs as instruction records, and the instruction wording used for them.

Training rotates through a pool of paraphrases so the model learns the task rather than one
sentence; evaluation always uses the single fixed instruction :func:`lingalign.prompting.eval_instruction`,
which is also the pool's first entry. The paraphrase a pair gets is a seeded hash of the pair's text,
so it does not shift when other lines are filtered out (the reference code keyed it on raw line numbers).
"""

from __future__ import annotations

from lingalign.data.hashing import seeded_hash
from lingalign.languages import language_name, normalize_code
from lingalign.prompting import EVAL_TEMPLATE

# Written for lingalign. About half name only the target language, as a user often would.
TRAIN_TEMPLATES = (
    EVAL_TEMPLATE,
    "Translate this text from {src} into {tgt}.",
    "Please render the {src} passage below in {tgt}.",
    "Give the {tgt} version of the following {src} text.",
    "Convert the text below from {src} to {tgt}.",
    "How would you say the following {src} sentences in {tgt}?",
    "Produce a faithful {tgt} translation of this {src} input.",
    "I need this {src} text in {tgt}. Translate it, please.",
    "Rewrite the following {src} sentences in {tgt}, keeping the meaning.",
    "Turn this {src} passage into natural {tgt}.",
    "Translate from {src} to {tgt}:",
    "Provide an accurate {tgt} rendering of the {src} text that follows.",
    "What is the {tgt} translation of the following {src} text?",
    "Express the {src} input in {tgt}.",
    "Translate into {tgt}.",
    "Please translate the following into {tgt}.",
    "Write the text below in {tgt}.",
    "What does this say in {tgt}?",
    "Give me a {tgt} translation of this.",
    "Render the following passage in {tgt}.",
    "Put these sentences into {tgt}.",
    "Translate the input to {tgt}, preserving names and numbers.",
    "Could you translate this into {tgt}?",
    "Provide the {tgt} equivalent of the text below.",
    "Translate this passage; answer in {tgt} only.",
    "Say the following in {tgt}.",
    "A reader of {tgt} needs to understand this text. Translate it for them.",
    "Convert the following sentences into fluent {tgt}.",
    "Translate the text that follows into {tgt} without adding anything.",
    "Here is some text. Give its translation in {tgt}.",
    "Your task: translate the input into {tgt}.",
    "Translate the sentences below, writing the result in {tgt}.",
)


def train_instruction(src_code: str, tgt_code: str, src_text: str, tgt_text: str, seed: int) -> str:
    """A paraphrase chosen by a seeded hash of the pair, so it is the same whatever else is kept."""
    index = seeded_hash(seed, "instruction", src_text, tgt_text) % len(TRAIN_TEMPLATES)
    return TRAIN_TEMPLATES[index].format(src=language_name(src_code), tgt=language_name(tgt_code))


def translation_record(src_code: str, tgt_code: str, src_text: str, tgt_text: str, seed: int) -> dict:
    """One translation example: the source text is the input, the translation is the output."""
    src, tgt = normalize_code(src_code), normalize_code(tgt_code)
    return {
        "instruction": train_instruction(src, tgt, src_text, tgt_text, seed),
        "input": src_text,
        "output": tgt_text,
        "lang": tgt if src == "en" else src,
        "task": "translation",
        "direction": f"{src}-{tgt}",
    }


def general_record(instruction: str, input: str, output: str, lang_code: str) -> dict:
    """One Alpaca-style example in any language, kept as it is."""
    return {"instruction": instruction, "input": input, "output": output,
            "lang": normalize_code(lang_code), "task": "general", "direction": None}


def oriented(codes: tuple[str, str], direction: str) -> list[tuple[int, int]]:
    """Which way round to use a pair: (index of the source side, index of the target side).

    ``en-x`` puts the non-English side in the output (the paper's default), ``x-en`` the English
    side, ``both`` makes one record each way. Pairs without English keep the order given.
    """
    english = [normalize_code(c) == "en" for c in codes]
    if english[0] == english[1]:
        return [(0, 1)] if direction != "both" else [(0, 1), (1, 0)]
    en, x = (0, 1) if english[0] else (1, 0)
    return {"en-x": [(en, x)], "x-en": [(x, en)], "both": [(en, x), (x, en)]}[direction]
