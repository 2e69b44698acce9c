"""``lingalign recipes``: the recipes shipped with lingalign.

  lingalign recipes list                 each recipe's name, kind, purpose and cost
  lingalign recipes cp NAME DIR          copy one (and the files it includes) into DIR for editing

A NAME is the recipe's path below the recipes folder without its suffix (``quickstart``,
``study/zh``, ``train/lora-cpu``). ``lingalign run NAME -o DIR`` (and ``train``, ``data build``,
``scaling sweep``) accept it where a recipe path is expected; a path that exists wins.
"""

from __future__ import annotations

import argparse

from lingalign.catalog.copying import copy_recipe, relative_data_paths
from lingalign.catalog.shipped import COST, KINDS, PURPOSE, catalog, recipes_root, usage

MISSING = "(no '{}' line in its header)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="each shipped recipe with its purpose and cost")
    listing.add_argument("--kind", help="only this kind: experiment, train, data, sweep, accelerate, deepspeed")
    copying = sub.add_parser("cp", help="copy a shipped recipe and the files it includes into DIR, for editing")
    copying.add_argument("name", help="recipe name, e.g. quickstart or study/zh (see `lingalign recipes list`)")
    copying.add_argument("dest", help="folder to copy into (created)")
    copying.add_argument("--force", action="store_true", help="overwrite files that exist in DIR")


def main(args: argparse.Namespace) -> int:
    if args.action == "list":
        print_catalog(args.kind)
        return 0
    written = copy_recipe(args.name, args.dest, force=args.force)
    for path in written:
        print(f"copied {path}")
    recipe = written[0]
    relative = relative_data_paths(recipe)
    if relative:
        shown = ", ".join(relative[:3]) + (", ..." if len(relative) > 3 else "")
        print(f"note: its relative paths ({shown}) are now relative to {recipe.parent}")
    return 0


def print_catalog(kind: str | None = None) -> None:
    """Grouped by kind (experiments first), one recipe per line, its cost on the next."""
    root = recipes_root()
    entries = [r for r in catalog(root) if kind is None or r.kind == kind]
    print(f"recipes in {root} ({len(entries)}); copy one with `lingalign recipes cp NAME DIR`")
    width = max((len(r.name) for r in entries), default=0)
    for group in [k for _, k, _ in KINDS] + ["other"]:
        members = [r for r in entries if r.kind == group]
        if not members:
            continue
        print(f"\n{group}: {usage(group)}")
        for entry in members:
            print(f"  {entry.name:<{width}}  {entry.purpose or MISSING.format(PURPOSE)}")
            print(f"  {'':<{width}}  cost: {entry.cost or MISSING.format(COST)}")
