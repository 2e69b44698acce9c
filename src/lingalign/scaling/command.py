"""``lingalign scaling``: fit translation-data scaling laws, predict with them, share out a budget.

  lingalign scaling fit CSV -o DIR [--metric chrf++] [--forms log-linear,power-log,saturating]
                        [--shared --distance zh=0.21,vi=0.22 | --distance-file F | --distance-from uriel]
                        [--select pooled|per-language] [--bootstrap 1000] [--seed 0]
  lingalign scaling predict LAW (--size N | --target SCORE) [--lang zh]
  lingalign scaling allocate LAW --budget N [--available zh=50000,vi=20000 | --available-file F]
                        [--objective sum|min] [--weights zh=1,vi=2] -o mixture.yaml
                        [--recipe data.yaml --source-for zh=news-en-zh,vi=tatoeba-en-vi]
  lingalign scaling sweep RECIPE -o DIR      train + evaluate every (language, size); resumable

LAW is a law.json or the folder holding it. See docs/scaling.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from lingalign.artifacts import hash_file, hash_obj, is_complete, read_json, write_json, write_manifest
from lingalign.catalog.shipped import recipe_argument
from lingalign.errors import UserError
from lingalign.run.sweep import run_sweep  # the sweep drives data + train + eval: orchestration, above the stages
from lingalign.scaling.distance import uriel_distances
from lingalign.scaling.mixture import parse_sources, recipe_with_counts, write_mixture
from lingalign.scaling.points import check_languages, parse_mapping, read_mapping_file, read_points


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="scaling_command", metavar="COMMAND")

    fit = sub.add_parser("fit", help="fit candidate laws to a points CSV; write law.json, fit.png")
    fit.add_argument("csv", help="points: language,size,metric,value,model,seed (one row per run)")
    fit.add_argument("-o", "--out", required=True, help="output folder")
    fit.add_argument("--metric", help="metric to fit (default: the only one in the CSV)")
    fit.add_argument("--model", help="model to fit (default: the only one in the CSV)")
    fit.add_argument("--forms", default="log-linear,power-log,saturating", help="candidate forms, comma-separated")
    fit.add_argument("--shared", action="store_true", help="one law for all languages, rate linear in distance")
    fit.add_argument("--distance", help="language distances to English, e.g. zh=0.21,vi=0.22")
    fit.add_argument("--distance-file", help="YAML/JSON {lang: distance} or CSV language,distance")
    fit.add_argument("--distance-from", choices=["uriel"], help="derive distances from URIEL syntax (needs lang2vec)")
    fit.add_argument("--select", default="pooled", choices=["pooled", "per-language"],
                     help="one form for all languages by pooled CV error (default), or each its own")
    fit.add_argument("--tolerance", type=float, default=0.02,
                     help="a form with more parameters must cut CV error by more than this share (default 0.02)")
    fit.add_argument("--bootstrap", type=int, default=1000, help="residual-bootstrap draws (default 1000)")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--force", action="store_true", help="refit even if DIR holds the same fit")

    pred = sub.add_parser("predict", help="predicted score at a size, or the size needed for a score")
    pred.add_argument("law", help="law.json or its folder")
    goal = pred.add_mutually_exclusive_group(required=True)
    goal.add_argument("--size", type=float, help="number of translation pairs")
    goal.add_argument("--target", type=float, help="score to reach")
    pred.add_argument("--lang", help="one language (default: all)")
    pred.add_argument("--json", action="store_true", help="print JSON")

    alloc = sub.add_parser("allocate", help="share a budget of translation pairs across languages")
    alloc.add_argument("law", help="law.json or its folder")
    alloc.add_argument("--budget", type=float, required=True, help="total translation pairs")
    alloc.add_argument("--available", help="pairs available per language, e.g. zh=50000,vi=20000")
    alloc.add_argument("--available-file", help="YAML/JSON {lang: pairs} or CSV language,pairs")
    alloc.add_argument("--objective", default="sum", choices=["sum", "min"],
                       help="maximise the weighted sum of predicted scores (default) or the lowest one")
    alloc.add_argument("--weights", help="weights of the sum objective, e.g. zh=1,vi=2 (default 1 each)")
    alloc.add_argument("--langs", help="allocate over these languages only (default: all in the law)")
    alloc.add_argument("-o", "--out", required=True, help="mixture YAML to write")
    alloc.add_argument("--recipe", help="base data recipe: write it in full with the allocated counts")
    alloc.add_argument("--source-for", help="with --recipe: the bitext source of each language, e.g. zh=news-en-zh")

    sweep = sub.add_parser("sweep", help="train and evaluate at several data sizes; append to points.csv")
    sweep.add_argument("recipe", help="YAML with scaling:, data: and train: sections")
    sweep.add_argument("-o", "--out", required=True, help="sweep folder (points.csv, runs/)")


def main(args: argparse.Namespace) -> int:
    command = getattr(args, "scaling_command", None)
    if command == "fit":
        return run_fit(args)
    if command == "predict":
        return run_predict(args)
    if command == "allocate":
        return run_allocate(args)
    if command == "sweep":
        csv_path = run_sweep(recipe_argument(args.recipe), args.out)
        print(f"points: {csv_path}")
        return 0
    raise UserError("lingalign scaling: give a command: fit, predict, allocate or sweep")


def run_fit(args) -> int:
    from lingalign.scaling.fit_law import fit_law  # these need scipy (and matplotlib): not at `lingalign --help`
    from lingalign.scaling.plot import plot_law
    from lingalign.scaling.predict import Law

    if args.bootstrap < 0:
        raise UserError("--bootstrap must be 0 or more")
    data, metric, model = read_points(args.csv, args.metric, args.model)
    distances = _distances(args, list(data))
    forms = [f.strip() for f in args.forms.split(",") if f.strip()]
    out = Path(args.out)
    config = {"forms": forms, "distances": distances, "metric": args.metric, "model": args.model,
              "select": args.select, "tolerance": args.tolerance, "bootstrap": args.bootstrap, "seed": args.seed}
    fingerprint = hash_obj({"config": config, "csv": hash_file(args.csv)})
    if not args.force and is_complete(out, fingerprint) and (out / "law.json").exists():
        print(f"{out} already holds this fit; use --force to refit")
        print(describe(read_json(out / "law.json")))
        return 0
    law = fit_law(data, forms, distances, draws=args.bootstrap, seed=args.seed, select=args.select,
                  tolerance=args.tolerance)
    law["data"] = {"csv": str(args.csv), "metric": metric, "model": model}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "law.json", law)
    plot_law(Law(law), out / "fit.png", metric=f"{metric} ({model})")
    write_manifest(out, stage="scaling-fit", fingerprint=fingerprint, inputs={"csv": hash_file(args.csv)},
                   config=config, counts={lang: len(e["sizes"]) for lang, e in law["languages"].items()})
    print(describe(law))
    print(f"wrote {out / 'law.json'} and {out / 'fit.png'}")
    return 0


def _distances(args, langs: list[str]) -> dict[str, float] | None:
    given = parse_mapping(args.distance, "--distance")
    if args.distance_file:
        given = {**read_mapping_file(args.distance_file, "distance"), **given}
    if args.distance_from == "uriel":
        given = {**uriel_distances(langs), **given}
    if given and not args.shared:
        raise UserError("distances are only used by a shared fit; add --shared")
    if args.shared and not given:
        raise UserError("--shared needs a distance per language",
                        hint="--distance zh=0.21,vi=0.22, --distance-file F, or --distance-from uriel")
    return given or None


def describe(law: dict) -> str:
    lines = [f"mode {law['mode']}; chosen form: {law['chosen']}"]
    lines.append("leave-one-size-out RMSE (pooled): " + ", ".join(
        f"{name} {entry['cv_rmse']['pooled']:.4g}" if entry["cv_rmse"]["pooled"] is not None else f"{name} n/a"
        for name, entry in law["forms"].items()))
    for lang, entry in law["languages"].items():
        params = ", ".join(f"{k}={v:.4g}" + (" [{:.4g}, {:.4g}]".format(*entry["intervals"][k])
                                             if entry["intervals"][k] else "")
                           for k, v in entry["params"].items())
        lines.append(f"  {lang}: {entry['form']}  {params}")
    lines.extend(f"note: {n}" for n in law.get("notes", []))
    return "\n".join(lines)


def run_predict(args) -> int:
    from lingalign.scaling.predict import Law  # scipy: not at `lingalign --help`

    law = Law.load(args.law)
    if args.size is not None and args.size <= 0:
        raise UserError(f"--size must be positive (got {args.size:g})")
    rows = [c.predict(args.size) if args.size is not None else c.size_for(args.target) for c in law.curve(args.lang)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        span = "no interval: fitted with --bootstrap 0"
        if row["interval"]:
            span = "95% interval {:.6g} to {:.6g}".format(*row["interval"])
        if args.size is not None:
            print(f"{row['lang']}: {row['score']:.4g} at {row['size']:g} pairs ({span})")
        else:
            text = f"{row['lang']}: {row['size']:.6g} pairs for {row['target']:g} ({span})"
            if row.get("note"):
                text += f"; {row['note']}"
            elif row["unreachable_share"]:
                text += f"; unreachable in {100 * row['unreachable_share']:.1f}% of bootstrap draws"
            print(text)
    return 0


def run_allocate(args) -> int:
    from lingalign.scaling import allocate as A  # scipy: not at `lingalign --help`
    from lingalign.scaling.predict import Law

    law = Law.load(args.law)
    langs = [l.strip() for l in args.langs.split(",")] if args.langs else list(law.curves)
    check_languages(dict.fromkeys(langs), law.curves, "--langs")
    curves = {l: law.curves[l] for l in langs}
    available = read_mapping_file(args.available_file, "available pairs") if args.available_file else {}
    available.update(parse_mapping(args.available, "--available"))
    weights = parse_mapping(args.weights, "--weights")
    check_languages(available, curves, "--available")
    check_languages(weights, curves, "--weights")
    if any(v < 0 for v in available.values()):
        raise UserError("--available: pair counts must not be negative")
    if any(v < 0 for v in weights.values()):
        raise UserError("--weights: weights must not be negative")
    counts = A.allocate(curves, args.budget, available, weights, args.objective)
    comparison = {"optimal": A.score(curves, counts, weights),
                  "uniform": A.score(curves, A.uniform(langs, args.budget, available), weights)}
    prop = A.proportional(langs, args.budget, available)
    if prop is not None:
        comparison["proportional"] = A.score(curves, prop, weights)
    summary = {"counts": counts, "budget": int(round(args.budget)), "objective": args.objective,
               "weights": {l: weights.get(l, 1.0) for l in langs}, "available": available or None,
               "law": str(args.law), "comparison": comparison}
    if args.recipe:
        document = recipe_with_counts(args.recipe, counts, parse_sources(args.source_for))
        about = yaml.safe_dump({"allocation": summary}, sort_keys=False, allow_unicode=True)
        header = "".join(f"# {line}\n" for line in about.splitlines())
        write_mixture(args.out, document, header)
    else:
        write_mixture(args.out, summary)
    print(f"{args.objective} objective, budget {summary['budget']} pairs:")
    for name, split in comparison.items():
        parts = ", ".join(f"{l} {split['counts'][l]} -> {split['predicted'][l]['score']:.4g}" for l in langs)
        print(f"  {name:<12} {parts}  | sum {split['weighted_sum']:.4g}, min {split['min']:.4g}")
    print(f"wrote {args.out}")
    return 0
