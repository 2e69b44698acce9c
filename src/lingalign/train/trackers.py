"""Experiment trackers: ``report_to: [tensorboard, wandb, mlflow]`` in a train recipe.

Each logged step (the lines of ``train_log.jsonl``, every ``log_every`` steps) also goes to the
named trackers through accelerate's tracker classes: ``train/loss``, ``train/lr``,
``train/tokens_per_s``, ``train/grad_norm``, ``train/epoch`` and, for DPO, the reward metrics
(``train/reward_margin``, ``train/reward_accuracy``, ...). The resolved recipe is stored as the
run's configuration. Only the main process logs.

Where the logs go: ``logging_dir`` when the recipe sets one (relative to the current folder), else
``OUT.work/runs/`` while the run is going (a resumed run appends there; TensorBoard purges the
steps logged after the checkpoint it resumed from), moved into ``OUT/runs/`` with the finished
model (the Hugging Face Hub shows TensorBoard files of a pushed folder as its training metrics).
TensorBoard writes ``runs/<model name>/``; wandb writes its offline run files under the same folder
(project ``lingalign`` or ``$WANDB_PROJECT``, run named after the model); MLflow logs into
``runs/mlruns`` unless ``MLFLOW_TRACKING_URI`` says otherwise (experiment ``lingalign`` or
``$MLFLOW_EXPERIMENT_NAME``).

wandb never uploads unless asked: when ``WANDB_MODE`` is not set, lingalign sets it to ``offline``
(no network, no account); ``WANDB_MODE=online`` sends the run, ``wandb sync DIR`` uploads an
offline one later.

A tracker whose package is missing is a one-line error naming the extra to install, before
anything loads. ``report_to`` and ``logging_dir`` change nothing in the weights: they are not part
of the run's fingerprint (``NON_RESULT_KEYS``) and are left out of the resolved recipe when unset.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from pathlib import Path

from lingalign.errors import UserError

log = logging.getLogger(__name__)

# tracker -> the modules that provide it (any one of them) and the lingalign extra that installs it
PACKAGES = {"tensorboard": (("tensorboard", "tensorboardX"), "tensorboard"),
            "wandb": (("wandb",), "wandb"), "mlflow": (("mlflow",), "mlflow")}
PROJECT = "lingalign"
LOGGED = ("loss", "lr", "tokens_per_s", "grad_norm", "epoch", "reward_margin", "reward_accuracy", "reward_chosen",
          "reward_rejected")


def missing_trackers(report_to) -> list[str]:
    """One line per tracker of ``report_to`` whose package is not installed."""
    lines = []
    for name in report_to or ():
        modules, extra = PACKAGES[name]
        if not any(importlib.util.find_spec(m) is not None for m in modules):
            lines.append(f"train.report_to: {name} needs the {modules[0]} package, which is not installed "
                         f"(pip install 'lingalign[{extra}]')")
    return lines


def check_trackers(report_to) -> None:
    missing = missing_trackers(report_to)
    if missing:
        raise UserError(missing[0])


def logging_dir(config, work: Path) -> Path:
    return Path(config.logging_dir) if config.logging_dir else work / "runs"


def make_trackers(config, work: Path, name: str, fingerprint: str, resumed_step: int) -> list:
    """accelerate tracker objects for ``config.report_to`` (empty without it); they start in ``start_trackers``."""
    if not config.report_to:
        return []
    from accelerate.tracking import MLflowTracker, TensorBoardTracker, WandBTracker

    folder = logging_dir(config, work)  # made when the trackers start (start_trackers)
    trackers = []
    for kind in config.report_to:
        if kind == "tensorboard":
            purge = {"purge_step": resumed_step + 1} if resumed_step else {}  # drop steps logged after the checkpoint
            trackers.append(TensorBoardTracker(name, folder, **purge))
        elif kind == "wandb":
            if "WANDB_MODE" not in os.environ:
                os.environ["WANDB_MODE"] = "offline"
                log.info("wandb: offline (WANDB_MODE was not set); `wandb sync %s` uploads the run later", folder)
            trackers.append(WandBTracker(os.environ.get("WANDB_PROJECT", PROJECT), name=name, dir=str(folder),
                                         id=f"{name}-{fingerprint}", resume="allow"))
        elif kind == "mlflow":
            os.environ.setdefault("MLFLOW_TRACKING_URI", (folder / "mlruns").resolve().as_uri())
            trackers.append(MLflowTracker(PROJECT, run_name=name))
    return trackers


def start_trackers(accelerator, config, work: Path) -> None:
    """Start the accelerator's trackers and store the resolved recipe as the run's configuration."""
    if not accelerator.log_with:
        return
    if accelerator.is_main_process:
        logging_dir(config, work).mkdir(parents=True, exist_ok=True)
    accelerator.init_trackers(PROJECT, config=flat(config.model_dump(mode="json")))


def log_step(accelerator, record: dict) -> None:
    """One ``train_log.jsonl`` record, as ``train/<name>`` values at its step."""
    if accelerator.trackers:
        values = {f"train/{k}": record[k] for k in LOGGED if isinstance(record.get(k), (int, float))}
        accelerator.log(values, step=record["step"])


def finish_trackers(accelerator) -> None:
    """Flush and close the trackers (what ``end_training`` does, without destroying the process group,
    which saving the model still needs)."""
    for tracker in accelerator.trackers:
        tracker.finish()
    accelerator.trackers = []


def keep_logs(config, work: Path, final: Path) -> None:
    """Move the default ``OUT.work/runs/`` into the finished model folder (a ``logging_dir`` stays where it is)."""
    if config.report_to and not config.logging_dir and (work / "runs").is_dir():
        shutil.move(str(work / "runs"), str(final / "runs"))


def flat(values: dict, prefix: str = "") -> dict:
    """Nested recipe keys as ``lora.r``; lists and null as text (trackers take numbers, text and booleans)."""
    found = {}
    for key, value in values.items():
        if isinstance(value, dict):
            found.update(flat(value, f"{prefix}{key}."))
        else:
            found[f"{prefix}{key}"] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return found
