"""The ``analyze align`` pipeline: models x languages -> per-layer alignment numbers, CSV and plots.

English is the pivot: for every other language X the pairs are (English sentence i, X sentence i).
Models are processed one at a time (only one is in memory); each model's pooled vectors are saved
in ``DIR/vectors/`` as soon as they exist, so an interrupted multi-model run resumes where it stopped.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from pathlib import Path

import numpy as np

from lingalign.analysis.parallel import load_parallel
from lingalign.analysis.pooling import pooled_layers
from lingalign.artifacts import atomic_open, hash_obj, is_complete, read_json, versions, write_json, write_manifest
from lingalign.errors import UserError
from lingalign.models import load_model, load_tokenizer, resolve_model, torch_dtype
from lingalign.provenance import provenance

# torch, and analysis.alignment and analysis.plots (torch, matplotlib), are imported where they are used:
# `lingalign --help` imports this module (lingalign.run -> lingalign.analysis).

log = logging.getLogger(__name__)

PIVOT = "en"


def parse_models(specs) -> list[tuple[str, str]]:
    """``["a,b", "base=path", ("label", "path")]`` -> ``[(label, model), ...]``.

    The label is the ``label=`` part, else the folder name (or the name itself for an alias).
    """
    models = []
    for spec in specs:
        if isinstance(spec, tuple):
            models.append(spec)
            continue
        for item in filter(None, (part.strip() for part in spec.split(","))):
            label, _, name = item.rpartition("=")
            models.append((label or Path(name.rstrip("/")).name or name, name))
    if not models:
        raise UserError("--model: no model given")
    labels = [label for label, _ in models]
    dupes = sorted({label for label in labels if labels.count(label) > 1})
    if dupes:
        raise UserError(f"--model: several models are labelled {', '.join(dupes)}",
                        hint="name them with label=path, e.g. base=smollm2-135m-instruct,coit=runs/coit/model")
    return models


def _model_identity(name: str) -> dict:
    """What makes a model's numbers reusable: its resolved location and its files' sizes and times."""
    path = resolve_model(name)
    files = []
    if os.path.isdir(path):
        for entry in sorted(Path(path).iterdir()):
            if entry.is_file():
                stat = entry.stat()
                files.append((entry.name, stat.st_size, stat.st_mtime_ns))
    return {"path": path, "files": files}


def _pool_model(label: str, name: str, sentences, settings: dict) -> dict:
    """Load one model and pool every language: ``{"vectors": {lang: [layers + 1, n, hidden]}, ...}``."""
    import torch

    start = time.perf_counter()
    tokenizer = load_tokenizer(name)
    model = load_model(name, dtype=settings["dtype"])
    if torch.cuda.is_available():  # a 7B model pools in minutes on a GPU, in hours on a CPU
        model.to("cuda")
    vectors = {}
    for lang, texts in sentences.texts.items():
        vectors[lang] = pooled_layers(model, tokenizer, texts, template=settings["template"],
                                      batch_size=settings["batch_size"], max_length=settings["max_length"],
                                      keep_first=settings["keep_first"], label=label)
        log.info("%s: pooled %d %s sentences over %d layers", label, len(texts), lang, vectors[lang].shape[0])
    seconds = time.perf_counter() - start
    log.info("%s: pooled in %.0f s", label, seconds)
    return {"label": label, "model": name, "num_layers": model.config.num_hidden_layers,
            "hidden_size": int(vectors[PIVOT].shape[-1]), "seconds": round(seconds, 1), "vectors": vectors}


def _cached_pool(path: Path, key: str, label: str, name: str, sentences, settings: dict) -> dict:
    """Pooled vectors from ``path`` when made with the same key, else computed and saved there.

    They are kept (``DIR/vectors/<label>.pt``) so a killed run resumes per model, a re-run with other
    metric options (``--center``, ``--cka``) skips the forward passes, and users can load them for
    their own projections (``torch.load(path)["vectors"]["zh"][layer]``).
    """
    import torch

    if path.exists():
        cached = torch.load(path, weights_only=True)
        if cached.get("key") == key:
            log.info("%s: reusing pooled vectors from %s", label, path)
            return cached
    pooled = {"key": key, **_pool_model(label, name, sentences, settings)}
    with atomic_open(path, "wb", encoding=None) as handle:
        torch.save(pooled, handle)
    return pooled


def _metrics(pooled: dict, cka: bool, center: bool) -> tuple[dict, dict]:
    """Every metric per layer for each (English, X) pair, and which sentences each layer retrieves.

    Returns ``({lang: {metric: [value per layer]}}, {lang: {direction: bool array [layers, n]}})``;
    the hits feed the sentence-by-sentence comparison of models (:func:`_paired`).
    """
    from lingalign.analysis.alignment import retrieval_hits, similarity, similarity_metrics

    vectors = pooled["vectors"]
    per_lang, hits = {}, {}
    for lang in vectors:
        if lang == PIVOT:
            continue
        rows, en_x, x_en = [], [], []
        for english, other in zip(vectors[PIVOT], vectors[lang]):
            sim = similarity(english, other, center)
            rows.append(similarity_metrics(sim, english, other, cka=cka))
            en_x.append(retrieval_hits(sim).numpy())
            x_en.append(retrieval_hits(sim.T).numpy())
        per_lang[lang] = {metric: [row[metric] for row in rows] for metric in rows[0]}
        hits[lang] = {"retrieval_en_x": np.stack(en_x), "retrieval_x_en": np.stack(x_en)}
    return per_lang, hits


def _paired(hits: dict, best: dict) -> list[dict]:
    """Every model against the first (the reference), per language, retrieval direction and layer.

    ``at_reference_best`` picks the layer where the *reference* peaks, a choice made without looking
    at the differences, so its p-value is not inflated by picking the best of 31 layers.
    """
    from lingalign.analysis.alignment import paired_difference

    labels = list(hits)
    reference = labels[0]
    comparisons = []
    for label in labels[1:]:
        for lang, per_metric in hits[label].items():
            for metric in RETRIEVAL:
                model_hits, reference_hits = per_metric[metric], hits[reference][lang][metric]
                layers = [paired_difference(model_hits[i], reference_hits[i]) for i in range(len(model_hits))]
                chosen = best[reference][lang][metric]["layer"]
                comparisons.append({"model": label, "reference": reference, "lang": lang, "metric": metric,
                                    "layers": layers, "at_reference_best": {"layer": chosen, **layers[chosen]}})
    return comparisons


def _best_layers(models: list[dict]) -> dict:
    """For every model, language and metric (except mismatched cosine): the layer with the highest value."""
    best = {}
    for entry in models:
        for lang, metrics in entry["results"].items():
            for metric, values in metrics.items():
                if metric == "cos_mismatched":
                    continue
                layer = max(range(len(values)), key=values.__getitem__)
                best.setdefault(entry["label"], {}).setdefault(lang, {})[metric] = {
                    "layer": layer, "value": values[layer]}
    return best


RETRIEVAL = ("retrieval_en_x", "retrieval_x_en")


def _intervals(results: dict, n: int) -> dict:
    """Wilson 95% intervals of the retrieval accuracies: ``{lang: {metric: [[low, high] per layer]}}``."""
    from lingalign.analysis.alignment import retrieval_interval

    return {lang: {m: [list(retrieval_interval(v, n)) for v in metrics[m]] for m in RETRIEVAL}
            for lang, metrics in results.items()}


def write_csv(path: Path, report: dict) -> None:
    """One row per model, language and layer; one column per metric, then the retrieval intervals."""
    metrics = report["metrics"]
    bounds = [f"{m}_{end}" for m in RETRIEVAL for end in ("low", "high")]
    with atomic_open(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["model", "lang", "layer", *metrics, *bounds])
        for entry in report["models"]:
            for lang, values in entry["results"].items():
                ci = entry["intervals"][lang]
                for layer in range(len(values[metrics[0]])):
                    writer.writerow([entry["label"], lang, layer, *(f"{values[m][layer]:.6f}" for m in metrics),
                                     *(f"{ci[m][layer][k]:.6f}" for m in RETRIEVAL for k in (0, 1))])


def write_paired_csv(path: Path, comparisons: list[dict]) -> None:
    """One row per compared model, language, retrieval direction and layer."""
    fields = ("delta", "low", "high", "only_model", "only_reference", "p")
    with atomic_open(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["model", "reference", "lang", "metric", "layer", *fields])
        for item in comparisons:
            for layer, row in enumerate(item["layers"]):
                writer.writerow([item["model"], item["reference"], item["lang"], item["metric"], layer,
                                 *(f"{row[f]:.6f}" if isinstance(row[f], float) else row[f] for f in fields)])


def align(
    models: list[str] | list[tuple[str, str]],
    langs: list[str],
    out_dir: str | os.PathLike,
    *,
    data: str | None = None,
    data_root: str | None = None,
    split: str = "dev",
    limit: int | None = None,
    template: str = "raw",
    batch_size: int = 16,
    max_length: int = 256,
    dtype: str = "float32",
    cka: bool = False,
    center: bool = False,
    keep_first: bool = False,
) -> dict:
    """Measure layer-wise En-X alignment of each model; write alignment.json/.csv, plots, manifest.

    ``models`` are names ``load_model`` accepts, optionally as ``label=name`` or ``(label, name)``.
    Returns the report written to ``alignment.json``.
    """
    from lingalign.analysis.plots import plot_alignment

    out = Path(out_dir)
    model_list = parse_models(models)
    langs = [lang.strip() for lang in langs if lang.strip()]
    if PIVOT not in langs:
        langs = [PIVOT, *langs]
    sentences = load_parallel(langs, data=data, data_root=data_root, split=split, limit=limit)
    settings = {"template": template, "batch_size": batch_size, "max_length": max_length, "dtype": dtype, "cka": cka,
                "center": center, "keep_first": keep_first}
    data_info = {"files": sentences.files, "fingerprint": sentences.fingerprint(), "n_sentences": sentences.size}
    identities = {label: _model_identity(name) for label, name in model_list}
    # "format" 2: outputs gained paired.csv; older finished folders are redone (from their cached vectors)
    fingerprint = hash_obj({"format": 2, "models": identities, "data": data_info["fingerprint"], "langs": langs,
                            **{k: v for k, v in settings.items() if k != "batch_size"}})
    if is_complete(out, fingerprint):
        log.info("%s is up to date (same models, data and settings); nothing to do", out)
        return read_json(out / "alignment.json")

    measured, hits = [], {}
    pool_settings = {k: settings[k] for k in ("template", "max_length", "dtype", "keep_first")}
    for label, name in model_list:
        key = hash_obj({"model": identities[label], "data": data_info["fingerprint"], **pool_settings})
        pooled = _cached_pool(out / "vectors" / f"{label}.pt", key, label, name, sentences, settings)
        info = {k: pooled[k] for k in ("label", "model", "num_layers", "hidden_size", "seconds")}
        results, hits[label] = _metrics(pooled, cka, center)
        measured.append({**info, "results": results, "intervals": _intervals(results, sentences.size)})
        del pooled

    metrics = list(next(iter(measured[0]["results"].values())))
    best = _best_layers(measured)
    paired = _paired(hits, best) if len(measured) > 1 else []
    report = {
        "langs": langs, "pivot": PIVOT, "template": template, "center": center, "keep_first_token": keep_first,
        "max_length": max_length, "dtype": dtype,
        "n_sentences": sentences.size, "chance_retrieval": 1 / sentences.size, "data": data_info,
        "metrics": metrics, "models": measured, "best_layer": best, "paired": paired, "versions": versions(),
        "provenance": provenance(analysis=torch_dtype(dtype)),  # the device _pool_model uses: a GPU when there is one
    }
    write_json(out / "alignment.json", report)
    write_csv(out / "alignment.csv", report)
    if paired:
        write_paired_csv(out / "paired.csv", paired)
    images = plot_alignment(report, out)
    write_manifest(out, stage="analyze-align", fingerprint=fingerprint,
                   inputs={**sentences.files, **{label: identities[label]["path"] for label, _ in model_list}},
                   config={"models": [f"{label}={name}" for label, name in model_list], "langs": langs, **settings,
                           "data": data, "data_root": data_root, "split": split, "limit": limit},
                   counts={"models": len(model_list), "languages": len(langs), "sentences": sentences.size},
                   outputs=["alignment.json", "alignment.csv", *(["paired.csv"] if paired else []),
                            *[p.name for p in images]],
                   provenance=report["provenance"])
    return report
