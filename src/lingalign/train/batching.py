"""Which examples go into which row, micro-batch and optimizer step.

The order of an epoch is a pure function of ``(seed, epoch)``: resuming at step k of an epoch
recomputes the plan and starts at micro-batch k, with no replay of the data loader.

Two layouts:

* packing: shuffled examples are placed first-fit into rows of ``max_length`` tokens. Each example
  restarts its position ids at 0; ``transformers`` reads restarting position ids (with no 2D
  attention mask) as packed sequences and builds a block-diagonal causal mask, so no example
  attends to another (``masking_utils.find_packed_sequence_indices``; checked by the tests).
* length-grouped: one example per row; shuffled examples are sorted by length inside mega-batches
  of 64 micro-batches, so a micro-batch pads little, then the micro-batches are shuffled.
"""

from __future__ import annotations

import random

from lingalign.train.examples import IGNORE, Example

OPEN_ROWS = 64  # first-fit looks at this many most recent open rows (keeps planning linear time)
MEGABATCH = 64


def epoch_rng(seed: int, epoch: int) -> random.Random:
    return random.Random(f"lingalign-train:{seed}:{epoch}")


def pack_rows(order: list[int], lengths: list[int], capacity: int) -> list[list[int]]:
    """First-fit packing of examples (in the given order) into rows of at most ``capacity`` tokens."""
    rows: list[list[int]] = []
    room: list[int] = []
    for index in order:
        size = lengths[index]
        for slot in range(max(0, len(rows) - OPEN_ROWS), len(rows)):
            if room[slot] >= size:
                rows[slot].append(index)
                room[slot] -= size
                break
        else:
            rows.append([index])
            room.append(capacity - size)
    return rows


def plan_epoch(lengths: list[int], *, seed: int, epoch: int, packing: bool, max_length: int,
               micro_batch_size: int) -> list[list[list[int]]]:
    """The epoch's micro-batches, each a list of rows, each row a list of example indices."""
    rng = epoch_rng(seed, epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if packing:
        rows = pack_rows(order, lengths, max_length)
        rng.shuffle(rows)
        return [rows[i:i + micro_batch_size] for i in range(0, len(rows), micro_batch_size)]
    chunk = micro_batch_size * MEGABATCH
    batches = []
    for start in range(0, len(order), chunk):
        group = sorted(order[start:start + chunk], key=lambda i: lengths[i])
        batches += [[[i] for i in group[j:j + micro_batch_size]] for j in range(0, len(group), micro_batch_size)]
    rng.shuffle(batches)
    return batches


def group_steps(micro_batches: list, per_step: int) -> list[list]:
    """Micro-batches of one optimizer step (all processes together); the last step may be short."""
    return [micro_batches[i:i + per_step] for i in range(0, len(micro_batches), per_step)]


def collate(rows: list[list[int]], examples: list[Example], pad_id: int, multiple_of: int = 8) -> dict:
    """Tensors for one micro-batch: input_ids, position_ids and labels, right-padded to the longest row.

    No attention mask is returned on purpose: position ids that restart at each example (and at the
    padding tail) make transformers build the block-diagonal causal mask itself. Padding carries
    label -100 and its own positions, so it neither learns nor is attended to by real tokens.
    """
    import torch

    ids, pos, labels = [], [], []
    for row in rows:
        r_ids, r_pos, r_lab = [], [], []
        for index in row:
            example = examples[index]
            r_ids += example.ids
            r_pos += list(range(len(example)))
            r_lab += example.labels
        ids.append(r_ids), pos.append(r_pos), labels.append(r_lab)
    width = max(len(r) for r in ids)
    width = -(-width // multiple_of) * multiple_of
    for r_ids, r_pos, r_lab in zip(ids, pos, labels):
        pad = width - len(r_ids)
        r_ids += [pad_id] * pad
        r_pos += list(range(pad))
        r_lab += [IGNORE] * pad
    return {
        "input_ids": torch.tensor(ids, dtype=torch.long),
        "position_ids": torch.tensor(pos, dtype=torch.long),
        "labels": torch.tensor(labels, dtype=torch.long),
    }


def count_targets(batch: dict) -> int:
    """Tokens that carry loss in a micro-batch (labels shifted by one: the first label never counts)."""
    return int((batch["labels"][:, 1:] != IGNORE).sum())
