"""``lingalign recipes cp NAME DIR``: a shipped recipe and the files it names, copied for editing.

Besides the recipe itself, the files it reads by a path relative to its own folder come along, at
the same relative place under DIR, so the copy runs as the original did: its ``include:`` files (and
theirs), the ``launch.accelerate_config`` of an experiment, and the ``deepspeed_config_file`` of an
accelerate config. Paths to data (``../data/...``) are not copied; they are now relative to DIR, and
the command says so. ``sample:`` paths work from anywhere.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lingalign.catalog.shipped import find
from lingalign.config import read_recipe, read_yaml, resolve_path
from lingalign.errors import UserError


def related_files(recipe: Path) -> list[Path]:
    """The files ``recipe`` names by relative path (includes, launcher configs), recursively, in order."""
    found: list[Path] = []
    todo = [recipe.resolve()]
    while todo:
        path = todo.pop(0)
        found.append(path)
        if path.suffix == ".json":  # a DeepSpeed config: no comments, no includes
            continue
        data, included = read_recipe(path)
        named = list(included)
        if isinstance(data, dict):
            launch = data.get("launch")
            if isinstance(launch, dict) and isinstance(launch.get("accelerate_config"), str):
                named.append(resolve_path(launch["accelerate_config"], path.parent))
            deepspeed = data.get("deepspeed_config")
            if isinstance(deepspeed, dict) and isinstance(deepspeed.get("deepspeed_config_file"), str):
                named.append(resolve_path(deepspeed["deepspeed_config_file"], path.parent))
        for target in (p.resolve() for p in named):
            if not target.is_file() or target in found or target in todo:
                continue
            todo.append(target)
    return found


def copy_recipe(name: str, dest: str | Path, *, force: bool = False) -> list[Path]:
    """Copy the shipped recipe ``name`` and its related files into ``dest``; return the files written.

    The recipe's folder maps to ``dest``; a related file outside that folder is an error (none of
    the shipped recipes has one). Existing files are kept unless ``force``.
    """
    source = find(name)
    base = source.parent.resolve()
    dest = Path(dest)
    plan = []
    for path in related_files(source):
        try:
            relative = path.resolve().relative_to(base)
        except ValueError:
            raise UserError(f"{name}: names {path}, outside its folder {base}; copy it by hand") from None
        plan.append((path, dest / relative))
    existing = [str(target) for _, target in plan if target.exists()]
    if existing and not force:
        raise UserError(f"{', '.join(existing)}: exists already", hint="choose another folder, or pass --force")
    for path, target in plan:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return [target for _, target in plan]


def relative_data_paths(recipe: Path) -> list[str]:
    """The ``./`` and ``../`` paths a recipe's values hold (data and models it reads): after a copy they
    are relative to the new folder."""
    found: list[str] = []

    def walk(value) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and value.startswith(("./", "../")) and value not in found:
            found.append(value)

    if recipe.suffix != ".json":
        walk(read_yaml(recipe))
    return found

