"""Reading a run folder while ``lingalign run`` is still writing it."""

from __future__ import annotations

import os

import pytest

from lingalign.artifacts import append_jsonl, write_json
from lingalign.errors import UserError
from lingalign.serve.chat import visible
from lingalign.serve.runfolder import RunFolder


@pytest.fixture
def training_run(tmp_path):
    """Data built, the first of two models still training (its log in models/<name>.work/)."""
    (tmp_path / "recipe.yaml").write_text(
        "base_model: smollm2-135m-instruct\ndatasets: {a: {}, b: {}}\n"
        "models:\n  - {name: en, data: a}\n  - {name: zh, data: b}\nevaluate: {tasks: [xquad-zh]}\n", encoding="utf-8")
    for key in ("data__a", "data__b"):
        write_json(tmp_path / "steps" / f"{key}.json", {"seconds": 0.5})
    append_jsonl(tmp_path / "models" / "en.work" / "train_log.jsonl",
                 [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 2.25}])
    return tmp_path


def test_a_model_in_training_shows_its_loss_so_far_and_is_not_offered(training_run):
    run = RunFolder(training_run)
    assert run.chat_models() == {"base": "smollm2-135m-instruct", "en": None, "zh": None}
    state = run.progress()
    steps = {s["step"]: (s["status"], s["detail"]) for s in state["steps"]}
    assert steps == {"data:a": ("done", ""), "data:b": ("done", ""), "train:en": ("running", "step 2, loss 2.250"),
                     "train:zh": ("pending", ""), "eval:base": ("pending", ""), "eval:en": ("pending", ""),
                     "eval:zh": ("pending", "")}
    assert run.train_logs() == {"en": [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 2.25}]}


def test_a_failed_step_and_a_quiet_run(training_run):
    append_jsonl(training_run / "run_log.jsonl", [{"step": "train:en", "status": "failed", "error": "out of memory"}])
    old = 1_000_000_000  # 2001: nothing written for a long time, so the next step is not "running"
    for path in training_run.rglob("*"):
        os.utime(path, (old, old))
    state = RunFolder(training_run).progress()
    first_open = state["steps"][2]
    assert (first_open["step"], first_open["status"], first_open["error"]) == ("train:en", "failed", "out of memory")
    assert state["active"] is False and state["steps"][3]["status"] == "pending"


def test_the_base_model_comes_from_the_recipe_or_what_the_run_recorded(tmp_path):
    (tmp_path / "recipe.yaml").write_text("base_model: ../models/base\nmodels: [{name: m, data: d}]\n",
                                          encoding="utf-8")
    run = RunFolder(tmp_path)
    assert run.base_model() is None  # relative to a recipe folder the run does not record
    write_json(tmp_path / "models" / "m" / "lingalign_model.json",
               {"prompt_format": "alpaca", "base_model": "/abs/base"})
    assert run.base_model() == "/abs/base"
    write_json(tmp_path / "eval" / "base" / "results.json", {"model_path": "/abs/evaluated"})
    assert run.base_model() == "/abs/evaluated"


def test_not_a_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="run folder not found"):
        RunFolder(tmp_path / "nope")
    with pytest.raises(UserError, match=r"not a lingalign run folder \(no recipe.yaml, models/, eval/ or steps/"):
        RunFolder(tmp_path)


def test_files_outside_the_run_folder_are_refused(training_run):
    run = RunFolder(training_run)
    assert run.file("recipe.yaml") == training_run.resolve() / "recipe.yaml"
    for bad in ("../x", "/etc/passwd", "models/../../x"):
        with pytest.raises(PermissionError):
            run.file(bad)


def test_streamed_text_holds_back_a_stop_string_being_written():
    stops = ["### Instruction:", "\n### "]
    assert visible("Hello", stops) == "Hello"
    assert visible("Hello\n##", stops) == "Hello"        # could be the start of "\n### "
    assert visible("Hello ### Instr", stops) == "Hello "  # could be "### Instruction:"
    assert visible("Hello ### Instruction: more", stops) == "Hello "
    assert visible("a # b", stops) == "a # b"            # a lone "#" followed by text is not a stop


def test_staged_models_are_planned_in_training_order(tmp_path):
    """A model with init: trains after the model it starts from, as lingalign run orders it."""
    (tmp_path / "recipe.yaml").write_text(
        "datasets: {a: {}, b: {}}\nmodels:\n  - {name: two, data: a, init: one}\n  - {name: solo, data: a}\n"
        "  - {name: one, data: b}\n", encoding="utf-8")
    run = RunFolder(tmp_path)
    assert run.planned_steps() == ["data:a", "data:b", "train:solo", "train:one", "train:two"]
    assert run.model_names() == ["two", "solo", "one"]


def test_pairs_sampled_from_a_model_of_the_run_are_planned_after_its_training(tmp_path):
    """A pairs: dataset naming a model of the run is made after that model trains, and before the DPO model."""
    (tmp_path / "recipe.yaml").write_text(
        "datasets: {coit: {}, prefs: {pairs: {model: sft}}}\nmodels:\n  - {name: sft, data: coit}\n"
        "  - {name: mapo, data: prefs, init: sft}\n", encoding="utf-8")
    run = RunFolder(tmp_path)
    assert run.planned_steps() == ["data:coit", "train:sft", "data:prefs", "train:mapo"]
