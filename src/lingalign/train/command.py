"""``lingalign train``: fine-tune a causal LM on a data-stage folder.

  lingalign train RECIPE --data DATA -o OUT [--resume] [--force] [--max-steps N] [--set key=value ...]
  lingalign train --export-merged ADAPTER_DIR -o OUT

RECIPE is a YAML file; its ``train:`` section (or the whole file) follows
``lingalign.train.recipe.TrainConfig``. DATA is a data-stage folder (its ``train.jsonl`` is read), a
``.jsonl`` file, or ``sample:PATH`` (a file shipped in ``lingalign/samples``).
Multi-process: ``accelerate launch -m lingalign.cli train ...``
or ``torchrun --nproc_per_node N -m lingalign.cli train ...``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lingalign.catalog.shipped import recipe_argument
from lingalign.config import apply_overrides, read_yaml, resolve_path, validate
from lingalign.errors import UserError
from lingalign.train.export import export_merged
from lingalign.train.recipe import TrainConfig
from lingalign.train.stage import train


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", nargs="?",
                        help="YAML recipe (its train: section, or the whole file), or a shipped one's name")
    parser.add_argument("--data", help="data-stage folder holding train.jsonl, a .jsonl file, or sample:PATH")
    parser.add_argument("-o", "--out", required=True, help="output model folder")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in OUT.work/")
    parser.add_argument("--force", action="store_true", help="replace an existing output or unfinished run")
    parser.add_argument("--max-steps", type=int, help="stop after N optimizer steps (the schedule is sized to N)")
    parser.add_argument("--stop-after", type=int, help="checkpoint and exit after N steps; continue with --resume")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe key (YAML value), e.g. --set learning_rate=1e-4 --set lora.r=8")
    parser.add_argument("--start-fingerprint", metavar="FP",
                        help="what made the starting model (lingalign run passes a staged model's upstream "
                        "fingerprint); part of this run's identity")
    parser.add_argument("--export-merged", metavar="ADAPTER_DIR",
                        help="merge a LoRA adapter into its base model and save to OUT")


def load_config(recipe: str | None, overrides: list[str]):
    data, source, base = {}, "--set", None
    if recipe:
        data = read_yaml(recipe) or {}
        source, base = recipe, Path(recipe).parent
        if isinstance(data, dict) and "train" in data:
            data, source = data["train"], f"{recipe} [train]"
    config = validate(apply_overrides(dict(data or {}), overrides), TrainConfig, source)
    if base is not None:
        config = config.model_copy(update={"model": _local(str(config.model), base)})
        if config.dpo is not None and config.dpo.reference_model is not None:
            dpo = config.dpo.model_copy(update={"reference_model": _local(config.dpo.reference_model, base)})
            config = config.model_copy(update={"dpo": dpo})
    return config


def _local(model: str, base: Path) -> str:
    """A model path written in a recipe is read from the recipe's folder; aliases and hub ids stay as written."""
    local = resolve_path(model, base)
    return str(local) if model.startswith(("sample:", ".", "~")) or local.exists() else model


def main(args: argparse.Namespace) -> int:
    if args.export_merged:
        print(export_merged(args.export_merged, args.out))
        return 0
    if not args.data:
        raise UserError("lingalign train: --data DATA_DIR is required")
    config = load_config(str(recipe_argument(args.recipe)) if args.recipe else None, args.set)
    result = train(config, args.data, args.out, args.resume, force=args.force,
                   max_steps=args.max_steps, stop_after=args.stop_after, start=args.start_fingerprint)
    print(result)
    return 0
