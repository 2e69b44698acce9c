"""Prompt formats shared by training and evaluation (training = inference, or scores mean nothing).

Two formats:

* ``alpaca``: the Stanford Alpaca template the paper uses for base models. The template words stay
  in English whatever the language of the instruction; there is no space or newline after
  ``### Response:`` (the response text follows directly, as in the reference code).
* ``chat``: the tokenizer's own chat template, with the instruction (and input, after a blank line)
  as the single user turn. Right for instruct models that ship a template.

The format used is recorded with every trained model and every score.

The fixed instruction of translation prompts (:func:`eval_instruction`) lives here too: evaluation
asks for every FLORES/NTREX translation with it, ``data translate`` asks a causal LM with it, and the
training data's paraphrase pool (``data/instructions.py``) starts with it, so all three use the
same words.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from lingalign.artifacts import read_text, write_json
from lingalign.errors import UserError
from lingalign.languages import language_name

PromptFormat = Literal["alpaca", "chat"]
PROMPT_FORMATS: tuple[str, ...] = ("alpaca", "chat")

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
    return ALPACA_STOP_STRINGS if fmt == "alpaca" else ()


def eval_stop_strings(fmt: str) -> list[str]:
    """Where evaluation cuts a response: the template's stops, and for Alpaca any new ``### `` section.

    The evaluate stage's runner decodes with it (results.json ``generation.stop_strings``), the chat
    server too, and the lm-eval export writes it into its task files."""
    return list(stop_strings(fmt)) + (["\n### "] if fmt == "alpaca" else [])


MODEL_INFO_FILE = "lingalign_model.json"


def write_model_info(folder, prompt_format: str, **extra) -> None:
    """Record in a trained model folder how it was prompted, so evaluation prompts it the same way."""
    write_json(Path(folder) / MODEL_INFO_FILE, {"prompt_format": prompt_format, **extra})


def read_model_prompt_format(folder) -> str | None:
    """The prompt format a lingalign-trained model was trained with, or None for other models."""
    path = Path(folder) / MODEL_INFO_FILE
    if not path.exists():
        return None
    try:
        return json.loads(read_text(path)).get("prompt_format")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
