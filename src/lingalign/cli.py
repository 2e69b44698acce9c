"""The ``lingalign`` command: one verb per stage.

Each stage keeps its own command module (``lingalign.<stage>.command``) exposing
``add_arguments(parser)`` and ``main(args) -> int``. Those modules import heavy libraries (torch,
transformers) inside ``main`` only, so ``lingalign --help`` stays fast.

User mistakes (``UserError``) are printed as one message with exit code 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from lingalign import __version__
from lingalign.errors import UserError
from lingalign.launching import Stopped, die_with_parent, under_launcher

# verb -> (module, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "data": ("lingalign.data.command", "instruction data (CoIT/MuIT, QAlign, pivot), Alpaca-X by MT, preference pairs"),
    "train": ("lingalign.train.command", "fine-tune a causal LM: supervised or DPO, full or LoRA"),
    "eval": ("lingalign.evaluate.command", "score a model: QA, translation, math, XCOPA, your own sets; compare"),
    "scaling": ("lingalign.scaling.command", "fit translation-data scaling laws and allocate a budget"),
    "analyze": ("lingalign.analysis.command", "layer-wise cross-lingual alignment and answer languages"),
    "run": ("lingalign.run.command", "run a whole experiment from one recipe, resumably"),
    "report": ("lingalign.report.command", "write a self-contained HTML report of a run"),
    "recipes": ("lingalign.catalog.command", "list the shipped recipes (purpose, cost), copy one for editing"),
    "models": ("lingalign.models.command", "prepare or inspect models (e.g. convert the default GGUF once)"),
    "env": ("lingalign.provenance.command", "print the CPU, precision auto, device and versions results depend on"),
    "serve": ("lingalign.serve.command",
              "a local web page: chat with a run's models side by side, browse its predictions"),
}


def _available_verbs() -> dict[str, object]:
    """Import the command modules that exist; a stage not built yet simply has no verb."""
    modules = {}
    for verb, (module_name, _) in VERBS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        if hasattr(module, "add_arguments") and hasattr(module, "main"):
            modules[verb] = module
    return modules


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(
        prog="lingalign",
        description="Align languages during instruction tuning (CoIT / MuIT, QAlign, pivot answering, DPO on "
                    "translation-consistency pairs), then evaluate and analyse.",
    )
    parser.add_argument("--version", action="version", version=f"lingalign {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    modules = _available_verbs()
    for verb, module in modules.items():
        verb_parser = sub.add_parser(verb, help=VERBS[verb][1], description=module.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # docstrings keep lines
        module.add_arguments(verb_parser)
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    if under_launcher():  # a worker of torchrun / accelerate launch: end with the process that started it
        die_with_parent()  # first thing, so that a launcher killed while this one imports is noticed
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not args.verb:
        parser.print_help()
        return 2
    try:
        return int(modules[args.verb].main(args) or 0)
    except UserError as exc:
        print(f"lingalign {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        how = f"stopped by {exc.signal_name}" if isinstance(exc, Stopped) else "interrupted"
        print(f"lingalign {args.verb}: {how}; finished work is kept, re-run to resume", file=sys.stderr)
        return 128 + exc.signum if isinstance(exc, Stopped) else 130
    except MemoryError:
        print(f"lingalign {args.verb}: error: out of memory; reduce batch size or max_length", file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
