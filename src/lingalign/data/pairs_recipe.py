"""The recipe of ``lingalign data pairs``: which prompts, which model samples them, how answers are scored.

A YAML file whose ``pairs:`` section (or the whole file) follows :class:`PairsRecipe`. Every key is
checked (a misspelt key is an error naming it, with a suggestion), and the resolved recipe is part
of the job's fingerprint and manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from lingalign.config import Strict, load_recipe
from lingalign.data.recipe import _check_code
from lingalign.languages import normalize_code
from lingalign.models import DEFAULT_MODEL

PROMPT_FIELDS = ("instruction", "input")


class PromptSource(Strict):
    """Prompts in language X, each with its English counterpart.

    ``kind: bitext``: line-aligned questions (a Moses prefix, two ``paths``, TSV, translation JSONL or
    a FLORES-style folder, as for the data recipe's bitext sources); ``languages`` names the two
    sides in file order, one of them English. ``kind: instructions``: an Alpaca-style JSON list or
    JSONL file holding both sides of every record: ``fields`` maps ``instruction``/``input`` to the
    X side's keys, ``english_fields`` to the English side's (Alpaca en/zh:
    ``{instruction: zh_instruction, input: zh_input}`` and ``{instruction: en_instruction, input: en_input}``).
    """

    name: str = Field("prompts", description="used in record ids: <name>:<index in the file>")
    kind: Literal["bitext", "instructions"]
    path: Optional[str] = None
    paths: Optional[list[str]] = Field(None, min_length=2, max_length=2)
    format: Literal["auto", "moses", "tsv", "jsonl", "flores", "json"] = "auto"
    languages: Optional[list[str]] = Field(None, min_length=2, max_length=2,
                                           description="bitext: the two sides in file order, e.g. [zh, en]")
    lang: Optional[str] = Field(None, description="instructions: the language X of the prompts")
    fields: dict[str, str] = Field(default_factory=dict, description="instructions: X side's keys")
    english_fields: dict[str, str] = Field(default_factory=dict, description="instructions: English side's keys")

    @field_validator("fields", "english_fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(PROMPT_FIELDS)
        if unknown:
            raise ValueError(f"maps instruction/input to keys of the file; unknown: {sorted(unknown)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "PromptSource":
        if (self.path is None) == (self.paths is None):
            raise ValueError("give exactly one of path (a file, prefix or folder) or paths (two files)")
        formats = {"bitext": ("auto", "moses", "tsv", "jsonl", "flores"), "instructions": ("auto", "json", "jsonl")}
        if self.format not in formats[self.kind]:
            raise ValueError(f"format {self.format} is not for {self.kind}; use one of {', '.join(formats[self.kind])}")
        if self.kind == "bitext":
            if self.lang or self.fields or self.english_fields:
                raise ValueError("lang, fields and english_fields are for instructions; bitext uses languages")
            if not self.languages:
                raise ValueError("bitext prompts need languages: [x, en] (the two sides in file order)")
            for code in self.languages:
                _check_code(code)
            english = [normalize_code(c) == "en" for c in self.languages]
            if sum(english) != 1:
                raise ValueError(f"languages {self.languages}: exactly one side must be English (the counterpart)")
        else:
            if self.languages:
                raise ValueError("languages is for bitext; instructions use lang")
            if self.paths:
                raise ValueError("instructions are one file: give path")
            if not self.lang:
                raise ValueError("instructions need lang: <code of the prompts' language>")
            _check_code(self.lang)
            if normalize_code(self.lang) == "en":
                raise ValueError("lang is the non-English language X (the English side is english_fields)")
            if not self.english_fields:
                raise ValueError("instructions need english_fields: {instruction: <key of the English text>}")
        return self

    def x_lang(self) -> str:
        """The non-English language of the prompts (normalised code)."""
        if self.kind == "instructions":
            return normalize_code(self.lang)
        return next(normalize_code(c) for c in self.languages if normalize_code(c) != "en")


class PairsRecipe(Strict):
    """Preference pairs from translation consistency (MAPO): sample in X, score against the English answer."""

    model: str = Field(DEFAULT_MODEL, description="the model being aligned: it samples the X answers and "
                                                  "answers the English prompts (alias, folder or hub id)")
    prompts: PromptSource
    answers: Literal["text", "math"] = Field(
        "text", description="math: an answer without a number is unparsable (dropped and counted)")
    count: Optional[int] = Field(None, ge=1, description="prompts to use, chosen by a seeded hash (nested: "
                                                         "count 8 is a subset of count 100); null = all")
    seed: int = Field(0, description="chooses the prompts and seeds every sample")
    samples: int = Field(4, ge=2, le=64, description="answers sampled per X prompt")
    temperature: float = Field(0.8, gt=0, le=5)
    top_p: float = Field(0.95, gt=0, le=1)
    max_new_tokens: int = Field(256, ge=1, description="ceiling per answer (X samples and the English answer)")
    prompt_format: Literal["auto", "alpaca", "chat"] = Field(
        "auto", description="how the model is prompted: a lingalign model's own format, else chat if the "
                            "tokenizer has a template, else alpaca (DPO must train with the same)")
    backend: Literal["hf", "vllm"] = "hf"
    dtype: str = "auto"
    batch_size: int = Field(16, ge=1, description="rows per generation batch")
    score_batch_size: int = Field(4, ge=1, description="(X answer, English answer) pairs per scoring forward pass")
    chunk_size: int = Field(8, ge=1, description="prompts per unit of work, appended whole (part of the fingerprint)")
    scorer: Optional[str] = Field(None, description="translation model scoring X answer -> English answer: a "
                                                    "seq2seq MT model (NLLB, M2M-100, Marian) or a causal LM; "
                                                    "null = the model itself")
    scorer_target_code: Optional[str] = Field(None, description="the scorer's own code for English (NLLB eng_Latn)")
    min_margin: float = Field(0.0, ge=0, description="keep a pair when best - worst score is at least this "
                                                     "(and above 0); scores are mean log-probabilities per token")


def load_pairs_recipe(path: str | Path) -> PairsRecipe:
    """Read the ``pairs:`` section of a YAML recipe (or the whole file if it has no such section)."""
    return load_recipe(path, PairsRecipe, section="pairs")
