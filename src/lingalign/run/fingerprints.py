"""Step fingerprints: what each step of a plan depends on, hashed, and which steps are still to run.

A step runs again exactly when its fingerprint changes (or its output went missing):

- ``translate:<dataset>.<source>``: the translation's own fingerprint (input bytes, settings, model files);
- ``data:<dataset>``: the dataset's settings plus the size and modification time of every input file
  (cheap on every run; the data stage then decides by content hash whether anything really changed);
  for ``pairs:`` sampled from a model of the run, that model's train fingerprint too (and its content
  fingerprint: settings, prompt bytes and that train fingerprint, so it is known before the model is);
- ``train:<model>``: the train settings that change the weights, the base model's identity, and the
  data stage's *content* fingerprint (a rebuilt dataset with the same records does not retrain); for a
  model that starts from another model of the run (``init:``), the starting model's identity is that
  model's train fingerprint (not its files' times), so a change upstream retrains every stage after it;
- ``eval:<model>`` and ``analysis:align``: their settings plus the fingerprints of the models they read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from lingalign.artifacts import hash_obj, read_manifest
from lingalign.data.build import resolve_source
from lingalign.data.recipe import DataRecipe
from lingalign.data.translate import source_translation, translation_folder
from lingalign.errors import UserError
from lingalign.generation.fingerprint import model_fingerprint
from lingalign.run.datasets import dataset_kind
from lingalign.run.plan import Plan
from lingalign.run.schema import BASE
from lingalign.run.steps import Runner
from lingalign.train.recipe import NON_RESULT_KEYS


def data_fingerprint(plan: Plan, name: str, models: Optional[dict[str, Optional[str]]] = None) -> str:
    """The data step's key: its settings plus the size and modification time of every input file
    (and, for data a model of the run makes, that model's train fingerprint: ``models``).

    Cheap to compute on every run; a changed file re-runs the step, and the data stage then
    decides by content hash whether anything really changed.
    """
    return dataset_kind(plan, name, models).step_fingerprint()


def translation_steps(plan: Plan) -> dict[str, dict]:
    """``translate:<dataset>.<source>`` -> what to translate, for every source with a ``translate:`` block.

    The fingerprint is None when an input or the model is missing (``why`` says which; the step is
    then pending, and the missing input is reported).
    """
    steps = {}
    for name in plan.used_datasets():
        entry = plan.datasets[name]
        for source in entry.sources if isinstance(entry, DataRecipe) else ():
            if not source.translate:
                continue
            step = {"dataset": name, "source": source, "fmt": None, "path": None, "spec": None, "fingerprint": None,
                    "why": None}
            try:
                step["fmt"], paths = resolve_source(source, plan.recipe_dir)
                step["path"] = paths[0]
                step["spec"], step["fingerprint"] = source_translation(source, step["fmt"], paths[0], plan.recipe_dir)
            except UserError as exc:
                step["why"] = exc.message
            steps[f"translate:{name}.{source.name}"] = step
    return steps


def translation_dir(plan: Plan, step: dict) -> Path:
    return translation_folder(plan.out / "translations", step["source"].name, step["fingerprint"] or "pending")


def model_identity(path: str) -> str:
    """A cheap identity of a base model (file names, sizes, times of a local folder; else the name)."""
    return model_fingerprint(path)


@dataclass
class StepKeys:
    """Every step's fingerprint as far as it can be known before running, and which steps will run.

    A fingerprint is None where it cannot be known yet (an input or a translation model is missing);
    ``unknown`` then says why. ``content`` holds each dataset's content fingerprint (the data
    stage's, which the train steps key on): read from its manifest when the data step is cached, else
    computed from the inputs, so a dry-run in an empty folder shows what a real run will write.
    """

    fingerprints: dict[str, Optional[str]] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    content: dict[str, Optional[str]] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)
    models: dict[str, Optional[str]] = field(default_factory=dict)  # model -> train fingerprint (base: identity)


def step_keys(plan: Plan) -> StepKeys:
    """The fingerprint of every step of ``plan`` and whether the run folder already holds it.

    A step is pending when its fingerprint is unknown or ``DIR/steps`` does not record it as done
    (with its output there); a pending translation makes its dataset pending too.
    """
    out, exp = plan.out, plan.experiment
    runner = Runner(out)
    keys = StepKeys()
    fps, pending = keys.fingerprints, keys.pending
    for key, step in translation_steps(plan).items():
        fps[key] = step["fingerprint"]
        if fps[key] is None:
            keys.unknown[key] = step["why"]
        if fps[key] is None or not runner.is_done(key, fps[key], translation_dir(plan, step)):
            pending.update({key, f"data:{step['dataset']}"})
    model_fp = keys.models
    model_fp[BASE] = model_identity(plan.base_model)
    for step in plan.steps:  # each after what it needs: a stage after its start, pairs after their model
        stage, _, name = step.partition(":")
        if stage == "data":
            _data_keys(plan, name, keys, runner)
            continue
        spec = plan.spec(name)
        key = f"train:{spec.name}"
        config = plan.trains[spec.name].model_dump(mode="json", exclude=set(NON_RESULT_KEYS))
        content = keys.content[spec.data]
        start = plan.starts.get(spec.name)
        if content is None:
            fps[key] = None
            keys.unknown[key] = f"needs the content fingerprint of data:{spec.data}, not known yet"
        elif start is not None and model_fp[start.upstream] is None:
            fps[key] = None
            keys.unknown[key] = f"needs the fingerprint of train:{start.upstream}, not known yet"
        else:
            if start is None:
                identity = {"train": config, "data": content, "model": model_identity(config["model"])}
            else:  # the starting model is the upstream step's result: its fingerprint, not its folder's file times
                config["model"] = start.folder  # inside the run folder, wherever that is
                identity = {"train": config, "data": content, "init": {"model": start.upstream,
                                                                       "fingerprint": model_fp[start.upstream]}}
            if plan.processes:
                identity["processes"] = plan.processes  # under `launch:` the process count sets the effective batch
            fps[key] = hash_obj(identity)
        model_fp[spec.name] = fps[key]
        _mark(keys, runner, key, out / "models" / spec.name)
    if exp.evaluate:
        settings = exp.evaluate.model_dump(mode="json", exclude={"include_base", "data_root"})
        settings["data_root"] = str(plan.eval_root) if plan.eval_root else None
        for label in plan.eval_models():
            key = f"eval:{label}"
            fps[key] = _downstream(keys, key, [label], model_fp, lambda: {
                "eval": {**settings, "tasks": plan.eval_tasks(label)}, "model": model_fp[label]})
            _mark(keys, runner, key, out / "eval" / label)
    if exp.analysis:
        labels = plan.align_models()
        fps["analysis:align"] = _downstream(keys, "analysis:align", labels, model_fp, lambda: {
            "align": exp.analysis.model_dump(mode="json"), "models": {k: model_fp[k] for k in labels}})
        _mark(keys, runner, "analysis:align", None)
    return keys


def _data_keys(plan: Plan, name: str, keys: StepKeys, runner: Runner) -> None:
    """The step and content fingerprints of ``data:<name>``, and whether it is pending."""
    key, folder = f"data:{name}", plan.out / "data" / name
    try:
        keys.fingerprints[key] = data_fingerprint(plan, name, keys.models)
    except UserError as exc:
        keys.fingerprints[key], keys.unknown[key] = None, exc.message
    if keys.fingerprints[key] is None or not runner.is_done(key, keys.fingerprints[key], folder):
        keys.pending.add(key)
    keys.content[name] = _content(plan, name, keys, cached=key not in keys.pending)


def _content(plan: Plan, name: str, keys: StepKeys, *, cached: bool) -> Optional[str]:
    """A dataset's content fingerprint: its manifest's when the data step is cached (what a run then
    reads), else the one the build will write (its inputs are hashed; translations are not run)."""
    if cached:
        return (read_manifest(plan.out / "data" / name) or {}).get("fingerprint")
    try:
        return dataset_kind(plan, name, keys.models).content_fingerprint()
    except UserError as exc:
        keys.unknown[f"data:{name}:content"] = exc.message
        return None


def _downstream(keys: StepKeys, key: str, labels: list[str], model_fp: dict, identity) -> Optional[str]:
    """The fingerprint of a step that reads models, or None (and why) while one of theirs is unknown."""
    missing = [label for label in labels if model_fp[label] is None]
    if missing:
        keys.unknown[key] = "needs the fingerprint of " + ", ".join(f"train:{label}" for label in missing)
        return None
    return hash_obj(identity())


def _mark(keys: StepKeys, runner: Runner, key: str, output: Optional[Path]) -> None:
    fingerprint = keys.fingerprints[key]
    if fingerprint is None or not runner.is_done(key, fingerprint, output):
        keys.pending.add(key)


def pending_steps(plan: Plan) -> tuple[set[str], dict[str, Optional[str]]]:
    """The steps that will run and the step -> fingerprint map (see :func:`step_keys`)."""
    keys = step_keys(plan)
    return keys.pending, keys.fingerprints
