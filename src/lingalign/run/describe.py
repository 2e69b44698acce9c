"""The ``--dry-run`` plan: stages, data counts, hyperparameters, and for every step its fingerprint and
whether the run folder already holds it (``[cached]``) or it will run (``[to run]``); then what is missing.

A user sees before a long run what an edit to a recipe will redo; a refactor can be checked by
comparing the fingerprints with those a run wrote to ``DIR/steps/*.json``.
"""

from __future__ import annotations

import math
from typing import Optional

from lingalign.artifacts import read_manifest
from lingalign.run.datasets import dataset_kind
from lingalign.run.fingerprints import StepKeys, step_keys, translation_dir, translation_steps
from lingalign.run.inputs import missing_inputs
from lingalign.run.plan import Plan, looks_like_path


def describe(plan: Plan, keys: Optional[StepKeys] = None) -> str:
    """The plan as printed by ``lingalign run --dry-run`` (and before a run)."""
    out, exp = plan.out, plan.experiment
    keys = keys or step_keys(plan)
    kind = "" if looks_like_path(plan.base_model) else " (a name: a lingalign alias or a Hugging Face hub id)"
    lines = [f"experiment {exp.name!r}: base model {plan.base_model}{kind}, output {out}"]

    def status(key: str) -> str:
        """``; fingerprint F [cached]`` or ``[to run]``; a fingerprint not known yet says why instead."""
        fingerprint = keys.fingerprints.get(key)
        shown = f"fingerprint {fingerprint}" if fingerprint else f"fingerprint unknown: {keys.unknown.get(key)}"
        if key.startswith("data:") and fingerprint:  # the step's key, and the content key its models use
            content = keys.content.get(key.removeprefix("data:"))
            shown += f" (content {content})" if content else f" (content unknown: {keys.unknown.get(key + ':content')})"
        return f"; {shown} {'[to run]' if key in keys.pending else '[cached]'}"

    if plan.launch_config is not None:
        procs = f"{plan.processes} processes" if plan.processes else "process count from accelerate"
        lines.append(f"  launch: training under accelerate launch --config_file {plan.launch_config} ({procs})")
    for key, step in translation_steps(plan).items():
        spec = step["spec"] or step["source"].translate
        size = f"first {spec.limit} records" if spec.limit else "all records"
        built = read_manifest(translation_dir(plan, step))
        if built:
            size = f"{built['counts']['kept']} of {built['counts']['records']} records kept"
        lines.append(f"  {key}: {spec.source_lang}->{step['source'].lang} of {step['source'].path} "
                     f"({size}) with {spec.model}{status(key)}")
    counts, data_lines = {}, {}
    used = plan.used_datasets()
    for name in plan.datasets:
        counts[name], detail = dataset_kind(plan, name).summary(read_manifest(out / "data" / name))
        state = status(f"data:{name}") if name in used else "; not built: no model trains on it [unused]"
        data_lines[name] = f"  data:{name}: {detail}{state}"
    # the steps in the order they run: data made by a model of the run (pairs) comes after its training
    first_train = next((i for i, key in enumerate(plan.steps) if key.startswith("train:")), len(plan.steps))
    later = [key.removeprefix("data:") for key in plan.steps[first_train:] if key.startswith("data:")]
    lines += [line for name, line in data_lines.items() if name not in later]
    world = plan.processes or 1
    for key in plan.steps[first_train:]:
        if key.startswith("data:"):
            lines.append(data_lines[key.removeprefix("data:")])
            continue
        spec = plan.spec(key.removeprefix("train:"))
        cfg = plan.trains[spec.name]
        per_step = cfg.micro_batch_size * cfg.gradient_accumulation_steps * world
        unit = "pairs" if cfg.method == "dpo" else "packed rows" if cfg.packing else "sequences"
        n = counts.get(spec.data)
        steps = (f"<= {math.ceil(n / per_step) * cfg.epochs} optimizer steps" if n
                 else "steps known after the data build")
        if cfg.max_steps:
            steps = f"{cfg.max_steps} optimizer steps (max_steps)"
        trained = read_manifest(out / "models" / spec.name) or {}
        tokens = trained.get("counts", {}).get("tokens")
        tokens = f", {tokens} tokens per epoch" if tokens else ""
        start = plan.starts.get(spec.name)
        origin = f"of {cfg.model}"
        if start is not None:  # a stage: it starts from another model of the run
            origin = f"from models/{start.upstream} (train:{start.upstream}"
            origin += (f"; a LoRA adapter with lora.merge: false, merged first into {start.folder}/)"
                       if start.merge_first else ")")
        lines.append(
            f"  train:{spec.name}: {cfg.method} fine-tuning {origin} on data:{spec.data}: "
            f"{cfg.epochs} epoch(s), lr {cfg.learning_rate:g} {cfg.lr_scheduler}, warm-up {cfg.warmup_ratio:.0%}, "
            f"effective batch {per_step} {unit} ({cfg.micro_batch_size} per micro-batch x "
            f"{cfg.gradient_accumulation_steps} accumulation x {world} process{'es' if world > 1 else ''}), "
            f"max_length {cfg.max_length}, precision {cfg.precision}: {steps}{tokens}{status('train:' + spec.name)}")
    if exp.evaluate:
        limit = f"first {exp.evaluate.limit} items" if exp.evaluate.limit else "all items"
        cap = f", at most {exp.evaluate.max_new_tokens} new tokens" if exp.evaluate.max_new_tokens else ""
        cap += f", dtype {exp.evaluate.dtype}" if exp.evaluate.dtype != "auto" else ""
        for label in plan.eval_models():
            lines.append(f"  eval:{label}: {', '.join(plan.eval_tasks(label))} ({limit}{cap}){status('eval:' + label)}")
    if exp.analysis:
        lines.append(f"  analysis:align: langs {', '.join(exp.analysis.langs)}{status('analysis:align')}")
    lines.append(f"  report: {out / 'report.html'}")
    lines += [f"  {problem}" for problem in missing_inputs(plan, keys.pending)]
    return "\n".join(lines)
