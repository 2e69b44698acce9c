"""What a model card states, read from the files a training run leaves (nothing is loaded).

* the model folder: ``manifest.json`` (recipe, counts, derived settings, provenance),
  ``lingalign_model.json`` (prompt format, method) and ``train_log.jsonl`` (time, tokens/s);
* the data: the data-stage folder's ``manifest.json`` beside ``train.jsonl`` (sources with their
  kinds, languages and record counts); for a bare ``.jsonl`` file, the ``lang`` / ``task`` /
  ``source`` fields of its records, when they have them;
* the base model: its Hub id where it can be known (an alias lingalign knows, a hub id given as
  the model, or a folder of the Hugging Face cache) and its licence (its own card's front matter,
  or the GGUF metadata it was converted from).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import langcodes
import yaml

from lingalign.artifacts import read_jsonl_tolerant
from lingalign.models import DEFAULT_MODEL, is_hub_id

# Base models lingalign names by an alias, and their Hub ids.
HUB_MODELS = {DEFAULT_MODEL: "HuggingFaceTB/SmolLM2-135M-Instruct"}

# Public data sets, recognised in a source's path (a shipped sample or a file of the shared data).
HUB_DATASETS = ((r"alpaca", "tatsu-lab/alpaca"),           # Alpaca, and its translations (zh, vi)
                (r"newstest20(1[4-9])", "wmt/wmt{0}"),     # WMT news test sets
                (r"tatoeba", "Helsinki-NLP/tatoeba_mt"),
                (r"tico-?19", "gmnlp/tico19"),
                (r"flores", "facebook/flores"),
                (r"xquad", "google/xquad"),
                (r"mlqa", "facebook/mlqa"),
                (r"mgsm", "juletxara/mgsm"),
                (r"gsm8kinstruct/question", "Mathoctopus/GSM8KInstruct_Parallel"),  # translated GSM8K questions
                (r"gsm8k", "openai/gsm8k"),         # GSM8K train (gsm8kinstruct/en: its worked answers)
                (r"msvamp", "Mathoctopus/MSVAMP"),
                (r"xcopa", "cambridgeltl/xcopa"))

CACHE_FOLDER = re.compile(r"models--([\w.-]+)--([\w.-]+)")


def hub_dataset(path: str) -> str | None:
    """The Hub id of a public data set named by a path, or None."""
    for pattern, hub_id in HUB_DATASETS:
        found = re.search(pattern, str(path), flags=re.IGNORECASE)
        if found:
            return hub_id.format(*found.groups())
    return None


def base_hub_id(name: str, path: str) -> str | None:
    """The base model's Hub id: a known alias, a hub id as written, or a Hugging Face cache folder."""
    if name in HUB_MODELS:
        return HUB_MODELS[name]
    if is_hub_id(name) and not Path(name).exists():
        return name
    found = CACHE_FOLDER.search(str(path))
    return f"{found.group(1)}/{found.group(2)}" if found else None


def front_matter(readme: Path) -> dict:
    """The YAML front matter of a model card, or {}."""
    try:
        text = readme.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    if not text.startswith("---"):
        return {}
    block = text[3:].split("\n---", 1)[0]
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def base_license(path: str) -> str | None:
    """The licence the base model states: its card's ``license``, else its GGUF file's ``general.license``."""
    folder = Path(path)
    found = front_matter(folder / "README.md").get("license")
    if isinstance(found, str) and found:
        return found
    source = folder / "lingalign_source.json"  # a folder lingalign converted from a GGUF file
    try:
        gguf = json.loads(source.read_text(encoding="utf-8")).get("gguf")
    except (OSError, ValueError, AttributeError):
        return None
    return gguf_license(gguf) if gguf and Path(gguf).is_file() else None


def gguf_license(path: str) -> str | None:
    try:
        from gguf import GGUFReader

        field = GGUFReader(path).fields.get("general.license")
        value = field.contents() if field is not None else None
    except Exception:  # an unreadable or old-format file: no licence known
        return None
    return value if isinstance(value, str) and value else None


def iso_code(code: str) -> str | None:
    """``zh``, ``zho``, ``zh-Hans`` -> ``zh`` (the Hub's language codes); None for what is not a language."""
    try:
        language = langcodes.Language.get(str(code)).language
    except (ValueError, LookupError):
        return None
    return language if language and language != "und" else None


