"""``train(config, data_dir, out_dir)``: from a data-stage folder to a trained model folder.

Working files (checkpoints, log, run identity) live in ``OUT.work/``. The finished model is
assembled in ``OUT.work/final/`` (manifest.json last) and renamed to ``OUT`` in one step, so a
folder at ``OUT`` is always a complete model. Runs launched with ``accelerate launch`` or
``torchrun`` use the same code: rank 0 writes, every process trains.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from pathlib import Path

import yaml

from lingalign.artifacts import (
    hash_file,
    hash_obj,
    is_complete,
    read_json,
    read_jsonl_tolerant,
    read_manifest,
    write_json,
    write_manifest,
    write_text,
)
from lingalign.config import dump_yaml, resolve_path
from lingalign.errors import UserError
from lingalign.model_card.results import write_card
from lingalign.models import load_model, load_tokenizer, resolve_model, torch_dtype
from lingalign.output_lock import LOCK_FILE, output_lock
from lingalign.prompting import write_model_info
from lingalign.provenance import auto_precision, provenance
from lingalign.train import trackers
from lingalign.train.batching import plan_epoch
from lingalign.train.checkpoint import checkpoint_step, latest_checkpoint, load_checkpoint
from lingalign.train.distributed import attention_kernel, drop_tied_copies, make_accelerator
from lingalign.train.examples import load_examples
from lingalign.train.export import base_dtype, cast_state, export_merged, set_generation_ids
from lingalign.train.preference_data import load_pairs, pair_lengths
from lingalign.train.recipe import NON_RESULT_KEYS, TrainConfig

log = logging.getLogger(__name__)
RUN_FILE = "run.json"


def work_dir(out_dir: Path) -> Path:
    return out_dir.with_name(out_dir.name + ".work")


def resolve_base(config: TrainConfig) -> str:
    path = resolve_model(config.model)
    if not Path(path).exists():
        raise UserError(f"train.model: {config.model!r} is not an existing model folder or known model",
                        hint="give a Hugging Face model folder, a .gguf file or 'smollm2-135m-instruct'")
    return path


def fingerprint(config: TrainConfig, data_file: Path, model_path: str, reference: str | None = None,
                start: str | None = None) -> str:
    """The run's identity; ``reference`` (DPO's reference model) is added only when given, so that
    supervised runs keep the fingerprints they always had. So is ``start``: what made the starting
    model, when its folder is rewritten in place (an earlier stage of ``lingalign run``: that stage's
    fingerprint), as its path and config.json stay the same when its weights change."""
    settings = config.model_dump(mode="json", exclude=set(NON_RESULT_KEYS))
    identity = {"config": settings, "data": hash_file(data_file), **_model_identity("model", model_path)}
    if reference is not None:
        identity.update(_model_identity("reference", reference))
    if start is not None:
        identity["start"] = start
    return hash_obj(identity)


def starting_models(config: TrainConfig) -> tuple[str, str | None]:
    """The resolved starting model and, for DPO, the resolved reference model (None otherwise)."""
    model_path = resolve_base(config)
    if config.method != "dpo":
        return model_path, None
    from lingalign.train import dpo as preference  # imports torch

    return model_path, preference.reference_path(config, model_path)


def expected_fingerprint(config: TrainConfig, data_dir, start: str | None = None) -> str:
    """The fingerprint :func:`train` records for these arguments (to compare with an output's manifest)."""
    config = config.with_dpo_defaults()
    return fingerprint(config, data_file_of(data_dir), *starting_models(config), start=start)


def _model_identity(key: str, path: str) -> dict:
    model_config = Path(path) / "config.json"
    return {key: path, f"{key}_config": hash_file(model_config) if model_config.exists() else None}


def data_file_of(data) -> Path:
    """``--data``: a data-stage folder (its ``train.jsonl``), a ``.jsonl`` file, or ``sample:PATH``."""
    path = resolve_path(data)
    if path.is_file():
        return path
    if path.suffix == ".jsonl":
        raise UserError(f"{data}: file not found")
    if not (path / "train.jsonl").exists():
        raise UserError(f"{data}: no train.jsonl", hint="point --data at a `lingalign data build` output folder "
                        "or at a .jsonl file")
    return path / "train.jsonl"


def prepare_output(out: Path, work: Path, fp: str, *, resume: bool, force: bool) -> bool:
    """Check the output folders against this run; return True when the output is already complete."""
    if out.exists() and not force:
        if is_complete(out, fp):
            return True
        if read_manifest(out) is not None:
            raise UserError(f"{out}: holds the output of a different training run",
                            hint="choose another -o folder, or pass --force to replace it")
        if any(out.iterdir()):
            raise UserError(f"{out}: exists and is not a lingalign model folder",
                            hint="choose another -o folder or --force")
    run_file = work / RUN_FILE
    if run_file.exists() and not force:
        previous = read_json(run_file).get("fingerprint")
        if previous != fp:
            raise UserError(f"{work}: holds checkpoints of a different run (other recipe, data or model)",
                            hint="use another -o folder, or --force to start over")
        if not resume:
            raise UserError(f"{work}: a run with these settings was started already",
                            hint="pass --resume to continue it, or --force to start over")
    return False


def train(config: TrainConfig, data_dir, out_dir, resume: bool = False, *, force: bool = False,
          max_steps: int | None = None, stop_after: int | None = None, start: str | None = None) -> Path:
    """Fine-tune ``config.model`` on ``data_dir/train.jsonl`` (or a ``.jsonl`` file); return the model folder.

    Supervised records, or preference pairs with ``method: dpo`` (:mod:`lingalign.train.dpo`).

    ``stop_after`` ends the run after that many optimizer steps with a checkpoint (continue later
    with ``resume=True``); the path of that checkpoint is returned instead. ``start`` names what made
    the starting model (see :func:`fingerprint`); it becomes part of the run's identity. The working folder
    ``OUT.work/`` is locked while the run writes (``lingalign.output_lock``; rank 0 holds it for a
    process group): a second training into the same folder names the first one's process and stops.
    """
    with output_lock(work_dir(Path(out_dir).resolve()), take=int(os.environ.get("RANK", "0")) == 0):
        return _train(config, data_dir, out_dir, resume, force=force, max_steps=max_steps, stop_after=stop_after,
                      start=start)


def _train(config: TrainConfig, data_dir, out_dir, resume: bool, *, force: bool, max_steps: int | None,
           stop_after: int | None, start: str | None) -> Path:
    import torch
    from transformers import get_scheduler

    # heavy: these import torch at their top; `lingalign --help` (which imports this module) must stay fast
    from lingalign.train.loop import LoopState, run_loop
    from lingalign.train.loss import ResponseLoss

    if max_steps is not None:
        config = config.model_copy(update={"max_steps": max_steps})
    config = config.with_dpo_defaults()
    trackers.check_trackers(config.report_to)  # a missing package: one line now, not after loading the model
    dpo = config.method == "dpo"
    data_file = data_file_of(data_dir)
    out = Path(out_dir).resolve()
    work = work_dir(out)
    model_path, reference = starting_models(config)
    if dpo:
        from lingalign.train import dpo as preference
    fp = fingerprint(config, data_file, model_path, reference, start)

    resuming = latest_checkpoint(work) if resume and not force else None
    accelerator = make_accelerator(trackers.make_trackers(  # DDP, FSDP or DeepSpeed, as launched; on GPUs or CPUs
        config, work, out.name, fp, checkpoint_step(resuming) if resuming else 0))
    main = accelerator.is_main_process
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
    if prepare_output(out, work, fp, resume=resume, force=force):
        log.info("%s is already complete (same recipe, data and model)", out)
        return out
    tokenizer = tokenizer_for(model_path, config)
    if dpo:
        examples, counts = load_pairs(data_file, tokenizer, config.prompt_format, config.max_length, config.overlength)
        lengths = pair_lengths(examples)
    else:
        examples, counts = load_examples(data_file, tokenizer, config.prompt_format, config.max_length,
                                         config.overlength)
        lengths = [len(e) for e in examples]
    accelerator.wait_for_everyone()
    if main:
        if force:
            if out.exists():
                shutil.rmtree(out)
            _empty(work)
        work.mkdir(parents=True, exist_ok=True)
        write_json(work / RUN_FILE, {"fingerprint": fp})
    accelerator.wait_for_everyone()

    packing = config.packing and not dpo  # a pair's two sequences are rows of their own
    plans = [plan_epoch(lengths, seed=config.seed, epoch=e, packing=packing, max_length=config.max_length,
                        micro_batch_size=config.micro_batch_size) for e in range(config.epochs)]
    world = accelerator.num_processes
    per_step = config.gradient_accumulation_steps * world
    steps_per_epoch = [math.ceil(len(p) / per_step) for p in plans]
    total_steps = min(sum(steps_per_epoch), config.max_steps or sum(steps_per_epoch))
    precision = resolve_precision(config.precision, accelerator)
    attention = attention_kernel(accelerator.device.type, precision)

    frozen = None
    if dpo and not preference.adapter_off(config, model_path, reference):
        frozen = preference.load_reference(reference, config, attention, accelerator.device)
    torch.manual_seed(config.seed)
    model = load_model(model_path, dtype="float32", trust_remote_code=config.trust_remote_code,
                       attn_implementation=attention)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    if config.tuning == "lora":
        model = add_lora(model, config)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(trainable, config)
    scheduler = get_scheduler(config.lr_scheduler, optimizer,
                              num_warmup_steps=math.ceil(config.warmup_ratio * total_steps),
                              num_training_steps=total_steps)
    wrapper, optimizer = accelerator.prepare((preference.PreferenceLogps if dpo else ResponseLoss)(model), optimizer)
    accelerator.register_for_checkpointing(scheduler)  # not prepared: accelerate would step it once per process

    derived = {"total_steps": total_steps, "steps_per_epoch": steps_per_epoch, "world_size": world,
               "effective_batch_rows": config.micro_batch_size * per_step, "precision": precision,
               "attention": attention, "distributed": accelerator.distributed_type.value,
               "trainable_parameters": sum(p.numel() for p in trainable),
               "parameters": sum(p.numel() for p in model.parameters()), "base_model": model_path}
    objective = None
    if dpo:
        derived.update(reference_model=reference, reference="a frozen copy" if frozen is not None else
                       "the starting model with the LoRA adapters off (no second copy)", packing=False)
        objective = preference.PreferenceObjective(
            examples, tokenizer.pad_token_id, preference.Reference(frozen, accelerator, wrapper),
            beta=config.dpo.beta, loss_type=config.dpo.loss_type)
    state = LoopState()
    checkpoint = latest_checkpoint(work) if resume else None
    if checkpoint is not None:
        position = load_checkpoint(accelerator, checkpoint)
        state = LoopState(step=position["step"], epoch=position["epoch"], step_in_epoch=position["step_in_epoch"],
                          elapsed=position.get("elapsed", 0.0))
        if main:
            trim_log(work / "train_log.jsonl", state.step)
        log.info("resumed from %s (step %d of %d)", checkpoint, state.step, total_steps)
    elif main and (work / "train_log.jsonl").exists():
        (work / "train_log.jsonl").unlink()
    if main:
        log.info("training %s: %s (%s), %d steps, %d process(es), %s", config.method,
                 f"{len(examples) // 2} pairs" if dpo else f"{len(examples)} examples", counts, total_steps, world,
                 precision)

    trackers.start_trackers(accelerator, config, work)
    try:
        state = run_loop(accelerator=accelerator, model=wrapper, optimizer=optimizer, scheduler=scheduler,
                         examples=examples, plans=plans, cfg=config, work=work, state=state,
                         total_steps=total_steps, precision=precision, pad_id=tokenizer.pad_token_id,
                         stop_after=stop_after, objective=objective)
    finally:
        trackers.finish_trackers(accelerator)  # flushed and closed, also when the run stops or fails
    if state.step < total_steps:
        accelerator.wait_for_everyone()
        return latest_checkpoint(work)

    final = work / "final"
    save_model(accelerator, wrapper, tokenizer, config, model_path, final, reference=reference)
    if main:
        trackers.keep_logs(config, work, final)
        shutil.copyfile(work / "train_log.jsonl", final / "train_log.jsonl")
        write_text(final / "hyperparameters.yaml", dump_yaml(config) + "# derived\n" + _yaml(derived))
        inputs = {"data": str(data_file), "model": model_path}
        if dpo:
            inputs["reference_model"] = reference
        if start is not None:
            inputs["start_fingerprint"] = start
        write_manifest(final, stage="train", fingerprint=fp, inputs=inputs,
                       config=config.model_dump(mode="json"), counts=counts, derived=derived,
                       final_loss=last_loss(final / "train_log.jsonl"),
                       provenance=provenance(torch_device=accelerator.device, train=precision))
        write_model_card(final, out.name)
        if out.exists():
            shutil.rmtree(out)
        final.rename(out)
        shutil.rmtree(work)
    accelerator.wait_for_everyone()
    return out


def _empty(work: Path) -> None:
    """Remove what ``work`` holds, except the lock this run holds on it."""
    if not work.exists():
        return
    for item in work.iterdir():
        if item.name == LOCK_FILE:
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item)
        else:
            item.unlink()


