"""``lingalign data``: build a CoIT/MuIT training set from a recipe, or show one.

  lingalign data build RECIPE -o DIR [--force]   write DIR/train.jsonl and DIR/manifest.json
  lingalign data show DIR                        counts from the manifest and three example records
  lingalign data translate FILE --to el -o DIR   English instructions -> DIR/translated.jsonl (Alpaca-X)
"""

from __future__ import annotations

import argparse
import json
from itertools import islice
from pathlib import Path

from lingalign.artifacts import read_manifest
from lingalign.catalog.shipped import recipe_argument
from lingalign.config import validate
from lingalign.data.build import build_dataset
from lingalign.data.recipe import TranslateSpec
from lingalign.data.translate import TRANSLATED_FILE, translate_set
from lingalign.errors import UserError
from lingalign.models import DEFAULT_MODEL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="data_command", metavar="COMMAND")
    build = sub.add_parser("build", help="build train.jsonl + manifest.json from a recipe's data: section")
    build.add_argument("recipe", help="YAML recipe (its data: section, or the whole file), or a shipped one's name")
    build.add_argument("-o", "--out", required=True, help="output folder")
    build.add_argument("--force", action="store_true", help="rebuild even if DIR holds the same build")
    show = sub.add_parser("show", help="print a built data folder's counts and a few records")
    show.add_argument("folder")
    show.add_argument("-n", type=int, default=3, help="how many example records (default 3)")
    tr = sub.add_parser("translate", help="machine-translate an instruction set (Alpaca-X), resumably")
    tr.add_argument("input", help="Alpaca-style .json list or .jsonl of {instruction, input, output}")
    tr.add_argument("--to", required=True, help="target language code (el, hi, zh, ...)")
    tr.add_argument("-o", "--out", required=True, help="output folder (re-use it to resume)")
    tr.add_argument("--model", default=None,
                    help="MT model folder (Marian, NLLB, M2M-100) or causal LM (default: smollm2-135m-instruct)")
    tr.add_argument("--from", dest="source_lang", default="en", help="language of the input (default en)")
    tr.add_argument("--fields", default="",
                    help="map our names to the file's keys: instruction=en_instruction,input=en_input,output=en_output")
    tr.add_argument("--format", choices=["json", "jsonl"], default=None, help="default: from the file name")
    tr.add_argument("--limit", type=int, default=None, help="only the first N records")
    tr.add_argument("--chunk-size", type=int, default=None, help="records per unit of work (default 16)")
    tr.add_argument("--batch-size", type=int, default=None, help="pieces per generation batch (default 16)")
    tr.add_argument("--max-new-tokens", type=int, default=None, help="ceiling per piece (default 256)")
    tr.add_argument("--backend", choices=["hf", "vllm"], default=None)
    tr.add_argument("--dtype", default=None, help="auto (default), float32, bfloat16")
    tr.add_argument("--prompt-format", choices=["auto", "alpaca", "chat"], default=None, help="causal LMs only")
    tr.add_argument("--target-code", default=None, help="the model's own code for the target (NLLB arb_Arab, ...)")
    tr.add_argument("--no-langid", action="store_true", help="do not drop translations detected as another language")
    tr.add_argument("--max-length-ratio", type=float, default=None,
                    help="default 4.0, either way (characters, East Asian wide ones counting 3)")
    tr.add_argument("--force", action="store_true", help="translate again even if DIR holds this translation")


def main(args: argparse.Namespace) -> int:
    if args.data_command == "build":
        manifest = build_dataset(recipe_argument(args.recipe), args.out, force=args.force)
        print(f"{Path(args.out) / 'train.jsonl'}: {summary(manifest)}")
        return 0
    if args.data_command == "show":
        return show(Path(args.folder), args.n)
    if args.data_command == "translate":
        return translate(args)
    raise UserError("lingalign data: give a command: build RECIPE -o DIR, show DIR, or translate FILE --to X -o DIR")


def translate(args: argparse.Namespace) -> int:
    spec = {"model": args.model or DEFAULT_MODEL, "from": args.source_lang}
    for key in ("limit", "chunk_size", "batch_size", "max_new_tokens", "backend", "dtype", "prompt_format",
                "target_code"):
        if getattr(args, key) is not None:
            spec[key] = getattr(args, key)
    filters = {}
    if args.no_langid:
        filters["langid"] = False
    if args.max_length_ratio is not None:
        filters["max_length_ratio"] = args.max_length_ratio
    if filters:
        spec["filters"] = filters
    spec = validate(spec, TranslateSpec, "lingalign data translate")
    manifest = translate_set(args.input, args.out, args.to, spec, fmt=args.format, fields=parse_fields(args.fields),
                             force=args.force)
    counts = manifest["counts"]
    drops = ", ".join(f"{k} {v}" for k, v in counts["by_reason"].items()) or "none"
    print(f"{Path(args.out) / TRANSLATED_FILE}: {counts['kept']} of {counts['records']} records "
          f"({counts['pass_rate']:.0%}) {manifest['direction']}; dropped: {drops}")
    return 0


def parse_fields(text: str) -> dict[str, str]:
    """``instruction=en_instruction,output=en_output`` -> a field mapping, as a recipe's ``fields``."""
    fields = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        ours, sep, theirs = item.partition("=")
        if not sep or ours.strip() not in ("instruction", "input", "output") or not theirs.strip():
            raise UserError(f"--fields: cannot read {item!r}", hint="e.g. instruction=en_instruction,output=en_output")
        fields[ours.strip()] = theirs.strip()
    return fields


def summary(manifest: dict) -> str:
    counts = manifest.get("counts", {})
    lines = [f"{counts.get('records', 0)} records"
             f" (seed {manifest.get('seed')}, fingerprint {manifest.get('fingerprint')})"]
    for key in ("by_source", "by_lang", "by_task", "by_direction"):
        if counts.get(key):
            lines.append(f"  {key[3:]:<9} " + ", ".join(f"{k} {v}" for k, v in counts[key].items()))
    for source, drops in (manifest.get("dropped") or {}).items():
        if drops:
            lines.append(f"  dropped from {source}: " + ", ".join(f"{k} {v}" for k, v in drops.items()))
    return "\n".join(lines)


def show(folder: Path, n: int) -> int:
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("stage") != "data":
        raise UserError(f"{folder}: no finished data build here (no data manifest.json)",
                        hint="build one with: lingalign data build RECIPE -o DIR")
    print(summary(manifest))
    with open(folder / "train.jsonl", encoding="utf-8") as handle:
        for line in islice(handle, n):
            print(json.dumps(json.loads(line), ensure_ascii=False, indent=1))
    return 0
