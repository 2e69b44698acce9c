"""``evaluate()``: score one model on several tasks, resumably, and write ``results.json``.

For each task, predictions are appended to ``DIR/predictions/<task>.jsonl`` one work unit at a time
(up to 8 batches of items in the task's order; ``generation.work_units``), next to ``<task>.settings.json`` holding the
fingerprint of everything that decides a prediction (model files, prompt format and wording, task
data, decoding settings; not the batch size or ``--limit``). A re-run with the same fingerprint
decodes only the units with predictions missing, so a killed evaluation resumes where it stopped
and raising ``--limit`` decodes the extra items (and the one unit they may share with stored ones).
A different fingerprint discards the old predictions with a warning. At the end of a task the file
is rewritten in the task's item order. Under ``torchrun`` / ``accelerate launch`` the units are
shared out over the processes and merged into the same file (:mod:`lingalign.generation.work_units`).
Predictions are stored as generated; a pivot model's (``alpaca-pivot``) are scored on their final
part only (``scoring``, ``prompting.split_pivot``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

from lingalign import artifacts
from lingalign.errors import UserError
from lingalign.evaluate import scoring
from lingalign.generation.backends import make_generator
from lingalign.generation.dtype import resolve_dtype
from lingalign.generation.fingerprint import model_fingerprint
from lingalign.generation.loglik import choose, option_logprobs
from lingalign.generation.progress import DecodeProgress
from lingalign.generation.stops import REPLACEMENT
from lingalign.generation.work_units import Processes, part_files, part_path, work_units, write_in_order
from lingalign.model_card.results import record_results
from lingalign.models import load_tokenizer, resolve_model
from lingalign.output_lock import output_lock
from lingalign.prompting import (
    PROMPT_FORMATS,
    build_prompt,
    eval_stop_strings,
    model_pivot_separator,
    pivot_token_budget,
    read_model_prompt_format,
)
from lingalign.provenance import for_evaluation
from lingalign.result_files import merge_results
from lingalign.runtime import default_device
from lingalign.tasks.base import Task, default_data_root
from lingalign.tasks.qa import PROMPT_VERSION
from lingalign.tasks.registry import english_task, is_builtin, load_builtin, unknown_task

log = logging.getLogger(__name__)

STAGE = "evaluate"


def task_data_fingerprint(task: Task) -> str:
    return artifacts.hash_obj([(e.id, e.instruction, e.input, e.references, e.options, e.label)
                               for e in task.examples])


def resolve_tasks(names: Sequence[str | Task], root: Path, split: str, user_sets: dict[str, Task]) -> list[Task]:
    tasks, seen = [], set()
    for name in names:
        if isinstance(name, Task):
            task = name
        elif name in user_sets:
            task = user_sets[name]
        elif is_builtin(name):
            task = load_builtin(name, root, split)
        else:
            raise unknown_task(name, root, extra=sorted(user_sets))
        if task.name not in seen:
            seen.add(task.name)
            tasks.append(task)
    if not tasks:
        raise UserError("no tasks given", hint="--task xquad-zh,flores-en-zh (see `lingalign eval --list`)")
    return tasks


def _load_done(preds: Path, settings_path: Path, fingerprint: str) -> dict[str, dict]:
    """Predictions already made with these exact settings, by example id (with those of
    ``predictions/.parts/``, left by a multi-process run that stopped before merging)."""
    files = ([preds] if preds.exists() else []) + part_files(preds)
    if not files:
        return {}
    try:
        stored = artifacts.read_json(settings_path).get("fingerprint")
    except UserError:
        stored = None
    if stored != fingerprint:
        log.warning("%s: made with other settings (model, prompt, data or decoding changed); starting over",
                    preds)
        for path in files:
            path.unlink()
        return {}
    done = {}
    for path in files:
        _drop_torn_tail(path)
        done.update((str(r["id"]), r) for r in artifacts.read_jsonl_tolerant(path) if "id" in r)
    unchecked = [key for key, r in done.items() if _unchecked_tail(r)]
    if unchecked:
        log.info("%s: %d prediction(s) end in U+FFFD and predate the half-character check; decoding them again",
                 preds, len(unchecked))
        for key in unchecked:
            del done[key]
    return done


def cut_check(prediction) -> dict:
    """What a stored prediction says about its last character: ``cut_characters`` (U+FFFD dropped from its
    end, a character cut in half by ``max_new_tokens``), or 0 for an answer that ends in a U+FFFD of the
    model's own. Absent otherwise, so other predictions are stored exactly as before."""
    cut = getattr(prediction, "cut_characters", 0)
    if cut or (isinstance(prediction, str) and prediction.endswith(REPLACEMENT)):
        return {"cut_characters": cut}
    return {}