def data_facts(data_file: str | Path) -> dict:
    """The training data: ``sources`` (name, kind, languages, path, records, dataset), ``by_lang``,
    ``by_task``, ``records``, ``known`` (False when nothing says what the records are)."""
    data_file = Path(data_file)
    manifest_path = data_file.parent / "manifest.json"
    manifest = None
    if data_file.name == "train.jsonl" and manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = None
    if isinstance(manifest, dict) and manifest.get("stage") == "data":
        return _from_manifest(manifest)
    return _from_records(data_file)


def _from_manifest(manifest: dict) -> dict:
    counts = manifest.get("counts") or {}
    by_source = counts.get("by_source") or {}
    sources = []
    for source in (manifest.get("config") or {}).get("sources") or []:
        path = source.get("path") or ", ".join(source.get("paths") or [])
        langs = source.get("languages") or ([source["lang"]] if source.get("lang") else [])
        sources.append({"name": source.get("name"), "kind": source.get("kind"), "languages": langs, "path": path,
                        "records": by_source.get(source.get("name"), 0), "dataset": hub_dataset(path),
                        "translated": bool(source.get("translate"))})
    return {"known": True, "records": counts.get("records"), "by_lang": counts.get("by_lang") or {},
            "by_task": counts.get("by_task") or {}, "sources": sources,
            "direction": (manifest.get("config") or {}).get("direction")}


def _from_records(data_file: Path) -> dict:
    records = read_jsonl_tolerant(data_file) if data_file.exists() else []
    by_lang = Counter(r["lang"] for r in records if isinstance(r.get("lang"), str))
    by_task = Counter(r["task"] for r in records if isinstance(r.get("task"), str))
    source = {"name": data_file.name, "kind": "preference pairs" if records and "chosen" in records[0] else "records",
              "languages": sorted(by_lang), "path": str(data_file), "records": len(records),
              "dataset": hub_dataset(data_file), "translated": False}
    return {"known": bool(by_lang and by_task), "records": len(records), "by_lang": dict(by_lang),
            "by_task": dict(by_task), "sources": [source], "direction": None}


def languages(data: dict) -> list[str]:
    """ISO codes of the data's languages, most records first (sources' declared languages too)."""
    ranked = Counter()
    for code, n in (data.get("by_lang") or {}).items():
        if iso_code(code):
            ranked[iso_code(code)] += n
    for source in data.get("sources") or []:
        for code in source.get("languages") or []:
            if iso_code(code):
                ranked[iso_code(code)] += 0
    return sorted(ranked, key=lambda c: (-ranked[c], c))


def mixture(data: dict, method: str, tuning: str) -> tuple[list[str], str]:
    """Tags for the method and data mixture, and one honest sentence on what the mixture is."""
    tags = ["lingalign"]
    if method == "dpo":
        tags.append("dpo")
    if tuning == "lora":
        tags.append("lora")
    if method == "dpo":
        return tags, "preference pairs (chosen and rejected answers); DPO tunes towards the chosen ones"
    if not data.get("known"):
        return tags, "instruction records whose languages and tasks are not recorded (no data-stage manifest)"
    tasks = data.get("by_task") or {}
    others = [c for c in languages(data) if c != "en"]
    named = ", ".join(langcodes.Language.get(c).display_name() for c in others) or "none"
    if "question-alignment" in tasks:
        tags.append("qalign")
    if tasks.get("translation"):
        tags.append("coit" if len(others) == 1 else "muit" if len(others) > 1 else "translation")
        kind = "CoIT" if len(others) == 1 else "MuIT" if len(others) > 1 else "translation data"
        return tags + ["instruction-tuning"], (f"{kind}: instructions plus translation tasks "
                                               f"(non-English languages: {named})")
    if "question-alignment" in tasks:
        return tags, f"question alignment (QAlign): questions translated into English (languages: {named})"
    if others:
        return tags + ["instruction-tuning"], f"instructions only, no translation tasks (non-English: {named})"
    return tags + ["instruction-tuning"], "English instructions only (no other language, no translation tasks)"


def training_time(log_path: Path) -> dict:
    """Seconds of training and the mean tokens/s over the logged steps (from ``train_log.jsonl``)."""
    records = read_jsonl_tolerant(log_path) if log_path.exists() else []
    if not records:
        return {}
    rates = [r["tokens_per_s"] for r in records if isinstance(r.get("tokens_per_s"), (int, float))]
    return {"seconds": records[-1].get("elapsed"), "steps_logged": len(records),
            "tokens_per_s": round(sum(rates) / len(rates), 1) if rates else None}
