"""The experiment recipe of ``lingalign run``: one typed schema, checked before anything runs.

An experiment names a base model, named datasets (data-stage recipes, a file of preference pairs,
or preference pairs sampled from a model: ``pairs:``), the models to train (each on one dataset,
with optional overrides of the shared ``train:`` section, and optionally starting from another
model of the run: ``init:``), the evaluation tasks, and optionally an alignment analysis and an
``accelerate launch`` setup. See docs/run.md.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Discriminator, Field, Tag

from lingalign.config import Strict, partial_schema, validate
from lingalign.data.pairs_recipe import PairsRecipe
from lingalign.data.recipe import DataRecipe
from lingalign.errors import UserError
from lingalign.models import DEFAULT_MODEL
from lingalign.train.recipe import TrainConfig

BASE = "base"  # the name under which the untuned base model is evaluated

# The shared ``train:`` section and each ``models[].train``: any keys of the train stage's schema, each
# optional (a model overrides some keys of the shared section). An unknown or mistyped key is reported
# here, with its recipe key; the merged section is checked again as a whole TrainConfig by the plan.
TrainOverrides = partial_schema(TrainConfig, "TrainOverrides")


class PreferenceFile(Strict):
    """A dataset of preference pairs taken as it is: a JSONL of ``{prompt, chosen, rejected}`` records
    (or ``{instruction, input, chosen, rejected}``), checked and copied to ``data/<name>/train.jsonl``.
    It is what a ``method: dpo`` model trains on."""

    preference_file: str = Field(description="a JSONL file of preference pairs (relative to the recipe, or sample:)")


class SampledPairs(Strict):
    """Preference pairs sampled from a model and scored by translation consistency (MAPO), as
    ``lingalign data pairs`` makes them: ``pairs:`` holds that verb's recipe. Its ``model`` may name a
    model of this run (then the pairs are made after that model is trained, from ``models/<name>``)."""

    pairs: PairsRecipe


# Tags of the kinds of dataset entry. They appear in pydantic's error locations between the dataset's
# name and its key; validate_experiment drops them, so a message reads ``datasets.<name>.<key>``.
DATASET_TAGS = {"data recipe": DataRecipe, "preference file": PreferenceFile, "sampled pairs": SampledPairs}


KIND_KEYS = (("preference_file", "preference file"), ("pairs", "sampled pairs"))  # the key that marks a kind


def _dataset_tag(entry: Any) -> str:
    """Which kind an entry is: a mapping with ``preference_file`` or ``pairs`` (or, without ``sources``, a
    key spelt like one of them) is that kind; anything else a data recipe, which the schema then checks."""
    if isinstance(entry, dict):
        if "sources" in entry:
            return "data recipe"
        keys = [str(key) for key in entry]
        exact = next((tag for key, tag in KIND_KEYS if key in entry), None)
        return exact or next((tag for key, tag in KIND_KEYS if difflib.get_close_matches(key, keys, n=1)),
                             "data recipe")
    return next((tag for tag, kind in DATASET_TAGS.items() if isinstance(entry, kind)), "data recipe")


INSTRUCTIONS, PREFERENCE_PAIRS = "instruction records", "preference pairs"


def records_of(entry: Any) -> str:
    """What the data step of a dataset entry writes: a model's method is checked against it before any work."""
    return PREFERENCE_PAIRS if isinstance(entry, (PreferenceFile, SampledPairs)) else INSTRUCTIONS


DatasetEntry = Annotated[Union[tuple(Annotated[kind, Tag(tag)] for tag, kind in DATASET_TAGS.items())],
                         Discriminator(_dataset_tag)]


class ModelSpec(Strict):
    """One model to train: ``data`` names an entry of ``datasets``; ``train`` overrides the shared section;
    ``init`` names another model of the run to start from (a stage: its folder is this model's starting
    weights), instead of the base model."""

    name: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    data: str
    init: Optional[str] = Field(None, description="a model of this run to start from (default: the base model)")
    train: TrainOverrides = Field(default_factory=TrainOverrides)
    eval_tasks: Optional[list[str]] = Field(
        None, description="tasks to score this model on (default: evaluate.tasks); saves time in studies; [] = not "
                          "evaluated (a first stage that only feeds the next)")


class EvalSpec(Strict):
    tasks: list[str] = Field(min_length=1)
    limit: Optional[int] = Field(None, ge=1, description="first N items of every task (None = all)")
    split: str = "devtest"
    batch_size: int = Field(8, ge=1)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bfloat16 where the CPU has native bf16 (AVX512-BF16/AMX), else float32")
    backend: Literal["hf", "vllm"] = "hf"
    max_new_tokens: Optional[int] = Field(
        None, ge=1,
        description="ceiling per answer: lowers a task's default (translation 256), never raises it (QA 48)")
    include_base: bool = True
    data_root: Optional[str] = None


class AlignSpec(Strict):
    langs: list[str] = Field(min_length=2)
    limit: Optional[int] = Field(200, ge=2)
    models: Optional[list[str]] = None  # default: base and every trained model
    data_root: Optional[str] = Field(
        None, description="a FLORES-style folder with dev/<lang>.dev files (default: the shipped FLORES-101 sample)")
    dtype: Literal["float32", "bfloat16", "auto"] = Field(
        "float32", description="bfloat16 halves memory on a GPU; keep float32 on a CPU without bf16")


class LaunchSpec(Strict):
    """Start each training step with ``accelerate launch`` (multi-GPU, FSDP, DeepSpeed) instead of in-process."""

    accelerate_config: str
    num_processes: Optional[int] = Field(None, ge=1, description="default: the accelerate config's num_processes")


class Experiment(Strict):
    name: str = "experiment"
    base_model: str = DEFAULT_MODEL
    datasets: dict[str, DatasetEntry] = Field(min_length=1)
    train: TrainOverrides = Field(default_factory=TrainOverrides)
    models: list[ModelSpec] = Field(min_length=1)
    launch: Optional[LaunchSpec] = None
    evaluate: Optional[EvalSpec] = None
    analysis: Optional[AlignSpec] = None


def given_keys(section) -> dict[str, Any]:
    """The keys a ``train:`` section sets, as values of the train schema."""
    return section.model_dump(exclude_unset=True)


def validate_experiment(data: Any, source: str) -> Experiment:
    """The experiment schema; a model's keys are named by the model (``models.coit-zh.train.epochs``)."""
    items = data.get("models") if isinstance(data, dict) else None

    def by_name(loc: tuple) -> tuple:
        if len(loc) > 1 and loc[0] == "models" and isinstance(loc[1], int) and isinstance(items, list):
            item = items[loc[1]] if loc[1] < len(items) else None
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                return ("models", item["name"], *loc[2:])
        if len(loc) > 2 and loc[0] == "datasets" and loc[2] in DATASET_TAGS:
            return (*loc[:2], *loc[3:])
        return loc

    return validate_one_line(data, Experiment, source, key_names=by_name)


def validate_one_line(data: Any, model: type, source: str, key_names=None):
    """Schema check; a single problem (the usual case: one misspelt key) is reported on one line."""
    try:
        return validate(data, model, source, key_names)
    except UserError as exc:
        lines = exc.message.splitlines()
        if len(lines) == 2:
            raise UserError(f"{source}: {lines[1].strip().removeprefix('- ')}") from None
        raise
