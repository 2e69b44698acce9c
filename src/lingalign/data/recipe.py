"""The ``data:`` section of a recipe: which sources, how they are cleaned, and how many of each.

Every key is checked (a misspelt key is an error with a suggestion), and the resolved recipe is
saved in the output manifest, so a training set can always be traced back to its settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import ConfigDict, Field, field_validator, model_validator

from lingalign.config import Strict, load_recipe
from lingalign.errors import UserError
from lingalign.languages import normalize_code

Direction = Literal["en-x", "x-en", "both"]


class CleanConfig(Strict):
    """Filters applied to every pair before selection; each one's drop count goes in the manifest."""

    min_chars: int = Field(1, ge=0, description="drop a pair if either side is shorter (characters)")
    max_chars: int = Field(1000, ge=1, description="drop a pair if either side is longer (characters)")
    max_length_ratio: Optional[float] = Field(
        3.0, gt=1, description="drop a pair if one side is this many times longer (see length_unit)")
    # Recipes written before the unit existed were measured in UTF-8 bytes: a recipe pinning that
    # value dumps (and so fingerprints) exactly as before, while the new default is part of the key.
    length_unit: Literal["characters", "utf8-bytes"] = Field(
        "characters", exclude_if=lambda v: v == "utf8-bytes",
        description="what max_length_ratio compares: characters with East Asian wide ones counting 3 "
                    "(fair to every script), or UTF-8 bytes (the rule before 2026-12; unfair to non-Latin scripts)")
    dedup: bool = Field(True, description="drop exact repeats of a pair or record (8-byte hash each)")
    langid: bool = Field(False, description="drop a side not detected as its declared language (py3langid)")


class EvalSet(Strict):
    """An evaluation set no training text may come from."""

    path: str
    format: Literal["auto", "lines", "squad"] = "auto"


class TranslateFilters(Strict):
    """Checks on every translated field; a record with any failing field is dropped whole (counted by reason)."""

    langid: bool = Field(True, description="drop a field not detected as the target language (py3langid)")
    langid_min_letters: int = Field(12, ge=1,
                                    description="shorter translations are not language-checked (too unreliable)")
    max_length_ratio: Optional[float] = Field(
        4.0, gt=1, description="drop a field whose translated prose is this many times longer or shorter "
                               "(characters, East Asian wide ones counting 3)")
    numbers: bool = Field(True, description="drop a field that lost a number or a placeholder ({name}, %s, <b>)")
    truncated: bool = Field(True, description="drop a field whose answer ran to its token budget (a loop, or cut off)")


