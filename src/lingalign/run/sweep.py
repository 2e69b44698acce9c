"""``lingalign scaling sweep``: train and evaluate at several translation-data sizes, resumably.

Orchestration (it drives the data, train and evaluation stages), so it lives with ``lingalign run``;
the ``scaling`` verb dispatches its ``sweep`` command here, and ``scaling fit`` reads the CSV it writes.

For each language and size the recipe's ``data:`` section is copied with that language's bitext
source set to ``count: size`` (the other languages' bitext sources removed), built, trained on
with the ``train:`` section, and scored on the language's task. Each finished run appends one
row to ``DIR/points.csv``; a row already there is skipped, and each run works in
``DIR/runs/<lang>-<size>/{data,model,eval}`` where the stages' own caching and resuming apply, so
a killed sweep picks up where it stopped. The data stage selects records by a seeded ranking, so
the sizes are nested: the 200-pair set contains the 100-pair set.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

from pydantic import Field

from lingalign import evaluate as evaluate_stage
from lingalign import train as train_stage
from lingalign.artifacts import open_text
from lingalign.config import Strict, read_yaml, validate
from lingalign.data.build import build_dataset
from lingalign.data.recipe import DataRecipe
from lingalign.errors import UserError
from lingalign.scaling.points import COLUMNS
from lingalign.train.recipe import TrainConfig

log = logging.getLogger(__name__)


class LanguageRun(Strict):
    source: str = Field(description="name of the language's bitext source in the data: section")
    task: str = Field(description="evaluation task, e.g. flores-en-zh")


class SweepConfig(Strict):
    languages: dict[str, LanguageRun] = Field(min_length=1)
    sizes: list[int] = Field(min_length=1)
    metric: str = "chrf++"
    eval_limit: int | None = Field(None, ge=1, description="score only the first N items of the task")
    eval_batch_size: int = Field(8, ge=1)
    eval_max_new_tokens: int | None = Field(None, ge=1, description="cap on generated tokens (default: the task's)")


def load_sweep(path) -> tuple[SweepConfig, dict, object]:
    """The scaling section, the raw data section, and the validated train section of a sweep recipe."""
    document = read_yaml(path)
    if not isinstance(document, dict) or not {"scaling", "data", "train"} <= set(document):
        raise UserError(f"{path}: a sweep recipe needs scaling:, data: and train: sections")
    sweep = validate(document["scaling"], SweepConfig, f"{path} [scaling]")
    bad = [s for s in sweep.sizes if s <= 0]
    if bad:
        raise UserError(f"{path} [scaling.sizes]: sizes must be positive (got {bad})")
    train = validate(document["train"], TrainConfig, f"{path} [train]")
    names = [s.get("name") for s in document["data"].get("sources", []) if isinstance(s, dict)]
    for lang, run in sweep.languages.items():
        if run.source not in names:
            raise UserError(f"{path} [scaling.languages.{lang}.source]: no data source named '{run.source}'",
                            hint=f"sources: {', '.join(map(str, names))}")
    return sweep, document["data"], train


def data_for(base: dict, sweep: SweepConfig, lang: str, size: int) -> dict:
    """The data section for one run: this language's bitext at ``size`` pairs, other languages' bitext out."""
    others = {run.source for l, run in sweep.languages.items() if l != lang}
    sources = []
    for source in base["sources"]:
        if source["name"] in others:
            continue
        source = dict(source)
        if source["name"] == sweep.languages[lang].source:
            source["count"] = size
            source.pop("weight", None)
        sources.append(source)
    return {**base, "sources": sources}


def done_rows(csv_path: Path) -> set[tuple[str, str, str, str, str]]:
    if not csv_path.exists():
        return set()
    with open_text(csv_path, newline="") as handle:
        return {(r["language"], r["size"], r["metric"], r["model"], r["seed"]) for r in csv.DictReader(handle)}


def append_row(csv_path: Path, row: dict) -> None:
    """Append one finished run (header first on a new file), flushed to disk before returning."""
    new = not csv_path.exists() or csv_path.stat().st_size == 0
    with csv_path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)
        handle.flush()
        os.fsync(handle.fileno())


def run_sweep(recipe_path, out_dir) -> Path:
    """Train and score every (language, size) of the sweep recipe not yet in ``out_dir/points.csv``; returns it."""
    sweep, base, train_config = load_sweep(recipe_path)
    recipe_dir = Path(recipe_path).parent
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "points.csv"
    done = done_rows(csv_path)
    model, seed = train_config.model, str(train_config.seed)
    for lang, run in sweep.languages.items():
        for size in sweep.sizes:
            if (lang, str(size), sweep.metric, model, seed) in done:
                log.info("%s at %d pairs: already in %s; skipping", lang, size, csv_path)
                continue
            folder = out_dir / "runs" / f"{lang}-{size}"
            data = validate(data_for(base, sweep, lang, size), DataRecipe, f"{recipe_path} [data] for {lang}-{size}")
            build_dataset(data, folder / "data", recipe_dir=recipe_dir)
            model_dir = train_stage.train(train_config, folder / "data", folder / "model", resume=True)
            results = evaluate_stage.evaluate(str(model_dir), [run.task], folder / "eval",
                                              limit=sweep.eval_limit, batch_size=sweep.eval_batch_size,
                                              max_new_tokens=sweep.eval_max_new_tokens)
            value = metric_value(results, run.task, sweep.metric)
            append_row(csv_path, {"language": lang, "size": size, "metric": sweep.metric, "value": value,
                                  "model": model, "seed": seed})
            log.info("%s at %d pairs: %s = %s", lang, size, sweep.metric, value)
    return csv_path


def metric_value(results: dict, task: str, metric: str) -> float:
    try:
        return float(results["tasks"][task]["metrics"][metric]["value"])
    except KeyError:
        known = sorted(results.get("tasks", {}).get(task, {}).get("metrics", {}))
        raise UserError(f"task {task} reports no metric '{metric}'",
                        hint=f"it reports: {', '.join(known) or 'nothing'}") from None
