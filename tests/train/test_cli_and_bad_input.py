"""The CLI: recipe + overrides, and clear one-line errors for bad input (exit 2, no model written)."""

from __future__ import annotations

import json

import pytest

from lingalign.cli import main as cli_main
from lingalign.errors import UserError
from lingalign.train.command import load_config
from lingalign.train.recipe import TrainConfig


def recipe(tmp_path, text):
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_trains_with_overrides(tiny_model_dir, data_dir, tmp_path, capsys):
    path = recipe(tmp_path, f"train:\n  model: {tiny_model_dir}\n  max_length: 512\n  precision: fp32\n")
    out = tmp_path / "out"
    code = cli_main(["train", str(path), "--data", str(data_dir), "-o", str(out), "--max-steps", "2",
                     "--set", "learning_rate=1e-3", "--set", "lora.r=4"])
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["learning_rate"] == 1e-3 and manifest["config"]["lora"]["r"] == 4
    assert manifest["derived"]["total_steps"] == 2


def test_recipe_errors_name_the_key(tmp_path):
    with pytest.raises(UserError, match="learning_rat.*Did you mean 'learning_rate'"):
        load_config(str(recipe(tmp_path, "train:\n  learning_rat: 1e-4\n")), [])
    with pytest.raises(UserError, match="warmup_ratio"):
        load_config(str(recipe(tmp_path, "warmup_ratio: 2\n")), [])
    with pytest.raises(UserError, match="micro_batch_size"):
        load_config(None, ["micro_batch_size=0"])


@pytest.mark.parametrize("case", ["missing_model", "missing_tokenizer", "no_data", "empty_data", "all_dropped"])
def test_bad_input_exits_2_without_output(case, tiny_model_dir, data_dir, tmp_path, capsys):
    import shutil

    model = str(tiny_model_dir)
    args_data = data_dir
    if case == "missing_model":
        model = str(tmp_path / "nowhere")
    elif case == "missing_tokenizer":
        bare = tmp_path / "bare"
        bare.mkdir()
        for name in ("config.json", "model.safetensors", "generation_config.json"):
            if (tiny_model_dir / name).exists():
                shutil.copy(tiny_model_dir / name, bare / name)
        model = str(bare)
    elif case == "no_data":
        args_data = tmp_path / "nodata"
    elif case == "empty_data":
        (data_dir / "train.jsonl").write_text("")
    path = recipe(tmp_path, f"model: {model}\nmax_length: {32 if case == 'all_dropped' else 512}\nprecision: fp32\n")
    out = tmp_path / "out"
    assert cli_main(["train", str(path), "--data", str(args_data), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    assert not out.exists()


def test_defaults_are_the_papers_except_where_stated():
    config = TrainConfig()
    assert config.prompt_format == "alpaca" and config.lr_scheduler == "cosine" and config.warmup_ratio == 0.03
