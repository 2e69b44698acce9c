"""Facts about this machine that change speed or numbers, and the one rule for ``auto`` precision.

``precision: auto`` (training) and ``--dtype auto`` (evaluation) compute in bf16 only where the
hardware has native bf16 (a CUDA GPU that supports it, or a CPU with AVX512-BF16 or AMX), and in
fp32 elsewhere: :func:`auto_precision`. :func:`environment` gathers the CPU kind and features,
torch's thread count, the device, the library versions and the environment variables that pick
kernels. torch is imported inside the functions: ``lingalign --help`` must stay fast.
"""

from __future__ import annotations

import contextlib
import functools
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
_X86 = ("x86_64", "amd64", "i386", "i686", "x86")


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


def package_version(name: str) -> str | None:
    """The installed version of a distribution, or None."""
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
        "torch": package_version("torch"),
        "transformers": package_version("transformers"),
        "env": {k: os.environ[k] for k in ENV_KNOBS if k in os.environ},
    }
