"""What produced a number: the precision each stage computed in, and the machine it ran on.

The same recipe gives different numbers on different machines, and the reader of a result must be
able to tell why. ``precision: auto`` (training) and ``--dtype auto`` (evaluation) compute in bf16
only where the hardware has native bf16 (a CUDA GPU that supports it, or a CPU with AVX512-BF16 or
AMX), and in fp32 elsewhere, so the same ``make quickstart`` runs in bf16 on one machine and in
fp32 on another. Even in fp32, oneDNN and MKL pick their kernels by instruction set, so an AVX-512
CPU and an AVX2 CPU can differ in the last bits, and greedy decoding can then take another branch.

This package holds the one rule for ``auto`` (:func:`auto_precision`, used by training and
evaluation alike; ``machine``) and the block every result carries (:func:`provenance`; ``record``):
the precision of each stage, whether the CPU has native bf16, its kind and features, torch's thread
count, the device, and the torch and transformers versions. ``lingalign env`` (``command``) prints
the same facts for a bug report. The names below are the package's public API.
"""

from lingalign.provenance.machine import (
    CPU_FLAGS,
    ENV_KNOBS,
    auto_precision,
    cpu,
    cpu_kind,
    device,
    environment,
    native_bf16,
    onednn_bf16,
    package_version,
    parse_cpuinfo,
)
from lingalign.provenance.record import (
    SHORT,
    describe,
    differences,
    for_evaluation,
    key_facts,
    provenance,
    short,
    summarize,
    trained_with,
)

__all__ = ["CPU_FLAGS", "ENV_KNOBS", "SHORT", "auto_precision", "cpu", "cpu_kind", "describe", "device", "differences",
           "environment", "for_evaluation", "key_facts", "native_bf16", "onednn_bf16", "package_version",
           "parse_cpuinfo", "provenance", "short", "summarize", "trained_with"]
