"""The shared tiny model fixture loads through lingalign.models like any user model."""

from lingalign.models import load_model, load_tokenizer


def test_tiny_model_loads_and_runs(tiny_model_dir):
    import torch

    tokenizer = load_tokenizer(str(tiny_model_dir))
    model = load_model(str(tiny_model_dir))
    batch = tokenizer(["hello world", "你好"], return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model(**batch)
    assert out.logits.shape[:2] == batch["input_ids"].shape
    assert out.logits.shape[-1] == len(tokenizer)