def _unchecked_tail(record: dict) -> bool:
    """A prediction stored before the check: it ends in U+FFFD and says nothing about its last character."""
    prediction = record.get("prediction")
    return isinstance(prediction, str) and prediction.endswith(REPLACEMENT) and "cut_characters" not in record


def _drop_torn_tail(path: Path) -> None:
    """Cut a half-written last line left by a kill, so new appends start on a fresh line."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def evaluate(
    model: str,
    tasks: str | Sequence[str | Task],
    out_dir: str | Path,
    *,
    limit: int | None = None,
    data_root: str | Path | None = None,
    prompt_format: str | None = None,
    batch_size: int = 16,
    dtype: str = "auto",
    backend: str = "hf",
    split: str = "devtest",
    max_new_tokens: int | None = None,
    new_tokens_cap: int | None = None,
    user_sets: dict[str, Task] | None = None,
    spm_model: str | Path | None = None,
    comet_model: str | Path | None = None,
    trust_remote_code: bool = False,
) -> dict:
    """Evaluate ``model`` on ``tasks`` and write ``out_dir/results.json``; returns the results dict."""
    out_dir = Path(out_dir)
    root = Path(data_root) if data_root else default_data_root()
    if not root.is_dir():
        raise UserError(f"{root}: data root not found (a folder laid out like flores101/, xquad/, mlqa-dev/)")
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}")
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    if max_new_tokens is not None and max_new_tokens < 1:
        raise UserError(f"--max-new-tokens must be at least 1, got {max_new_tokens}")
    task_list = resolve_tasks(tasks, root, split, user_sets or {})
    model_path = resolve_model(model)
    fmt = prompt_format or read_model_prompt_format(model_path) or "alpaca"
    if fmt not in PROMPT_FORMATS:
        raise UserError(f"unknown prompt format {fmt!r}; expected one of {', '.join(PROMPT_FORMATS)}")
    stops = eval_stop_strings(fmt)  # the template's, and any new Alpaca section
    separator = model_pivot_separator(model_path, fmt)  # a pivot model's answers are scored on their final part
    spm_path = scoring.spm_for(spm_model)
    # one writer per folder; under a launcher rank 0 holds it for the group (or shares its launcher's)
    with output_lock(out_dir, take=int(os.environ.get("RANK", "0")) == 0):
        return _evaluate_tasks(model, model_path, task_list, out_dir, root, fmt, stops, spm_path, separator,
                               limit=limit,
                               batch_size=batch_size, dtype=dtype, backend=backend, split=split,
                               max_new_tokens=max_new_tokens, new_tokens_cap=new_tokens_cap,
                               comet_model=comet_model, trust_remote_code=trust_remote_code)


def _evaluate_tasks(model: str, model_path: str, task_list: list[Task], out_dir: Path, root: Path, fmt: str,
                    stops: list[str], spm_path, separator: str | None, *, limit, batch_size, dtype, backend, split,
                    max_new_tokens, new_tokens_cap, comet_model, trust_remote_code) -> dict:
    procs = Processes()  # one process, or one of several started by torchrun / accelerate launch
    if procs.world > 1 and backend == "vllm":
        raise UserError("--backend vllm runs in one process (vLLM batches and shards by itself)",
                        hint="drop --processes / the launcher, or use --backend hf")
    # auto precision follows the device that decodes: vLLM a GPU, hf this process's GPU if any, else the CPU
    device_type = "cuda" if backend == "vllm" else str(procs.device or default_device()).split(":")[0]
    run_dtype = resolve_dtype(dtype, device_type)
    runtime = _Runtime(model_path, backend, run_dtype, trust_remote_code, device=procs.device)
    generation = {"decoding": "greedy", "dtype": run_dtype, "backend": backend, "batch_size": batch_size,
                  "stop_strings": stops, "sort_by_length": True, "qa_prompt_version": PROMPT_VERSION,
                  "max_new_tokens": {}}
    task_results, scored = {}, {}
    for task in task_list:
        task_max = max_new_tokens or task.max_new_tokens
        if separator is not None and not max_new_tokens and task.kind != "choice":
            task_max = pivot_token_budget(task_max)  # room for the English part before the final answer
        if new_tokens_cap:  # a ceiling (run recipes): lowers translation's 256 without raising QA's 48
            task_max = min(task_max, new_tokens_cap)
        generation["max_new_tokens"][task.name] = task_max
        fingerprint = artifacts.hash_obj({
            "model": model_fingerprint(model_path), "prompt_format": fmt, "data": task_data_fingerprint(task),
            "kind": task.kind, "max_new_tokens": task_max, "dtype": run_dtype, "backend": backend,
            "stops": stops, "qa_prompt_version": PROMPT_VERSION, "reduce": task.reduce,
            **({"prompt_variant": task.prompt_variant} if task.prompt_variant else {}),  # math tasks only
        })
        selected = task.examples[:limit] if limit else task.examples
        records = _predict(task, selected, out_dir, fingerprint, runtime, fmt, stops, task_max, batch_size, procs)
        if procs.main:
            task_results[task.name] = scoring.score_task(task, records, spm_path=spm_path, comet_model=comet_model,
                                                         pivot_separator=separator)
            scored[task.name] = records

    if not procs.main:  # rank 0 scores and writes; the others return what it wrote
        procs.barrier()
        return artifacts.read_json(out_dir / "results.json")

    results = {
        "model": model, "model_path": model_path, "prompt_format": fmt, "generation": generation,
        "versions": artifacts.versions(), "date": artifacts.now(), "data_root": str(root),
        "percent": "all metric values are percentages (0-100)", "tasks": task_results,
        "provenance": for_evaluation(model_path, run_dtype, runtime.device),
    }
    results = merge_results(out_dir / "results.json", results)
    _add_consistency(results, out_dir, scored, {t.name: t for t in task_list})
    artifacts.write_json(out_dir / "results.json", results)
    artifacts.write_manifest(out_dir, stage=STAGE, fingerprint=artifacts.hash_obj(
        {"model": model_fingerprint(model_path), "fmt": fmt, "tasks": sorted(results["tasks"]), "limit": limit}),
        config={"model": model, "tasks": [t.name for t in task_list], "limit": limit, "split": split},
        counts={name: entry["n"] for name, entry in results["tasks"].items()}, provenance=results["provenance"])
    _update_model_card(model_path, results)
    procs.barrier()
    return results


def _update_model_card(model_path: str, results: dict) -> None:
    """The scores go into the card of a model folder ``lingalign train`` wrote (only its README.md changes);
    other models are left alone. A card that fails to update costs a warning, not the evaluation."""
    try:
        record_results(model_path, results)
    except Exception as exc:  # noqa: BLE001 - results.json is written; the card only repeats it
        log.warning("%s: model card not updated (%s: %s)", model_path, type(exc).__name__, exc)


def _add_consistency(results: dict, out_dir: Path, scored: dict[str, list[dict]], tasks: dict[str, Task]) -> None:
    """Cross-lingual consistency for each task whose English counterpart is in the same results.

    The counterpart of a built-in task is the registry's (``mgsm-zh`` -> ``mgsm-en``), of a user set
    its ``english_task``. Tasks kept from an earlier run into this folder count with the predictions
    stored for them (the first ``n`` records of their file: the ones that were scored).
    """
    def english_of(name: str) -> str | None:
        task = tasks.get(name)
        if task is not None and task.english_task:
            return task.english_task
        stored = ((results["tasks"].get(name) or {}).get("metrics") or {}).get("consistency") or {}
        return english_task(name) or stored.get("with")

    def records(name: str) -> list[dict] | None:
        if name in scored:
            return scored[name]
        path = out_dir / "predictions" / f"{name}.jsonl"
        n = (results["tasks"].get(name) or {}).get("n")
        return artifacts.read_jsonl_tolerant(path)[:n] if path.is_file() and isinstance(n, int) else None

    scoring.add_consistency(results["tasks"], records, english_of, results["prompt_format"])


class _Runtime:
    """The model, loaded on first need (a fully resumed evaluation never loads it)."""

    def __init__(self, model_path: str, backend: str, dtype: str, trust_remote_code: bool, device: str | None = None):
        self.model_path, self.backend, self.dtype, self.trust = model_path, backend, dtype, trust_remote_code
        self._device = device  # where to load (None: the backend's default); .device says where it ran
        self._generator = None
        self._tokenizer = None

    @property
    def generator(self):
        if self._generator is None:
            self._generator = make_generator(self.model_path, backend=self.backend, dtype=self.dtype,
                                             trust_remote_code=self.trust, device=self._device)
        return self._generator

    @property
    def device(self):
        """Where the model computed: its parameters' device once loaded (hf: the CPU), vLLM a GPU."""
        model = getattr(self._generator, "model", None)
        if model is not None and hasattr(model, "parameters"):
            return next(model.parameters()).device
        return self._device or ("cuda" if self.backend == "vllm" else "cpu")

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            generator = self._generator
            if generator is not None and hasattr(generator, "tokenizer"):
                self._tokenizer = generator.tokenizer
            else:
                self._tokenizer = load_tokenizer(self.model_path, trust_remote_code=self.trust, padding_side="left")
        return self._tokenizer


