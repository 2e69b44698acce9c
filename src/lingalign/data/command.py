"""``lingalign data``: build a CoIT/MuIT training set from a recipe, or show one.

  lingalign data build RECIPE -o DIR [--force]   write DIR/train.jsonl and DIR/manifest.json
  lingalign data show DIR                        counts from the manifest and three example records
"""

from __future__ import annotations

import argparse
import json
from itertools import islice
from pathlib import Path

from lingalign.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="data_command", metavar="COMMAND")
    build = sub.add_parser("build", help="build train.jsonl + manifest.json from a recipe's data: section")
    build.add_argument("recipe", help="YAML recipe (its data: section, or the whole file)")
    build.add_argument("-o", "--out", required=True, help="output folder")
    build.add_argument("--force", action="store_true", help="rebuild even if DIR holds the same build")
    show = sub.add_parser("show", help="print a built data folder's counts and a few records")
    show.add_argument("folder")
    show.add_argument("-n", type=int, default=3, help="how many example records (default 3)")


def main(args: argparse.Namespace) -> int:
    if args.data_command == "build":
        from lingalign.data.build import build_dataset

        manifest = build_dataset(args.recipe, args.out, force=args.force)
        print(f"{Path(args.out) / 'train.jsonl'}: {summary(manifest)}")
        return 0
    if args.data_command == "show":
        return show(Path(args.folder), args.n)
    raise UserError("lingalign data: give a command: build RECIPE -o DIR, or show DIR")


def summary(manifest: dict) -> str:
    counts = manifest.get("counts", {})
    lines = [f"{counts.get('records', 0)} records (seed {manifest.get('seed')}, fingerprint {manifest.get('fingerprint')})"]
    for key in ("by_source", "by_lang", "by_task", "by_direction"):
        if counts.get(key):
            lines.append(f"  {key[3:]:<9} " + ", ".join(f"{k} {v}" for k, v in counts[key].items()))
    for source, drops in (manifest.get("dropped") or {}).items():
        if drops:
            lines.append(f"  dropped from {source}: " + ", ".join(f"{k} {v}" for k, v in drops.items()))
    return "\n".join(lines)


def show(folder: Path, n: int) -> int:
    from lingalign.artifacts import read_manifest

    manifest = read_manifest(folder)
    if manifest is None or manifest.get("stage") != "data":
        raise UserError(f"{folder}: no finished data build here (no data manifest.json)",
                        hint="build one with: lingalign data build RECIPE -o DIR")
    print(summary(manifest))
    with open(folder / "train.jsonl", encoding="utf-8") as handle:
        for line in islice(handle, n):
            print(json.dumps(json.loads(line), ensure_ascii=False, indent=1))
    return 0
