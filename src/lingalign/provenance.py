"""What produced a number: the precision each stage computed in, and the machine it ran on.

The same recipe gives different numbers on different machines, and the reader of a result must be
able to tell why. ``precision: auto`` (training) and ``--dtype auto`` (evaluation) compute in bf16
only where the hardware has native bf16 (a CUDA GPU that supports it, or a CPU with AVX512-BF16 or
AMX), and in fp32 elsewhere, so the same ``make quickstart`` runs in bf16 on one machine and in
fp32 on another. Even in fp32, oneDNN and MKL pick their kernels by instruction set, so an AVX-512
CPU and an AVX2 CPU can differ in the last bits, and greedy decoding can then take another branch.

This module holds the one rule for ``auto`` (:func:`auto_precision`, used by training and
evaluation alike) and the block every result carries (:func:`provenance`): the precision of each
stage, whether the CPU has native bf16, its kind and features, torch's thread count, the device,
and the torch and transformers versions. ``lingalign env`` prints the same facts for a bug report.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

# /proc/cpuinfo flags that decide which kernels oneDNN/MKL run (the names Linux uses).
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
# Environment variables that change which kernels run, or how many threads: recorded when set.
ENV_KNOBS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA",
             "DNNL_MAX_CPU_ISA", "MKL_CBWR", "CUDA_VISIBLE_DEVICES")
# Short names of the precisions, as training's recipe spells them.
SHORT = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "fp32": "fp32", "bf16": "bf16", "fp16": "fp16"}
_X86 = ("x86_64", "amd64", "i386", "i686", "x86")


def short(dtype: Any) -> str:
    """``torch.bfloat16``, ``"bfloat16"`` or ``"bf16"`` -> ``"bf16"`` (unknown names pass through)."""
    name = str(dtype).removeprefix("torch.")
    return SHORT.get(name, name)


def parse_cpuinfo(text: str) -> tuple[str | None, frozenset[str] | None]:
    """The first processor's model name and flags from the text of /proc/cpuinfo (x86 or ARM)."""
    name, flags = None, None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if name is None and key in ("model name", "cpu model", "hardware"):
            name = value.strip() or None
        elif flags is None and key in ("flags", "features"):  # x86 says flags, ARM says Features
            flags = frozenset(value.split())
        if name is not None and flags is not None:
            break
    return name, flags


