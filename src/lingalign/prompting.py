"""Prompt formats shared by training and evaluation (training = inference, or scores mean nothing).

Three formats:

* ``alpaca``: the Stanford Alpaca template the paper uses for base models. The template words stay
  in English whatever the language of the instruction; there is no space or newline after
  ``### Response:`` (the response text follows directly, as in the reference code).
* ``chat``: the tokenizer's own chat template, with the instruction (and input, after a blank line)
  as the single user turn. Right for instruct models that ship a template.
* ``alpaca-pivot``: the Alpaca template, for a model trained to answer through English (pivot
  answering, PLUG): its response is an English part (the instruction restated in English, then the
  English answer), the separator :data:`PIVOT_SEPARATOR`, then the answer in the user's language.
  The prompt is Alpaca's; what differs is what is scored: only the final part (:func:`split_pivot`).

The format used is recorded with every trained model and every score.

The fixed instruction of translation prompts (:func:`eval_instruction`) lives here too: evaluation
asks for every FLORES/NTREX translation with it, ``data translate`` asks a causal LM with it, and the
training data's paraphrase pool (``data/instructions.py``) starts with it, so all three use the
same words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lingalign.artifacts import read_text, write_json
from lingalign.errors import UserError
from lingalign.languages import language_name

PromptFormat = Literal["alpaca", "chat", "alpaca-pivot"]
PROMPT_FORMATS: tuple[str, ...] = ("alpaca", "chat", "alpaca-pivot")
# A pivot format prompts exactly as its template format; only its responses (and so scoring) differ.
PIVOT_FORMATS: dict[str, str] = {"alpaca-pivot": "alpaca"}


def template_format(fmt: str) -> str:
    """The template a format prompts with: ``alpaca-pivot`` -> ``alpaca``; others are their own."""
    return PIVOT_FORMATS.get(fmt, fmt)


def is_pivot(fmt: str | None) -> bool:
    """Whether a model of this format answers through English, so that only its final part is scored."""
    return fmt in PIVOT_FORMATS

ALPACA_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
)
ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:"
)

# Strings that mark the model starting a new turn of the template: generation stops there.
ALPACA_STOP_STRINGS = ("### Instruction:", "### Input:", "### Response:", "\n\n\n")


def build_prompt(instruction: str, input: str = "", fmt: str = "alpaca", tokenizer=None) -> str:
    """The text the model sees before its response."""
    fmt = template_format(fmt)
    if fmt == "alpaca":
        if input:
            return ALPACA_WITH_INPUT.format(instruction=instruction, input=input)
        return ALPACA_NO_INPUT.format(instruction=instruction)
    if fmt == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise UserError(
                "prompt format 'chat' needs a tokenizer with a chat template, and this one has none",
                hint="use prompt_format: alpaca",
            )
        user = instruction if not input else f"{instruction}\n\n{input}"
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True
        )
    raise UserError(f"unknown prompt format {fmt!r}; expected one of {', '.join(PROMPT_FORMATS)}")


# The paper's evaluation template, with English language names ("from English to Chinese").
EVAL_TEMPLATE = "Translate the following sentences from {src} to {tgt}."


def eval_instruction(src_code: str, tgt_code: str) -> str:
    """The one instruction used at evaluation: "Translate the following sentences from English to Chinese."."""
    return EVAL_TEMPLATE.format(src=language_name(src_code), tgt=language_name(tgt_code))


def stop_strings(fmt: str) -> tuple[str, ...]:
    return ALPACA_STOP_STRINGS if template_format(fmt) == "alpaca" else ()


def eval_stop_strings(fmt: str) -> list[str]:
    """Where evaluation cuts a response: the template's stops, and for Alpaca any new ``### `` section.

    The evaluate stage's runner decodes with it (results.json ``generation.stop_strings``), the chat
    server too, and the lm-eval export writes it into its task files."""
    return list(stop_strings(fmt)) + (["\n### "] if template_format(fmt) == "alpaca" else [])


MODEL_INFO_FILE = "lingalign_model.json"


def write_model_info(folder, prompt_format: str, **extra) -> None:
    """Record in a trained model folder how it was prompted, so evaluation prompts it the same way.

    A pivot model also records its separator (``pivot_separator``), so that evaluation splits its
    answers where it was trained to put the separator, even if the default ever changes."""
    if is_pivot(prompt_format):
        extra = {"pivot_separator": PIVOT_SEPARATOR, **extra}
    write_json(Path(folder) / MODEL_INFO_FILE, {"prompt_format": prompt_format, **extra})


def read_model_info(folder) -> dict:
    """``lingalign_model.json`` of a model folder ({} for other models or an unreadable file)."""
    path = Path(folder) / MODEL_INFO_FILE
    if not path.exists():
        return {}
    try:
        info = json.loads(read_text(path))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return info if isinstance(info, dict) else {}


def read_model_prompt_format(folder) -> str | None:
    """The prompt format a lingalign-trained model was trained with, or None for other models."""
    return read_model_info(folder).get("prompt_format")


def model_pivot_separator(folder, fmt: str) -> str | None:
    """The separator to split a model's answers at: None unless ``fmt`` is a pivot format; then the one the
    model folder records, else :data:`PIVOT_SEPARATOR` (a model prompted with ``--prompt-format alpaca-pivot``)."""
    if not is_pivot(fmt):
        return None
    return read_model_info(folder).get("pivot_separator") or PIVOT_SEPARATOR


# ---- pivot answers (PLUG: answer through English, then in the user's language) -----------------------

# Between the English part and the final answer. Chosen so that no evaluation stop string cuts it (no
# "### ", no three newlines) and so that it reads as what it is; the data stage drops a training record
# whose texts already contain it, so a pivot model sees it exactly once per answer.
PIVOT_SEPARATOR = "\n\nFinal response:\n"
PIVOT_ENGLISH_INSTRUCTION = "English instruction:\n"
PIVOT_ENGLISH_INPUT = "\n\nEnglish input:\n"
PIVOT_ENGLISH_RESPONSE = "\n\nEnglish response:\n"


# What a pivot answer adds before the final one: the instruction restated in English (this much at most
# is allowed for it) and an English answer about as long as the final answer.
PIVOT_RESTATEMENT_TOKENS = 256


def pivot_token_budget(final_tokens: int) -> int:
    """New tokens to allow a pivot model whose final answer needs ``final_tokens``: the English
    restatement, an English answer as long as the final one, then the final one (MGSM direct 64 ->
    384, QA 48 -> 352, translation 256 -> 768, step by step 512 -> 1280). Without this, a direct
    MGSM budget of 64 tokens ends most pivot answers inside their English part."""
    return PIVOT_RESTATEMENT_TOKENS + 2 * final_tokens


def pivot_response(instruction: str, input: str, response: str, final: str,
                   separator: str = PIVOT_SEPARATOR) -> str:
    """A pivot training answer: the English instruction (and input), the English answer, the separator, ``final``."""
    english = PIVOT_ENGLISH_INSTRUCTION + instruction
    if input:
        english += PIVOT_ENGLISH_INPUT + input
    return english + PIVOT_ENGLISH_RESPONSE + response + separator + final


@dataclass(frozen=True)
class PivotParts:
    """A pivot model's answer taken apart: ``final`` is what is scored and language-checked."""

    final: str  # after the first separator, up to a second one; the whole answer when there is none
    english: str  # before the first separator ("" when there is none)
    found: bool  # the separator was there
    repeated: bool  # it came again after the final part (the rest was cut off)


def split_pivot(prediction: str, separator: str = PIVOT_SEPARATOR) -> PivotParts:
    """Split a pivot model's answer at its separator, matched without its surrounding whitespace.

    * found once: the final part is the text after it, stripped;
    * found twice or more: the final part is the text between the first and the second. A model
      trained on one separator per answer that writes another has started the pattern again (a
      repetition loop, the usual failure of greedy decoding): the first final answer is its answer,
      as a stop string keeps only the first response;
    * missing: the whole answer, as it is (``found=False``; evaluation counts these as ``pivot_missing``).

    This is the one definition of "the final part": evaluation scores with it (and the bootstrap
    rescores with it); other code that reads a pivot model's answers should call it too.
    """
    marker = separator.strip() or separator
    head, sep, rest = prediction.partition(marker)
    if not sep:
        return PivotParts(final=prediction, english="", found=False, repeated=False)
    final, again, _ = rest.partition(marker)
    return PivotParts(final=final.strip(), english=head.strip(), found=True, repeated=bool(again))


def scored_answer(prediction: str, separator: str | None) -> str:
    """What is scored of a prediction: the final part for a pivot model (``separator`` set), else all of it."""
    return prediction if separator is None else split_pivot(prediction, separator).final
