"""What a training run is, and whether an output folder already holds it.

A run's identity is its fingerprint: the recipe's result-bearing keys, the bytes of its data, and the
starting (and, for DPO, reference) model. ``OUT.work/run.json`` records it while the run is under
way, the model's manifest once it is done; :func:`prepare_output` compares both with this run's
before any work, so a folder never mixes two runs. ``lingalign run`` uses :func:`expected_fingerprint`
to know whether a model step is done without loading anything.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lingalign.artifacts import hash_file, hash_obj, is_complete, read_json, read_manifest
from lingalign.config import resolve_path
from lingalign.errors import UserError
from lingalign.models import resolve_model
from lingalign.output_lock import LOCK_FILE
from lingalign.train.recipe import NON_RESULT_KEYS, TrainConfig

RUN_FILE = "run.json"


def work_dir(out_dir: Path) -> Path:
    return out_dir.with_name(out_dir.name + ".work")


def resolve_base(config: TrainConfig) -> str:
    path = resolve_model(config.model)
    if not Path(path).exists():
        raise UserError(f"train.model: {config.model!r} is not an existing model folder or known model",
                        hint="give a Hugging Face model folder, a .gguf file or 'smollm2-135m-instruct'")
    return path


def fingerprint(config: TrainConfig, data_file: Path, model_path: str, reference: str | None = None,
                start: str | None = None) -> str:
    """The run's identity; ``reference`` (DPO's reference model) is added only when given, so that
    supervised runs keep the fingerprints they always had. So is ``start``: what made the starting
    model, when its folder is rewritten in place (an earlier stage of ``lingalign run``: that stage's
    fingerprint), as its path and config.json stay the same when its weights change."""
    settings = config.model_dump(mode="json", exclude=set(NON_RESULT_KEYS))
    identity = {"config": settings, "data": hash_file(data_file), **_model_identity("model", model_path)}
    if reference is not None:
        identity.update(_model_identity("reference", reference))
    if start is not None:
        identity["start"] = start
    return hash_obj(identity)


def starting_models(config: TrainConfig) -> tuple[str, str | None]:
    """The resolved starting model and, for DPO, the resolved reference model (None otherwise)."""
    model_path = resolve_base(config)
    if config.method != "dpo":
        return model_path, None
    from lingalign.train import dpo as preference  # imports torch

    return model_path, preference.reference_path(config, model_path)


def expected_fingerprint(config: TrainConfig, data_dir, start: str | None = None) -> str:
    """The fingerprint :func:`train` records for these arguments (to compare with an output's manifest)."""
    config = config.with_dpo_defaults()
    return fingerprint(config, data_file_of(data_dir), *starting_models(config), start=start)


def _model_identity(key: str, path: str) -> dict:
    model_config = Path(path) / "config.json"
    return {key: path, f"{key}_config": hash_file(model_config) if model_config.exists() else None}


def data_file_of(data) -> Path:
    """``--data``: a data-stage folder (its ``train.jsonl``), a ``.jsonl`` file, or ``sample:PATH``."""
    path = resolve_path(data)
    if path.is_file():
        return path
    if path.suffix == ".jsonl":
        raise UserError(f"{data}: file not found")
    if not (path / "train.jsonl").exists():
        raise UserError(f"{data}: no train.jsonl", hint="point --data at a `lingalign data build` output folder "
                        "or at a .jsonl file")
    return path / "train.jsonl"


def prepare_output(out: Path, work: Path, fp: str, *, resume: bool, force: bool) -> bool:
    """Check the output folders against this run; return True when the output is already complete."""
    if out.exists() and not force:
        if is_complete(out, fp):
            return True
        if read_manifest(out) is not None:
            raise UserError(f"{out}: holds the output of a different training run",
                            hint="choose another -o folder, or pass --force to replace it")
        if any(out.iterdir()):
            raise UserError(f"{out}: exists and is not a lingalign model folder",
                            hint="choose another -o folder or --force")
    run_file = work / RUN_FILE
    if run_file.exists() and not force:
        previous = read_json(run_file).get("fingerprint")
        if previous != fp:
            raise UserError(f"{work}: holds checkpoints of a different run (other recipe, data or model)",
                            hint="use another -o folder, or --force to start over")
        if not resume:
            raise UserError(f"{work}: a run with these settings was started already",
                            hint="pass --resume to continue it, or --force to start over")
    return False


def empty_work(work: Path) -> None:
    """Remove what ``work`` holds, except the lock this run holds on it."""
    if not work.exists():
        return
    for item in work.iterdir():
        if item.name == LOCK_FILE:
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item)
        else:
            item.unlink()
