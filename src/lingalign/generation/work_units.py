"""Data-parallel decoding: a task's items cut into work units, shared out over processes, merged into one file.

Run ``lingalign eval`` under ``torchrun`` or ``accelerate launch`` (or give it ``--processes N``,
which starts torchrun itself): every process loads the model and decodes part of each task; rank 0
merges the predictions and scores them. The merged ``predictions/<task>.jsonl`` is the file a
1-process run writes, byte for byte.

**Why units.** Greedy decoding can depend on which prompts share a batch: padding changes the
shapes of the matrix products and so the order of their floating-point sums, and a near tie
between two tokens can flip. So the work is cut into units that do not depend on the number of
processes: consecutive blocks of whole batches in the task's order, their size chosen from the
task's item count and the batch size only (:func:`unit_batches`). Each unit is decoded on its own
(its own length-sorted batches or rolling queue), in exactly the same way whichever process runs
it, and a 1-process run decodes the same units one after the other. Units are dealt round-robin:
unit k goes to rank k mod N. A unit with any prediction missing (a killed run, a raised
``--limit``) is decoded again whole and only the missing predictions are kept, so a resumed run
also decodes every item in the same company as an uninterrupted one.

**Unit size.** Long units keep the rolling batch's gain (it refills from the unit's queue and
drains once at the unit's end, with the batch emptying), so a unit holds up to ``UNIT_BATCHES`` =
8 batches. But a task with fewer units than processes leaves processes idle: with 8-batch units,
32 items at batch 16 were one unit, and ``--processes 2`` ran them all on one process. So a task is
cut into at least ``MIN_UNITS`` = 8 units when it has that many batches, and into one unit per
batch when it has fewer: ``batches per unit = clamp(batches // 8, 1, 8)``. Up to 8 processes (a
node's GPUs, a workstation's cores) therefore all get work whenever a task has at least as many
batches as there are processes; beyond that the extra processes wait and the log says so. Tasks
of 64 batches or more keep full 8-batch units. The rule reads nothing but the item count and the
batch size, so a run's units, and hence its predictions, are the same with any number of
processes; they change with ``--limit`` or ``--batch-size``, which already changed the units.

**Files.** With several processes each rank appends its units' records to
``predictions/.parts/<task>.rank<r>.jsonl``; after a barrier rank 0 folds them into
``predictions/<task>.jsonl`` and deletes them. Either way the file is rewritten at the end of a
task in the task's item order (records of items outside the current selection, left by an earlier
larger ``--limit``, follow in their old order), so the file does not depend on who decoded what.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from lingalign import artifacts
from lingalign.runtime import has_accelerator

log = logging.getLogger(__name__)

UNIT_BATCHES = 8  # the most batches in one unit
MIN_UNITS = 8  # a task with at least this many batches is cut into at least this many units
PARTS = ".parts"


class Processes:
    """This process's place in the evaluation: rank, process count, device, and a barrier.

    ``torchrun`` and ``accelerate launch`` set ``WORLD_SIZE``; without it this is a single process
    and no process group is made.
    """

    def __init__(self):
        self.rank, self.world, self.device, self._state = 0, 1, None, None
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            from accelerate import PartialState

            self._state = PartialState(cpu=not has_accelerator())  # gloo on CPUs, NCCL on GPUs
            self.rank, self.world = self._state.process_index, self._state.num_processes
            self.device = str(self._state.device)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self._state is not None:
            self._state.wait_for_everyone()

    def mine(self, units: list) -> list:
        """The units this process decodes: every ``world``-th, starting at its rank."""
        return units[self.rank::self.world]


def unit_batches(n_items: int, batch_size: int) -> int:
    """Batches per unit for a task of ``n_items``: ``clamp(batches // MIN_UNITS, 1, UNIT_BATCHES)``.

    Depends on the item count and the batch size only, never on the number of processes.
    """
    batches = -(-n_items // batch_size)
    return max(1, min(UNIT_BATCHES, batches // MIN_UNITS))


def work_units(n_items: int, batch_size: int) -> list[range]:
    """Item positions of each unit: consecutive blocks of ``unit_batches(...)`` whole batches."""
    size = batch_size * unit_batches(n_items, batch_size)
    return [range(start, min(start + size, n_items)) for start in range(0, n_items, size)]


def part_path(preds: Path, rank: int) -> Path:
    return preds.parent / PARTS / f"{preds.stem}.rank{rank}.jsonl"


def part_files(preds: Path) -> list[Path]:
    """Part files of this task left by any number of processes (a run may resume with another count)."""
    folder = preds.parent / PARTS
    if not folder.is_dir():
        return []
    prefix = f"{preds.stem}.rank"
    return sorted(p for p in folder.iterdir()
                  if p.name.startswith(prefix) and p.name.endswith(".jsonl") and p.name[len(prefix):-6].isdigit())


def write_in_order(preds: Path, records: dict[str, dict], order: list[str]) -> None:
    """Rewrite ``preds`` atomically: ``order``'s records first, then the others as they were; drop the parts."""
    wanted = set(order)
    lines = [records[i] for i in order if i in records] + [r for i, r in records.items() if i not in wanted]
    current = artifacts.read_jsonl_tolerant(preds) if preds.exists() else []
    parts = part_files(preds)
    if parts or [r.get("id") for r in current] != [r["id"] for r in lines] or len(current) != len(lines):
        with artifacts.atomic_open(preds) as handle:
            handle.writelines(artifacts.dumps_jsonl(r) for r in lines)
    for part in parts:
        part.unlink()