def _predict(task: Task, selected, out_dir: Path, fingerprint: str, runtime: _Runtime, fmt: str,
             stops: list[str], max_new: int, batch_size: int, procs=None) -> list[dict]:
    """Predictions for ``selected`` examples, decoding only the work units with some not stored.

    With several processes (``procs``), each decodes its share of the units and rank 0 merges;
    other ranks return an empty list. See :mod:`lingalign.generation.work_units`.
    """
    procs = procs or Processes()
    preds_path = out_dir / "predictions" / f"{task.name}.jsonl"
    settings_path = out_dir / "predictions" / f"{task.name}.settings.json"
    if procs.main:
        preds_path.parent.mkdir(parents=True, exist_ok=True)
        done = _load_done(preds_path, settings_path, fingerprint)
        write_in_order(preds_path, done, [])  # fold parts left by an earlier multi-process run into the file
        artifacts.write_json(settings_path, {"fingerprint": fingerprint, "task": task.name, "prompt_format": fmt})
    procs.barrier()
    if not procs.main:
        done = {str(r["id"]): r for r in artifacts.read_jsonl_tolerant(preds_path) if "id" in r}
    units = [[selected[i] for i in unit] for unit in work_units(len(selected), batch_size)]
    if procs.main and procs.world > len(units):
        log.info("%s: %d work unit(s) of up to %d items for %d processes: %d process(es) have nothing to do on "
                 "this task (units are cut from the item count and batch size only, so that the predictions "
                 "are the same whatever the number of processes)", task.name, len(units), len(units[0]),
                 procs.world, procs.world - len(units))
    todo = [unit for unit in procs.mine(units) if any(e.id not in done for e in unit)]
    if todo:
        target = preds_path if procs.world == 1 else part_path(preds_path, procs.rank)
        missing = sum(e.id not in done for unit in todo for e in unit)
        who = f" (process {procs.rank} of {procs.world})" if procs.world > 1 else ""
        total = sum(len(unit) for unit in todo)
        log.info("%s%s: %d to generate: %d items in %d unit(s) of up to %d", task.name, who, missing, total,
                 len(todo), len(units[0]))
        step = batch_size if task.kind != "choice" else 8 * batch_size  # choice items come one by one
        progress = DecodeProgress(f"{task.name}{who}", total, step, log)  # a line per batch

        for number, unit in enumerate(todo, 1):
            records = _decode_unit(task, unit, runtime, fmt, stops, max_new, batch_size, progress)
            new = [r for r in records if r["id"] not in done]
            artifacts.append_jsonl(target, new)
            done.update((r["id"], r) for r in new)
            log.info("%s%s: unit %d/%d done, %d predictions stored", task.name, who, number, len(todo), len(done))
    procs.barrier()
    if not procs.main:
        return []
    if procs.world > 1:
        done.update(_load_done(preds_path, settings_path, fingerprint))  # the other ranks' parts
    write_in_order(preds_path, done, [e.id for e in selected])
    return [done[e.id] for e in selected]


