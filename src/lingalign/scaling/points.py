"""Reading the inputs of the scaling stage: the points CSV and per-language settings.

The CSV has one row per finished run: ``language,size,metric,value,model,seed``. It may mix
metrics and models (a sweep appends to one file); the fit picks one of each.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import yaml

from lingalign.artifacts import open_text, read_text
from lingalign.errors import UserError, where

COLUMNS = ("language", "size", "metric", "value", "model", "seed")


def read_points(path, metric: str | None = None, model: str | None = None):
    """Points per language {lang: (sizes, values)} of one metric and one model; and which ones."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: points file not found")
    with open_text(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(
                f"{path}: missing column(s) {', '.join(missing)}",
                hint=f"the header must hold {','.join(COLUMNS)}",
            )
        rows = [(n, row) for n, row in enumerate(reader, start=2)]
    metric = _pick(path, "metric", metric, {r["metric"] for _, r in rows})
    model = _pick(path, "model", model, {r["model"] for _, r in rows if r["metric"] == metric})
    points: dict[str, list[tuple[float, float]]] = {}
    for line, row in rows:
        if row["metric"] != metric or row["model"] != model:
            continue
        size = _number(path, line, "size", row["size"])
        value = _number(path, line, "value", row["value"])
        if size <= 0:
            raise UserError(f"{where(path, line, 'size')}: sizes must be positive (got {row['size']})",
                            hint="a run with no translation data has no log(X); use size 1 as that anchor")
        points.setdefault(row["language"], []).append((size, value))
    data = {lang: (np.array([s for s, _ in pts]), np.array([v for _, v in pts]))
            for lang, pts in sorted(points.items())}
    return data, metric, model


def _pick(path, column: str, wanted: str | None, present: set[str]) -> str:
    if wanted is not None:
        if wanted not in present:
            raise UserError(f"{path}: no rows with {column} '{wanted}'",
                            hint=f"present: {', '.join(sorted(present)) or 'none'}")
        return wanted
    if len(present) == 1:
        return next(iter(present))
    if not present:
        raise UserError(f"{path}: no data rows")
    raise UserError(f"{path}: several {column}s ({', '.join(sorted(present))}); choose one with --{column}")


def _number(path, line: int, key: str, text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UserError(f"{where(path, line, key)}: expected a number, got {text!r}") from None
    if not np.isfinite(value):
        raise UserError(f"{where(path, line, key)}: expected a finite number, got {text!r}")
    return value


def parse_mapping(text: str | None, what: str) -> dict[str, float]:
    """``zh=50000,vi=20000`` -> {"zh": 50000.0, "vi": 20000.0}."""
    if not text:
        return {}
    mapping = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{what}: expected lang=value pairs separated by commas, got {item!r}")
        try:
            mapping[key.strip()] = float(value)
        except ValueError:
            raise UserError(f"{what}: value for '{key.strip()}' is not a number ({value!r})") from None
    return mapping


def read_mapping_file(path, what: str) -> dict[str, float]:
    """A YAML/JSON mapping ``{lang: number}`` or a two-column CSV ``language,value``."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: {what} file not found")
    text = read_text(path)
    if path.suffix == ".csv":
        rows = list(csv.reader(text.splitlines()))
        data = {r[0]: r[1] for r in rows[1:] if len(r) >= 2}
    else:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of language to {what}")
    try:
        return {str(k): float(v) for k, v in data.items()}
    except (TypeError, ValueError) as exc:
        raise UserError(f"{path}: every {what} must be a number ({exc})") from None


def check_languages(given: dict, known, what: str) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise UserError(f"{what}: unknown language(s) {', '.join(unknown)}",
                        hint=f"the law covers {', '.join(sorted(known))}")
