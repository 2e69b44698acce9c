"""Recipes: YAML files validated by typed schemas.

Each stage defines its own schema next to its code (``lingalign.data.recipe.DataRecipe``, ...);
this module holds what they share: the strict base class, YAML loading (with ``include:`` of other
files) with messages that name the file and key (with a suggestion for a misspelt key), and path
resolution relative to the recipe.
"""

from __future__ import annotations

import copy
import difflib
import os
import types
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from lingalign.artifacts import read_text
from lingalign.errors import UserError

SAMPLE_PREFIX = "sample:"
INCLUDE = "include"  # the recipe key that reads other recipe files first


class Strict(BaseModel):
    """Base for every recipe section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


M = TypeVar("M", bound=BaseModel)


def samples_dir() -> Path:
    """The small real data samples shipped inside the package (see samples/README.md)."""
    return Path(__file__).parent / "samples"


def resolve_path(value: str | os.PathLike, base: str | os.PathLike | None = None) -> Path:
    """Resolve a path from a recipe or the command line.

    ``sample:flores101/dev/eng.dev`` points into the shipped samples; a relative path is taken
    relative to ``base`` (the recipe's folder) when given, else to the current directory;
    ``~`` is expanded.
    """
    text = str(value)
    if text.startswith(SAMPLE_PREFIX):
        return samples_dir() / text[len(SAMPLE_PREFIX):]
    path = Path(os.path.expanduser(text))
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path


def model_ref(value: str, recipe_dir: str | os.PathLike | None) -> str:
    """A model named in a recipe: paths are relative to the recipe's folder; aliases and hub ids stay as written."""
    path = resolve_path(value, recipe_dir)
    if value.startswith((".", "~", "/", SAMPLE_PREFIX)) or path.exists():
        return os.path.abspath(path)  # absolute, so it reads as a path (not a hub id) wherever it is checked
    return value


def read_yaml(path: str | os.PathLike) -> Any:
    """A YAML file, with its ``include:`` files merged in (see :func:`read_recipe`)."""
    return read_recipe(path)[0]


def read_recipe(path: str | os.PathLike) -> tuple[Any, list[Path]]:
    """A recipe read from YAML, and the files it included (in reading order; empty without ``include:``).

    ``include: base.yaml`` (or a list of paths, relative to the including file) reads those files
    first; the including file's keys win, merged recursively for mappings, while lists and other
    values are replaced whole. An included file may include others. One mechanism here, so every
    kind of recipe (experiment, data, train, sweep) can share a base.
    """
    included: list[Path] = []
    return _read_including(Path(path), (), included), included


def _read_including(path: Path, chain: tuple[Path, ...], included: list[Path]) -> Any:
    data = _read_yaml_file(path)
    if not isinstance(data, dict) or INCLUDE not in data:
        return data
    data = dict(data)
    wanted = data.pop(INCLUDE)
    wanted = [wanted] if isinstance(wanted, str) else wanted
    if not isinstance(wanted, list) or not wanted or not all(isinstance(w, str) and w for w in wanted):
        raise UserError(f"{path}: include: expected a path or a list of paths (relative to this file)")
    chain = (*chain, path.resolve())
    merged: dict = {}
    for name in wanted:
        target = resolve_path(name, path.parent)
        if target.resolve() in chain:
            loop = " -> ".join(str(p) for p in (*chain[chain.index(target.resolve()):], target.resolve()))
            raise UserError(f"{path}: include {name}: an include cycle ({loop})")
        if not target.is_file():
            raise UserError(f"{path}: include {name}: file not found ({target})")
        base = _read_including(target, chain, included)
        if not isinstance(base, dict):
            raise UserError(f"{target}: an included file must be a mapping of keys (included by {path})")
        included.append(target)
        merged = merge_recipes(merged, base)
    return merge_recipes(merged, data)


def merge_recipes(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``: mappings merge key by key (recursively), anything else is replaced."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_recipes(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml_file(path: Path) -> Any:
    if not path.exists():
        raise UserError(f"{path}: recipe not found")
    try:
        text = read_text(path)  # without a byte-order mark
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"{path}{line}: invalid YAML ({problem})") from None


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names valid at a location inside a schema, to suggest a fix for a misspelt key."""
    current: Any = model
    for part in loc[:-1]:
        current = _inside(current, part)
        if current is None:
            return []
    found = _innermost_model(current)
    return list(found.model_fields) if found is not None else []


def _inside(annotation: Any, part: str | int) -> Any:
    """The annotation one step into ``annotation`` along an error location (a field, list index or mapping key)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field is not None else None
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:  # a tagged union (pydantic's Discriminator) names the member it chose in the location
        members = {meta.tag: get_args(m)[0] for m in get_args(args[0]) if get_origin(m) is Annotated
                   for meta in get_args(m)[1:] if hasattr(meta, "tag")}
        return members[part] if part in members else _inside(args[0], part)
    if origin in (Union, types.UnionType):
        return next((found for arg in args if arg is not type(None)
                     for found in [_inside(arg, part)] if found is not None), None)
    if origin in (list, tuple, set, frozenset) and isinstance(part, int) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]  # ``part`` is a key of the mapping, e.g. a dataset's name
    return None


