"""``lingalign data``: build a CoIT/MuIT training set from a recipe, or show one.

  lingalign data build RECIPE -o DIR [--force]   write DIR/train.jsonl and DIR/manifest.json
  lingalign data show DIR                        counts from the manifest and three example records
  lingalign data translate FILE --to el -o DIR   English instructions -> DIR/translated.jsonl (Alpaca-X)
  lingalign data pairs [RECIPE] -o DIR           preference pairs from translation consistency (MAPO)
  lingalign data pairs --import FILE -o DIR      an existing {prompt, chosen, rejected} file as a data folder
"""

from __future__ import annotations

import argparse
import json
import os
from itertools import islice
from pathlib import Path

from lingalign.artifacts import read_manifest
from lingalign.catalog.shipped import recipe_argument
from lingalign.config import SAMPLE_PREFIX, apply_overrides, model_ref, read_yaml, validate
from lingalign.data.build import build_dataset
from lingalign.data.pairs import PAIRS_FILE, build_pairs
from lingalign.data.pairs_import import import_pairs
from lingalign.data.pairs_recipe import PairsRecipe
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
    _add_pairs(sub)


def _add_pairs(sub) -> None:
    pairs = sub.add_parser(
        "pairs", help="preference pairs from translation consistency (MAPO), resumably; or --import a pairs file",
        description="Sample k answers per prompt in language X from the model, answer the English prompt once, "
                    "score each X answer by the mean log-probability of the English answer given it under a "
                    "translation model, and pair the best with the worst. Flags override the recipe's keys; "
                    "without a recipe, --prompts and --lang are needed.")
    pairs.add_argument("recipe", nargs="?", help="YAML recipe (its pairs: section, or the whole file)")
    pairs.add_argument("-o", "--out", required=True, help="output folder (re-use it to resume)")
    pairs.add_argument("--import", dest="import_file", metavar="FILE", default=None,
                       help="check an existing {prompt, chosen, rejected} (or {instruction, input, chosen, "
                            "rejected}) .jsonl / .json list and write it as a data folder")
    pairs.add_argument("--prompts", default=None,
                       help="parallel prompts: a Moses prefix (question-zh-en/train -> train.zh + train.en), "
                            "or an instruction .json/.jsonl with --fields and --english-fields")
    pairs.add_argument("--lang", default=None, help="language X of the prompts (zh, de, ...)")
    pairs.add_argument("--fields", default="", help="instructions: X side's keys, e.g. "
                                                    "instruction=zh_instruction,input=zh_input")
    pairs.add_argument("--english-fields", default="", help="instructions: English side's keys, e.g. "
                                                            "instruction=en_instruction,input=en_input")
    pairs.add_argument("--math", action="store_true", help="the prompts are math: an answer without a number "
                                                           "is unparsable")
    for flag, kind, text in (("--model", str, "the model being aligned (default smollm2-135m-instruct)"),
                             ("--count", int, "prompts to use (seeded choice; default all)"),
                             ("--samples", int, "answers per X prompt (default 4)"),
                             ("--temperature", float, "default 0.8"), ("--top-p", float, "default 0.95"),
                             ("--max-new-tokens", int, "default 256"), ("--seed", int, "default 0"),
                             ("--batch-size", int, "rows per generation batch (default 16)"),
                             ("--scorer", str, "translation model (default: the model itself)"),
                             ("--min-margin", float, "least best-worst score difference kept (default 0)")):
        pairs.add_argument(flag, type=kind, default=None, help=text)
    pairs.add_argument("--backend", choices=["hf", "vllm"], default=None)
    pairs.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override any recipe key (prompts.path=..., chunk_size=4)")
    pairs.add_argument("--force", action="store_true", help="start over, replacing what DIR holds")


def main(args: argparse.Namespace) -> int:
    if args.data_command == "build":
        manifest = build_dataset(recipe_argument(args.recipe), args.out, force=args.force)
        print(f"{Path(args.out) / 'train.jsonl'}: {summary(manifest)}")
        return 0
    if args.data_command == "show":
        return show(Path(args.folder), args.n)
    if args.data_command == "translate":
        return translate(args)
    if args.data_command == "pairs":
        return pairs(args)
    raise UserError("lingalign data: give a command: build RECIPE -o DIR, show DIR, translate FILE --to X -o DIR, "
                    "or pairs RECIPE -o DIR")


PAIRS_FLAGS = ("model", "count", "samples", "temperature", "top_p", "max_new_tokens", "seed", "batch_size",
               "scorer", "min_margin", "backend")


