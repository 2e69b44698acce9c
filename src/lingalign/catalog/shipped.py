"""The recipes shipped with lingalign, found by name, each with its one-line purpose and cost.

Where they are: an installed wheel holds them as ``lingalign/recipes/`` (copied there by setup.py's
build step); a clone or editable install reads the repository's ``recipes/`` beside ``src/``, so an
edit there shows at once and the README's ``recipes/...`` paths stay what they were.

A recipe's name is its path below that folder without the suffix: ``quickstart``,
``study/zh``, ``train/lora-cpu``, ``deepspeed/zero2``. Every shipped YAML recipe starts with a
comment block holding two labelled lines, read by ``lingalign recipes list``::

    # Purpose: one line: what it runs and what it shows
    # Cost: one line: time and hardware (or "none by itself" for a config other files name)

``tests/catalog`` checks that every shipped recipe has both. A DeepSpeed JSON file cannot hold
comments: its purpose is read from its ``zero_optimization.stage``.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from lingalign.errors import UserError

SUFFIXES = (".yaml", ".yml", ".json")
PURPOSE, COST = "# Purpose:", "# Cost:"

# What to do with a recipe, by the keys it holds (the first match wins).
KINDS = (("models", "experiment", "lingalign run NAME -o DIR"),
         ("scaling", "sweep", "lingalign scaling sweep FILE -o DIR"),
         ("datasets", "included", "included by other recipes (include:)"),
         ("train", "train", "lingalign train NAME --data DIR -o OUT"),
         ("data", "data", "lingalign data build NAME -o DIR"),
         ("distributed_type", "accelerate", "accelerate launch --config_file FILE ..."),
         ("zero_optimization", "deepspeed", "accelerate / deepspeed config file"))


@dataclass(frozen=True)
class Recipe:
    name: str
    path: Path
    kind: str
    purpose: str
    cost: str


def recipes_root() -> Path:
    """The recipes folder of this installation: the package's own (a wheel), else the repository's."""
    package = Path(__file__).resolve().parents[1]  # .../lingalign
    for folder in (package / "recipes", package.parents[1] / "recipes"):
        if folder.is_dir():
            return folder
    raise UserError("this installation of lingalign has no recipes folder",
                    hint="reinstall from a wheel built by `pip wheel .`, or run from a clone of the repository")


def recipe_files(root: Path | None = None) -> list[Path]:
    root = root or recipes_root()
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in SUFFIXES
                  and not any(part.startswith((".", "__")) for part in p.relative_to(root).parts))


def name_of(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def header(path: Path) -> dict[str, str]:
    """The ``# Purpose:`` and ``# Cost:`` lines of a recipe's leading comment block (empty when absent)."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break  # the header ends at the first key
        for label, key in ((PURPOSE, "purpose"), (COST, "cost")):
            if stripped.startswith(label):
                found.setdefault(key, stripped[len(label):].strip())
    return found


def describe(path: Path, root: Path) -> Recipe:
    """One catalog entry: the recipe's kind (from its top-level keys), purpose and cost."""
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        stage = (data.get("zero_optimization") or {}).get("stage")
        info = {"purpose": f"DeepSpeed ZeRO stage {stage} config (JSON: no comments; see docs/train.md)",
                "cost": "none by itself: a launcher config that other recipes name"}
    else:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        info = header(path)
    keys = set(data) if isinstance(data, dict) else set()
    kind = next((kind for key, kind, _ in KINDS if key in keys), "other")
    return Recipe(name_of(path, root), path, kind, info.get("purpose", ""), info.get("cost", ""))


def catalog(root: Path | None = None) -> list[Recipe]:
    root = root or recipes_root()
    return [describe(path, root) for path in recipe_files(root)]


def usage(kind: str) -> str:
    return next((use for _, k, use in KINDS if k == kind), "")


def find(name: str, root: Path | None = None) -> Path:
    """The shipped recipe called ``name`` (``quickstart``, ``study/zh``; a suffix may be given).

    An unknown name is an error listing the close ones.
    """
    root = root or recipes_root()
    files = {name_of(p, root): p for p in recipe_files(root)}
    wanted = name.strip().removeprefix("recipes/")
    for suffix in SUFFIXES:
        wanted = wanted.removesuffix(suffix)
    if wanted in files:
        return files[wanted]
    same_file = [n for n in files if n.rsplit("/", 1)[-1] == wanted]  # zh -> study/zh
    similar = difflib.get_close_matches(wanted, list(files), n=4, cutoff=0.5)
    containing = [n for n in files if wanted and wanted in n]
    close = list(dict.fromkeys(same_file + similar + containing))[:4]
    hint = (f"close: {', '.join(close)}; " if close else "") + "`lingalign recipes list` shows all"
    raise UserError(f"{name}: neither a file nor a shipped recipe", hint=hint)


def recipe_argument(value: str) -> Path:
    """A RECIPE argument: a path that exists wins; otherwise a shipped recipe's name.

    A shipped recipe inside the current folder (a clone) is given relative to it, so ``lingalign run
    quickstart`` names the recipe as ``recipes/quickstart.yaml`` does: the run folder's recipe.yaml
    header and the data steps' input paths (part of their fingerprints) come out the same.
    """
    path = Path(value)
    if path.exists():
        return path
    found = find(value)
    try:
        relative = Path(os.path.relpath(found))
    except ValueError:  # another drive (Windows)
        return found
    return relative if not relative.as_posix().startswith("../") else found
