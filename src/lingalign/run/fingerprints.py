"""Step fingerprints: what each step of a plan depends on, hashed, and which steps are still to run.

A step runs again exactly when its fingerprint changes (or its output went missing):

- ``translate:<dataset>.<source>``: the translation's own fingerprint (input bytes, settings, model files);
- ``data:<dataset>``: the dataset's settings plus the size and modification time of every input file
  (cheap on every run; the data stage then decides by content hash whether anything really changed);
- ``train:<model>``: the train settings that change the weights, the base model's identity, and the
  data stage's *content* fingerprint (a rebuilt dataset with the same records does not retrain);
- ``eval:<model>`` and ``analysis:align``: their settings plus the fingerprints of the models they read.
"""

from __future__ import annotations

from pathlib import Path

from lingalign.artifacts import hash_obj, read_manifest
from lingalign.config import model_ref, resolve_path
from lingalign.data.build import resolve_source
from lingalign.data.translate import source_translation, translation_folder
from lingalign.errors import UserError
from lingalign.evaluate.runner import model_fingerprint
from lingalign.run.plan import Plan
from lingalign.run.schema import BASE
from lingalign.run.steps import Runner
from lingalign.train.recipe import NON_RESULT_KEYS


def data_fingerprint(plan: Plan, name: str) -> str:
    """The data step's key: its settings plus the size and modification time of every input file.

    Cheap to compute on every run; a changed file re-runs the step, and the data stage then
    decides by content hash whether anything really changed.
    """
    recipe = plan.datasets[name]
    stats = []
    paths = [p for s in recipe.sources for p in resolve_source(s, plan.recipe_dir)[1]]
    paths += [resolve_path(e.path, plan.recipe_dir) for e in recipe.eval_set_list()]
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        stats += [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    # a translation also depends on its model's files
    models = [model_identity(model_ref(s.translate.model, plan.recipe_dir)) for s in recipe.sources if s.translate]
    return hash_obj({"data": recipe.model_dump(mode="json"), "inputs": stats, **({"models": models} if models else {})})


def translation_steps(plan: Plan) -> dict[str, dict]:
    """``translate:<dataset>.<source>`` -> what to translate, for every source with a ``translate:`` block.

    The fingerprint is None when an input is missing (the step is then pending, and reported missing).
    """
    steps = {}
    for name in dict.fromkeys(spec.data for spec in plan.experiment.models):
        for source in plan.datasets[name].sources:
            if not source.translate:
                continue
            step = {"dataset": name, "source": source, "fmt": None, "path": None, "spec": None, "fingerprint": None}
            try:
                step["fmt"], paths = resolve_source(source, plan.recipe_dir)
                step["path"] = paths[0]
                step["spec"], step["fingerprint"] = source_translation(source, step["fmt"], paths[0], plan.recipe_dir)
            except UserError:
                pass
            steps[f"translate:{name}.{source.name}"] = step
    return steps


def translation_dir(plan: Plan, step: dict) -> Path:
    return translation_folder(plan.out / "translations", step["source"].name, step["fingerprint"] or "pending")


def model_identity(path: str) -> str:
    """A cheap identity of a base model (file names, sizes, times of a local folder; else the name)."""
    return model_fingerprint(path)


def pending_steps(plan: Plan) -> tuple[set[str], dict[str, str]]:
    """Steps that will run, as far as can be told before running (a re-built dataset re-runs its
    models too, which this cannot know); plus the step -> fingerprint map it computed."""
    out, exp = plan.out, plan.experiment
    runner = Runner(out)
    pending, fps = set(), {}
    for key, step in translation_steps(plan).items():
        fps[key] = step["fingerprint"]
        if fps[key] is None or not runner.is_done(key, fps[key], translation_dir(plan, step)):
            pending.update({key, f"data:{step['dataset']}"})
    data_fp = {}
    for name in {spec.data for spec in exp.models}:
        key = f"data:{name}"
        try:
            fps[key] = data_fingerprint(plan, name)
        except UserError:
            fps[key] = None
        folder = out / "data" / name
        if fps[key] is None or not runner.is_done(key, fps[key], folder):
            pending.add(key)
        data_fp[name] = (read_manifest(folder) or {}).get("fingerprint")
    model_fp = {BASE: model_identity(plan.base_model)}
    for spec in exp.models:
        key = f"train:{spec.name}"
        config = plan.trains[spec.name].model_dump(mode="json", exclude=set(NON_RESULT_KEYS))
        identity = {"train": config, "data": data_fp[spec.data], "model": model_identity(config["model"])}
        if plan.processes:
            identity["processes"] = plan.processes  # under `launch:` the process count sets the effective batch
        fps[key] = model_fp[spec.name] = hash_obj(identity)
        if f"data:{spec.data}" in pending or not runner.is_done(key, fps[key], out / "models" / spec.name):
            pending.add(key)
    if exp.evaluate:
        settings = exp.evaluate.model_dump(mode="json", exclude={"include_base", "data_root"})
        settings["data_root"] = str(plan.eval_root) if plan.eval_root else None
        for label in plan.eval_models():
            key = f"eval:{label}"
            fps[key] = hash_obj({"eval": {**settings, "tasks": plan.eval_tasks(label)}, "model": model_fp[label]})
            if f"train:{label}" in pending or not runner.is_done(key, fps[key], out / "eval" / label):
                pending.add(key)
    if exp.analysis:
        spec = exp.analysis
        labels = spec.models or [BASE, *(m.name for m in exp.models)]
        fps["analysis:align"] = hash_obj({"align": spec.model_dump(mode="json"),
                                          "models": {k: model_fp[k] for k in labels}})
        if any(f"train:{k}" in pending for k in labels) or not runner.is_done("analysis:align", fps["analysis:align"]):
            pending.add("analysis:align")
    return pending, fps