def write_model_card(folder: Path, name: str) -> None:
    """``README.md`` with Hub metadata (lingalign.model_card); a card that fails to render costs a warning,
    never the trained model."""
    try:
        write_card(folder, name=name)
    except Exception as exc:  # noqa: BLE001 - the weights and manifest are written; the card is a summary of them
        log.warning("%s: model card not written (%s: %s)", folder, type(exc).__name__, exc)


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


def save_model(accelerator, wrapper, tokenizer, config: TrainConfig, model_path: str, folder: Path,
               reference: str | None = None) -> None:
    """Save full weights (base dtype) or the LoRA adapter (+ merged model) into ``folder``; rank 0 writes.

    ``lingalign_model.json`` says how the weights were trained (``method``: full, lora, lora-merged);
    a DPO model also says so (``objective: dpo``) and names its reference model."""

    state = accelerator.get_state_dict(wrapper)  # gathers FSDP shards; keys start with "model."
    unwrapped = accelerator.unwrap_model(wrapper)
    model = unwrapped.model
    if not accelerator.is_main_process:
        return
    if folder.exists():
        shutil.rmtree(folder)
    state = {k[len("model."):]: v for k, v in drop_tied_copies(state, unwrapped).items()}
    info = {"objective": "dpo", "reference_model": reference} if config.method == "dpo" else {}
    if config.tuning == "full":
        set_generation_ids(model, tokenizer)
        model.config.dtype = torch_dtype(base_dtype(model_path))
        model.save_pretrained(folder, state_dict=cast_state(state, model.config.dtype), safe_serialization=True)
        tokenizer.save_pretrained(folder)
        write_model_info(folder, config.prompt_format, base_model=model_path, method="full", **info)
        return
    adapter = folder / "adapter" if config.lora.merge else folder
    model.save_pretrained(adapter, state_dict=state)  # peft keeps only the adapter weights
    tokenizer.save_pretrained(adapter)
    write_model_info(adapter, config.prompt_format, base_model=model_path, method="lora", **info)
    if config.lora.merge:
        export_merged(adapter, folder, prompt_format=config.prompt_format, **info)


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
