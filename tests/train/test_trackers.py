"""``report_to``: TensorBoard (and wandb, mlflow) get every logged step, without changing the run."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

from lingalign.cli import main
from lingalign.errors import UserError
from lingalign.train import trackers
from lingalign.train.identity import fingerprint, work_dir
from lingalign.train.recipe import TrainConfig
from lingalign.train.stage import train

LOGGED = ["train/epoch", "train/grad_norm", "train/loss", "train/lr", "train/tokens_per_s"]


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series of a TensorBoard run folder, as (step, value) pairs."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def log_of(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "train_log.jsonl").read_text().splitlines()]


def test_report_to_is_not_part_of_the_run(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text('{"instruction": "a", "input": "", "output": "b"}\n')
    plain = TrainConfig()
    logged = TrainConfig(report_to="tensorboard", logging_dir="tb")
    assert logged.report_to == ["tensorboard"] and TrainConfig(report_to="none").report_to is None
    assert "report_to" not in plain.model_dump() and "logging_dir" not in plain.model_dump()
    assert logged.model_dump()["report_to"] == ["tensorboard"]  # the resolved recipe says what was logged
    assert fingerprint(logged, data, "/m") == fingerprint(plain, data, "/m")
    with pytest.raises(ValueError):
        TrainConfig(report_to=["comet"])


def test_a_missing_tracker_package_is_one_line_naming_the_extra(monkeypatch, tmp_path, capsys):
    # tensorboard "installed", wandb not, whatever this machine has: the first missing one is reported
    installed = {"tensorboard": object(), "wandb": None}
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: installed[name] if name in installed
                        else real(name, *a))
    with pytest.raises(UserError, match=r"wandb needs the wandb package.*pip install 'lingalign\[wandb\]'"):
        trackers.check_trackers(["tensorboard", "wandb"])
    recipe = tmp_path / "r.yaml"
    recipe.write_text("train:\n  model: /nonexistent/model\n  report_to: [wandb]\n")
    data = tmp_path / "train.jsonl"
    data.write_text('{"instruction": "a", "input": "", "output": "b"}\n')
    assert main(["train", str(recipe), "--data", str(data), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lingalign train: error: train.report_to: wandb needs the wandb package, which is not installed "
                   "(pip install 'lingalign[wandb]')"]  # before the (missing) model is even looked at
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.work").exists()


def test_tensorboard_gets_every_logged_step_and_stays_with_the_model(tiny_config, data_dir, tmp_path):
    pytest.importorskip("tensorboard")
    config = tiny_config.model_copy(update={"max_steps": 3, "report_to": ["tensorboard"]})
    out = train(config, data_dir, tmp_path / "model")
    assert not work_dir(out).exists()
    found = scalars(out / "runs" / "model")  # OUT.work/runs moved into the model folder, run named after it
    assert sorted(found) == LOGGED
    log = log_of(out)
    for tag in LOGGED:
        key = tag.removeprefix("train/")
        assert [step for step, _ in found[tag]] == [r["step"] for r in log] == [1, 2, 3]
        assert [v for _, v in found[tag]] == pytest.approx([r[key] for r in log], rel=1e-6)
    # the same weights as without trackers (they change nothing in the run)
    plain = train(tiny_config.model_copy(update={"max_steps": 3}), data_dir, tmp_path / "plain")
    assert (plain / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()


def test_a_resumed_run_appends_and_purges_the_steps_it_redoes(tiny_config, data_dir, tmp_path):
    pytest.importorskip("tensorboard")
    config = tiny_config.model_copy(update={"max_steps": 4, "report_to": ["tensorboard"], "checkpoint_every": 2,
                                            "logging_dir": str(tmp_path / "tb")})
    out = tmp_path / "model"
    train(config, data_dir, out, stop_after=3)  # checkpoints at steps 2 and 3, TensorBoard has steps 1-3
    shutil.rmtree(work_dir(out) / "checkpoints" / "step-00000003")  # as if killed after logging step 3
    train(config, data_dir, out, resume=True)  # resumes from step 2, so step 3 is logged twice
    loss = scalars(tmp_path / "tb" / "model")["train/loss"]
    assert [step for step, _ in loss] == [1, 2, 3, 4]  # the first step 3 was purged
    assert [v for _, v in loss] == pytest.approx([r["loss"] for r in log_of(out)], rel=1e-6)
    assert not (out / "runs").exists()  # a logging_dir stays where the recipe put it


def test_dpo_logs_its_reward_metrics(dpo_config, pref_dir, tmp_path):
    pytest.importorskip("tensorboard")
    out = train(dpo_config.model_copy(update={"max_steps": 2, "report_to": ["tensorboard"]}), pref_dir,
                tmp_path / "dpo")
    found = scalars(out / "runs" / "dpo")
    assert {"train/reward_margin", "train/reward_accuracy", "train/reward_chosen", "train/reward_rejected",
            "train/loss"} <= set(found)
    assert [v for _, v in found["train/reward_margin"]] == pytest.approx([r["reward_margin"] for r in log_of(out)],
                                                                          abs=1e-6)


def test_wandb_logs_offline_without_a_network(tiny_config, data_dir, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = train(tiny_config.model_copy(update={"max_steps": 2, "report_to": ["wandb"]}), data_dir, tmp_path / "m")
    assert os.environ["WANDB_MODE"] == "offline"
    assert list((out / "runs" / "wandb").glob("offline-run-*"))
