"""Model resolution errors and the CLI's handling of user mistakes."""

import json

import pytest

from lingalign.cli import main
from lingalign.errors import UserError
from lingalign.models import load_model, load_tokenizer, resolve_model


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="model folder not found"):
        resolve_model(str(tmp_path / "nope"))


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(UserError, match="not a model folder"):
        resolve_model(str(tmp_path))


def test_tokenizer_without_pad_gets_an_existing_token(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.pad_token = None
    tokenizer.save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    loaded = load_tokenizer(str(tmp_path))
    assert loaded.pad_token is not None
    assert len(loaded) == len(tokenizer)  # vocabulary unchanged: no resize needed


def test_cli_prints_user_errors_without_traceback(tmp_path, capsys):
    code = main(["models", "info", str(tmp_path / "missing-model")])
    err = capsys.readouterr().err
    assert code == 2
    assert "error:" in err and "model folder not found" in err
    assert "Traceback" not in err


def test_cli_without_verb_shows_help(capsys):
    assert main([]) == 2
    assert "usage: lingalign" in capsys.readouterr().out


@pytest.mark.slow
def test_default_model_is_converted_once_and_loads(default_model_dir):
    config = json.loads((default_model_dir / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    assert (default_model_dir / "model.safetensors").exists()
    model = load_model(str(default_model_dir))
    tokenizer = load_tokenizer(str(default_model_dir))
    assert tokenizer.eos_token == "<|im_end|>" and len(tokenizer) == model.config.vocab_size
