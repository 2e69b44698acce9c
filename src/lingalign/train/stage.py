"""``train(config, data_dir, out_dir)``: from a data-stage folder to a trained model folder.

Working files (checkpoints, log, run identity) live in ``OUT.work/``. The finished model is
assembled in ``OUT.work/final/`` (manifest.json last) and renamed to ``OUT`` in one step, so a
folder at ``OUT`` is always a complete model. Runs launched with ``accelerate launch`` or
``torchrun`` use the same code: rank 0 writes, every process trains.

:func:`_train` reads top to bottom as the recipe of a run: named ``_setup_*`` steps (the run's
identity, the accelerator, the examples, the schedule, the model and optimizer, the objective, the
resume point), then the loop (:mod:`lingalign.train.loop`), then the model folder.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from lingalign.artifacts import read_jsonl_tolerant, write_json, write_manifest, write_text
from lingalign.config import dump_yaml
from lingalign.errors import UserError
from lingalign.models import load_model, load_tokenizer
from lingalign.output_lock import output_lock
from lingalign.provenance import auto_precision, provenance
from lingalign.train import trackers
from lingalign.train.batching import plan_epoch
from lingalign.train.checkpoint import checkpoint_step, latest_checkpoint, load_checkpoint
from lingalign.train.distributed import attention_kernel, make_accelerator
from lingalign.train.examples import load_examples
from lingalign.train.identity import (
    RUN_FILE,
    data_file_of,
    empty_work,
    fingerprint,
    prepare_output,
    starting_models,
    work_dir,
)
from lingalign.train.preference_data import load_pairs, pair_lengths
from lingalign.train.recipe import TrainConfig
from lingalign.train.saving import save_model, write_model_card

log = logging.getLogger(__name__)


@dataclass
class RunIdentity:
    """Where a run writes and what it is: the folders, its data file, its models, its fingerprint."""

    out: Path
    work: Path
    data_file: Path
    model_path: str
    reference: str | None  # DPO's reference model (None otherwise)
    fingerprint: str
    start: str | None


@dataclass
class Trainee:
    """The model being trained and what trains it, prepared by accelerate."""

    model: object          # the (LoRA-wrapped) model, as loaded
    wrapper: object        # the loss module around it, prepared (DDP/FSDP/DeepSpeed)
    optimizer: object
    scheduler: object
    frozen: object         # DPO's frozen reference model (None: no second copy, or not DPO)
    trainable_parameters: int


@dataclass
class Schedule:
    plans: list            # one plan of micro-batches per epoch
    steps_per_epoch: list[int]
    total_steps: int
    per_step: int          # micro-batches per optimizer step, over all processes


def train(config: TrainConfig, data_dir, out_dir, resume: bool = False, *, force: bool = False,
          max_steps: int | None = None, stop_after: int | None = None, start: str | None = None) -> Path:
    """Fine-tune ``config.model`` on ``data_dir/train.jsonl`` (or a ``.jsonl`` file); return the model folder.

    Supervised records, or preference pairs with ``method: dpo`` (:mod:`lingalign.train.dpo`).

    ``stop_after`` ends the run after that many optimizer steps with a checkpoint (continue later
    with ``resume=True``); the path of that checkpoint is returned instead. ``start`` names what made
    the starting model (see :func:`lingalign.train.identity.fingerprint`); it becomes part of the run's
    identity. The working folder ``OUT.work/`` is locked while the run writes (``lingalign.output_lock``;
    rank 0 holds it for a process group): a second training into the same folder names the first
    one's process and stops.
    """
    with output_lock(work_dir(Path(out_dir).resolve()), take=int(os.environ.get("RANK", "0")) == 0):
        return _train(config, data_dir, out_dir, resume, force=force, max_steps=max_steps, stop_after=stop_after,
                      start=start)


def _train(config: TrainConfig, data_dir, out_dir, resume: bool, *, force: bool, max_steps: int | None,
           stop_after: int | None, start: str | None) -> Path:
    # heavy: imports torch at its top; `lingalign --help` (which imports this module) must stay fast
    from lingalign.train.loop import run_loop

    if max_steps is not None:
        config = config.model_copy(update={"max_steps": max_steps})
    config = config.with_dpo_defaults()
    trackers.check_trackers(config.report_to)  # a missing package: one line now, not after loading the model
    run = _setup_identity(config, data_dir, out_dir, start)
    accelerator = _setup_accelerator(config, run, resume, force)
    if prepare_output(run.out, run.work, run.fingerprint, resume=resume, force=force):
        log.info("%s is already complete (same recipe, data and model)", run.out)
        return run.out
    tokenizer = tokenizer_for(run.model_path, config)
    examples, counts, lengths = _setup_examples(config, run.data_file, tokenizer)
    _setup_work_folder(accelerator, run, force)
    schedule = _setup_schedule(config, accelerator, lengths)
    precision = resolve_precision(config.precision, accelerator)
    attention = attention_kernel(accelerator.device.type, precision)
    trainee = _setup_model(config, run, accelerator, schedule, attention)
    objective = _setup_objective(config, accelerator, trainee, examples, tokenizer)
    state = _setup_resume_point(accelerator, run.work, resume, schedule.total_steps)
    derived = _derived(config, run, accelerator, schedule, trainee, precision, attention)
    if accelerator.is_main_process:
        log.info("training %s: %s (%s), %d steps, %d process(es), %s", config.method,
                 f"{len(examples) // 2} pairs" if objective else f"{len(examples)} examples", counts,
                 schedule.total_steps, accelerator.num_processes, precision)

    trackers.start_trackers(accelerator, config, run.work)
    try:
        state = run_loop(accelerator=accelerator, model=trainee.wrapper, optimizer=trainee.optimizer,
                         scheduler=trainee.scheduler,
                         examples=examples, plans=schedule.plans, cfg=config, work=run.work, state=state,
                         total_steps=schedule.total_steps, precision=precision, pad_id=tokenizer.pad_token_id,
                         stop_after=stop_after, objective=objective)
    finally:
        trackers.finish_trackers(accelerator)  # flushed and closed, also when the run stops or fails
    if state.step < schedule.total_steps:
        accelerator.wait_for_everyone()
        return latest_checkpoint(run.work)
    _write_model_folder(config, run, accelerator, trainee.wrapper, tokenizer, counts, derived, precision)
    return run.out


def _setup_identity(config: TrainConfig, data_dir, out_dir, start: str | None) -> RunIdentity:
    out = Path(out_dir).resolve()
    data_file = data_file_of(data_dir)
    model_path, reference = starting_models(config)
    return RunIdentity(out=out, work=work_dir(out), data_file=data_file, model_path=model_path, reference=reference,
                       fingerprint=fingerprint(config, data_file, model_path, reference, start), start=start)


def _setup_accelerator(config: TrainConfig, run: RunIdentity, resume: bool, force: bool):
    """DDP, FSDP or DeepSpeed, as launched; on GPUs or CPUs. The trackers need the step a resume starts from."""
    resuming = latest_checkpoint(run.work) if resume and not force else None
    accelerator = make_accelerator(trackers.make_trackers(
        config, run.work, run.out.name, run.fingerprint, checkpoint_step(resuming) if resuming else 0))
    if accelerator.distributed_type.value == "DEEPSPEED":
        if config.gradient_accumulation_steps > 1:
            raise UserError("train.gradient_accumulation_steps: DeepSpeed steps and scales the loss itself; use 1 and "
                            "set the accumulation in the DeepSpeed JSON, or use FSDP (recipes/accelerate/fsdp.yaml)")
        # accelerate fills "auto" batch sizes only from a data loader given to prepare(); ours is not.
        ds = accelerator.state.deepspeed_plugin.deepspeed_config
        if ds.get("train_micro_batch_size_per_gpu", "auto") == "auto":
            ds["train_micro_batch_size_per_gpu"] = config.micro_batch_size
        if ds.get("train_batch_size") == "auto":
            ds["train_batch_size"] = (config.micro_batch_size * accelerator.num_processes
                                      * int(ds.get("gradient_accumulation_steps", 1)))
    return accelerator


def _setup_examples(config: TrainConfig, data_file: Path, tokenizer) -> tuple[list, dict, list[int]]:
    """Tokenized examples (or pairs), their counts, and the lengths the batch plan packs."""
    if config.method == "dpo":
        pairs, counts = load_pairs(data_file, tokenizer, config.prompt_format, config.max_length, config.overlength)
        return pairs, counts, pair_lengths(pairs)
    examples, counts = load_examples(data_file, tokenizer, config.prompt_format, config.max_length, config.overlength)
    return examples, counts, [len(e) for e in examples]


def _setup_work_folder(accelerator, run: RunIdentity, force: bool) -> None:
    """Rank 0 (re)makes ``OUT.work`` and records the run's fingerprint in it."""
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if force:
            if run.out.exists():
                shutil.rmtree(run.out)
            empty_work(run.work)
        run.work.mkdir(parents=True, exist_ok=True)
        write_json(run.work / RUN_FILE, {"fingerprint": run.fingerprint})
    accelerator.wait_for_everyone()


