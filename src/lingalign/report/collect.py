"""Gather what a run folder holds into one plain dictionary for the report.

A run folder (written by ``lingalign run``, or assembled by hand from stage outputs) may hold:

    recipe.yaml                      the resolved experiment recipe
    models/<name>/train_log.jsonl    training curves
    eval/<name>/results.json         scores per task and metric
                                     (plus any results files given with --results, e.g. lm-eval's)
    analysis/align/alignment.json    layer-wise alignment (+ PNGs)
    analysis/responses/responses.json
    scaling/fit/law.json, fit.png    scaling law; scaling/allocation.yaml
    manifest.json files              fingerprints, versions and provenance (precision, CPU, device)

Everything is optional: the report shows what exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from lingalign.artifacts import read_jsonl_tolerant, read_text
from lingalign.provenance import short
from lingalign.report.consistency import consistency_rows
from lingalign.result_files import load_results, results_path


def _load_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def _model_order(recipe_text: str | None, names) -> list[str]:
    """The base model first, then the models in the recipe's order, then any others by name."""
    try:
        recipe = yaml.safe_load(recipe_text) if recipe_text else None
        listed = [m["name"] for m in recipe.get("models", [])] if isinstance(recipe, dict) else []
    except (yaml.YAMLError, TypeError, KeyError, AttributeError):
        listed = []
    rank = {name: i for i, name in enumerate(["base", *listed])}
    return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))


def baseline_model(models: list[str]) -> str | None:
    """The model the report compares the others with: ``base``, else an English-only model, else the first."""
    for candidate in ("base", "alpaca-en", "english-only"):
        if candidate in models:
            return candidate
    return models[0] if models else None


def _stages(recipe_text: str | None) -> dict[str, str]:
    """Model -> the model of the run it started from (``init:`` in the recipe; the base model is left out)."""
    try:
        recipe = yaml.safe_load(recipe_text) if recipe_text else None
    except yaml.YAMLError:
        return {}
    models = recipe.get("models") if isinstance(recipe, dict) else None
    return {m["name"]: m["init"] for m in models or [] if isinstance(m, dict)
            and isinstance(m.get("name"), str) and isinstance(m.get("init"), str) and m["init"] != "base"}


def extra_results(paths) -> dict[str, dict]:
    """More models' results given by hand (lingalign results.json or lm-eval results files), by label.

    An lm-eval file is labelled ``<model> (lm-eval)``; its tasks line up with the run's by name.
    """
    found = {}
    for given in paths or ():
        data = load_results(given)
        label = (f"{data.get('model')} (lm-eval)" if data.get("source") == "lm-eval"
                 else results_path(given).parent.name)
        while label in found:
            label += "'"
        found[label] = data
    return found


def collect(run_dir: str | Path, extra: list | None = None) -> dict:
    """Everything the run folder holds; ``extra`` adds results files (lingalign or lm-eval) as more models."""
    run = Path(run_dir)
    found: dict[str, Any] = {"run_dir": str(run.resolve()), "name": run.name}

    recipe = run / "recipe.yaml"
    found["recipe_text"] = read_text(recipe) if recipe.exists() else None

    results, files = {}, {}
    for path in sorted(run.glob("eval/*/results.json")):
        data = _load_json(path)
        if data:
            results[path.parent.name] = data
            files[path.parent.name] = path
    found["results"] = {name: results[name] for name in _model_order(found["recipe_text"], results)}
    for given, (label, data) in zip(extra or (), extra_results(extra).items()):
        label = label if label not in found["results"] else f"{label} (added)"
        found["results"][label] = data
        files[label] = results_path(given)
    found["consistency"] = consistency_rows(found["results"], files, baseline_model(list(found["results"])))

    curves = {}
    for path in sorted(run.glob("models/*/train_log.jsonl")):
        rows = [r for r in read_jsonl_tolerant(path) if "loss" in r and "step" in r]
        if rows:
            curves[path.parent.name] = rows
    found["train_curves"] = curves
    found["stages"] = _stages(found["recipe_text"])

    found["alignment"] = _load_json(run / "analysis/align/alignment.json")
    found["alignment_images"] = sorted(str(p) for p in run.glob("analysis/align/*.png"))
    found["responses_images"] = sorted(str(p) for p in run.glob("analysis/responses/*.png"))
    found["scaling_law"] = _load_json(run / "scaling/fit/law.json")
    found["scaling_images"] = sorted(str(p) for p in run.glob("scaling/fit/*.png"))
    allocation = run / "scaling/allocation.yaml"
    found["allocation_text"] = read_text(allocation) if allocation.exists() else None

    manifests = {}
    for path in sorted(run.rglob("manifest.json")):
        data = _load_json(path)
        if data:
            manifests[str(path.parent.relative_to(run)) or "."] = {
                "stage": data.get("stage"), "fingerprint": data.get("fingerprint"), "created": data.get("created"),
            }
    found["manifests"] = manifests
    versions = next((m.get("versions") for m in map(_load_json, sorted(run.rglob("manifest.json")))
                     if m and m.get("versions")), None)
    found["versions"] = versions or {}
    found["provenance"] = _provenance(run, found["results"])
    return found


def _provenance(run: Path, results: dict) -> dict:
    """The provenance block of each step that ran: ``{"train:coit-zh": {...}, "eval:base": {...}}``.

    Outputs written before provenance existed give what they recorded: training's resolved
    precision (manifest ``derived``) and evaluation's dtype (``generation``).
    """
    blocks = {}
    for path in sorted(run.glob("models/*/manifest.json")):
        manifest = _load_json(path) or {}
        precision = (manifest.get("derived") or {}).get("precision")
        blocks[f"train:{path.parent.name}"] = manifest.get("provenance") or (
            {"precision": {"train": precision}} if precision else None)
    for name, data in results.items():
        dtype = (data.get("generation") or {}).get("dtype")
        blocks[f"eval:{name}"] = data.get("provenance") or ({"precision": {"eval": short(dtype)}} if dtype else None)
    alignment = _load_json(run / "analysis/align/alignment.json")
    if alignment:
        dtype = alignment.get("dtype")
        blocks["analysis:align"] = alignment.get("provenance") or (
            {"precision": {"analysis": short(dtype)}} if dtype and dtype != "auto" else None)
    return blocks


COPY_SOURCE = "(copy the source)"  # score_table's row for a system that returns its input unchanged


def score_table(results: dict[str, dict]) -> tuple[list[str], list[tuple[str, str]], dict]:
    """Rows = models, columns = (task, metric); values are the stored percentages.

    Returns (models, columns, values) where ``values[(model, task, metric)] = value``.
    """
    models = list(results)
    columns: list[tuple[str, str]] = []
    values: dict[tuple[str, str, str], float] = {}
    for model, data in results.items():
        for task, entry in (data.get("tasks") or {}).items():
            for metric, item in (entry.get("metrics") or {}).items():
                value = item.get("value") if isinstance(item, dict) else item
                if not isinstance(value, (int, float)):
                    continue
                if (task, metric) not in columns:
                    columns.append((task, metric))
                values[(model, task, metric)] = float(value)
    floors = {(task, metric): value for data in results.values() for task, entry in (data.get("tasks") or {}).items()
              for metric, value in (entry.get("copy_source") or {}).items() if (task, metric) in columns}
    if floors:  # translation tasks: the score of copying the source, the floor a model should clear
        models.append(COPY_SOURCE)
        values.update({(COPY_SOURCE, task, metric): float(v) for (task, metric), v in floors.items()})
    return models, columns, values