class TranslateSpec(Strict):
    """How to make a non-English instruction set from an English one (``lingalign data translate``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True,
                              serialize_by_alias=True)

    model: str = Field(description="MT model folder (Marian, NLLB, M2M-100) or causal LM (alias, folder, hub id)")
    source_lang: str = Field("en", alias="from", description="language of the file being translated")
    limit: Optional[int] = Field(None, ge=1, description="translate only the first N records")
    chunk_size: int = Field(16, ge=1, description="records translated together and appended as one unit")
    batch_size: int = Field(16, ge=1, description="pieces per generation batch")
    max_new_tokens: int = Field(256, ge=1, description="ceiling per piece (a piece's own budget is 4x its length + 16)")
    max_piece_tokens: int = Field(200, ge=8,
                                  description="longer lines are cut at sentence ends (capped by the model's limit)")
    backend: Literal["hf", "vllm"] = "hf"
    dtype: str = "auto"
    prompt_format: Literal["auto", "alpaca", "chat"] = Field(
        "auto", description="causal LMs: a lingalign model's own format, else chat if the tokenizer has a template")
    target_code: Optional[str] = Field(None, description="the model's own code for the target (NLLB arb_Arab, ...)")
    filters: TranslateFilters = TranslateFilters()

    @field_validator("source_lang")
    @classmethod
    def _known_source(cls, value: str) -> str:
        _check_code(value)
        return value


class Source(Strict):
    """One input: a parallel corpus (``kind: bitext``) or an instruction set (``kind: instructions``)."""

    name: str
    kind: Literal["bitext", "instructions"]
    path: Optional[str] = None
    paths: Optional[list[str]] = Field(None, min_length=2, max_length=2)
    format: Literal["auto", "moses", "tsv", "wikimatrix", "jsonl", "flores", "json"] = "auto"
    # bitext
    languages: Optional[list[str]] = Field(None, min_length=2, max_length=2)
    direction: Optional[Direction] = None
    # instructions
    lang: Optional[str] = None
    fields: dict[str, str] = Field(default_factory=dict)
    # exclude_if: left unset, keys added after run folders existed stay out of the dumped recipe,
    # so those folders' fingerprints still match (no silent re-build and re-training on upgrade)
    translate: Optional[TranslateSpec] = Field(
        None, exclude_if=lambda v: v is None,
        description="the file is in translate.from (English): translate it into lang first")
    # bitext, format wikimatrix
    min_score: Optional[float] = Field(None, exclude_if=lambda v: v is None,
                                       description="WikiMatrix: keep pairs whose margin score is at least this")
    # how many
    count: Optional[int] = Field(None, ge=0)
    weight: Optional[float] = Field(None, gt=0)
    upsample: bool = False
    clean: Optional[CleanConfig] = None

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - {"instruction", "input", "output"}
        if unknown:
            raise ValueError(f"fields maps instruction/input/output to keys of the file; unknown: {sorted(unknown)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Source":
        if (self.path is None) == (self.paths is None):
            raise ValueError(f"source '{self.name}': give exactly one of path (a file, prefix or folder) "
                             "or paths (two files)")
        if self.count is not None and self.weight is not None:
            raise ValueError(f"source '{self.name}': give count or weight, not both")
        formats = {"bitext": ("auto", "moses", "tsv", "wikimatrix", "jsonl", "flores"),
                   "instructions": ("auto", "json", "jsonl")}
        if self.format not in formats[self.kind]:
            raise ValueError(f"source '{self.name}': format {self.format} is not for {self.kind}; "
                             f"use one of {', '.join(formats[self.kind])}")
        if self.kind == "bitext":
            if self.fields or self.lang or self.translate:
                raise ValueError(f"source '{self.name}': fields, lang and translate are for instructions; "
                                 "bitext uses languages")
            if self.min_score is not None and self.format != "wikimatrix":
                raise ValueError(f"source '{self.name}': min_score is for format: wikimatrix "
                                 "(score<TAB>source<TAB>target)")
            if not self.languages:
                raise ValueError(f"source '{self.name}': bitext needs languages: [source_code, target_code]")
            for code in self.languages:
                _check_code(code)
        else:
            if self.languages or self.direction:
                raise ValueError(f"source '{self.name}': languages and direction are for bitext; instructions use lang")
            if not self.lang:
                raise ValueError(f"source '{self.name}': instructions need lang: <code of their language>")
            if self.min_score is not None:
                raise ValueError(f"source '{self.name}': min_score is for WikiMatrix bitext")
            _check_code(self.lang)
            if self.translate and normalize_code(self.translate.source_lang) == normalize_code(self.lang):
                raise ValueError(f"source '{self.name}': translate.from and lang are both {self.lang}; "
                                 "lang is the language to translate into")
        return self


def _check_code(code: str) -> None:
    """Unknown language codes become schema errors, so the message names the recipe file and key."""
    try:
        normalize_code(code)
    except UserError as exc:
        raise ValueError(f"{exc.message}; {exc.hint}") from None


class DataRecipe(Strict):
    """Sources, cleaning and mixing: one recipe for CoIT (one language) or MuIT (several)."""

    seed: int = 0
    total: Optional[int] = Field(None, ge=1, description="mixture size shared out by the sources' weights")
    direction: Direction = "en-x"
    clean: CleanConfig = CleanConfig()
    eval_sets: list[Union[str, EvalSet]] = Field(default_factory=list)
    max_tokens: Optional[int] = Field(None, ge=8, description="drop examples longer than this (prompt+answer)")
    tokenizer: str = "smollm2-135m-instruct"
    prompt_format: Literal["alpaca", "chat"] = "alpaca"
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "DataRecipe":
        names = [s.name for s in self.sources]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"source names must be unique; repeated: {', '.join(repeated)}")
        weighted = [s.name for s in self.sources if s.weight is not None]
        if weighted and self.total is None:
            raise ValueError(f"sources {', '.join(weighted)} have a weight, so the recipe needs total: <records>")
        if self.total is not None and not weighted:
            raise ValueError("total is shared out by weights, but no source has a weight")
        return self

    def eval_set_list(self) -> list[EvalSet]:
        return [EvalSet(path=e) if isinstance(e, str) else e for e in self.eval_sets]


def load_data_recipe(path: str | Path) -> DataRecipe:
    """Read the ``data:`` section of a YAML recipe (or the whole file if it has no such section)."""
    return load_recipe(path, DataRecipe, section="data")
