"""``lingalign env``: print the CPU, precision auto, device and versions that results depend on."""

from __future__ import annotations

import argparse
import json
import platform

from lingalign.artifacts import versions
from lingalign.provenance.machine import auto_precision, environment, package_version
from lingalign.provenance.record import threads


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the facts as JSON (paste into a bug report)")


def main(args: argparse.Namespace) -> int:
    facts = environment()
    auto = {"train": auto_precision(facts["device"]["type"]), "eval": auto_precision(facts["device"]["type"])}
    if args.json:
        print(json.dumps({**facts, "auto_precision": auto, "versions": versions()}, indent=2, sort_keys=True))
        return 0
    info = facts["cpu"]
    print(f"lingalign {package_version('lingalign') or 'unknown'} · Python {platform.python_version()} · "
          f"{platform.platform()}")
    print(f"torch {facts['torch']} (kernels: {info['torch_isa']}, {threads(info['torch_threads'])}) · "
          f"transformers {facts['transformers']}")
    usable = f", {info['usable_cpus']} usable" if "usable_cpus" in info else ""
    print(f"CPU: {info['model'] or 'unknown model'} ({info['arch']}, {info['logical_cpus']} logical CPUs{usable})")
    print(f"  kind: {info['kind']}")
    if "flags" in info:
        print("  flags: " + ", ".join(f"{flag} {'yes' if on else 'no'}" for flag, on in info["flags"].items()))
    emulated = info["onednn_bf16"] and not info["native_bf16"]
    print(f"  oneDNN bf16 kernels: {'yes' if info['onednn_bf16'] else 'no'}"
          + (" (emulated on AVX-512 without AVX512-BF16/AMX)" if emulated else ""))
    gpu = facts["device"]
    print(f"device: {gpu['type']}" + (f" ({gpu['name']}, {gpu['count']} GPU(s), bf16 {'yes' if gpu['bf16'] else 'no'})"
                                      if gpu["type"] == "cuda" else ""))
    print(f"precision auto here: training {auto['train']}, evaluation {auto['eval']} (both on {gpu['type']})")
    if facts["env"]:
        print("environment: " + " ".join(f"{k}={v}" for k, v in facts["env"].items()))
    shown = ("torch", "transformers", "python", "platform", "lingalign")
    others = {k: v for k, v in versions().items() if k not in shown}
    print("packages: " + ", ".join(f"{k} {v}" for k, v in others.items()))
    return 0