def _setup_schedule(config: TrainConfig, accelerator, lengths: list[int]) -> Schedule:
    packing = config.packing and config.method != "dpo"  # a pair's two sequences are rows of their own
    plans = [plan_epoch(lengths, seed=config.seed, epoch=e, packing=packing, max_length=config.max_length,
                        micro_batch_size=config.micro_batch_size) for e in range(config.epochs)]
    per_step = config.gradient_accumulation_steps * accelerator.num_processes
    steps_per_epoch = [math.ceil(len(p) / per_step) for p in plans]
    total_steps = min(sum(steps_per_epoch), config.max_steps or sum(steps_per_epoch))
    return Schedule(plans=plans, steps_per_epoch=steps_per_epoch, total_steps=total_steps, per_step=per_step)


def _setup_model(config: TrainConfig, run: RunIdentity, accelerator, schedule: Schedule, attention: str) -> Trainee:
    """The model (LoRA-wrapped if asked), DPO's frozen reference, the optimizer and the LR schedule, prepared."""
    import torch  # heavy: only when a run actually trains
    from transformers import get_scheduler

    from lingalign.train.loss import ResponseLoss  # imports torch

    frozen = None
    if config.method == "dpo":
        from lingalign.train import dpo as preference  # imports torch

        if not preference.adapter_off(config, run.model_path, run.reference):
            frozen = preference.load_reference(run.reference, config, attention, accelerator.device)
    torch.manual_seed(config.seed)
    model = load_model(run.model_path, dtype="float32", trust_remote_code=config.trust_remote_code,
                       attn_implementation=attention)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    if config.tuning == "lora":
        model = add_lora(model, config)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(trainable, config)
    scheduler = get_scheduler(config.lr_scheduler, optimizer,
                              num_warmup_steps=math.ceil(config.warmup_ratio * schedule.total_steps),
                              num_training_steps=schedule.total_steps)
    loss = preference.PreferenceLogps(model) if config.method == "dpo" else ResponseLoss(model)
    wrapper, optimizer = accelerator.prepare(loss, optimizer)
    accelerator.register_for_checkpointing(scheduler)  # not prepared: accelerate would step it once per process
    return Trainee(model=model, wrapper=wrapper, optimizer=optimizer, scheduler=scheduler, frozen=frozen,
                   trainable_parameters=sum(p.numel() for p in trainable))


