"""Write one self-contained HTML report of a run folder: scores, curves, alignment, scaling, config."""

from __future__ import annotations

import argparse
from pathlib import Path

from lingalign.artifacts import write_text
from lingalign.errors import UserError
from lingalign.report.collect import collect


def write_report(run_dir: str | Path, output: str | Path | None = None, extra: list | None = None) -> Path:
    """Collect a run folder and write ``report.html`` (or ``output``); returns its path.

    ``extra``: more results files shown as more models (a lingalign results.json, or an lm-eval
    ``--output_path`` results file, matched to the run's tasks by name)."""
    from lingalign.report.html import render  # matplotlib: not at `lingalign --help`, which imports this module

    run = Path(run_dir)
    if not run.is_dir():
        raise UserError(f"{run}: run folder not found")
    found = collect(run, extra)
    if not (found["results"] or found["train_curves"] or found["alignment"] or found["scaling_law"]):
        raise UserError(f"{run}: nothing to report yet (no eval/*/results.json, models/*/train_log.jsonl,"
                        " analysis or scaling outputs)")
    target = Path(output) if output else run / "report.html"
    write_text(target, render(found))
    return target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a folder written by `lingalign run` (or laid out the same way)")
    parser.add_argument("-o", "--output", help="HTML file to write (default: RUN_DIR/report.html)")
    parser.add_argument("--results", action="append", metavar="FILE",
                        help="one more model's results: a lingalign results.json or an lm-evaluation-harness "
                        "results file (lm_eval --output_path); tasks are matched by name (repeatable)")


def main(args: argparse.Namespace) -> int:
    path = write_report(args.run_dir, args.output, args.results)
    print(f"report: {path.resolve()}")
    return 0
