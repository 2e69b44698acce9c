"""Writing a trained model: weights (full, LoRA adapter, or merged), tokenizer, how it was trained, its card.

Rank 0 writes; the other processes only take part in gathering FSDP shards. The folder written here
is ``OUT.work/final``, which the stage renames to ``OUT`` after the manifest (see :mod:`lingalign.train.stage`).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from lingalign.model_card.results import write_card
from lingalign.models import torch_dtype
from lingalign.prompting import write_model_info
from lingalign.train.distributed import drop_tied_copies
from lingalign.train.export import base_dtype, cast_state, export_merged, set_generation_ids
from lingalign.train.recipe import TrainConfig

log = logging.getLogger(__name__)


def write_model_card(folder: Path, name: str) -> None:
    """``README.md`` with Hub metadata (lingalign.model_card); a card that fails to render costs a warning,
    never the trained model."""
    try:
        write_card(folder, name=name)
    except Exception as exc:  # noqa: BLE001 - the weights and manifest are written; the card is a summary of them
        log.warning("%s: model card not written (%s: %s)", folder, type(exc).__name__, exc)


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
