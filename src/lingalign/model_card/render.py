"""A lingalign model folder's ``README.md``: Hub metadata in YAML front matter, then the card's body.

The body says how the model was made (method, data mixture with counts, hyperparameters, precision
and hardware) and, once ``lingalign eval`` or ``lingalign run`` has scored it, its results
(``lingalign.model_card.results``). The card is written from the folder's own files and the data
folder's manifest, so it can also be written later for a folder trained before cards existed.
"""

from __future__ import annotations

import json
from pathlib import Path

from lingalign import __version__
from lingalign.artifacts import read_json
from lingalign.model_card import facts
from lingalign.provenance.record import describe

MARKER = "<!-- lingalign model card: `lingalign eval` rewrites the results between the results markers -->"
RESULTS_START, RESULTS_END = "<!-- lingalign:results", "<!-- /lingalign:results -->"
METHODS = {"full": "full fine-tuning (every weight trains)", "lora": "LoRA adapters", "dpo": "DPO (preference tuning)"}


def model_facts(folder: Path, name: str | None = None) -> dict:
    """Everything the card states about a finished model folder (manifest, model info, log, data, base);
    ``name``: the model's name when the folder is not yet where it will be (training's ``final/``)."""
    manifest = read_json(folder / "manifest.json")
    info_path = folder / "lingalign_model.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
    config = manifest.get("config") or {}
    inputs = manifest.get("inputs") or {}
    base_path = inputs.get("model") or (manifest.get("derived") or {}).get("base_model") or ""
    data = facts.data_facts(inputs["data"]) if inputs.get("data") else {"known": False, "sources": []}
    tuning = (config.get("dpo") or {}).get("tune", "full") if config.get("method") == "dpo" else config.get("method")
    tags, mixture = facts.mixture(data, config.get("method", "full"), tuning)
    return {"folder": folder, "name": name or folder.name, "manifest": manifest, "config": config, "info": info,
            "data": data,
            "tuning": tuning, "tags": tags, "mixture": mixture, "base_path": base_path,
            "base_id": facts.base_hub_id(str(config.get("model", "")), base_path),
            "license": facts.base_license(base_path) if base_path else None,
            "languages": facts.languages(data), "time": facts.training_time(folder / "train_log.jsonl"),
            "adapter_only": (folder / "adapter_config.json").exists()}


def card_data(found: dict, eval_results: list | None = None):
    """The front matter as ``huggingface_hub.ModelCardData`` (``model-index`` from ``eval_results``)."""
    from huggingface_hub import ModelCardData

    datasets = list(dict.fromkeys(s["dataset"] for s in found["data"].get("sources", []) if s.get("dataset")))
    return ModelCardData(
        base_model=found["base_id"], language=found["languages"] or None, license=found["license"],
        datasets=datasets or None, tags=found["tags"], pipeline_tag="text-generation",
        library_name="peft" if found["adapter_only"] else "transformers",
        model_name=found["name"] if eval_results else None, eval_results=eval_results or None)


def body(found: dict, results_section: str) -> str:
    config, manifest = found["config"], found["manifest"]
    base = found["base_id"] or f"a local model ({found['base_path']}; no Hub id known)"
    sections = [MARKER, f"# {found['name']}", "",
                f"`{found['name']}` is {base} tuned with lingalign "
                f"{__version__}: {METHODS.get(config.get('method'), config.get('method'))}, on {found['mixture']}.", ""]
    sections += ["## Method", "", *method_lines(found), ""]
    sections += ["## Training data", "", *data_lines(found["data"], manifest.get("counts") or {}), ""]
    sections += ["## Hyperparameters", "", *hyperparameter_lines(config, manifest.get("derived") or {}), ""]
    sections += ["## Precision and hardware", "", *hardware_lines(manifest, found["time"]), ""]
    sections += [results_section, "", "## Use", "", *use_lines(found), ""]
    return "\n".join(sections)


def method_lines(found: dict) -> list[str]:
    config, info = found["config"], found["info"]
    lines = [f"- method: {METHODS.get(config.get('method'), config.get('method'))}"]
    if found["tuning"] == "lora":
        lora = config.get("lora") or {}
        merged = "merged into the base weights (adapter kept in `adapter/`)" if not found["adapter_only"] else \
            "this folder is the adapter (load it on the base model with peft)"
        lines.append(f"- LoRA: r={lora.get('r')}, alpha={lora.get('alpha')}, dropout={lora.get('dropout')}, "
                     f"on {', '.join(lora.get('target_modules') or [])}; {merged}")
    if config.get("method") == "dpo":
        dpo = config.get("dpo") or {}
        lines.append(f"- DPO: beta={dpo.get('beta')}, loss {dpo.get('loss_type')} (TRL's), reference: "
                     f"{info.get('reference_model') or 'the starting model'}")
    lines.append(f"- data mixture: {found['mixture']}")
    lines.append(f"- prompt format: `{info.get('prompt_format', config.get('prompt_format'))}` (lingalign eval "
                 "prompts the model the same way; `lingalign_model.json`)")
    lines.append("- the loss covers the answer and its end token only; the prompt is masked")
    return lines


