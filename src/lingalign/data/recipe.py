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
from lingalign.prompting import PromptFormat

Direction = Literal["en-x", "x-en", "both"]
BITEXT_FORMATS = ("auto", "moses", "tsv", "wikimatrix", "jsonl", "flores")
INSTRUCTION_FORMATS = ("auto", "json", "jsonl")


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


class PivotSpec(Strict):
    """Pivot answering (PLUG): each answer works in English first, then answers in the source's language.

    On an instruction set, ``english_fields`` (on the source) name the English side of each record.
    On parallel questions (a bitext with an English side), ``answers`` is an English problem set with
    step-by-step answers (GSM8K's JSONL) whose questions are matched to the English side.
    """

    answers: Optional[str] = Field(
        None, description="parallel questions: JSONL of English problems and step-by-step answers ending "
                          "'#### <number>' (GSM8K), matched to the English questions by their text")
    answer_fields: dict[str, str] = Field(
        default_factory=dict, description="keys of that file: {question: ..., answer: ...} (default: same names)")
    final_template: Optional[str] = Field(
        None, description="parallel questions: the final answer in the question's language, with {answer} "
                          "for the number (default: a sentence per language, data/pivot.py FINAL_ANSWER)")

    @field_validator("answer_fields")
    @classmethod
    def _known_answer_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - {"question", "answer"}
        if unknown:
            raise ValueError(f"answer_fields maps question/answer to keys of the file; unknown: {sorted(unknown)}")
        return value

    @field_validator("final_template")
    @classmethod
    def _has_slot(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and "{answer}" not in value:
            raise ValueError(f"final_template must contain {{answer}} where the number goes, got {value!r}")
        return value


class Source(Strict):
    """One input: a parallel corpus (``kind: bitext``), an instruction set (``kind: instructions``), or
    parallel questions for question alignment (``kind: question-alignment``, QAlign's stage 1)."""

    name: str
    kind: Literal["bitext", "instructions", "question-alignment"]
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
    # question alignment from an instruction set, and pivot answering from one: the English side's keys
    english_fields: Optional[dict[str, str]] = Field(
        None, exclude_if=lambda v: v is None,
        description="keys of the English side in the same records: {instruction: en_instruction, ...}")
    pivot: Optional[PivotSpec] = Field(
        None, exclude_if=lambda v: v is None,
        description="answer through English: English part, separator, then the answer in this language")
    translate_instruction: bool = Field(
        False, exclude_if=lambda v: v is False,
        description="question-alignment: prefix each question with 'Translate the following sentences from X "
                    "to English.' (QAlign's released code) instead of the bare question (the paper's)")
    strip_calculator: bool = Field(
        False, exclude_if=lambda v: v is False,
        description="remove GSM8K's calculator annotations <<48/2=24>> from the answers")
    # how many
    count: Optional[int] = Field(None, ge=0)
    weight: Optional[float] = Field(None, gt=0)
    upsample: bool = False
    clean: Optional[CleanConfig] = None

    @field_validator("fields", "english_fields")
    @classmethod
    def _known_fields(cls, value: Optional[dict[str, str]]) -> Optional[dict[str, str]]:
        unknown = set(value or {}) - {"instruction", "input", "output"}
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
        if self.kind == "question-alignment":
            self._question_alignment()
        elif self.kind == "bitext":
            self._bitext()
        else:
            self._instructions()
        if self.translate_instruction and self.kind != "question-alignment":
            raise ValueError(f"source '{self.name}': translate_instruction is for kind: question-alignment")
        if self.strip_calculator and self.kind != "instructions" and self.pivot is None:
            raise ValueError(f"source '{self.name}': strip_calculator cleans answers: it is for instructions "
                             "and pivot sources")
        return self

    def _formats(self, allowed: tuple[str, ...], what: str) -> None:
        if self.format not in allowed:
            raise ValueError(f"source '{self.name}': format {self.format} is not for {what}; "
                             f"use one of {', '.join(allowed)}")

    def _bitext_keys(self, what: str) -> None:
        """Checks shared by the sources read as parallel text (bitext, and question alignment from one)."""
        self._formats(BITEXT_FORMATS, what)
        if self.fields or self.lang or self.translate:
            raise ValueError(f"source '{self.name}': fields, lang and translate are for instructions; "
                             f"{what} uses languages")
        if self.min_score is not None and self.format != "wikimatrix":
            raise ValueError(f"source '{self.name}': min_score is for format: wikimatrix "
                             "(score<TAB>source<TAB>target)")
        if not self.languages:
            raise ValueError(f"source '{self.name}': {what} needs languages: [source_code, target_code]")
        for code in self.languages:
            _check_code(code)

    def _one_english_side(self, why: str) -> None:
        english = [normalize_code(code) == "en" for code in self.languages]
        if sum(english) != 1:
            raise ValueError(f"source '{self.name}': {why} needs one English side and one other, "
                             f"got languages: {self.languages}")

    def _bitext(self) -> None:
        self._bitext_keys("bitext")
        if self.english_fields is not None:
            raise ValueError(f"source '{self.name}': english_fields is for instruction sets; bitext uses languages")
        if self.pivot is not None:
            if self.pivot.answers is None:
                raise ValueError(f"source '{self.name}' (key pivot): a pivot record needs an answer in English and "
                                 "one in the question's language; for parallel questions give pivot.answers: "
                                 "<English problems with answers, GSM8K JSONL>")
            self._one_english_side("pivot answering")
            if self.direction:
                raise ValueError(f"source '{self.name}': direction is for translation records, not pivot ones")

    def _question_alignment(self) -> None:
        if self.pivot is not None or self.translate:
            raise ValueError(f"source '{self.name}': pivot and translate are not for question-alignment "
                             "(its records are question -> English question)")
        if self.direction:
            raise ValueError(f"source '{self.name}': question-alignment is always X -> English; drop direction")
        if self.english_fields is None:  # parallel questions in any bitext format
            self._bitext_keys("question-alignment from parallel text")
            self._one_english_side("question alignment")
            return
        self._formats(INSTRUCTION_FORMATS, "question-alignment from an instruction set")
        if self.languages or self.min_score is not None:
            raise ValueError(f"source '{self.name}': with english_fields the file is an instruction set: "
                             "give lang (the other side's language) and fields, not languages")
        self._needs_lang("question-alignment from an instruction set")
        for side, mapping in (("fields", self.fields), ("english_fields", self.english_fields)):
            if "output" in mapping:
                raise ValueError(f"source '{self.name}': {side}.output: question alignment uses only the "
                                 "instructions (and inputs), never the answers")
        if not self.english_fields.get("instruction"):
            raise ValueError(f"source '{self.name}': english_fields needs instruction: <key of the English "
                             "instruction>")

    def _instructions(self) -> None:
        self._formats(INSTRUCTION_FORMATS, "instructions")
        if self.languages or self.direction:
            raise ValueError(f"source '{self.name}': languages and direction are for bitext; instructions use lang")
        self._needs_lang("instructions")
        if self.min_score is not None:
            raise ValueError(f"source '{self.name}': min_score is for WikiMatrix bitext")
        if self.translate and normalize_code(self.translate.source_lang) == normalize_code(self.lang):
            raise ValueError(f"source '{self.name}': translate.from and lang are both {self.lang}; "
                             "lang is the language to translate into")
        if self.pivot is None:
            if self.english_fields is not None:
                raise ValueError(f"source '{self.name}': english_fields is for pivot: and question-alignment")
            return
        missing = [k for k in ("instruction", "output") if not (self.english_fields or {}).get(k)]
        if missing:
            raise ValueError(f"source '{self.name}' (key english_fields): a pivot record needs both languages' "
                             f"fields; map the English side's {' and '.join(missing)}, e.g. english_fields: "
                             "{instruction: en_instruction, input: en_input, output: en_output}")
        if self.pivot.answers is not None or self.pivot.final_template is not None:
            raise ValueError(f"source '{self.name}': pivot.answers and pivot.final_template are for parallel "
                             "questions (kind: bitext); an instruction set has its answers in english_fields")
        if self.translate:
            raise ValueError(f"source '{self.name}': pivot needs the English and the translated record side by "
                             "side; translate first (lingalign data translate), then pivot on a file with both")
        if normalize_code(self.lang) == "en":
            raise ValueError(f"source '{self.name}': pivot answering is for a non-English lang")

    def _needs_lang(self, what: str) -> None:
        if not self.lang:
            raise ValueError(f"source '{self.name}': {what} needs lang: <code of their language>")
        _check_code(self.lang)

    def other_language(self) -> str:
        """The non-English language of a source that pairs English with another (question alignment, pivot)."""
        if self.lang:
            return normalize_code(self.lang)
        return next(normalize_code(c) for c in self.languages if normalize_code(c) != "en")


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
    prompt_format: PromptFormat = "alpaca"
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