def _innermost_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _innermost_model(arg)
        if found is not None:
            return found
    return None


def format_validation_error(exc: ValidationError, model: type[BaseModel], source: str,
                            key_names: Callable[[tuple], tuple] | None = None) -> str:
    """One line per problem, naming its key (``key_names`` may rename a location for display, e.g. a
    list index to the item's name)."""
    lines = [f"{source}: the recipe does not match the schema:"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in (key_names(loc) if key_names else loc)) or "(top level)"
        if err["type"] == "extra_forbidden":
            valid = _fields_at(model, loc)
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else (f" Valid keys: {', '.join(valid)}." if valid else "")
            lines.append(f"  - {key}: unknown key.{hint}")
        elif err["type"] == "missing":
            lines.append(f"  - {key}: required key is missing")
        else:
            got = err.get("input")
            shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
            lines.append(f"  - {key}: {err['msg']}{shown}")
    return "\n".join(lines)


def validate(data: Any, model: type[M], source: str = "recipe",
             key_names: Callable[[tuple], tuple] | None = None) -> M:
    """Validate a parsed mapping against a schema; errors become one readable ``UserError``."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping of keys to values, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UserError(format_validation_error(exc, model, source, key_names)) from None


def partial_schema(model: type[BaseModel], name: str) -> type[BaseModel]:
    """A schema with the fields of ``model``, every one optional: a section that overrides some of its keys.

    Keys, types and ranges are checked as ``model`` checks them (an unknown or mistyped key is reported
    where it is written); ``model_dump(exclude_unset=True)`` gives back the keys that were set.
    Checks across fields run when the overrides are merged into a full ``model``.
    """
    fields = {}
    for key, info in model.model_fields.items():
        optional = copy.copy(info)
        optional.default, optional.default_factory = None, None
        # A key that is set is given back, whatever its value: ``model``'s own ``exclude_if`` (e.g.
        # ``fused_adamw: false`` left out of a resolved TrainConfig) must not drop an override that sets it.
        optional.exclude_if = None
        fields[key] = (Optional[info.annotation], optional)
    return create_model(name, __base__=Strict, __doc__=f"Some keys of {model.__name__}, each optional.", **fields)


def load_recipe(path: str | os.PathLike, model: type[M], section: str | None = None) -> M:
    """Read a YAML recipe (or one top-level section of it) into a typed schema."""
    data = read_yaml(path)
    source = str(path)
    if section is not None and isinstance(data, dict) and section in data:
        data = data[section]
        source = f"{path} [{section}]"
    return validate(data, model, source)


def apply_overrides(data: dict, pairs: list[str]) -> dict:
    """Apply ``--set KEY=VALUE`` pairs to a recipe read from YAML (``lingalign train``, ``lingalign run``).

    The value is read as YAML (``1e-4`` is a number, ``[a, b]`` a list); a dotted key reaches into
    a section (``lora.r=8``, ``train.precision=fp32``). The result is validated like the file.
    """
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--set {pair!r}: expected KEY=VALUE")
        target = data
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise UserError(f"--set {key}: {part!r} is not a section")
        target[parts[-1]] = yaml.safe_load(value)
    return data


def dump_yaml(model: BaseModel) -> str:
    """The resolved configuration as YAML, saved beside every output."""
    return yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
