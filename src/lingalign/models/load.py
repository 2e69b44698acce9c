"""Loading models and tokenizers from whatever :func:`~lingalign.models.resolve.resolve_model` accepts.

A LoRA adapter folder is loaded on its base and merged for inference (unless asked not to); a
tokenizer without a pad token pads with one it already has, so the vocabulary never changes size.
torch, transformers and peft are imported inside the functions: ``lingalign --help`` must stay fast.
"""

from __future__ import annotations

from pathlib import Path

from lingalign.errors import UserError
from lingalign.models.resolve import adapter_base, is_adapter, resolve_model

DTYPES = ("auto", "float32", "bfloat16", "float16")


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