def _setup_objective(config: TrainConfig, accelerator, trainee: Trainee, examples, tokenizer):
    """DPO's loss over pairs against the reference; None: the loop's supervised loss."""
    if config.method != "dpo":
        return None
    from lingalign.train import dpo as preference  # imports torch

    return preference.PreferenceObjective(examples, tokenizer.pad_token_id,
                                          preference.Reference(trainee.frozen, accelerator, trainee.wrapper),
                                          beta=config.dpo.beta, loss_type=config.dpo.loss_type)


def _setup_resume_point(accelerator, work: Path, resume: bool, total_steps: int):
    """Where the loop starts: the latest checkpoint's position when resuming, else step 0 (with a fresh log)."""
    from lingalign.train.loop import LoopState  # imports torch

    checkpoint = latest_checkpoint(work) if resume else None
    if checkpoint is None:
        if accelerator.is_main_process and (work / "train_log.jsonl").exists():
            (work / "train_log.jsonl").unlink()
        return LoopState()
    position = load_checkpoint(accelerator, checkpoint)
    if accelerator.is_main_process:
        trim_log(work / "train_log.jsonl", position["step"])
    log.info("resumed from %s (step %d of %d)", checkpoint, position["step"], total_steps)
    return LoopState(step=position["step"], epoch=position["epoch"], step_in_epoch=position["step_in_epoch"],
                     elapsed=position.get("elapsed", 0.0))


