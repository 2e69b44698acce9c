"""Shared test fixtures: a tiny random LLaMA-style model with a real (tiny) BPE tokenizer.

Unit tests use it so they run in seconds on a CPU; the few integration tests that need the real
default model are marked ``slow`` and use ``default_model_dir``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lingalign.models import DEFAULT_MODEL, resolve_model

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "lingalign" / "samples"
# The published quickstart's train and eval step fingerprints (README, issue 23): `lingalign run --dry-run` of
# recipes/quickstart.yaml prints them on any machine (the default model is named by its alias).
QUICKSTART_STEPS = {"train:alpaca-en": "38c7f9d1634ef2f3", "train:coit-zh": "43ecc5e226595c74",
                    "eval:base": "0cab5f27bb9c41c5", "eval:alpaca-en": "7d82524a38bd4dbe",
                    "eval:coit-zh": "492b4af4fcac551c"}


def step_fingerprints(plan_text: str) -> dict[str, str]:
    """``step -> fingerprint`` of the train and eval lines of a ``lingalign run --dry-run`` plan."""
    found = {}
    for line in plan_text.splitlines():
        key, _, rest = line.strip().partition(": ")
        if "fingerprint " in rest and key.startswith(("train:", "eval:")):
            found[key] = rest.split("fingerprint ")[1].split()[0]
    return found


CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _training_text() -> list[str]:
    """A little real en/zh/vi text so the tiny tokenizer splits all three scripts sensibly."""
    lines = []
    for name in ("bitext/newstest2017.en-zh.en", "bitext/newstest2017.en-zh.zh",
                 "bitext/tatoeba.eng-vie.vie", "flores101/dev/eng.dev"):
        with open(SAMPLES / name, encoding="utf-8") as handle:
            lines.extend(line for _, line in zip(range(300), handle))
    lines.append("Below is an instruction that describes a task. ### Instruction: ### Input: ### Response:")
    return lines


def make_tiny_tokenizer(vocab_size: int = 600):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "<|im_end|>", "<pad>", "<|im_start|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(_training_text(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="<|im_end|>",
        pad_token="<pad>",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def make_tiny_model(tokenizer, *, layers: int = 2, hidden: int = 64, seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved tiny random model folder (2 layers, width 64, ~600-token BPE vocab)."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = make_tiny_tokenizer()
    model = make_tiny_model(tokenizer)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    """The real default model (SmolLM2-135M-Instruct), converted from GGUF on first use."""
    return Path(resolve_model(DEFAULT_MODEL))


@pytest.fixture(scope="session")
def flores(samples_dir) -> dict[str, list[str]]:
    """The first 5 FLORES-101 devtest sentences of every language, by file code (``cmn_Hans``, ``tha``)."""
    found: dict[str, list[str]] = {}
    for row in (samples_dir / "flores101" / "first5.devtest.tsv").read_text(encoding="utf-8").splitlines():
        code, text = row.split("\t", 1)
        found.setdefault(code, []).append(text)
    return found
