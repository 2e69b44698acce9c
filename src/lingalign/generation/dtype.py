"""``--dtype auto`` resolved for the device that decodes: the rule training's ``precision: auto`` uses."""

from __future__ import annotations

from lingalign.provenance import auto_precision


def resolve_dtype(name: str, device_type: str = "cpu") -> str:
    """``auto``: bfloat16 where ``device_type`` computes in bf16 natively, else float32.

    The rule is :func:`lingalign.provenance.auto_precision`, the same as training's: on x86 CPUs
    only AVX512-BF16/AMX count (oneDNN's own check also accepts AVX-512 without them, where bf16 is
    emulated and slower than fp32). The hf backend decodes on a GPU when there is one, vLLM always does.
    """
    if name != "auto":
        return name
    return "bfloat16" if auto_precision(device_type) == "bf16" else "float32"
