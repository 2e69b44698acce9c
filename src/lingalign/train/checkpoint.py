"""Resumable checkpoints: ``WORK/checkpoints/step-00000042/``.

``accelerate``'s ``save_state`` writes the model (or adapter-wrapped model), optimizer, the
registered scheduler and every process's RNG states (python, numpy, torch); we add
``position.json`` (global step, epoch, step within the epoch). Because an epoch's batch order is a
pure function of (seed, epoch), that position is all resume needs: no data-loader replay.

Each checkpoint is written to a hidden temporary folder and renamed into place only when complete,
so a run killed while saving leaves the previous checkpoint intact. Only the last K are kept.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

PREFIX = "step-"
POSITION = "position.json"


def checkpoint_dir(work: Path, step: int) -> Path:
    return Path(work) / "checkpoints" / f"{PREFIX}{step:08d}"


def list_checkpoints(work: Path) -> list[Path]:
    """Complete checkpoints, oldest first (temporary folders start with '.' and are ignored)."""
    root = Path(work) / "checkpoints"
    if not root.exists():
        return []
    found = [p for p in root.iterdir() if p.name.startswith(PREFIX) and (p / POSITION).exists()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def checkpoint_step(folder: Path) -> int:
    """The optimizer step a checkpoint folder holds (``step-00000042`` -> 42)."""
    return int(folder.name[len(PREFIX):])


def latest_checkpoint(work: Path) -> Path | None:
    found = list_checkpoints(work)
    return found[-1] if found else None


def save_checkpoint(accelerator, work: Path, position: dict, keep: int) -> Path:
    """Collective: every process calls it (each saves its RNG state); rank 0 renames and prunes."""
    final = checkpoint_dir(work, position["step"])
    tmp = final.with_name("." + final.name + ".tmp")
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / POSITION).write_text(json.dumps(position, indent=1), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        for old in list_checkpoints(work)[:-keep]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator, folder: Path) -> dict:
    """Restore model, optimizer, scheduler and RNG states; return the saved data position."""
    accelerator.load_state(str(folder))
    return json.loads((Path(folder) / POSITION).read_text(encoding="utf-8"))
