"""Score a model on XQuAD, MLQA, FLORES, NTREX, MGSM, MSVAMP, XCOPA or your own sets; compare results files.

  lingalign eval --model PATH --task xquad-zh,flores-en-zh -o DIR [--limit N] [--processes N]
  lingalign eval --list [--data-root DIR]
  lingalign eval --compare A B [C ...] [--bootstrap 1000] [--json FILE]   (run folders, results.json,
                                                                          or lm-eval results files)
  lingalign eval --export-lm-eval DIR --task xcopa-zh,mgsm-zh [--model M] [--limit N]

Writes DIR/results.json (all metric values are percentages 0-100), DIR/predictions/<task>.jsonl
(resumable: a re-run generates only what is missing) and prints a table. With --bootstrap N,
--compare also tests each later run against the first (the baseline): the difference per task and
metric with its paired bootstrap 95% interval over the shared examples. --export-lm-eval writes the
tasks as lm-evaluation-harness tasks with the same prompts (see lm_eval_export.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lingalign import artifacts
from lingalign.config import load_recipe
from lingalign.errors import UserError
from lingalign.evaluate.lm_eval_export import export_tasks
from lingalign.evaluate.recipe import EvalRecipe
from lingalign.evaluate.runner import evaluate, resolve_tasks
from lingalign.evaluate.significance import compare_runs
from lingalign.evaluate.tables import bootstrap_rows, compare_rows, print_table, render, run_provenance, table_rows
from lingalign.launching import launcher, run_launcher
from lingalign.models import load_tokenizer, resolve_model
from lingalign.output_lock import output_lock
from lingalign.prompting import PROMPT_FORMATS, is_pivot, read_model_prompt_format
from lingalign.tasks.base import default_data_root
from lingalign.tasks.registry import available_tasks, family_forms
from lingalign.tasks.user_sets import load_user_set


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--model", help="model folder, LoRA adapter, .gguf, hub id, or 'smollm2-135m-instruct'")
    parser.add_argument("--task", help="comma-separated task names (see --list) or names of recipe sets")
    parser.add_argument("-o", "--out", help="output folder for results.json and predictions/")
    parser.add_argument("--recipe", help="YAML recipe whose eval: section names tasks and user sets")
    parser.add_argument("--limit", type=int, help="score only the first N examples of each task")
    parser.add_argument("--split", choices=["dev", "devtest"], help="FLORES split (default devtest, as the paper)")
    parser.add_argument("--data-root", help="folder laid out like flores101/, xquad/, mlqa-dev/, ntrex128/ "
                        "(default: the samples shipped with lingalign)")
    parser.add_argument("--batch-size", type=int, help="prompts per generation batch (default 16)")
    parser.add_argument("--max-new-tokens", type=int, help="override the per-task cap (QA 48, translation 256, "
                        "MGSM direct 64, step by step 512)")
    parser.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"],
                        help="auto (default): bfloat16 where the hardware computes in it, else float32")
    parser.add_argument("--prompt-format", choices=PROMPT_FORMATS,
                        help="default: what the model folder records (lingalign_model.json), else alpaca")
    parser.add_argument("--backend", choices=["hf", "vllm"], default="hf", help="generation backend (default hf)")
    parser.add_argument("--processes", type=int, metavar="N",
                        help="decode with N processes on this machine (torchrun: one per GPU, or CPU cores); "
                        "the predictions equal a 1-process run's")
    parser.add_argument("--spm", help="FLORES-101 SentencePiece model file, to add spBLEU")
    parser.add_argument("--comet-model", help="local COMET checkpoint folder or .ckpt (needs unbabel-comet)")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow model code from the model folder")
    parser.add_argument("--list", action="store_true", help="show task names and which the data root has")
    parser.add_argument("--compare", nargs="+", metavar="RUN",
                        help="eval output folders (or their results.json), or lm-eval results files "
                        "(lm_eval --output_path), "
                        "to put side by side; the first is the baseline")
    parser.add_argument("--bootstrap", type=int, metavar="N",
                        help="with --compare: paired bootstrap 95%% intervals of each run minus the first, "
                        "N resamples (1000 is usual)")
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstrap draws (default 0)")
    parser.add_argument("--json", metavar="FILE", help="with --compare: also write the values (and intervals) to FILE")
    parser.add_argument("--export-lm-eval", metavar="DIR",
                        help="write the tasks as lm-evaluation-harness task YAMLs and data files in DIR (prompts "
                        "rendered in the prompt format: --prompt-format, else the --model folder's, else alpaca)")


def main(args: argparse.Namespace) -> int:
    if args.compare:
        return _compare(args)
    if args.bootstrap is not None or args.json:
        raise UserError("--bootstrap and --json go with --compare",
                        hint="lingalign eval --compare A B --bootstrap 1000")
    recipe, user_sets = _read_recipe(args.recipe)
    data_root = args.data_root or recipe.data_root
    split = args.split or recipe.split
    if args.list:
        _print_list(Path(data_root) if data_root else None, split, user_sets)
        return 0
    tasks = [t.strip() for t in args.task.split(",") if t.strip()] if args.task else list(recipe.tasks)
    if not tasks and user_sets:
        tasks = list(user_sets)
    model = args.model or recipe.model
    if args.export_lm_eval:
        return _export(args, recipe, user_sets, tasks, model, data_root, split)
    if not model:
        raise UserError("no model given", hint="--model smollm2-135m-instruct (or a model folder)")
    if not args.out:
        raise UserError("no output folder given", hint="-o runs/eval-base")
    if not tasks:
        raise UserError("no tasks given", hint="--task xquad-zh,flores-en-zh (see `lingalign eval --list`)")

    if args.processes is not None and args.processes < 1:
        raise UserError(f"--processes must be at least 1, got {args.processes}")
    if args.processes and args.processes > 1 and "WORLD_SIZE" not in os.environ:
        return _launch(args, args.processes)

    results = evaluate(
        model, tasks, args.out, limit=args.limit if args.limit is not None else recipe.limit, data_root=data_root,
        prompt_format=args.prompt_format or recipe.prompt_format,
        batch_size=args.batch_size if args.batch_size is not None else (recipe.batch_size or 16),
        dtype=args.dtype or recipe.dtype or "auto",
        backend=args.backend, split=split, max_new_tokens=args.max_new_tokens, user_sets=user_sets,
        spm_model=args.spm, comet_model=args.comet_model, trust_remote_code=args.trust_remote_code,
    )
    if int(os.environ.get("RANK", "0")) == 0 and launcher() is None:  # rank 0 reports, or the launching command
        header, rows = table_rows(results)
        print_table(header, rows, title=f"{results['model']} ({results['prompt_format']}; values in %)")
        print(f"wrote {Path(args.out) / 'results.json'}")
    return 0


# options passed on to the launched processes: (argparse dest, flag)
_FORWARDED = [("model", "--model"), ("task", "--task"), ("out", "--out"), ("recipe", "--recipe"),
              ("limit", "--limit"), ("split", "--split"), ("data_root", "--data-root"),
              ("batch_size", "--batch-size"), ("max_new_tokens", "--max-new-tokens"), ("dtype", "--dtype"),
              ("prompt_format", "--prompt-format"), ("backend", "--backend"), ("spm", "--spm"),
              ("comet_model", "--comet-model")]


def _launch(args: argparse.Namespace, processes: int) -> int:
    """Start ``processes`` copies of this command under torchrun (a free local port), wait, report.

    Each gets one CPU thread per core it shares unless OMP_NUM_THREADS says otherwise. SIGTERM,
    SIGHUP or SIGINT to this command stop torchrun and every worker (``lingalign.launching``).
    """
    if args.backend == "vllm":
        raise UserError("--backend vllm runs in one process (vLLM batches and shards by itself)",
                        hint="drop --processes, or use --backend hf")
    child = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
             "-m", "lingalign.cli", "eval"]
    for dest, flag in _FORWARDED:
        value = getattr(args, dest, None)
        if value is not None:
            child += [flag, str(value)]
    child += ["--trust-remote-code"] if args.trust_remote_code else []
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))
    with output_lock(args.out):  # held for the workers, which share it (they are told this process's PID)
        returncode = run_launcher(child, env)  # a signal stops them all and raises launching.Stopped
    if returncode != 0:
        raise UserError(f"the {processes} evaluation processes exited with code {returncode} "
                        "(their messages are above)",
                        hint="run the same command again: finished work units are kept")
    results = artifacts.read_json(Path(args.out) / "results.json")
    header, rows = table_rows(results)
    print_table(header, rows, title=f"{results['model']} ({results['prompt_format']}; values in %; "
                f"{processes} processes)")
    print(f"wrote {Path(args.out) / 'results.json'}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    if args.bootstrap is not None and args.bootstrap < 1:
        raise UserError(f"--bootstrap must be at least 1 resample, got {args.bootstrap}")
    header, rows, notes = compare_rows(args.compare)
    print_table(header, rows, title="lingalign eval --compare (values in %)")
    provenance = run_provenance(args.compare, header[3:])
    for run in provenance:
        print(f"  {run['label']}: {run['summary']}")
    for note in notes:
        print(f"* {note}")
    output = {"runs": [str(p) for p in args.compare], "columns": header, "rows": rows, "notes": notes,
              "provenance": provenance}
    if args.bootstrap is not None:
        comparisons = compare_runs(args.compare, resamples=args.bootstrap, seed=args.bootstrap_seed,
                                   spm_model=args.spm)
        for label, comparison in zip(header[4:], comparisons):
            b_header, b_rows = bootstrap_rows(comparison)
            title = (f"\n{label} minus {header[3]}: paired bootstrap over the shared examples, "
                     f"{args.bootstrap} resamples (seed {args.bootstrap_seed}), 95% intervals")
            print(render(b_header, b_rows, title))  # plain text: never wrapped, pastes into a paper draft
            for note in comparison["notes"]:
                print(f"* {note}")
        output["bootstrap"] = comparisons
    if args.json:
        artifacts.write_json(args.json, output)
        print(f"wrote {args.json}")
    return 0


def _export(args, recipe, user_sets, tasks, model, data_root, split) -> int:
    root = Path(data_root) if data_root else default_data_root()
    if not root.is_dir():
        raise UserError(f"{root}: data root not found")
    limit = args.limit if args.limit is not None else recipe.limit
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}")
    task_list = resolve_tasks(tasks, root, split, user_sets)
    fmt, tokenizer = args.prompt_format or recipe.prompt_format, None
    model_path = None
    if model:
        model_path = resolve_model(model)
        fmt = fmt or read_model_prompt_format(model_path)
    fmt = fmt or "alpaca"
    if is_pivot(fmt) and any(t.kind != "choice" for t in task_list):
        raise UserError(f"prompt format {fmt}: generation tasks are not exported for a pivot model: lm-eval would "
                        "score its English part too (lingalign eval scores only the final part)",
                        hint="export the choice tasks only, or evaluate with lingalign eval")
    if fmt == "chat":
        if not model_path:
            raise UserError("--prompt-format chat needs --model: the prompts are rendered with its chat template")
        tokenizer = load_tokenizer(model_path, trust_remote_code=args.trust_remote_code)
    written = export_tasks(task_list, args.export_lm_eval, fmt=fmt, tokenizer=tokenizer, limit=limit,
                           max_new_tokens=args.max_new_tokens)
    out = Path(args.export_lm_eval).resolve()
    print(f"wrote {len(written)} lm-eval task(s) to {out} (prompt format {fmt}); run them with")
    print("  HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 lm_eval --model hf "
          f"--model_args pretrained={model_path or 'MODEL'} "
          f"--include_path {out} --tasks {','.join(t.name for t in task_list)} --output_path OUT --log_samples")
    return 0


def _read_recipe(path):
    if not path:
        return EvalRecipe(), {}
    recipe = load_recipe(path, EvalRecipe, section="eval")
    base = Path(path).resolve().parent
    names = [s.name for s in recipe.sets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"{path} [eval.sets]: set names must be unique; repeated: {', '.join(duplicates)}")
    return recipe, {s.name: load_user_set(s, base) for s in recipe.sets}


def _print_list(root: Path | None, split: str, user_sets: dict) -> None:
    root = root or default_data_root()
    if not root.is_dir():
        raise UserError(f"{root}: data root not found")
    print(f"data root: {root}  (FLORES split: {split})")
    print(f"task forms: {family_forms()}")
    for family, names in available_tasks(root, split).items():
        print(f"  {family:7s} {' '.join(names) if names else '(none in this data root)'}")
    if user_sets:
        print(f"  recipe  {' '.join(f'{n} ({t.kind})' for n, t in user_sets.items())}")
