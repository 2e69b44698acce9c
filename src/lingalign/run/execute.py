"""Running a plan: every step in order, each skipped when the run folder already holds its result.

Order: translations (Alpaca-X made by machine translation), datasets and training in the plan's
order (each model after its dataset and the model it starts from; preference pairs sampled from a
model of the run after that model), evaluation, alignment analysis, then the report (rewritten when
any step ran). A run killed at any point resumes: finished steps are skipped, training continues from its
last checkpoint (at any stage of a chain) and evaluation from its last written prediction.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from lingalign import evaluate as evaluate_stage
from lingalign import train as train_stage
from lingalign.analysis import align
from lingalign.artifacts import is_complete, read_json, read_manifest, write_manifest
from lingalign.config import resolve_path
from lingalign.data.build import resolve_source
from lingalign.data.translate import translate_set
from lingalign.report.command import write_report
from lingalign.run import launcher
from lingalign.run.datasets import dataset_kind
from lingalign.run.fingerprints import step_keys, translation_dir, translation_steps
from lingalign.run.plan import Plan, Start
from lingalign.run.schema import ModelSpec
from lingalign.run.steps import Runner
from lingalign.train.export import export_merged
from lingalign.train.identity import RUN_FILE, expected_fingerprint, work_dir

log = logging.getLogger("lingalign.run")

TRAIN_OOM_HINT = ("lower micro_batch_size (raise gradient_accumulation_steps to keep the batch), "
                  "max_length, or set gradient_checkpointing: true or method: lora")


def execute(plan: Plan) -> Path:
    """Run every step of the plan; returns the report path (rewritten when any step ran)."""
    out, exp = plan.out, plan.experiment
    runner = Runner(out)
    ran = False
    for key, step in translation_steps(plan).items():  # Alpaca-X made by machine translation, resumable
        if step["fingerprint"] is None:  # an input went missing since the check: say which
            resolve_source(step["source"], plan.recipe_dir)
        folder = translation_dir(plan, step)
        ran |= runner.step(key, step["fingerprint"], lambda s=step, f=folder: translate_set(
            s["path"], f, s["source"].lang, s["spec"], fmt=s["fmt"], fields=s["source"].fields), output=folder)
    keys = step_keys(plan)
    for step in plan.steps:  # data and training, each after what it needs
        stage, _, name = step.partition(":")
        if stage == "data":
            folder, kind = out / "data" / name, dataset_kind(plan, name, keys.models)
            if runner.step(step, kind.step_fingerprint(), lambda k=kind, f=folder: k.build(f), output=folder):
                ran = True
                # fingerprints downstream of the data use its content fingerprint, known only now
                keys = step_keys(plan)
            continue
        spec = plan.spec(name)
        folder = out / "models" / spec.name
        start = plan.starts.get(spec.name)
        start_fp = keys.fingerprints[f"train:{start.upstream}"] if start else None
        ran |= runner.step(step, keys.fingerprints[step], lambda s=spec, f=start_fp: _train_step(plan, s, f),
                           output=folder, oom_hint=TRAIN_OOM_HINT)

    fps = keys.fingerprints
    if exp.evaluate:
        spec = exp.evaluate
        for label, model in plan.eval_models().items():
            ran |= runner.step(f"eval:{label}", fps[f"eval:{label}"], lambda m=model, label=label: (
                evaluate_stage.evaluate(
                    m, plan.eval_tasks(label), out / "eval" / label, limit=spec.limit, split=spec.split,
                    batch_size=spec.batch_size, dtype=spec.dtype, backend=spec.backend,
                    new_tokens_cap=spec.max_new_tokens, data_root=plan.eval_root)),
                output=out / "eval" / label, oom_hint="lower evaluate.batch_size")

    if exp.analysis:
        spec = exp.analysis
        labels = plan.align_models()
        paths = plan.model_paths()
        data_root = str(resolve_path(spec.data_root, plan.recipe_dir)) if spec.data_root else None
        ran |= runner.step("analysis:align", fps["analysis:align"], lambda: align(
            [f"{k}={paths[k]}" for k in labels], spec.langs, out / "analysis" / "align", limit=spec.limit,
            data_root=data_root, dtype=spec.dtype), oom_hint="lower analysis.limit")

    report = out / "report.html"
    return write_report(out) if ran or not report.exists() else report


def _train_step(plan: Plan, spec: ModelSpec, start_fp: str | None) -> None:
    """Train one model, resuming its checkpoints; settings changed since they were written restart it.

    A model that starts from another model of the run (``start_fp``: that model's train fingerprint)
    has it in its train-stage fingerprint too, so checkpoints made from an older upstream are not resumed.
    """
    config = plan.trains[spec.name]
    start = plan.starts.get(spec.name)
    if start is not None and start.merge_first:
        _merge_upstream(plan, start, start_fp)
    data_dir, folder = plan.out / "data" / spec.data, plan.out / "models" / spec.name
    expected = expected_fingerprint(config, data_dir, start=start_fp)
    previous = [(read_manifest(folder) or {}).get("fingerprint")]
    run_file = work_dir(folder.resolve()) / RUN_FILE
    previous.append(read_json(run_file).get("fingerprint") if run_file.exists() else None)
    restart = any(fp is not None and fp != expected for fp in previous)
    if restart:
        log.warning("models/%s was made with other settings, data or starting model: training it again from scratch",
                    spec.name)
    if plan.launch_config is None:
        train_stage.train(config, data_dir, folder, resume=True, force=restart, start=start_fp)
    else:
        launcher.launch_train(plan, spec.name, config, data_dir, folder, force=restart, start=start_fp)


def _merge_upstream(plan: Plan, start: Start, start_fp: str) -> None:
    """A LoRA adapter upstream (``lora.merge: false``) merged into its base model, into ``DIR/merged/<upstream>``:
    the downstream stage then trains on a standalone model. Kept (and reused) while the upstream is unchanged."""
    folder = plan.out / start.folder
    if is_complete(folder, start_fp):
        return
    log.info("merging the LoRA adapter models/%s into its base model first: %s", start.upstream, start.folder)
    partial = folder.with_name(folder.name + ".partial")
    for stale in (partial, folder):
        if stale.exists():
            shutil.rmtree(stale)
    adapter = plan.out / "models" / start.upstream
    upstream = plan.trains[start.upstream]
    export_merged(adapter, partial, trust_remote_code=upstream.trust_remote_code)
    write_manifest(partial, stage="merge", fingerprint=start_fp, inputs={"adapter": str(adapter.resolve())})
    partial.rename(folder)
