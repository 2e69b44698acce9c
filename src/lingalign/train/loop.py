"""The training loop, written out in one place.

One optimizer step consumes ``gradient_accumulation_steps * world_size`` micro-batches of the
epoch plan; process ``r`` takes every ``world_size``-th of them. Each micro-batch contributes its
*summed* response-token loss divided by the number of response tokens in the whole step (all
micro-batches, all processes), so the gradient is the mean over the step's tokens whatever the
accumulation, micro-batch or process count (times ``world_size`` because DDP/FSDP average
gradients across processes). Every process holds the same plan, so the step's token count is known
without communication.

A short last step gives some processes fewer micro-batches; they run a step's micro-batch with
weight 0 so that every process takes part in the same collective calls.

What a micro-batch computes is the *objective*: :class:`ResponseObjective` (supervised tuning,
normalised by answer tokens) by default, or the DPO objective (``lingalign.train.dpo``,
normalised by pairs). The loop itself (steps, clipping, schedule, log, checkpoints) is shared.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lingalign.artifacts import append_jsonl
from lingalign.train.batching import collate, group_steps
from lingalign.train.checkpoint import save_checkpoint
from lingalign.train.examples import Example
from lingalign.train.trackers import log_step


@dataclass
class LoopState:
    step: int = 0          # optimizer steps done
    epoch: int = 0         # epoch of the next step
    step_in_epoch: int = 0  # index of the next step in that epoch's plan
    elapsed: float = 0.0   # seconds of training before this process started (resume)
    stats: dict = field(default_factory=dict)


def step_targets(micro_batches: list, examples: list[Example]) -> int:
    """Response tokens (with EOS) carrying loss in one step.

    Prompts are never empty, so this equals the shifted count."""
    return sum(len(examples[i]) - examples[i].n_prompt for mb in micro_batches for row in mb for i in row)


def step_tokens(micro_batches: list, examples: list[Example]) -> int:
    return sum(len(examples[i]) for mb in micro_batches for row in mb for i in row)


def autocast(accelerator, precision: str):
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(accelerator.device.type, dtype=torch.bfloat16)


def accumulate_gradients(accelerator, model, micro: list, examples: list[Example], n_targets: int,
                         precision: str, pad_id: int) -> torch.Tensor:
    """Forward and backward this process's share of one step's micro-batches; return its summed loss.

    Gradients end up as d(sum of token losses over the step) / n_targets, on every process.
    """
    world, rank = accelerator.num_processes, accelerator.process_index
    mine = micro[rank::world]
    n_local = math.ceil(len(micro) / world)
    loss_sum = torch.zeros((), device=accelerator.device)
    for i in range(n_local):
        weight = 1.0 if i < len(mine) else 0.0
        batch = collate(mine[i] if i < len(mine) else micro[0], examples, pad_id)
        batch = {k: v.to(accelerator.device) for k, v in batch.items()}
        sync = accelerator.no_sync(model) if i < n_local - 1 else contextlib.nullcontext()
        with sync:
            with autocast(accelerator, precision):
                summed = model(**batch)
            accelerator.backward(summed * (weight * world / n_targets))
        loss_sum += summed.detach() * weight
    return loss_sum


class ResponseObjective:
    """Supervised tuning: summed answer-token cross-entropy, normalised by the step's answer tokens."""

    count_key = "targets"  # what the normaliser counts, as logged

    def __init__(self, examples: list[Example], pad_id: int):
        self.examples, self.pad_id = examples, pad_id

    def step_targets(self, micro: list) -> int:
        return step_targets(micro, self.examples)

    def step_tokens(self, micro: list) -> int:
        return step_tokens(micro, self.examples)

    def accumulate(self, accelerator, model, micro: list, n_targets: int, precision: str) -> dict:
        """Summed statistics of this process's share of the step (``loss`` first), gradients accumulated."""
        return {"loss": accumulate_gradients(accelerator, model, micro, self.examples, n_targets, precision,
                                             self.pad_id)}

    def metrics(self, sums: dict, n_targets: int) -> dict:
        """Per-step log fields beyond the loss."""
        return {}


def reduce_sums(accelerator, sums: dict) -> dict:
    """Sum each statistic over the processes, in one collective call."""
    total = accelerator.reduce(torch.stack(list(sums.values())), reduction="sum")
    return dict(zip(sums, total.tolist()))


def run_loop(*, accelerator, model, optimizer, scheduler, examples, plans, cfg, work: Path,
             state: LoopState, total_steps: int, precision: str, pad_id: int, stop_after: int | None = None,
             objective=None) -> LoopState:
    """Train from ``state`` to ``total_steps`` (or ``stop_after``), checkpointing as the recipe says."""
    from tqdm.auto import tqdm

    objective = objective or ResponseObjective(examples, pad_id)

    per_step = cfg.gradient_accumulation_steps * accelerator.num_processes
    params = [p for p in model.parameters() if p.requires_grad]
    log_path = Path(work) / "train_log.jsonl"
    bar = tqdm(total=total_steps, initial=state.step, disable=not accelerator.is_main_process,
               desc="train", unit="step", dynamic_ncols=True)
    model.train()
    started = time.perf_counter() - state.elapsed
    last_saved = None
    while state.step < total_steps and state.epoch < len(plans):
        steps = group_steps(plans[state.epoch], per_step)
        if state.step_in_epoch >= len(steps):
            state.epoch, state.step_in_epoch = state.epoch + 1, 0
            continue
        micro = steps[state.step_in_epoch]
        tick = time.perf_counter()
        n_targets = objective.step_targets(micro)
        sums = objective.accumulate(accelerator, model, micro, n_targets, precision)
        grad_norm = None
        if cfg.max_grad_norm is not None:
            grad_norm = accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
        lr = scheduler.get_last_lr()[0]  # the rate this step used
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        sums = reduce_sums(accelerator, sums)
        loss = sums["loss"] / n_targets
        state.step += 1
        state.step_in_epoch += 1
        now = time.perf_counter()
        state.elapsed = now - started
        tokens = objective.step_tokens(micro)
        record = {"step": state.step, "epoch": state.epoch, "loss": round(loss, 6),
                  **objective.metrics(sums, n_targets), "lr": lr, "tokens": tokens, objective.count_key: n_targets,
                  "tokens_per_s": round(tokens / max(now - tick, 1e-9), 2), "elapsed": round(state.elapsed, 2)}
        if grad_norm is not None:
            record["grad_norm"] = round(float(grad_norm), 6)
        if state.step % cfg.log_every == 0 or state.step == total_steps:
            if accelerator.is_main_process:
                append_jsonl(log_path, [record])
            log_step(accelerator, record)  # experiment trackers (report_to), main process only
        bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{record['tokens_per_s']:.0f}", refresh=False)
        bar.update(1)
        done = state.step >= total_steps
        stopping = stop_after is not None and state.step >= stop_after
        if not done and ((cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0) or stopping):
            save_checkpoint(accelerator, work, position_of(state), cfg.keep_checkpoints)
            last_saved = state.step
        if stopping:
            break
    bar.close()
    state.stats["last_checkpoint"] = last_saved
    return state


def position_of(state: LoopState) -> dict:
    return {"step": state.step, "epoch": state.epoch, "step_in_epoch": state.step_in_epoch, "elapsed": state.elapsed}
