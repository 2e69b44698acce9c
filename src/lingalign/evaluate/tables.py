"""The tables ``lingalign eval`` prints: one run's results, several runs side by side, bootstrap intervals.

The files are read through ``lingalign.result_files`` (lingalign's results.json or lm-eval's);
this module only arranges their values into rows and prints them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from lingalign import artifacts
from lingalign.provenance import describe, differences, key_facts
from lingalign.result_files import load_results, results_path

METRIC_ORDER = ("inclusion", "em", "f1", "chrf++", "bleu", "spbleu", "comet", "accuracy", "answer_lang", "consistency")


def _metric_names(results: Sequence[dict]) -> list[str]:
    present = {m for r in results for t in r.get("tasks", {}).values() for m in t.get("metrics", {})}
    return [m for m in METRIC_ORDER if m in present] + sorted(present - set(METRIC_ORDER))


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _metric_label(metric: str, cells) -> str:
    """``consistency vs mgsm-en``: cross-lingual consistency names the English task it compares with."""
    english = sorted({c.get("with") for c in cells if isinstance(c, dict) and c.get("with")})
    return f"{metric} vs {'/'.join(english)}" if metric == "consistency" and english else metric


def table_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    metrics = _metric_names([results])
    rows = []
    for name, entry in sorted(results.get("tasks", {}).items()):
        values = entry.get("metrics", {})
        rows.append([name, str(entry.get("n", "")), *(_fmt(values.get(m, {}).get("value")) for m in metrics)])
        if entry.get("copy_source"):
            floor = entry["copy_source"]
            rows.append([f"{name} (copy the source)", "", *(_fmt(floor.get(m)) for m in metrics)])
    return ["task", "n", *metrics], rows


def compare_rows(files: Sequence[str | Path]) -> tuple[list[str], list[list[str]], list[str]]:
    """One row per (task, metric), one column per run (folder or results.json); notes where signatures differ."""
    files = [results_path(f) for f in files]  # run folders, their results.json, or lm-eval results files
    loaded = [load_results(f) for f in files]
    labels = [_label(Path(f), d) for f, d in zip(files, loaded)]
    tasks = sorted({t for d in loaded for t in d["tasks"]})
    rows, notes, copy_note = [], [], False
    for task in tasks:
        for metric in _metric_names([{"tasks": {task: d["tasks"].get(task, {})}} for d in loaded]):
            cells = [d["tasks"].get(task, {}).get("metrics", {}).get(metric) for d in loaded]
            signatures = {c.get("signature") for c in cells if c and c.get("signature")}
            mark = " *" if len(signatures) > 1 else ""
            if mark:
                notes.append(f"{task} {metric}: signatures differ, values are not comparable")
            ns = {d["tasks"].get(task, {}).get("n") for d in loaded} - {None}
            rows.append([task + mark, _metric_label(metric, cells), "/".join(map(str, sorted(ns))),
                         *(_fmt(c.get("value") if c else None) for c in cells)])
            floors = [d["tasks"].get(task, {}).get("copy_source", {}).get(metric) for d in loaded]
            if any(f is not None for f in floors):  # the same sources and references give the same floor
                rows.append([task, f"{metric} (copy)", "", *map(_fmt, floors)])
                copy_note = True
    if copy_note:
        notes.append("(copy): what returning the source sentence unchanged scores, "
                     "the floor a translation should clear")
    formats = {d.get("prompt_format") for d in loaded}
    if len(formats) > 1:
        notes.append(f"prompt formats differ across files: {', '.join(sorted(map(str, formats)))}")
    variants = {t: {d["tasks"][t].get("prompt_variant") for d in loaded if t in d["tasks"]} for t in tasks}
    notes += [f"{t}: prompt variants differ across files ({', '.join(sorted(map(str, v)))})"
              for t, v in variants.items() if len(v) > 1]
    for label, data in zip(labels, loaded):
        if data.get("source") == "lm-eval":
            missing = sorted(set(data["tasks"]) - set(data.get("per_item_samples") or []))
            if missing:
                notes.append(f"{label}: an lm-eval results file without per-item samples for {', '.join(missing)}: "
                             "point values only, no paired intervals (run lm_eval with --log_samples)")
    notes += provenance_notes(labels, loaded)
    return ["task", "metric", "n", *labels], rows, notes


def run_provenance(files: Sequence[str | Path], labels: Sequence[str]) -> list[dict]:
    """Per run, in order: its label, its provenance block and the same on one line (for --compare)."""
    runs = []
    for f, label in zip(files, labels):
        data = artifacts.read_json(results_path(f))
        block = data.get("provenance")
        runs.append({"run": str(f), "label": label, "provenance": block,
                     "summary": describe(block, (data.get("generation") or {}).get("dtype"))})
    return runs


def provenance_notes(labels: Sequence[str], loaded: Sequence[dict]) -> list[str]:
    """One note per run whose precision, CPU kind, device or versions differ from the first run's."""
    facts = [key_facts(d.get("provenance"), (d.get("generation") or {}).get("dtype")) for d in loaded]
    notes = []
    for label, fact in zip(labels[1:], facts[1:]):
        found = differences(facts[0], fact)
        if found:
            notes.append(f"{label} vs {labels[0]}: {'; '.join(found)}: numbers are not comparable bit for bit")
    for label, d in zip(labels, loaded):
        kept = sorted(t for t, e in d["tasks"].items() if isinstance(e, dict) and e.get("provenance"))
        if kept:
            notes.append(f"{label}: {', '.join(kept)} kept from an earlier run with other settings "
                         "(see its results.json)")
    return notes


def _label(path: Path, data: dict) -> str:
    if data.get("source") == "lm-eval":
        return f"{data.get('model')} (lm-eval)"
    folder = path.parent.name or str(path)
    return f"{folder} ({data.get('prompt_format', '?')})"


def bootstrap_rows(comparison: dict) -> tuple[list[str], list[list[str]]]:
    """One row per (task, metric) of a ``significance.compare_runs`` entry: B - A with its interval."""
    rows = []
    for task, metrics in sorted(comparison["tasks"].items()):
        for metric in _metric_names([{"tasks": {task: {"metrics": metrics}}}]):
            e = metrics[metric]
            rel = "-" if e["rel"] is None else f"{e['rel']:+.1f}%"
            if e["rel_low"] is not None:
                rel += f" [{e['rel_low']:+.1f}, {e['rel_high']:+.1f}]"
            rows.append([task, _metric_label(metric, [e]), str(e["n"]), _fmt(e["a"]), _fmt(e["b"]),
                         f"{e['delta']:+.1f} [{e['low']:+.1f}, {e['high']:+.1f}]", rel, f"{e['p']:.3f}"])
    return ["task", "metric", "n", "base", "system", "delta [95% CI]", "relative % [95% CI]", "p"], rows


def render(header: list[str], rows: list[list[str]], title: str | None = None) -> str:
    """A plain, aligned text table (the same text goes to the terminal and to docs)."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    line = lambda cells: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    out = [title] if title else []
    out += [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    return "\n".join(out)


def print_table(header, rows, title=None) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(render(header, rows, title))
        return
    table = Table(title=title)
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(*r)
    Console().print(table)
