"""Analyse models and their answers.

  lingalign analyze align --model smollm2-135m-instruct --langs en,zh -o runs/align-base
      how close sentences and their translations sit, layer by layer (cosine, retrieval, CKA);
      several models (base=PATH,coit=PATH) are compared on the same plot.
  lingalign analyze responses runs/eval-base runs/eval-coit/predictions/xquad-zh.jsonl -o runs/answers
      in which language each model answers, per task, against the language expected.
"""

from __future__ import annotations

import argparse

from lingalign.analysis.layerwise import align, parse_models
from lingalign.analysis.responses import format_table, response_languages
from lingalign.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the examples above as written
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    align = sub.add_parser("align", help="layer-wise cross-lingual alignment of one or more models",
                           description="Per layer, compare the mean hidden state of parallel sentences "
                                       "(English vs each other language).")
    align.add_argument("--model", action="append", required=True, metavar="MODEL[,MODEL...]",
                       help="model name, folder or adapter; label=path to name it; repeat or comma-separate. "
                            "Every model is compared sentence by sentence with the first (paired.csv)")
    align.add_argument("--langs", required=True, help="comma-separated languages, English is the pivot (e.g. en,zh,vi)")
    align.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    align.add_argument("--data", help="bitext: a folder of <code>.* files or a Moses-style prefix (corpus.en-zh)")
    align.add_argument("--data-root", help="a FLORES-101 folder (<root>/<split>/<code>.<split>); "
                                           "default: the FLORES dev sample shipped with lingalign")
    align.add_argument("--split", default="dev", help="FLORES split under --data-root (default: dev)")
    align.add_argument("--limit", type=int, help="use the first N sentences")
    align.add_argument("--template", default="raw", choices=("raw", "alpaca", "chat"),
                       help="feed the sentence alone, or inside the Alpaca / chat prompt (only its tokens are pooled)")
    align.add_argument("--batch-size", type=int, default=16, help="sentences per forward pass (default: 16)")
    align.add_argument("--max-length", type=int, default=256, help="truncate longer inputs (tokens, default: 256)")
    align.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "auto"))
    align.add_argument("--cka", action="store_true", help="also compute linear CKA per layer")
    align.add_argument("--center", action="store_true",
                       help="subtract each language's mean vector per layer before cosine and retrieval "
                            "(removes the direction all sentences share; see docs/analysis.md)")
    align.add_argument("--keep-first-token", action="store_true",
                       help="also pool the first input position (the attention sink; off by default, "
                            "see docs/analysis.md)")

    responses = sub.add_parser("responses", help="languages the answers are written in, per task and model",
                               description="Detect the language of every prediction and compare with the "
                                           "expected one. Arguments: prediction .jsonl files or eval result folders.")
    responses.add_argument("paths", nargs="+", metavar="PREDICTIONS", help="predictions .jsonl files or result folders")
    responses.add_argument("-o", "--out", metavar="DIR", help="write responses.json and responses.png here")


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UserError(f"{name} must be at least 1, got {value}")


def main(args: argparse.Namespace) -> int:
    if args.action == "align":
        _positive("--limit", args.limit)
        _positive("--batch-size", args.batch_size)
        _positive("--max-length", args.max_length)
        report = align(parse_models(args.model), args.langs.split(","), args.out, data=args.data,
                       data_root=args.data_root, split=args.split, limit=args.limit, template=args.template,
                       batch_size=args.batch_size, max_length=args.max_length, dtype=args.dtype, cka=args.cka,
                       center=args.center, keep_first=args.keep_first_token)
        print(summary(report))
        print(f"wrote {args.out}/alignment.json, alignment.csv and plots")
        return 0
    if args.action == "responses":
        report = response_languages(args.paths, args.out)
        print(format_table(report["rows"]))
        if report["skipped_choice_tasks"]:
            print(f"skipped multiple-choice tasks: {', '.join(report['skipped_choice_tasks'])}")
        if args.out:
            print(f"wrote {args.out}/responses.json and responses.png")
        return 0
    raise UserError("analyze needs an action: align or responses", hint="lingalign analyze align --help")


def summary(report: dict) -> str:
    """One line per model and language: where retrieval and the cosine gap peak."""
    lines = []
    for label, per_lang in report["best_layer"].items():
        for lang, best in per_lang.items():
            parts = [f"{metric} {best[metric]['value']:.3f} @ layer {best[metric]['layer']}"
                     for metric in ("retrieval_en_x", "retrieval_x_en", "cos_gap") if metric in best]
            lines.append(f"{label} en-{lang}: best " + "; ".join(parts))
    for item in report.get("paired", []):
        at = item["at_reference_best"]
        lines.append(f"{item['model']} - {item['reference']} en-{item['lang']} {item['metric']} @ layer {at['layer']} "
                     f"({item['reference']}'s best): {100 * at['delta']:+.1f} [{100 * at['low']:+.1f}, "
                     f"{100 * at['high']:+.1f}] points, p = {at['p']:.3f}")
    return "\n".join(lines)