def data_lines(data: dict, counts: dict) -> list[str]:
    lines = ["| source | kind | languages | records | Hub data set |", "|---|---|---|---:|---|"]
    for source in data.get("sources", []):
        kind = (source.get("kind") or "") + (" (machine-translated)" if source.get("translated") else "")
        lines.append(f"| {source.get('name')} | {kind} | {', '.join(source.get('languages') or []) or '?'} | "
                     f"{source.get('records', '?')} | {source.get('dataset') or '-'} |")
    by_lang = ", ".join(f"{k} {v}" for k, v in (data.get("by_lang") or {}).items())
    by_task = ", ".join(f"{k} {v}" for k, v in (data.get("by_task") or {}).items())
    lines += [""] + ([f"Records by language: {by_lang}. By task: {by_task}."] if by_lang or by_task else [])
    order = ("records", "kept", "truncated", "dropped_overlength", "dropped_empty", "dropped_identical", "examples",
             "pairs", "tokens", "response_tokens")
    shown = [f"{k.replace('_', ' ')} {counts[k]:,}" for k in order if isinstance(counts.get(k), int)]
    if shown:
        lines.append("Training read: " + ", ".join(shown) + " (`manifest.json`, counts).")
    return lines


def hyperparameter_lines(config: dict, derived: dict) -> list[str]:
    keys = ("epochs", "max_steps", "learning_rate", "lr_scheduler", "warmup_ratio", "weight_decay", "adam_betas",
            "fused_adamw", "max_grad_norm", "max_length", "overlength", "packing", "micro_batch_size",
            "gradient_accumulation_steps", "gradient_checkpointing", "seed")
    lines = ["| key | value |", "|---|---|"]
    lines += [f"| {key} | {config[key]} |" for key in keys if key in config]
    if "fused_adamw" not in config:
        lines.append("| fused_adamw | False (torch's AdamW loop) |")
    for key in ("total_steps", "effective_batch_rows", "world_size", "trainable_parameters", "parameters"):
        if key in derived:
            lines.append(f"| {key} | {derived[key]:,} |" if isinstance(derived[key], int) else
                         f"| {key} | {derived[key]} |")
    return lines


def hardware_lines(manifest: dict, time: dict) -> list[str]:
    derived = manifest.get("derived") or {}
    lines = [f"- precision: {derived.get('precision', '?')} (weights and optimizer in fp32; bf16 means autocast)",
             f"- attention: {derived.get('attention', '?')}; processes: {derived.get('world_size', 1)} "
             f"({derived.get('distributed', 'NO')})",
             f"- machine: {describe(manifest.get('provenance'))}"]
    if time.get("seconds") is not None:
        lines.append(f"- training took {time['seconds']:.0f} s, {time.get('tokens_per_s')} tokens/s on average")
    if manifest.get("final_loss") is not None:
        lines.append(f"- final training loss: {manifest['final_loss']}")
    lines.append(f"- run fingerprint {manifest.get('fingerprint')}, trained {manifest.get('created', '?')}; "
                 "the whole recipe is in `hyperparameters.yaml`, the per-step log in `train_log.jsonl`")
    return lines


def use_lines(found: dict) -> list[str]:
    name = found["name"]
    return ["```bash",
            f"lingalign eval --model {name} --task TASKS -o eval/{name}   # tasks: lingalign eval --list; "
            "adds the scores to this card",
            f"lingalign serve --model tuned={name}                        # chat with it in a browser",
            "```", "",
            "Elsewhere (transformers, vLLM), prompt it in its format (`lingalign.prompting.build_prompt`): "
            "with `alpaca`, the answer follows `### Response:` directly."]


def render(folder: Path, results_section: str, eval_results: list | None = None, name: str | None = None) -> str:
    """The whole ``README.md`` of a lingalign model folder."""
    found = model_facts(folder, name)
    data = card_data(found, eval_results)
    return f"---\n{data.to_yaml()}\n---\n\n{body(found, results_section)}"