@functools.lru_cache(maxsize=1)
def _proc_cpuinfo() -> tuple[str | None, frozenset[str] | None]:
    """``parse_cpuinfo`` of this machine (Linux); ``(None, None)`` elsewhere."""
    try:
        return parse_cpuinfo(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None, None


def _torch_check(name: str) -> bool | None:
    """A ``torch.cpu._is_*_supported`` check, or None when this torch lacks it."""
    import torch

    check = getattr(torch.cpu, name, None)
    if check is None:
        return None
    try:
        return bool(check())
    except RuntimeError:
        return None


def onednn_bf16() -> bool:
    """oneDNN's own bf16 check. On x86 it is true on any AVX-512 CPU (bw/vl/dq) and on AVX2 CPUs
    with AVX-NE-CONVERT, where bf16 is *emulated* in fp32 units unless AVX512-BF16/AMX is present,
    so there it does not mean native bf16. On ARM it asks for the BF16 extension."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def native_bf16() -> bool:
    """True when this CPU multiplies bf16 matrices in hardware.

    x86: AVX512-BF16 or AMX (torch's cpuinfo checks). Without them PyTorch emulates bf16 and a
    matrix product is tens of times slower than fp32 (measured 0.8 vs 30 GFLOP/s on an AVX2-only
    machine). Elsewhere (ARM) oneDNN's check, which there asks for the BF16 extension itself.
    """
    if platform.machine().lower() in _X86:
        return any(_torch_check(n) for n in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return onednn_bf16()


def auto_precision(device_type: str = "cpu") -> str:
    """The one rule behind ``precision: auto`` and ``--dtype auto``: ``"bf16"`` where the device
    computes in bf16 natively (a CUDA GPU that supports it, a CPU with native bf16), else ``"fp32"``."""
    import torch

    if device_type == "cuda":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    if device_type == "cpu":
        return "bf16" if native_bf16() else "fp32"
    return "fp32"  # MPS, XPU, ...: not measured here; fp32 is always correct


def cpu() -> dict:
    """Facts about this CPU that change speed or numbers."""
    import torch

    name, flags = _proc_cpuinfo()
    native = native_bf16()
    info = {
        "model": name or platform.processor() or None,
        "arch": platform.machine(),
        "native_bf16": native,
        "torch_isa": torch.backends.cpu.get_cpu_capability(),  # the kernels torch's own ops dispatch to
        "onednn_bf16": onednn_bf16(),
        "amx": bool(_torch_check("_is_amx_tile_supported")),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    with contextlib.suppress(AttributeError):
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    if flags is not None:
        info["flags"] = {flag: flag in flags for flag in CPU_FLAGS}
    info["kind"] = cpu_kind(info)
    return info


def cpu_kind(info: Mapping) -> str:
    """A short label for the class of CPU: what decides ``auto`` and which kernels run."""
    isa = str(info.get("torch_isa") or info.get("arch") or "unknown")
    if info.get("native_bf16"):
        flags = info.get("flags") or {}
        if info.get("amx") or flags.get("amx_bf16"):
            return "AMX-BF16 (native bf16)"
        if str(info.get("arch", "")).lower() in _X86:
            return "AVX512-BF16 (native bf16)"
        return f"{info.get('arch')} BF16 (native bf16)"
    return f"{isa} (no native bf16)"


def device(torch_device: Any = None) -> dict:
    """The device a stage computed on: the one given (a model's or accelerator's), else the default."""
    import torch

    kind = torch.device(torch_device).type if torch_device is not None else (
        "cuda" if torch.cuda.is_available() else "cpu")
    found = {"type": kind}
    if kind == "cuda" and torch.cuda.is_available():
        index = torch.device(torch_device).index if torch_device is not None else None
        found["name"] = torch.cuda.get_device_name(index or 0)
        found["count"] = torch.cuda.device_count()
        found["bf16"] = bool(torch.cuda.is_bf16_supported())
    return found


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment(torch_device: Any = None) -> dict:
    """Everything about the machine and libraries that a result depends on (no precision)."""
    return {
        "native_bf16": native_bf16(),
        "cpu": cpu(),
        "device": device(torch_device),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "env": {k: os.environ[k] for k in ENV_KNOBS if k in os.environ},
    }


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
    from lingalign.artifacts import read_manifest

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


def _threads(n: int) -> str:
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
        machine += f", {_threads(cpu_info['torch_threads'])}"
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


# ---- the `lingalign env` verb ------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the facts as JSON (paste into a bug report)")


def main(args: argparse.Namespace) -> int:
    from lingalign.artifacts import versions

    facts = environment()
    auto = {"train": auto_precision(facts["device"]["type"]), "eval": auto_precision(facts["device"]["type"])}
    if args.json:
        print(json.dumps({**facts, "auto_precision": auto, "versions": versions()}, indent=2, sort_keys=True))
        return 0
    info = facts["cpu"]
    print(f"lingalign {_version('lingalign') or 'unknown'} · Python {platform.python_version()} · {platform.platform()}")
    print(f"torch {facts['torch']} (kernels: {info['torch_isa']}, {_threads(info['torch_threads'])}) · "
          f"transformers {facts['transformers']}")
    usable = f", {info['usable_cpus']} usable" if "usable_cpus" in info else ""
    print(f"CPU: {info['model'] or 'unknown model'} ({info['arch']}, {info['logical_cpus']} logical CPUs{usable})")
    print(f"  kind: {info['kind']}")
    if "flags" in info:
        print("  flags: " + ", ".join(f"{flag} {'yes' if on else 'no'}" for flag, on in info["flags"].items()))
    print(f"  oneDNN bf16 kernels: {'yes' if info['onednn_bf16'] else 'no'}"
          + (" (emulated on AVX-512 without AVX512-BF16/AMX)" if info["onednn_bf16"] and not info["native_bf16"] else ""))
    gpu = facts["device"]
    print(f"device: {gpu['type']}" + (f" ({gpu['name']}, {gpu['count']} GPU(s), bf16 {'yes' if gpu['bf16'] else 'no'})"
                                      if gpu["type"] == "cuda" else ""))
    print(f"precision auto here: training {auto['train']}, evaluation {auto['eval']} (both on {gpu['type']})")
    if facts["env"]:
        print("environment: " + " ".join(f"{k}={v}" for k, v in facts["env"].items()))
    others = {k: v for k, v in versions().items() if k not in ("torch", "transformers", "python", "platform", "lingalign")}
    print("packages: " + ", ".join(f"{k} {v}" for k, v in others.items()))
    return 0
