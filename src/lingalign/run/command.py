"""Run a whole experiment from one recipe: data -> train -> eval -> analysis -> report.

An experiment recipe names a base model, named datasets (data-stage recipes), the models to train
(each on one dataset, with optional overrides of the shared ``train:`` section), the evaluation
tasks, and optionally an alignment analysis. A model may start from another model of the run
(``init:``, staged training). ``lingalign run RECIPE -o DIR`` executes the steps in order. Each
step is cached by the fingerprint of its inputs and settings (``DIR/steps/*.json``), so a second
run does nothing, and a run killed at any point resumes: finished steps are skipped, training
continues from its last checkpoint and evaluation from its last written prediction.
Before any work, every input the pending steps need is checked to exist, so a typo in a path fails
in a second, not after hours of training. See docs/run.md.

Layout of DIR (the report and the stages read the same files):

    recipe.yaml                 the recipe as given (resolved, when it has include: files or --set)
    run_log.jsonl               what each step did, appended
    steps/<stage>__<name>.json  one marker per finished step (its fingerprint)
    data/<dataset>/             lingalign data build         models/<model>/ lingalign train
    eval/<model>/               lingalign eval               analysis/align/ lingalign analyze align
    launch/<model>.yaml         resolved train recipe of a step started with `accelerate launch`
    merged/<model>/             a LoRA adapter (lora.merge: false) merged, for a model that starts from it (init:)
    report.html                 lingalign report
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from lingalign.artifacts import read_text, write_text
from lingalign.catalog.shipped import recipe_argument
from lingalign.errors import UserError
from lingalign.output_lock import output_lock
from lingalign.run.describe import describe
from lingalign.run.execute import execute
from lingalign.run.fingerprints import step_keys
from lingalign.run.inputs import missing_inputs
from lingalign.run.plan import Plan


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="experiment recipe (YAML), e.g. recipes/quickstart.yaml, or the name of a "
                        "shipped one (quickstart, study/zh: `lingalign recipes list`)")
    parser.add_argument("-o", "--output", required=True, help="run folder (created; re-use it to resume)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan, what is cached and what is missing; load and run nothing")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe key (YAML value), e.g. --set train.precision=fp32 "
                        "--set evaluate.dtype=float32; DIR/recipe.yaml records the recipe as run")


def main(args: argparse.Namespace) -> int:
    recipe_path = recipe_argument(args.recipe)  # a path, or a shipped recipe's name
    out = Path(args.output)
    plan = Plan(recipe_path, out, args.set)
    keys = step_keys(plan)
    print(describe(plan, keys), flush=True)
    if args.dry_run:
        return 0
    problems = missing_inputs(plan, keys.pending)
    if problems:
        raise UserError(f"{recipe_path}: " + "; ".join(problems),
                        hint="fix the paths (relative paths are relative to the recipe's folder) and run again")
    with output_lock(out):  # one run per folder: a second one names the process that holds it
        return _run(args, recipe_path, out, plan)


def _run(args: argparse.Namespace, recipe_path: Path, out: Path, plan: Plan) -> int:
    text = read_text(recipe_path)
    if args.set or plan.included:  # what ran: the recipe with its includes and overrides applied, in one file
        header = f"# {recipe_path}"  # (its comments stay in the original)
        header += f" including {', '.join(map(str, plan.included))}" if plan.included else ""
        header += " with " + " ".join(f"--set {pair}" for pair in args.set) if args.set else ""
        text = header + "\n" + yaml.safe_dump(plan.data, sort_keys=False, allow_unicode=True)
    if not (out / "recipe.yaml").exists() or read_text(out / "recipe.yaml") != text:
        write_text(out / "recipe.yaml", text)
    start = time.time()
    report = execute(plan)
    print(f"finished in {time.time() - start:.0f} s\nreport: {report.resolve()}")
    return 0
