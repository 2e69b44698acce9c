"""The plan of an experiment: the validated recipe as typed stage configs per dataset and model.

Building a plan reads only the recipe (and an accelerate config, for its process count); it never
loads a model or reads data, so ``--dry-run`` works before the inputs exist.

Staged training: a model with ``init: <model>`` starts from that model's folder in the run instead of
the base model. The plan checks the chain (a known model, not itself, no cycle, no ``train.model``
beside it) and orders the training steps so that every model comes after the one it starts from
(recipe order among independent ones). Only the weights carry over: each stage is a new training
run, with its own schedule, optimizer state and data order.

Data made by a model of the run: a ``pairs:`` dataset whose ``pairs.model`` names a model of the run
is sampled from that model's folder, so its data step comes after that model's training step. The
plan orders data and training steps together (:attr:`Plan.steps`) and refuses a cycle (the pairs'
model trains on those pairs, directly or through ``init:``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from lingalign.config import SAMPLE_PREFIX, apply_overrides, model_ref, read_recipe, read_yaml, resolve_path
from lingalign.errors import UserError
from lingalign.models import is_alias, is_hub_id
from lingalign.run.schema import (
    BASE,
    INSTRUCTIONS,
    PREFERENCE_PAIRS,
    ModelSpec,
    SampledPairs,
    given_keys,
    records_of,
    validate_experiment,
    validate_one_line,
)
from lingalign.step_order import first_ready_order
from lingalign.train.recipe import TrainConfig


def looks_like_path(value: str) -> bool:
    """A model written as a path (checked to exist), not an alias or hub id."""
    return Path(value).is_absolute() or value.startswith((".", "~"))


@dataclass(frozen=True)
class Start:
    """Where a staged model starts: ``upstream``, another model of the run.

    ``folder`` is the starting model inside the run folder: ``models/<upstream>``, or, when the upstream
    is a LoRA adapter folder (``lora.merge: false``), ``merged/<upstream>``, the adapter merged into its
    base model first (a cached part of the downstream's train step).
    """

    upstream: str
    merge_first: bool

    @property
    def folder(self) -> str:
        return f"merged/{self.upstream}" if self.merge_first else f"models/{self.upstream}"


class Plan:
    """The validated experiment: typed stage configs per dataset and model, plus the run folder."""

    def __init__(self, recipe_path: Path, out: Path, overrides: Sequence[str] = ()):
        source = str(recipe_path)
        data, self.included = read_recipe(recipe_path)  # the files it includes, if any
        if overrides and isinstance(data, dict):  # --set KEY=VALUE, checked by the same schemas as the file
            data = apply_overrides(data, list(overrides))
        self.data = data
        exp = validate_experiment(data, source)
        self.experiment, self.recipe_path, self.recipe_dir, self.out = exp, recipe_path, recipe_path.parent, out
        self.base_model = model_ref(exp.base_model, self.recipe_dir)
        self.datasets = exp.datasets
        shared = {"model": self.base_model, **given_keys(exp.train)}
        if isinstance(shared["model"], str):
            shared["model"] = model_ref(shared["model"], self.recipe_dir)
        validate_one_line(shared, TrainConfig, f"{source} [train]")  # blame the shared section for its own mistakes
        names = set()
        for spec in exp.models:
            if spec.name in names or spec.name == BASE:
                raise UserError(f"{source} [models.{spec.name}]: model name {spec.name!r} is used twice or reserved")
            names.add(spec.name)
            if spec.data not in self.datasets:
                raise UserError(f"{source} [models.{spec.name}.data]: no dataset named {spec.data!r}; "
                                f"defined: {', '.join(self.datasets)}")
        self.init = _check_chain(exp.models, source)
        self.order = _training_order(exp.models, self.init)
        # pairs dataset -> the model of the run it is sampled from (None: a model from outside the run)
        self.pairs_models = {name: _pairs_model(name, entry.pairs.model, names, self.recipe_dir, source,
                                                suggest=names - _trained_on(name, exp.models, self.init))
                             for name, entry in self.datasets.items() if isinstance(entry, SampledPairs)}
        self.steps = _step_order(self, source)
        self.order = [key.removeprefix("train:") for key in self.steps if key.startswith("train:")]
        self.trains, self.starts = {}, {}
        for name in self.order:  # an upstream's settings are known before the models that start from it
            spec = self.spec(name)
            merged = {**shared, **given_keys(spec.train)}
            upstream = self.init[name]
            if upstream is not None:
                before = self.trains[upstream]
                start = Start(upstream, merge_first=before.tuning == "lora" and not before.lora.merge)
                self.starts[name] = start
                merged["model"] = os.path.abspath(out / start.folder)
            if isinstance(merged["model"], str):  # not null: that is for the schema to report
                merged["model"] = model_ref(merged["model"], self.recipe_dir)
            self.trains[name] = validate_one_line(merged, TrainConfig, f"{source} [models.{name}.train]")
            _check_records(spec, self.trains[name], records_of(self.datasets[spec.data]), source)
        if exp.analysis and exp.analysis.models:
            unknown = set(exp.analysis.models) - names - {BASE}
            if unknown:
                raise UserError(f"{source} [analysis.models]: unknown models {sorted(unknown)}")
        self.launch_config = self.processes = None
        if exp.launch:
            self.launch_config = resolve_path(exp.launch.accelerate_config, self.recipe_dir)
            self.processes = exp.launch.num_processes or _processes_in(self.launch_config)
        self.eval_root = None
        if exp.evaluate and exp.evaluate.data_root:
            self.eval_root = resolve_path(exp.evaluate.data_root, self.recipe_dir)

    def spec(self, name: str) -> ModelSpec:
        return next(m for m in self.experiment.models if m.name == name)

    def pairs_model(self, dataset: str) -> str:
        """What a ``pairs:`` dataset samples from: ``models/<name>`` of the run, or the model as named."""
        upstream = self.pairs_models[dataset]
        if upstream is not None:
            return os.path.abspath(self.out / "models" / upstream)
        value = self.datasets[dataset].pairs.model
        return self.base_model if value == BASE else model_ref(value, self.recipe_dir)

    def training_order(self) -> list[ModelSpec]:
        """The models in the order they train: each after the model it starts from, else in recipe order."""
        return [self.spec(name) for name in self.order]

    def used_datasets(self) -> list[str]:
        """The datasets some model trains on, in the order the models name them (the others are not built)."""
        return list(dict.fromkeys(spec.data for spec in self.experiment.models))

    def eval_models(self) -> dict[str, str]:
        """Model label -> what to load, in evaluation order (base first)."""
        chosen = {}
        if self.experiment.evaluate and self.experiment.evaluate.include_base:
            chosen[BASE] = self.base_model
        for spec in self.experiment.models:
            if spec.eval_tasks != []:  # [] = a stage that only feeds the next one
                chosen[spec.name] = str(self.out / "models" / spec.name)
        return chosen

    def eval_tasks(self, label: str) -> list[str]:
        """The tasks model ``label`` is scored on: its own ``eval_tasks`` or ``evaluate.tasks``."""
        spec = next((m for m in self.experiment.models if m.name == label), None)
        return (spec.eval_tasks if spec and spec.eval_tasks else None) or self.experiment.evaluate.tasks

    def align_models(self) -> list[str]:
        """The models the alignment analysis compares: ``analysis.models``, else base and every trained model."""
        return self.experiment.analysis.models or [BASE, *(m.name for m in self.experiment.models)]

    def model_paths(self) -> dict[str, str]:
        return {BASE: self.base_model, **{m.name: str(self.out / "models" / m.name) for m in self.experiment.models}}


def _processes_in(accelerate_config: Path) -> Optional[int]:
    """``num_processes`` of an accelerate config file (None if the file is missing or has none)."""
    if not accelerate_config.is_file():
        return None
    data = read_yaml(accelerate_config) or {}
    value = data.get("num_processes") if isinstance(data, dict) else None
    return int(value) if isinstance(value, int) and value > 0 else None


def _check_chain(models: list[ModelSpec], source: str) -> dict[str, Optional[str]]:
    """Model -> the model of the run it starts from (None: the base model); a bad ``init:`` is one line."""
    names = [m.name for m in models]
    init = {}
    for spec in models:
        key = f"{source} [models.{spec.name}.init]"
        if spec.init is None or spec.init == BASE:  # naming the base model is the default, said out loud
            if spec.init == BASE and "model" in given_keys(spec.train):
                raise UserError(f"{key}: conflicts with models.{spec.name}.train.model: both say where "
                                f"{spec.name} starts; keep one")
            init[spec.name] = None
            continue
        if spec.init == spec.name:
            raise UserError(f"{key}: model {spec.name!r} cannot start from itself; name another model of the run "
                            f"or leave init out (the base model)")
        if spec.init not in names:
            raise UserError(f"{key}: no model named {spec.init!r} in this run; models: {', '.join(names)} "
                            f"(or {BASE}, the base model, the default)")
        if "model" in given_keys(spec.train):
            raise UserError(f"{key}: conflicts with models.{spec.name}.train.model: both say where {spec.name} "
                            f"starts; keep one (init: starts from models/{spec.init} of this run)")
        init[spec.name] = spec.init
    for name in names:  # each model starts from at most one: a cycle is a chain that comes back
        chain = [name]
        while init[chain[-1]] is not None and init[chain[-1]] not in chain:
            chain.append(init[chain[-1]])
        if init[chain[-1]] == name:
            raise UserError(f"{source} [models.{name}.init]: the stages form a cycle "
                            f"({' -> '.join([*chain, name])}): each must start from a model trained before it")
    return init


def _training_order(models: list[ModelSpec], init: dict[str, Optional[str]]) -> list[str]:
    """A topological order of the chain: repeatedly the first model in recipe order whose start is trained."""
    return first_ready_order({m.name: [init[m.name]] if init[m.name] else [] for m in models})[0]


def _trained_on(dataset: str, models: list[ModelSpec], init: dict[str, Optional[str]]) -> set[str]:
    """The models that train on ``dataset``, and every stage that starts from one of them."""
    found = {m.name for m in models if m.data == dataset}
    while True:
        more = {name for name, start in init.items() if start in found} - found
        if not more:
            return found
        found |= more


def _pairs_model(dataset: str, value: str, models: set[str], recipe_dir: Path, source: str,
                 suggest: set[str]) -> Optional[str]:
    """The model of the run a ``pairs:`` dataset samples from (None: the base model, an alias, a hub id or a
    folder); any other name is a one-line error: most likely a misspelt model of the run. The hint names
    only the run's models the pairs could come from (not those trained on them: a cycle)."""
    if value in models:
        return value
    known = (value == BASE or is_alias(value) or looks_like_path(value) or value.startswith(SAMPLE_PREFIX)
             or resolve_path(value, recipe_dir).exists() or is_hub_id(value))
    if known:
        return None
    run_models = f"a model of this run ({', '.join(sorted(suggest))}), " if suggest else ""
    raise UserError(f"{source} [datasets.{dataset}.pairs.model]: {value!r} is no model of this run, no lingalign "
                    f"alias, hub id (owner/name) or existing folder",
                    hint=f"name {run_models}{BASE} (the base model), an alias, a hub id or a folder")


def _step_order(plan: "Plan", source: str) -> list[str]:
    """The data and training steps in the order they run: ``data:<d>`` and ``train:<m>`` keys.

    A step runs once what it needs is made: a model after its dataset and the model it starts from; a
    ``pairs:`` dataset after the model of the run it samples from. Among steps ready together, the
    first in the list ``data`` (in the order the models name them), then ``train`` (training order)
    runs first: without pairs from the run's models, every data step comes before every training step.
    """
    needs: dict[str, list[str]] = {}
    for name in plan.used_datasets():
        upstream = plan.pairs_models.get(name)
        needs[f"data:{name}"] = [f"train:{upstream}"] if upstream else []
    for name in plan.order:
        spec = plan.spec(name)
        needs[f"train:{name}"] = [f"data:{spec.data}"] + ([f"train:{plan.init[name]}"] if plan.init[name] else [])
    order, stuck = first_ready_order(needs)
    if stuck:  # a cycle; init cycles are refused before, so it runs through a pairs dataset
        cycles = [_cycle(key, needs) for key in stuck if key.startswith("data:") and needs[key]]
        cycle = next(c for c in cycles if c[-1] == c[0] and len(c) > 1)
        dataset = cycle[0].removeprefix("data:")
        raise UserError(f"{source} [datasets.{dataset}.pairs.model]: the pairs are sampled from model "
                        f"{plan.pairs_models[dataset]!r}, which is trained on them ({' -> '.join(cycle)}); "
                        f"sample from a model trained before it")
    return order


def _cycle(start: str, needs: dict[str, list[str]]) -> list[str]:
    """A path of ``needs`` from ``start`` back to it (depth first), as step keys."""
    path: list[str] = [start]

    def walk(key: str) -> bool:
        for nxt in needs.get(key, []):
            if nxt == start:
                path.append(nxt)
                return True
            if nxt not in path:
                path.append(nxt)
                if walk(nxt):
                    return True
                path.pop()
        return False

    walk(start)
    return path


def _check_records(spec: ModelSpec, config: TrainConfig, records: str, source: str) -> None:
    """A DPO model needs preference pairs and a supervised one instruction records: said before any work."""
    dpo = config.method == "dpo"
    if dpo and records != PREFERENCE_PAIRS:
        raise UserError(f"{source} [models.{spec.name}.data]: method: dpo trains on {PREFERENCE_PAIRS}, but "
                        f"dataset {spec.data!r} holds {records}",
                        hint="give a dataset with preference_file: PATH (a JSONL of {prompt, chosen, rejected})")
    if not dpo and records != INSTRUCTIONS:
        raise UserError(f"{source} [models.{spec.name}.data]: dataset {spec.data!r} holds {records}, which "
                        f"method: {config.method} cannot train on; use method: dpo")
