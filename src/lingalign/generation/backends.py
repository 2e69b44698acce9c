"""The generator for a backend name: ``hf`` (transformers, the default) or ``vllm`` (GPU).

Both yield, batch by batch, ``(index into prompts, prediction)`` pairs from the same token ids, end
at the same end ids and stop strings, and cut the text the same way.
"""

from __future__ import annotations

from lingalign.errors import UserError
from lingalign.generation.hf_generator import HFGenerator
from lingalign.generation.vllm_generator import VLLMGenerator

BACKENDS = ("hf", "vllm")


def make_generator(model_path: str, *, backend: str = "hf", dtype: str = "auto",
                   trust_remote_code: bool = False, device: str | None = None):
    if backend == "hf":
        return HFGenerator(model_path, dtype=dtype, trust_remote_code=trust_remote_code, device=device)
    if backend == "vllm":
        return VLLMGenerator(model_path, dtype=dtype, trust_remote_code=trust_remote_code)
    raise UserError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
