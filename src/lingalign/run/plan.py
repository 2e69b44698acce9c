"""The plan of an experiment: the validated recipe as typed stage configs per dataset and model.

Building a plan reads only the recipe (and an accelerate config, for its process count); it never
loads a model or reads data, so ``--dry-run`` works before the inputs exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from lingalign.config import apply_overrides, model_ref, read_recipe, read_yaml, resolve_path
from lingalign.errors import UserError
from lingalign.run.schema import BASE, given_keys, validate_experiment, validate_one_line
from lingalign.train.recipe import TrainConfig


def looks_like_path(value: str) -> bool:
    """A model written as a path (checked to exist), not an alias or hub id."""
    return Path(value).is_absolute() or value.startswith((".", "~"))


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
        self.trains = {}
        names = set()
        for spec in exp.models:
            if spec.name in names or spec.name == BASE:
                raise UserError(f"{source} [models.{spec.name}]: model name {spec.name!r} is used twice or reserved")
            names.add(spec.name)
            if spec.data not in self.datasets:
                raise UserError(f"{source} [models.{spec.name}.data]: no dataset named {spec.data!r}; "
                                f"defined: {', '.join(self.datasets)}")
            merged = {**shared, **given_keys(spec.train)}
            if isinstance(merged["model"], str):  # not null: that is for the schema to report
                merged["model"] = model_ref(merged["model"], self.recipe_dir)
            self.trains[spec.name] = validate_one_line(merged, TrainConfig, f"{source} [models.{spec.name}.train]")
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

    def used_datasets(self) -> list[str]:
        """The datasets some model trains on, in the order the models name them (the others are not built)."""
        return list(dict.fromkeys(spec.data for spec in self.experiment.models))

    def eval_models(self) -> dict[str, str]:
        """Model label -> what to load, in evaluation order (base first)."""
        chosen = {}
        if self.experiment.evaluate and self.experiment.evaluate.include_base:
            chosen[BASE] = self.base_model
        for spec in self.experiment.models:
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
