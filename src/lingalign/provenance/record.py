"""The provenance block every result carries, and how blocks are read back (one line, what differs).

A block records the precision each stage computed in plus :func:`~lingalign.provenance.machine.environment`
(the machine and libraries), so the reader of a result can tell why the same recipe gave different
numbers on another machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from lingalign.artifacts import read_manifest
from lingalign.provenance.machine import environment

# Short names of the precisions, as training's recipe spells them.
SHORT = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "fp32": "fp32", "bf16": "bf16", "fp16": "fp16"}


def short(dtype: Any) -> str:
    """``torch.bfloat16``, ``"bfloat16"`` or ``"bf16"`` -> ``"bf16"`` (unknown names pass through)."""
    name = str(dtype).removeprefix("torch.")
    return SHORT.get(name, name)


def provenance(*, torch_device: Any = None, **precision: str | None) -> dict:
    """The block a stage stores with its result: ``provenance(eval="float32")`` ->
    ``{"precision": {"eval": "fp32"}, "native_bf16": ..., "cpu": {...}, "device": {...}, ...}``.

    ``precision`` names each stage whose precision is known (``train``, ``eval``, ``analysis``);
    a stage may pass on an earlier one (evaluation records how its model was trained).
    """
    return {"precision": {stage: short(p) for stage, p in precision.items() if p}, **environment(torch_device)}


def trained_with(model_path: str | os.PathLike) -> dict | None:
    """How a lingalign-trained model folder was trained (from its manifest), or None.

    Manifests written before provenance existed still name the precision under ``derived``.
    """
    manifest = read_manifest(model_path) if Path(model_path).is_dir() else None
    if not manifest or manifest.get("stage") != "train":
        return None
    block = manifest.get("provenance") or {}
    precision = (block.get("precision") or {}).get("train") or (manifest.get("derived") or {}).get("precision")
    found = {"precision": short(precision) if precision else None}
    if block:
        found.update(cpu_kind=(block.get("cpu") or {}).get("kind"), native_bf16=block.get("native_bf16"),
                     device=(block.get("device") or {}).get("type"))
    return found


def for_evaluation(model_path: str | os.PathLike, dtype: str, torch_device: Any) -> dict:
    """The block of an evaluation: its own dtype and machine, plus how its model was trained
    (precision per stage, and ``trained_on``) when the model folder is a lingalign training output."""
    trained = trained_with(model_path)
    block = provenance(torch_device=torch_device, train=(trained or {}).get("precision"), eval=dtype)
    if trained:
        block["trained_on"] = trained
    return block


# ---- reading blocks back: one line, and what differs between two ---------------------------------

def key_facts(block: Mapping | None, fallback_eval: str | None = None) -> dict:
    """The facts that make two results comparable bit for bit (precision per stage, CPU kind,
    device, versions). ``fallback_eval``: a result written before provenance existed still names
    its dtype in ``generation``."""
    block = block or {}
    precision = dict(block.get("precision") or {})
    if fallback_eval and "eval" not in precision:
        precision["eval"] = short(fallback_eval)
    device_info = block.get("device") or {}
    return {
        "precision": precision,
        "cpu_kind": (block.get("cpu") or {}).get("kind"),
        "device": device_info.get("name") or device_info.get("type"),
        "torch": block.get("torch"),
        "transformers": block.get("transformers"),
        "train_cpu_kind": (block.get("trained_on") or {}).get("cpu_kind"),
    }


def threads(n: int) -> str:
    """``1 thread``, ``2 threads``."""
    return f"{n} thread" + ("" if n == 1 else "s")


def describe(block: Mapping | None, fallback_eval: str | None = None) -> str:
    """One line, e.g. ``train fp32, eval fp32 · AVX2 (no native bf16), AMD EPYC, 2 threads · cpu ·
    torch 2.13.0, transformers 5.1.0``; a model trained on another kind of CPU says so."""
    if not block:
        return f"eval {short(fallback_eval)} (no provenance recorded)" if fallback_eval else "no provenance recorded"
    facts = key_facts(block, fallback_eval)
    cpu_info = block.get("cpu") or {}
    stages = {stage: f"{stage} {p}" for stage, p in facts["precision"].items()}
    if "train" in stages and facts["train_cpu_kind"] and facts["train_cpu_kind"] != cpu_info.get("kind"):
        stages["train"] += f" (on {facts['train_cpu_kind']})"
    precision = ", ".join(stages.values()) or "precision not recorded"
    machine = ", ".join(str(x) for x in (cpu_info.get("kind"), cpu_info.get("model")) if x)
    if cpu_info.get("torch_threads"):
        machine += f", {threads(cpu_info['torch_threads'])}"
    versions = ", ".join(f"{name} {block.get(name)}" for name in ("torch", "transformers") if block.get(name))
    return " · ".join(x for x in (precision, machine, facts["device"], versions) if x)


def differences(a: Mapping, b: Mapping) -> list[str]:
    """What differs between two ``key_facts``: ``["eval precision fp32 vs bf16", "CPU kind ..."]``."""
    found = []
    for stage in dict.fromkeys([*a["precision"], *b["precision"]]):
        pa, pb = a["precision"].get(stage), b["precision"].get(stage)
        if pa and pb and pa != pb:
            found.append(f"{stage} precision {pa} vs {pb}")
    labels = {"cpu_kind": "CPU kind", "train_cpu_kind": "training CPU kind", "device": "device", "torch": "torch",
              "transformers": "transformers"}
    for key, label in labels.items():
        if a.get(key) and b.get(key) and a[key] != b[key]:
            found.append(f"{label} {a[key]} vs {b[key]}")
    return found


def summarize(steps: Mapping[str, Mapping | None]) -> str:
    """One line for a run of several steps (``{"train:coit-zh": block, "eval:base": block, ...}``):
    the precision of each stage, naming the steps when they differ, then each distinct machine."""
    precisions: dict[str, dict[str, list[str]]] = {}  # stage -> precision -> steps
    machines: dict[str, list[str]] = {}               # machine line -> steps
    unknown = []
    for step, block in steps.items():
        stage, _, name = step.partition(":")
        value = ((block or {}).get("precision") or {}).get(stage)
        if value:
            precisions.setdefault(stage, {}).setdefault(value, []).append(name or stage)
        if not block or not block.get("cpu"):
            unknown.append(step)
            continue
        cpu_info = block["cpu"]
        device_info = block.get("device") or {}
        machine = ", ".join(str(x) for x in (cpu_info.get("kind"), cpu_info.get("model"),
                                             device_info.get("name") or device_info.get("type")) if x)
        versions = ", ".join(f"{k} {block[k]}" for k in ("torch", "transformers") if block.get(k))
        machines.setdefault(f"{machine}; {versions}" if versions else machine, []).append(step)
    parts = []
    for stage, values in precisions.items():
        if len(values) == 1:
            parts.append(f"{stage} {next(iter(values))}")
        else:
            parts.append(f"{stage} " + ", ".join(f"{v} ({', '.join(names)})" for v, names in values.items()))
    line = "precision: " + ("; ".join(parts) if parts else "not recorded")
    if len(machines) == 1:
        line += f" · machine: {next(iter(machines))}"
    elif machines:
        line += " · machines: " + " | ".join(f"{m} ({', '.join(s)})" for m, s in machines.items())
    if unknown and machines:
        line += f" · machine not recorded for {', '.join(unknown)}"
    return line