def _decode_unit(task: Task, unit, runtime: _Runtime, fmt: str, stops: list[str], max_new: int,
                 batch_size: int, progress=None) -> list[dict]:
    """Records for one work unit, decoded on its own (its batches depend on nothing else).

    ``progress(n)`` is told after each batch how many items it finished. The unit's records are
    stored only when it is whole, since a resumed unit is decoded again whole anyway.
    """
    tokenizer = runtime.tokenizer if fmt == "chat" else None
    prompts = [build_prompt(e.instruction, e.input, fmt, tokenizer) for e in unit]
    if task.kind == "choice":
        batches = _score_choices(runtime, unit, prompts, fmt, task.reduce)
    else:
        batches = runtime.generator.generate(prompts, max_new_tokens=max_new, batch_size=batch_size,
                                             stop=stops, add_special_tokens=fmt != "chat")
    records = [None] * len(unit)
    for batch in batches:
        for index, prediction in batch:
            example = unit[index]
            record = {"id": example.id, "prompt": prompts[index], "prediction": prediction,
                      "references": example.references}
            if task.kind == "choice":
                record.update(prediction=prediction["choice"], scores=prediction["scores"], label=example.label)
            else:
                record.update(cut_check(prediction))
            records[index] = record
        if progress:
            progress(len(batch))
    return records


def _score_choices(runtime: _Runtime, examples, prompts, fmt: str, reduce: str):
    generator = runtime.generator
    if not hasattr(generator, "model"):
        raise UserError("multiple-choice (log-likelihood) sets need --backend hf")
    for index, (example, prompt) in enumerate(zip(examples, prompts)):
        scores = option_logprobs(generator.model, generator.tokenizer, prompt, example.options,
                                 add_special_tokens=fmt != "chat", reduce=reduce)
        yield [(index, {"choice": choose(scores), "scores": [round(s, 6) for s in scores]})]