def pairs(args: argparse.Namespace) -> int:
    if args.import_file:
        if args.recipe or args.prompts:
            raise UserError("lingalign data pairs: --import takes a preference file, not a recipe or --prompts")
        manifest = import_pairs(args.import_file, args.out, force=args.force)
        counts = manifest["counts"]
        print(f"{Path(args.out) / PAIRS_FILE}: {counts['pairs']} pairs of {counts['records']} records "
              f"({counts['dropped_identical']} with chosen == rejected dropped)")
        return 0
    data, source = pairs_recipe_data(args)
    recipe = validate(data, PairsRecipe, source)
    manifest = build_pairs(recipe, args.out, recipe_dir=Path(args.recipe).parent if args.recipe else None,
                           force=args.force)
    counts = manifest["counts"]
    lost = ", ".join(f"{k} {counts[k]}" for k in ("tie", "below_margin", "too_few_parsable", "english_unusable")
                     if counts.get(k))
    unparsable = ", ".join(f"{k} {v}" for k, v in counts["unparsable"].items())
    print(f"{Path(args.out) / PAIRS_FILE}: {counts['pairs']} pairs from {counts['prompts']} {manifest['lang']} "
          f"prompts x {manifest['config']['samples']} samples; no pair: {lost or 'none'}; "
          f"unparsable samples: {unparsable or 'none'} ({manifest['seconds']} s sampling and scoring)")
    return 0


def pairs_recipe_data(args: argparse.Namespace) -> tuple[dict, str]:
    """The recipe as a mapping: the file's ``pairs:`` section (or whole file), then the flags, then ``--set``."""
    data, source = {}, "lingalign data pairs"
    if args.recipe:
        data = read_yaml(args.recipe)
        source = str(args.recipe)
        if isinstance(data, dict) and "pairs" in data:
            data, source = data["pairs"], f"{args.recipe} [pairs]"
        if not isinstance(data, dict):
            raise UserError(f"{source}: expected a mapping of keys to values")
        data = dict(data)
    if args.prompts:
        data["prompts"] = prompt_source(args)
    elif args.lang or args.fields or args.english_fields:
        raise UserError("lingalign data pairs: --lang, --fields and --english-fields go with --prompts")
    elif not args.recipe:
        raise UserError("lingalign data pairs: give a RECIPE, or --prompts PATH --lang X (or --import FILE)",
                        hint="e.g. --prompts sample:gsm8kinstruct/question-zh-en/train --lang zh --math")
    if args.math:
        data["answers"] = "math"
    for key in PAIRS_FLAGS:
        if getattr(args, key) is not None:
            value = getattr(args, key)
            data[key] = model_ref(value, None) if key in ("model", "scorer") else value
    return apply_overrides(data, args.overrides), source


def prompt_source(args: argparse.Namespace) -> dict:
    """``--prompts`` as a recipe's ``prompts:``: an instruction file (.json/.jsonl) or a bitext prefix."""
    if not args.lang:
        raise UserError("lingalign data pairs: --prompts needs --lang X (the prompts' language)")
    # a path on the command line is read from the current folder, not from the recipe's
    path = args.prompts if args.prompts.startswith(SAMPLE_PREFIX) else os.path.abspath(args.prompts)
    if args.prompts.endswith((".json", ".jsonl")) and (args.fields or args.english_fields):
        return {"kind": "instructions", "path": path, "lang": args.lang,
                "fields": parse_fields(args.fields, ("instruction", "input")),
                "english_fields": parse_fields(args.english_fields, ("instruction", "input"))}
    if args.fields or args.english_fields:
        raise UserError("lingalign data pairs: --fields and --english-fields are for a .json/.jsonl instruction file")
    return {"kind": "bitext", "path": path, "languages": [args.lang, "en"]}


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


def parse_fields(text: str, ours_allowed: tuple[str, ...] = ("instruction", "input", "output")) -> dict[str, str]:
    """``instruction=en_instruction,output=en_output`` -> a field mapping, as a recipe's ``fields``."""
    fields = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        ours, sep, theirs = item.partition("=")
        if not sep or ours.strip() not in ours_allowed or not theirs.strip():
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


def pairs_summary(manifest: dict) -> str:
    counts = manifest.get("counts", {})
    lines = [f"{counts.get('pairs', 0)} preference pairs (fingerprint {manifest.get('fingerprint')})"]
    lines += [f"  {key:<17} {value}" for key, value in counts.items() if key != "pairs" and value]
    return "\n".join(lines)


def show(folder: Path, n: int) -> int:
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("stage") not in ("data", "pairs"):
        raise UserError(f"{folder}: no finished data build here (no data manifest.json)",
                        hint="build one with: lingalign data build RECIPE -o DIR (or data pairs)")
    print(summary(manifest) if manifest["stage"] == "data" else pairs_summary(manifest))
    with open(folder / "train.jsonl", encoding="utf-8") as handle:
        for line in islice(handle, n):
            print(json.dumps(json.loads(line), ensure_ascii=False, indent=1))
    return 0