def _derived(config: TrainConfig, run: RunIdentity, accelerator, schedule: Schedule, trainee: Trainee,
             precision: str, attention: str) -> dict:
    """What the recipe does not say but the run used; saved with the hyperparameters and the manifest."""
    derived = {"total_steps": schedule.total_steps, "steps_per_epoch": schedule.steps_per_epoch,
               "world_size": accelerator.num_processes,
               "effective_batch_rows": config.micro_batch_size * schedule.per_step, "precision": precision,
               "attention": attention, "distributed": accelerator.distributed_type.value,
               "trainable_parameters": trainee.trainable_parameters,
               "parameters": sum(p.numel() for p in trainee.model.parameters()), "base_model": run.model_path}
    if config.method == "dpo":
        derived.update(reference_model=run.reference, reference="a frozen copy" if trainee.frozen is not None else
                       "the starting model with the LoRA adapters off (no second copy)", packing=False)
    return derived


def _write_model_folder(config: TrainConfig, run: RunIdentity, accelerator, wrapper, tokenizer, counts: dict,
                        derived: dict, precision: str) -> None:
    """Weights, log, hyperparameters, manifest (last but the card), then one rename to ``OUT``."""
    final = run.work / "final"
    save_model(accelerator, wrapper, tokenizer, config, run.model_path, final, reference=run.reference)
    if accelerator.is_main_process:
        trackers.keep_logs(config, run.work, final)
        shutil.copyfile(run.work / "train_log.jsonl", final / "train_log.jsonl")
        write_text(final / "hyperparameters.yaml", dump_yaml(config) + "# derived\n" + _yaml(derived))
        inputs = {"data": str(run.data_file), "model": run.model_path}
        if config.method == "dpo":
            inputs["reference_model"] = run.reference
        if run.start is not None:
            inputs["start_fingerprint"] = run.start
        write_manifest(final, stage="train", fingerprint=run.fingerprint, inputs=inputs,
                       config=config.model_dump(mode="json"), counts=counts, derived=derived,
                       final_loss=last_loss(final / "train_log.jsonl"),
                       provenance=provenance(torch_device=accelerator.device, train=precision))
        write_model_card(final, run.out.name)
        if run.out.exists():
            shutil.rmtree(run.out)
        final.rename(run.out)
        shutil.rmtree(run.work)
    accelerator.wait_for_everyone()


def tokenizer_for(model_path: str, config: TrainConfig):
    try:
        return load_tokenizer(model_path, trust_remote_code=config.trust_remote_code)
    except (OSError, ValueError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"{model_path}: could not load a tokenizer ({first})",
                        hint="the model folder needs tokenizer.json or tokenizer files") from None


def resolve_precision(precision: str, accelerator) -> str:
    """``auto``: bf16 autocast where the hardware computes in bf16 (CUDA with bf16, CPUs with
    AVX512-BF16/AMX), else fp32: emulated bf16 on an AVX2 CPU is far slower than fp32. The rule
    is :func:`lingalign.provenance.auto_precision`, shared with evaluation."""
    if precision != "auto":
        return precision
    return auto_precision(accelerator.device.type)


def make_optimizer(trainable: list, config: TrainConfig):
    """AdamW; with ``fused_adamw`` (the default) in one fused kernel, else torch's default for the device
    (on a CPU a Python loop over the parameter tensors)."""
    import torch

    try:
        return torch.optim.AdamW(trainable, lr=config.learning_rate, betas=config.adam_betas,
                                 weight_decay=config.weight_decay, fused=config.fused_adamw or None)
    except RuntimeError as exc:
        if not config.fused_adamw or "fused" not in str(exc):
            raise
        device = trainable[0].device.type if trainable else "?"
        raise UserError(f"train.fused_adamw: torch has no fused AdamW for these parameters ({device})",
                        hint="set fused_adamw: false in the recipe (or --set fused_adamw=false)") from None


def add_lora(model, config: TrainConfig):
    from peft import LoraConfig, get_peft_model

    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    missing = [t for t in config.lora.target_modules if t not in names]
    if missing:
        raise UserError(f"train.lora.target_modules: {missing} are not modules of this model")
    lora = LoraConfig(r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
                      target_modules=list(config.lora.target_modules), task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def trim_log(path: Path, step: int) -> None:
    """After a resume, drop log lines written after the checkpoint (they will be redone)."""
    if not path.exists():
        return
    kept = [r for r in read_jsonl_tolerant(path) if r.get("step", 0) <= step]
    write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))


def last_loss(path: Path) -> float | None:
    records = read_jsonl_tolerant(path) if path.exists() else []
    return records[-1]["loss"] if records else None


def _yaml(obj: dict) -> str:
    return yaml.safe_dump(obj, sort_keys=False)
