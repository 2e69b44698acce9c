"""Write the trained model as a normal Hugging Face folder, and merge LoRA adapters into one.

A model folder holds safetensors weights, the tokenizer (with its chat template), a
generation_config with eos/pad ids, and ``lingalign_model.json`` (the prompt format it was trained
with, so evaluation prompts it the same way).
"""

from __future__ import annotations

import json
from pathlib import Path

from lingalign.artifacts import read_text
from lingalign.errors import UserError
from lingalign.models import adapter_base, is_adapter, load_model, load_tokenizer, resolve_model
from lingalign.prompting import read_model_prompt_format, write_model_info


def set_generation_ids(model, tokenizer) -> None:
    gen = model.generation_config
    gen.eos_token_id = tokenizer.eos_token_id
    gen.pad_token_id = tokenizer.pad_token_id
    if tokenizer.bos_token_id is not None:
        gen.bos_token_id = tokenizer.bos_token_id


def cast_state(state: dict, dtype) -> dict:
    """Weights trained in fp32 are saved in the base checkpoint's dtype (floating tensors only)."""
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}


def base_dtype(model_path: str) -> str:
    """The dtype the base checkpoint was stored in (config.json), defaulting to float32."""
    try:
        config = json.loads(read_text(Path(model_path) / "config.json"))
    except (OSError, json.JSONDecodeError):
        return "float32"
    name = config.get("dtype") or config.get("torch_dtype") or "float32"
    return name if name in ("float32", "bfloat16", "float16") else "float32"


def export_merged(adapter_dir, out_dir, *, prompt_format: str | None = None, trust_remote_code: bool = False,
                  **info) -> Path:
    """Merge a LoRA adapter folder into its base model and save a standalone HF model folder.

    ``info``: more fields for ``lingalign_model.json`` (a DPO adapter's objective and reference)."""
    adapter_dir, out_dir = Path(adapter_dir), Path(out_dir)
    if not is_adapter(str(adapter_dir)):
        raise UserError(f"{adapter_dir}: not a LoRA adapter folder (no adapter_config.json)")
    base = resolve_model(adapter_base(str(adapter_dir)))
    merged = load_model(str(adapter_dir), dtype=base_dtype(base), trust_remote_code=trust_remote_code,
                        merge_adapter=True)
    tokenizer = load_tokenizer(str(adapter_dir), trust_remote_code=trust_remote_code)
    set_generation_ids(merged, tokenizer)
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    fmt = prompt_format or read_model_prompt_format(adapter_dir) or "alpaca"
    write_model_info(out_dir, fmt, base_model=base, method="lora-merged", **info)
    return out_dir
