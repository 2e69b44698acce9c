"""Run a whole experiment from one recipe: data -> train -> eval -> analysis -> report.

An experiment recipe names a base model, named datasets (data-stage recipes), the models to train
(each on one dataset, with optional overrides of the shared ``train:`` section), the evaluation
tasks, and optionally an alignment analysis. ``lingalign run RECIPE -o DIR`` executes the steps in
order. Each step is cached by the fingerprint of its inputs and settings (``DIR/steps/*.json``), so
a second run does nothing, and a run killed at any point resumes: finished steps are skipped,
training continues from its last checkpoint and evaluation from its last written prediction.
Before any work, every input the pending steps need is checked to exist, so a typo in a path fails
in a second, not after hours of training. See docs/run.md.

Layout of DIR (the report and the stages read the same files):

    recipe.yaml                 the recipe as given         run_log.jsonl   what each step did, appended
    steps/<stage>__<name>.json  one marker per finished step (its fingerprint)
    data/<dataset>/             lingalign data build         models/<model>/ lingalign train
    eval/<model>/               lingalign eval               analysis/align/ lingalign analyze align
    launch/<model>.yaml         resolved train recipe of a step started with `accelerate launch`
    report.html                 lingalign report
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Sequence

import yaml
from pydantic import Field

from lingalign.artifacts import (append_jsonl, hash_obj, now, read_json, read_manifest, write_json,
                                 write_text)
from lingalign.config import Strict, apply_overrides, dump_yaml, model_ref, read_yaml, resolve_path, validate
from lingalign.errors import UserError
from lingalign.models import DEFAULT_MODEL

log = logging.getLogger("lingalign.run")

BASE = "base"  # the name under which the untuned base model is evaluated


# ---- the recipe ------------------------------------------------------------------------------------

class ModelSpec(Strict):
    """One model to train: ``data`` names an entry of ``datasets``; ``train`` overrides the shared section."""

    name: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    data: str
    train: dict[str, Any] = Field(default_factory=dict)
    eval_tasks: Optional[list[str]] = Field(
        None, min_length=1, description="tasks to score this model on (default: evaluate.tasks); saves time in studies")


class EvalSpec(Strict):
    tasks: list[str] = Field(min_length=1)
    limit: Optional[int] = Field(None, ge=1, description="first N items of every task (None = all)")
    split: str = "devtest"
    batch_size: int = Field(8, ge=1)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bfloat16 where the CPU has native bf16 (AVX512-BF16/AMX), else float32")
    backend: Literal["hf", "vllm"] = "hf"
    max_new_tokens: Optional[int] = Field(
        None, ge=1, description="ceiling per answer: lowers a task's default (translation 256), never raises it (QA 48)")
    include_base: bool = True
    data_root: Optional[str] = None


class AlignSpec(Strict):
    langs: list[str] = Field(min_length=2)
    limit: Optional[int] = Field(200, ge=2)
    models: Optional[list[str]] = None  # default: base and every trained model
    data_root: Optional[str] = Field(None, description="a FLORES-style folder with dev/<lang>.dev files (default: the shipped FLORES-101 sample)")
    dtype: Literal["float32", "bfloat16", "auto"] = Field("float32", description="bfloat16 halves memory on a GPU; keep float32 on a CPU without bf16")


class LaunchSpec(Strict):
    """Start each training step with ``accelerate launch`` (multi-GPU, FSDP, DeepSpeed) instead of in-process."""

    accelerate_config: str
    num_processes: Optional[int] = Field(None, ge=1, description="default: the accelerate config's num_processes")


class Experiment(Strict):
    name: str = "experiment"
    base_model: str = DEFAULT_MODEL
    datasets: dict[str, dict[str, Any]] = Field(min_length=1)
    train: dict[str, Any] = Field(default_factory=dict)
    models: list[ModelSpec] = Field(min_length=1)
    launch: Optional[LaunchSpec] = None
    evaluate: Optional[EvalSpec] = None
    analysis: Optional[AlignSpec] = None


def _validate(data: Any, model: type, source: str):
    """Schema check; a single problem (the usual case: one misspelt key) is reported on one line."""
    try:
        return validate(data, model, source)
    except UserError as exc:
        lines = exc.message.splitlines()
        if len(lines) == 2:
            raise UserError(f"{source}: {lines[1].strip().removeprefix('- ')}") from None
        raise


def _looks_like_path(value: str) -> bool:
    return Path(value).is_absolute() or value.startswith((".", "~"))


class Plan:
    """The validated experiment: typed stage configs per dataset and model, plus the run folder.

    Building a plan reads only the recipe (and an accelerate config, for its process count); it
    never loads a model or reads data, so ``--dry-run`` works before the inputs exist.
    """

    def __init__(self, recipe_path: Path, out: Path, overrides: Sequence[str] = ()):
        from lingalign.data.recipe import DataRecipe
        from lingalign.train.recipe import TrainConfig

        source = str(recipe_path)
        data = read_yaml(recipe_path)
        if overrides and isinstance(data, dict):  # --set KEY=VALUE, checked by the same schemas as the file
            data = apply_overrides(data, list(overrides))
        self.data = data
        exp = _validate(data, Experiment, source)
        self.experiment, self.recipe_path, self.recipe_dir, self.out = exp, recipe_path, recipe_path.parent, out
        self.base_model = model_ref(exp.base_model, self.recipe_dir)
        self.datasets = {name: _validate(spec, DataRecipe, f"{source} [datasets.{name}]")
                         for name, spec in exp.datasets.items()}
        shared = {**exp.train, "model": model_ref(exp.train.get("model", self.base_model), self.recipe_dir)}
        _validate(shared, TrainConfig, f"{source} [train]")  # blame the shared section for its own mistakes
        self.trains = {}
        names = set()
        for spec in exp.models:
            if spec.name in names or spec.name == BASE:
                raise UserError(f"{source} [models.{spec.name}]: model name {spec.name!r} is used twice or reserved")
            names.add(spec.name)
            if spec.data not in self.datasets:
                raise UserError(f"{source} [models.{spec.name}.data]: no dataset named {spec.data!r}; "
                                f"defined: {', '.join(self.datasets)}")
            merged = {**shared, **spec.train}
            merged["model"] = model_ref(merged["model"], self.recipe_dir)
            self.trains[spec.name] = _validate(merged, TrainConfig, f"{source} [models.{spec.name}.train]")
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

    def model_paths(self) -> dict[str, str]:
        return {BASE: self.base_model, **{m.name: str(self.out / "models" / m.name) for m in self.experiment.models}}


def _processes_in(accelerate_config: Path) -> Optional[int]:
    """``num_processes`` of an accelerate config file (None if the file is missing or has none)."""
    if not accelerate_config.is_file():
        return None
    data = read_yaml(accelerate_config) or {}
    value = data.get("num_processes") if isinstance(data, dict) else None
    return int(value) if isinstance(value, int) and value > 0 else None


# ---- inputs: what must exist before the pending steps can run ---------------------------------------

def missing_inputs(plan: Plan, pending: set[str]) -> list[str]:
    """One "not found: ..." line per missing input of a step in ``pending``. Checks existence only:
    no model is loaded and no training data is read (evaluation sets are parsed, they are small)."""
    from lingalign.data.build import resolve_source

    problems = []
    exp = plan.experiment
    models = {}  # model path or name -> the recipe key it comes from
    if f"eval:{BASE}" in pending or "analysis:align" in pending:
        models[plan.base_model] = "base_model"
    for name, cfg in plan.trains.items():
        if f"train:{name}" in pending:
            models.setdefault(cfg.model, "base_model" if cfg.model == plan.base_model else f"models.{name}.train.model")
    for value, key in models.items():
        if _looks_like_path(value) and not Path(value).exists():
            problems.append(f"not found: {key} {value}")
    for name, recipe in plan.datasets.items():
        if f"data:{name}" not in pending:
            continue
        for source in recipe.sources:
            try:
                resolve_source(source, plan.recipe_dir)
            except UserError as exc:
                problems.append(f"not found: datasets.{name} source {source.name!r}: {exc.message}")
            if source.translate:
                model = model_ref(source.translate.model, plan.recipe_dir)
                if _looks_like_path(model) and not Path(model).exists():
                    problems.append(f"not found: datasets.{name} source {source.name!r} translate.model {model}")
        for spec in recipe.eval_set_list():
            path = resolve_path(spec.path, plan.recipe_dir)
            if not path.exists():
                problems.append(f"not found: datasets.{name}.eval_sets {path}")
    if plan.launch_config is not None and not plan.launch_config.is_file():
        problems.append(f"not found: launch.accelerate_config {plan.launch_config}")
    if exp.evaluate and any(k.startswith("eval:") for k in pending):
        problems += _missing_tasks(plan)
    if exp.analysis and "analysis:align" in pending:
        from lingalign.analysis.parallel import load_parallel

        root = resolve_path(exp.analysis.data_root, plan.recipe_dir) if exp.analysis.data_root else None
        try:  # reads a few small FLORES files, so a language without sentences fails now, not after training
            load_parallel(list(dict.fromkeys(["en", *exp.analysis.langs])), data_root=root, limit=2)
        except UserError as exc:
            problems.append(f"not found: analysis sentences: {exc.message}")
    return problems


def _missing_tasks(plan: Plan) -> list[str]:
    from lingalign.evaluate.tasks import default_data_root, is_builtin, load_builtin, unknown_task

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


# ---- steps -------------------------------------------------------------------------------------------

def _is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc)


class Runner:
    """Executes steps, skipping those whose fingerprint is recorded as done (and whose output is there)."""

    def __init__(self, out: Path):
        self.out = out
        self.steps = out / "steps"

    def marker(self, key: str) -> Path:
        return self.steps / f"{key.replace(':', '__')}.json"

    def is_done(self, key: str, fingerprint: str, output: Optional[Path] = None) -> bool:
        marker = self.marker(key)
        if not marker.exists() or read_json(marker).get("fingerprint") != fingerprint:
            return False
        return output is None or read_manifest(output) is not None

    def _log(self, key: str, status: str, **extra) -> None:
        append_jsonl(self.out / "run_log.jsonl", [{"step": key, "status": status, "time": now(), **extra}])

    def step(self, key: str, fingerprint: str, action: Callable[[], Any], *, output: Optional[Path] = None,
             oom_hint: Optional[str] = None) -> bool:
        """Run ``action`` unless step ``key`` already finished with this fingerprint. True if it ran."""
        if self.is_done(key, fingerprint, output):
            log.info("skip %-28s (cached, fingerprint %s)", key, fingerprint)
            self._log(key, "skipped", fingerprint=fingerprint)
            return False
        log.info("run  %-28s", key)
        start = time.time()
        try:
            action()
        except UserError as exc:
            self._log(key, "failed", error=exc.message)
            raise UserError(f"step {key} failed: {exc.message}",
                            hint=exc.hint or "fix it and run the same command again: finished steps are kept") from None
        except KeyboardInterrupt:
            self._log(key, "interrupted")
            raise
        except Exception as exc:
            if _is_out_of_memory(exc):
                self._log(key, "failed", error="out of memory")
                raise UserError(f"step {key} ran out of memory ({type(exc).__name__})", hint=oom_hint) from None
            self._log(key, "failed", error=f"{type(exc).__name__}: {exc}")
            exc.add_note(f"lingalign run: step {key} failed; finished steps are kept, re-run to resume")
            raise
        seconds = round(time.time() - start, 1)
        write_json(self.marker(key), {"step": key, "fingerprint": fingerprint, "seconds": seconds})
        self._log(key, "done", fingerprint=fingerprint, seconds=seconds)
        return True


def data_fingerprint(plan: Plan, name: str) -> str:
    """The data step's key: its settings plus the size and modification time of every input file.

    Cheap to compute on every run; a changed file re-runs the step, and the data stage then
    decides by content hash whether anything really changed.
    """
    from lingalign.data.build import resolve_source

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
    from lingalign.data.build import resolve_source
    from lingalign.data.translate import source_translation

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
    from lingalign.data.translate import translation_folder

    return translation_folder(plan.out / "translations", step["source"].name, step["fingerprint"] or "pending")


def model_identity(path: str) -> str:
    """A cheap identity of a base model (file names, sizes, times of a local folder; else the name)."""
    from lingalign.generation.fingerprint import model_fingerprint

    return model_fingerprint(path)


def pending_steps(plan: Plan) -> tuple[set[str], dict[str, str]]:
    """Steps that will run, as far as can be told before running (a re-built dataset re-runs its
    models too, which this cannot know); plus the step -> fingerprint map it computed."""
    from lingalign.train.recipe import NON_RESULT_KEYS

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
        fps["analysis:align"] = hash_obj({"align": spec.model_dump(mode="json"), "models": {k: model_fp[k] for k in labels}})
        if any(f"train:{k}" in pending for k in labels) or not runner.is_done("analysis:align", fps["analysis:align"]):
            pending.add("analysis:align")
    return pending, fps


def execute(plan: Plan) -> Path:
    """Run every step of the plan; returns the report path (rewritten when any step ran)."""
    from lingalign.data.build import build_dataset, resolve_source
    from lingalign.report.command import write_report

    out, exp = plan.out, plan.experiment
    runner = Runner(out)
    ran = False
    for key, step in translation_steps(plan).items():  # Alpaca-X made by machine translation, resumable
        from lingalign.data.translate import translate_set

        if step["fingerprint"] is None:  # an input went missing since the check: say which
            resolve_source(step["source"], plan.recipe_dir)
        folder = translation_dir(plan, step)
        ran |= runner.step(key, step["fingerprint"], lambda s=step, f=folder: translate_set(
            s["path"], f, s["source"].lang, s["spec"], fmt=s["fmt"], fields=s["source"].fields), output=folder)
    for name in dict.fromkeys(spec.data for spec in exp.models):
        folder = out / "data" / name
        ran |= runner.step(f"data:{name}", data_fingerprint(plan, name),
                           lambda r=plan.datasets[name], f=folder: build_dataset(
                               r, f, recipe_dir=plan.recipe_dir, translate_root=out / "translations"),
                           output=folder)

    # Fingerprints downstream of the data use the data stage's content fingerprint, known only now.
    _, fps = pending_steps(plan)
    for spec in exp.models:
        folder = out / "models" / spec.name
        ran |= runner.step(f"train:{spec.name}", fps[f"train:{spec.name}"],
                           lambda s=spec: _train_step(plan, s), output=folder,
                           oom_hint="lower micro_batch_size (raise gradient_accumulation_steps to keep the batch), "
                                    "max_length, or set gradient_checkpointing: true or method: lora")

    if exp.evaluate:
        from lingalign.evaluate import evaluate

        spec = exp.evaluate
        for label, model in plan.eval_models().items():
            ran |= runner.step(f"eval:{label}", fps[f"eval:{label}"], lambda m=model, label=label: evaluate(
                m, plan.eval_tasks(label), out / "eval" / label, limit=spec.limit, split=spec.split, batch_size=spec.batch_size,
                dtype=spec.dtype, backend=spec.backend, new_tokens_cap=spec.max_new_tokens,
                data_root=plan.eval_root), output=out / "eval" / label, oom_hint="lower evaluate.batch_size")

    if exp.analysis:
        from lingalign.analysis import align

        spec = exp.analysis
        labels = spec.models or [BASE, *(m.name for m in exp.models)]
        paths = plan.model_paths()
        ran |= runner.step("analysis:align", fps["analysis:align"], lambda: align(
            [f"{k}={paths[k]}" for k in labels], spec.langs, out / "analysis" / "align", limit=spec.limit,
            data_root=str(resolve_path(spec.data_root, plan.recipe_dir)) if spec.data_root else None, dtype=spec.dtype),
            oom_hint="lower analysis.limit")

    report = out / "report.html"
    return write_report(out) if ran or not report.exists() else report


def _train_step(plan: Plan, spec: ModelSpec) -> None:
    """Train one model, resuming its checkpoints; settings changed since they were written restart it."""
    from lingalign.train import train
    from lingalign.train.stage import RUN_FILE, fingerprint, resolve_base, work_dir

    config = plan.trains[spec.name]
    data_dir, folder = plan.out / "data" / spec.data, plan.out / "models" / spec.name
    expected = fingerprint(config, data_dir / "train.jsonl", resolve_base(config))
    previous = [(read_manifest(folder) or {}).get("fingerprint")]
    run_file = work_dir(folder.resolve()) / RUN_FILE
    previous.append(read_json(run_file).get("fingerprint") if run_file.exists() else None)
    restart = any(fp is not None and fp != expected for fp in previous)
    if restart:
        log.warning("models/%s was made with other settings, data or base model: training it again from scratch",
                    spec.name)
    if plan.launch_config is None:
        train(config, data_dir, folder, resume=True, force=restart)
    else:
        launch_train(plan, spec.name, config, data_dir, folder, force=restart)


def launch_train(plan: Plan, name: str, config, data_dir: Path, folder: Path, *, force: bool,
                 stop_after: Optional[int] = None) -> None:
    """Run ``lingalign train`` under ``accelerate launch`` (one process per GPU); its output streams through.

    ``stop_after`` is passed on as ``--stop-after`` (a checkpoint, then exit), as ``train`` takes it.
    """
    recipe = plan.out / "launch" / f"{name}.yaml"
    write_text(recipe, dump_yaml(config))
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(plan.launch_config)]
    if plan.experiment.launch.num_processes:
        command += ["--num_processes", str(plan.experiment.launch.num_processes)]
    settings = read_yaml(plan.launch_config) or {}
    if int(settings.get("num_machines") or 1) == 1 and not settings.get("main_process_port"):
        # one machine: a free port, so two runs (or a run and a test) on one host do not meet on 29500
        command += ["--main_process_port", str(_free_port())]
    command += ["-m", "lingalign.cli", "train", str(recipe), "--data", str(data_dir), "-o", str(folder), "--resume"]
    command += ["--force"] if force else []
    command += ["--stop-after", str(stop_after)] if stop_after else []
    log.info("launch: %s", " ".join(command))
    done = subprocess.run(command, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    if done.returncode != 0:
        raise UserError(f"accelerate launch exited with code {done.returncode} (the training messages above say why)",
                        hint="fix it and run the same command again: training resumes from its last checkpoint")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- the plan, printed ---------------------------------------------------------------------------------

def describe(plan: Plan, pending: Optional[set[str]] = None) -> str:
    """The ``--dry-run`` plan: stages, data counts, hyperparameters, steps, what is cached, what is missing."""
    out, exp = plan.out, plan.experiment
    if pending is None:
        pending, _ = pending_steps(plan)
    kind = "" if _looks_like_path(plan.base_model) else " (a name: a lingalign alias or a Hugging Face hub id)"
    lines = [f"experiment {exp.name!r}: base model {plan.base_model}{kind}, output {out}"]

    def cached(key: str) -> str:
        return "" if key in pending else " [cached]"

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
                     f"({size}) with {spec.model}{cached(key)}")
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
    world = plan.processes or 1
    for spec in exp.models:
        cfg = plan.trains[spec.name]
        per_step = cfg.micro_batch_size * cfg.gradient_accumulation_steps * world
        unit = "packed rows" if cfg.packing else "sequences"
        n = counts.get(spec.data)
        steps = f"<= {math.ceil(n / per_step) * cfg.epochs} optimizer steps" if n else "steps known after the data build"
        if cfg.max_steps:
            steps = f"{cfg.max_steps} optimizer steps (max_steps)"
        trained = read_manifest(out / "models" / spec.name) or {}
        tokens = trained.get("counts", {}).get("tokens")
        tokens = f", {tokens} tokens per epoch" if tokens else ""
        lines.append(
            f"  train:{spec.name}: {cfg.method} fine-tuning of {cfg.model} on data:{spec.data}: "
            f"{cfg.epochs} epoch(s), lr {cfg.learning_rate:g} {cfg.lr_scheduler}, warm-up {cfg.warmup_ratio:.0%}, "
            f"effective batch {per_step} {unit} ({cfg.micro_batch_size} per micro-batch x "
            f"{cfg.gradient_accumulation_steps} accumulation x {world} process{'es' if world > 1 else ''}), "
            f"max_length {cfg.max_length}, precision {cfg.precision}: {steps}{tokens}{cached('train:' + spec.name)}")
    if exp.evaluate:
        limit = f"first {exp.evaluate.limit} items" if exp.evaluate.limit else "all items"
        cap = f", at most {exp.evaluate.max_new_tokens} new tokens" if exp.evaluate.max_new_tokens else ""
        cap += f", dtype {exp.evaluate.dtype}" if exp.evaluate.dtype != "auto" else ""
        for label in plan.eval_models():
            lines.append(f"  eval:{label}: {', '.join(plan.eval_tasks(label))} ({limit}{cap}){cached('eval:' + label)}")
    if exp.analysis:
        lines.append(f"  analysis:align: langs {', '.join(exp.analysis.langs)}{cached('analysis:align')}")
    lines.append(f"  report: {out / 'report.html'}")
    lines += [f"  {problem}" for problem in missing_inputs(plan, pending)]
    return "\n".join(lines)


# ---- the command ---------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="experiment recipe (YAML), e.g. recipes/quickstart.yaml")
    parser.add_argument("-o", "--output", required=True, help="run folder (created; re-use it to resume)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan, what is cached and what is missing; load and run nothing")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe key (YAML value), e.g. --set train.precision=fp32 "
                        "--set evaluate.dtype=float32; DIR/recipe.yaml records the recipe as run")


def main(args: argparse.Namespace) -> int:
    recipe_path = Path(args.recipe)
    out = Path(args.output)
    plan = Plan(recipe_path, out, args.set)
    pending, _ = pending_steps(plan)
    print(describe(plan, pending), flush=True)
    if args.dry_run:
        return 0
    problems = missing_inputs(plan, pending)
    if problems:
        raise UserError(f"{recipe_path}: " + "; ".join(problems),
                        hint="fix the paths (relative paths are relative to the recipe's folder) and run again")
    out.mkdir(parents=True, exist_ok=True)
    text = recipe_path.read_text(encoding="utf-8")
    if args.set:  # what ran is the recipe with the overrides applied (its comments stay in the original)
        header = f"# {recipe_path} with " + " ".join(f"--set {pair}" for pair in args.set) + "\n"
        text = header + yaml.safe_dump(plan.data, sort_keys=False, allow_unicode=True)
    if not (out / "recipe.yaml").exists() or (out / "recipe.yaml").read_text(encoding="utf-8") != text:
        write_text(out / "recipe.yaml", text)
    start = time.time()
    report = execute(plan)
    print(f"finished in {time.time() - start:.0f} s\nreport: {report.resolve()}")
    return 0
