"""What must exist before the pending steps of a plan can run, checked in seconds, not after hours.

Only existence is checked: no model is loaded and no training data is read (evaluation sets and a
few analysis sentences are parsed; they are small).
"""

from __future__ import annotations

from pathlib import Path

from lingalign.analysis.parallel import load_parallel
from lingalign.config import resolve_path
from lingalign.errors import UserError
from lingalign.run.datasets import dataset_kind
from lingalign.run.plan import Plan, looks_like_path
from lingalign.run.schema import BASE
from lingalign.tasks.base import default_data_root
from lingalign.tasks.registry import is_builtin, load_builtin, unknown_task
from lingalign.train.trackers import missing_trackers


def missing_inputs(plan: Plan, pending: set[str]) -> list[str]:
    """One "not found: ..." line per missing input of a step in ``pending``."""
    problems = []
    exp = plan.experiment
    models = {}  # model path or name -> the recipe key it comes from
    if f"eval:{BASE}" in pending or "analysis:align" in pending:
        models[plan.base_model] = "base_model"
    for name, cfg in plan.trains.items():
        if f"train:{name}" in pending and name not in plan.starts:  # a stage's start is made by the run
            models.setdefault(cfg.model, "base_model" if cfg.model == plan.base_model else f"models.{name}.train.model")
    for name, cfg in plan.trains.items():
        if f"train:{name}" in pending:
            problems += [f"not installed: models.{name}: {line}" for line in missing_trackers(cfg.report_to)]
    for value, key in models.items():
        if looks_like_path(value) and not Path(value).exists():
            problems.append(f"not found: {key} {value}")
    for name in plan.datasets:
        if f"data:{name}" in pending:
            problems += dataset_kind(plan, name).missing()
    if plan.launch_config is not None and not plan.launch_config.is_file():
        problems.append(f"not found: launch.accelerate_config {plan.launch_config}")
    if exp.evaluate and any(k.startswith("eval:") for k in pending):
        problems += _missing_tasks(plan)
    if exp.analysis and "analysis:align" in pending:
        root = resolve_path(exp.analysis.data_root, plan.recipe_dir) if exp.analysis.data_root else None
        try:  # reads a few small FLORES files, so a language without sentences fails now, not after training
            load_parallel(list(dict.fromkeys(["en", *exp.analysis.langs])), data_root=root, limit=2)
        except UserError as exc:
            problems.append(f"not found: analysis sentences: {exc.message}")
    return problems


def _missing_tasks(plan: Plan) -> list[str]:
    spec = plan.experiment.evaluate
    root = plan.eval_root or default_data_root()
    if not root.is_dir():
        return [f"not found: evaluate.data_root {root}"]
    problems = []
    every_task = dict.fromkeys(spec.tasks + [t for m in plan.experiment.models for t in (m.eval_tasks or [])])
    for name in every_task:
        try:
            if is_builtin(name):
                load_builtin(name, root, spec.split)
            else:
                raise unknown_task(name, root)
        except UserError as exc:
            hint = f" ({exc.hint})" if exc.hint and exc.hint.startswith("did you mean") else ""
            problems.append(f"not found: evaluate.tasks {name}: {exc.message}{hint}")
    return problems
