"""Run a whole experiment from one recipe: data -> train -> eval -> analysis -> report.

An experiment recipe names a base model, named datasets (data-stage recipes), the models to train
(each on one dataset, with optional overrides of the shared ``train:`` section), the evaluation
tasks, and optionally an alignment analysis. ``lingalign run RECIPE -o DIR`` executes the steps in
order. Each step is cached by the fingerprint of its inputs and settings (``DIR/steps/*.json``), so
a second run does nothing, and a run killed at any point resumes: finished steps are skipped,
training continues from its last checkpoint and evaluation from its last written prediction.

Layout of DIR (the report and the stages read the same files):

    recipe.yaml                 the resolved recipe          run_log.jsonl   what each step did
    data/<dataset>/             lingalign data build         models/<model>/ lingalign train
    eval/<model>/               lingalign eval               analysis/align/ lingalign analyze align
    report.html                 lingalign report
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path
from typing import Any, Callable, Optional

from pydantic import Field

from lingalign.artifacts import append_jsonl, hash_obj, read_json, read_manifest, write_json, write_text
from lingalign.config import Strict, read_yaml, validate
from lingalign.errors import UserError
from lingalign.models import DEFAULT_MODEL

log = logging.getLogger("lingalign.run")

BASE = "base"  # the name under which the untuned base model is evaluated


class ModelSpec(Strict):
    """One model to train: ``data`` names an entry of ``datasets``; ``train`` overrides the shared section."""

    name: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    data: str
    train: dict[str, Any] = Field(default_factory=dict)


class EvalSpec(Strict):
    tasks: list[str] = Field(min_length=1)
    limit: Optional[int] = Field(None, ge=1, description="first N items of every task (None = all)")
    split: str = "devtest"
    batch_size: int = Field(8, ge=1)
    dtype: str = "auto"
    include_base: bool = True
    data_root: Optional[str] = None


class AlignSpec(Strict):
    langs: list[str] = Field(min_length=2)
    limit: Optional[int] = Field(200, ge=2)
    models: Optional[list[str]] = None  # default: base and every trained model


class Experiment(Strict):
    name: str = "experiment"
    base_model: str = DEFAULT_MODEL
    datasets: dict[str, dict[str, Any]] = Field(min_length=1)
    train: dict[str, Any] = Field(default_factory=dict)
    models: list[ModelSpec] = Field(min_length=1)
    evaluate: Optional[EvalSpec] = None
    analysis: Optional[AlignSpec] = None


class Plan:
    """The validated experiment: typed stage configs per dataset and model, plus the run folder."""

    def __init__(self, recipe_path: Path, out: Path):
        from lingalign.data.recipe import DataRecipe
        from lingalign.train.recipe import TrainConfig

        raw = read_yaml(recipe_path)
        self.experiment = validate(raw, Experiment, str(recipe_path))
        self.recipe_path, self.recipe_dir, self.out = recipe_path, recipe_path.parent, out
        exp = self.experiment
        self.datasets = {
            name: validate(spec, DataRecipe, f"{recipe_path} [datasets.{name}]") for name, spec in exp.datasets.items()
        }
        self.trains = {}
        names = set()
        for spec in exp.models:
            if spec.name in names or spec.name == BASE:
                raise UserError(f"{recipe_path} [models]: model name {spec.name!r} is used twice or reserved")
            names.add(spec.name)
            if spec.data not in self.datasets:
                raise UserError(f"{recipe_path} [models.{spec.name}.data]: no dataset named {spec.data!r}; "
                                f"defined: {', '.join(self.datasets)}")
            merged = {"model": exp.base_model, **exp.train, **spec.train}
            self.trains[spec.name] = validate(merged, TrainConfig, f"{recipe_path} [models.{spec.name}.train]")
        if exp.evaluate is not None:
            _check_tasks(exp.evaluate.tasks, str(recipe_path))
        if exp.analysis and exp.analysis.models:
            unknown = set(exp.analysis.models) - names - {BASE}
            if unknown:
                raise UserError(f"{recipe_path} [analysis.models]: unknown models {sorted(unknown)}")

    def eval_models(self) -> dict[str, str]:
        """Model label -> what to load, in evaluation order (base first)."""
        chosen = {}
        if self.experiment.evaluate and self.experiment.evaluate.include_base:
            chosen[BASE] = self.experiment.base_model
        for spec in self.experiment.models:
            chosen[spec.name] = str(self.out / "models" / spec.name)
        return chosen


def _check_tasks(tasks: list[str], source: str) -> None:
    """Validate task names early (before hours of training) when the evaluation stage can tell."""
    try:
        from lingalign.evaluate.tasks import check_task_names
    except ImportError:
        return
    check_task_names(tasks, source=source)


class Runner:
    """Executes steps, skipping those whose fingerprint is recorded as done."""

    def __init__(self, out: Path):
        self.out = out
        self.steps = out / "steps"

    def step(self, key: str, fingerprint: str, action: Callable[[], Any]) -> bool:
        """Run ``action`` unless step ``key`` already finished with this fingerprint. True if it ran."""
        marker = self.steps / f"{key.replace(':', '__')}.json"
        if marker.exists() and read_json(marker).get("fingerprint") == fingerprint:
            log.info("skip %-28s (cached, fingerprint %s)", key, fingerprint)
            append_jsonl(self.out / "run_log.jsonl", [{"step": key, "status": "skipped", "fingerprint": fingerprint}])
            return False
        log.info("run  %-28s", key)
        start = time.time()
        try:
            action()
        except UserError as exc:
            raise UserError(f"step {key} failed: {exc.message}", hint=exc.hint) from None
        except MemoryError:
            raise UserError(f"step {key} ran out of memory",
                            hint="lower micro_batch_size / max_length (train) or batch_size (evaluate)") from None
        seconds = round(time.time() - start, 1)
        write_json(marker, {"step": key, "fingerprint": fingerprint, "seconds": seconds})
        append_jsonl(self.out / "run_log.jsonl", [{"step": key, "status": "done", "fingerprint": fingerprint, "seconds": seconds}])
        return True


def execute(plan: Plan) -> Path:
    """Run every step of the plan; returns the report path."""
    from lingalign.data.build import build_dataset
    from lingalign.report.command import write_report
    from lingalign.train import train

    out, exp = plan.out, plan.experiment
    runner = Runner(out)
    used = {spec.data for spec in exp.models}
    data_fp = {}
    for name in used:
        recipe = plan.datasets[name]
        folder = out / "data" / name
        data_fp[name] = hash_obj({"data": recipe.model_dump(mode="json"), "recipe_dir": str(plan.recipe_dir)})
        runner.step(f"data:{name}", data_fp[name], lambda r=recipe, f=folder: build_dataset(r, f, recipe_dir=plan.recipe_dir))
        data_fp[name] = (read_manifest(folder) or {}).get("fingerprint", data_fp[name])

    model_fp = {BASE: hash_obj(exp.base_model)}
    for spec in exp.models:
        config = plan.trains[spec.name]
        fp = hash_obj({"train": config.model_dump(mode="json"), "data": data_fp[spec.data]})
        model_fp[spec.name] = fp
        runner.step(f"train:{spec.name}", fp, lambda c=config, s=spec: train(
            c, out / "data" / s.data, out / "models" / s.name, resume=True))

    if exp.evaluate:
        from lingalign.evaluate import evaluate

        spec = exp.evaluate
        settings = spec.model_dump(mode="json", exclude={"include_base"})
        for label, model in plan.eval_models().items():
            fp = hash_obj({"eval": settings, "model": model_fp[label]})
            runner.step(f"eval:{label}", fp, lambda m=model, label=label: evaluate(
                m, spec.tasks, out / "eval" / label, limit=spec.limit, split=spec.split, batch_size=spec.batch_size,
                dtype=spec.dtype, data_root=spec.data_root))

    if exp.analysis:
        from lingalign.analysis import align

        spec = exp.analysis
        labels = spec.models or [BASE, *(m.name for m in exp.models)]
        paths = {BASE: exp.base_model, **{m.name: str(out / "models" / m.name) for m in exp.models}}
        fp = hash_obj({"align": spec.model_dump(mode="json"), "models": {k: model_fp[k] for k in labels}})
        runner.step("analysis:align", fp, lambda: align(
            [f"{k}={paths[k]}" for k in labels], spec.langs, out / "analysis" / "align", limit=spec.limit))

    return write_report(out)


def describe(plan: Plan) -> str:
    """The ``--dry-run`` plan: stages, data counts, steps, and what is cached already."""
    out, exp = plan.out, plan.experiment
    lines = [f"experiment {exp.name!r}: base model {exp.base_model}, output {out}"]

    def cached(key: str) -> str:
        return " [cached]" if (out / "steps" / f"{key.replace(':', '__')}.json").exists() else ""

    counts = {}
    for name, recipe in plan.datasets.items():
        built = read_manifest(out / "data" / name)
        if built:
            counts[name] = built.get("counts", {}).get("records")
            detail = f"{counts[name]} records (built)"
        else:
            explicit = [s.count for s in recipe.sources]
            counts[name] = sum(explicit) if all(c is not None for c in explicit) else recipe.total
            detail = f"{counts[name]} records" if counts[name] else "all records of its sources (counted when built)"
        sources = ", ".join(f"{s.name}={s.count if s.count is not None else 'all'}" for s in recipe.sources)
        lines.append(f"  data:{name}: {detail}; sources {sources}{cached('data:' + name)}")
    for spec in exp.models:
        cfg = plan.trains[spec.name]
        per_step = cfg.micro_batch_size * cfg.gradient_accumulation_steps
        n = counts.get(spec.data)
        steps = f"<= {math.ceil(n / per_step) * cfg.epochs} optimizer steps" if n else "steps known after the data build"
        if cfg.max_steps:
            steps = f"{cfg.max_steps} optimizer steps (max_steps)"
        lines.append(f"  train:{spec.name}: {cfg.method} fine-tuning of {cfg.model} on data:{spec.data}, "
                     f"{cfg.epochs} epoch(s), lr {cfg.learning_rate}, {per_step} sequences (packed rows) per step "
                     f"per process, max_length {cfg.max_length}: {steps}{cached('train:' + spec.name)}")
    if exp.evaluate:
        limit = f"first {exp.evaluate.limit} items" if exp.evaluate.limit else "all items"
        for label in plan.eval_models():
            lines.append(f"  eval:{label}: {', '.join(exp.evaluate.tasks)} ({limit}){cached('eval:' + label)}")
    if exp.analysis:
        lines.append(f"  analysis:align: langs {', '.join(exp.analysis.langs)}{cached('analysis:align')}")
    lines.append(f"  report: {out / 'report.html'}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="experiment recipe (YAML), e.g. recipes/quickstart.yaml")
    parser.add_argument("-o", "--output", required=True, help="run folder (created; re-use it to resume)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and what is cached; run nothing")


def main(args: argparse.Namespace) -> int:
    recipe_path = Path(args.recipe)
    out = Path(args.output)
    plan = Plan(recipe_path, out)
    print(describe(plan))
    if args.dry_run:
        return 0
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "recipe.yaml", recipe_path.read_text(encoding="utf-8"))
    start = time.time()
    report = execute(plan)
    print(f"finished in {time.time() - start:.0f} s\nreport: {report.resolve()}")
    return 0
