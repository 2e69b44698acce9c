"""Writing an allocation as something the data stage can build.

Without a base recipe the output is a fragment ``{counts: {lang: n}, objective, comparison, ...}``.
With one (``--recipe data.yaml --source-for zh=news-en-zh``), the named sources get
``count: n`` (their ``weight`` is dropped) and the rest of the file is kept. The data stage checks
the written recipe against its schema when it builds it (a stage never imports another stage, and
only counts change here, so a valid base recipe stays valid).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from lingalign.artifacts import write_text
from lingalign.config import read_yaml
from lingalign.errors import UserError


def parse_sources(text: str | None) -> dict[str, str]:
    """``zh=news-en-zh,vi=tatoeba-en-vi`` -> {"zh": "news-en-zh", "vi": "tatoeba-en-vi"}."""
    pairs = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        lang, sep, source = item.partition("=")
        if not sep or not lang.strip() or not source.strip():
            raise UserError(f"--source-for: expected lang=source-name pairs, got {item!r}")
        pairs[lang.strip()] = source.strip()
    return pairs


def recipe_with_counts(recipe_path, counts: dict[str, int], source_for: dict[str, str]) -> dict:
    """The base recipe with each language's translation source set to its allocated count."""
    document = read_yaml(recipe_path)
    if not isinstance(document, dict):
        raise UserError(f"{recipe_path}: expected a recipe mapping")
    data = document.get("data", document)
    sources = {s.get("name"): s for s in data.get("sources", []) if isinstance(s, dict)}
    missing_langs = sorted(set(counts) - set(source_for))
    if missing_langs:
        raise UserError(f"--source-for: no source named for {', '.join(missing_langs)}",
                        hint=f"e.g. --source-for {missing_langs[0]}=<bitext source name in {recipe_path}>")
    for lang, name in source_for.items():
        if lang not in counts:
            raise UserError(f"--source-for: language '{lang}' is not in the allocation ({', '.join(counts)})")
        if name not in sources:
            raise UserError(f"{recipe_path} [data.sources]: no source named '{name}'",
                            hint=f"sources: {', '.join(map(str, sources))}")
        sources[name]["count"] = int(counts[lang])
        sources[name].pop("weight", None)
    if data.get("total") is not None and not any("weight" in s for s in sources.values()):
        data.pop("total")  # nothing left to share out by weight
    return document


def write_mixture(path, document: dict, header: str = "") -> None:
    """Write the YAML atomically, after ``header`` (comment lines)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_text(path, header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
