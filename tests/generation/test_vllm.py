"""The vLLM backend without vLLM: a stand-in module records what lingalign sends to the engine
(token ids, sampling parameters, LoRA requests) and returns canned text, so the prompts, stop
handling and adapter path are checked on a CPU."""

from __future__ import annotations

import json
import shutil
import sys
from types import SimpleNamespace

import pytest

from lingalign import artifacts
from lingalign.errors import UserError
from lingalign.evaluate import evaluate
from lingalign.generation.batching import encode_prompts
from lingalign.generation.hf_generator import HFGenerator
from lingalign.generation.vllm_generator import VLLMGenerator
from lingalign.models import load_model, load_tokenizer
from lingalign.prompting import ALPACA_STOP_STRINGS, build_prompt

CANNED = "  答案 here\n### Instruction: and the model goes on"  # what the fake engine "generates"


class FakeVLLM:
    """Stands in for the ``vllm`` module: ``LLM``, ``SamplingParams`` and ``LoRARequest``, recording calls."""

    def __init__(self):
        self.engines, self.calls = [], []
        fake = self

        class LLM:
            def __init__(self, model, **kwargs):
                fake.engines.append({"model": model, **kwargs})

            def generate(self, prompts, params, use_tqdm=True, lora_request=None):
                fake.calls.append({"prompts": prompts, "params": params, "lora_request": lora_request,
                                   "use_tqdm": use_tqdm})
                return [SimpleNamespace(outputs=[SimpleNamespace(text=CANNED, finish_reason="stop")]) for _ in prompts]

        self.LLM = LLM
        self.SamplingParams = lambda **kwargs: SimpleNamespace(**kwargs)
        self.LoRARequest = lambda name, number, path: SimpleNamespace(lora_name=name, lora_int_id=number,
                                                                     lora_path=path)


@pytest.fixture()
def bos_model(tiny_model_dir, tmp_path):
    """The tiny model with a LLaMA-like tokenizer: it adds BOS itself and its chat template writes one too."""
    from tokenizers.processors import TemplateProcessing

    folder = tmp_path / "bos-model"
    shutil.copytree(tiny_model_dir, folder)
    tokenizer = load_tokenizer(str(folder))
    tokenizer._tokenizer.post_processor = TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tokenizer.bos_token_id)])
    tokenizer.chat_template = "<s>" + tokenizer.chat_template
    tokenizer.save_pretrained(folder)
    return folder


def test_chat_prompts_reach_vllm_as_the_hf_token_ids_with_one_bos(bos_model, tmp_path, monkeypatch):
    fake = FakeVLLM()
    monkeypatch.setitem(sys.modules, "vllm", fake)
    out = tmp_path / "eval"
    evaluate(str(bos_model), "flores-en-zh", out, limit=3, batch_size=2, max_new_tokens=5, dtype="float32",
             backend="vllm", prompt_format="chat")
    tokenizer = load_tokenizer(str(bos_model))
    bos = tokenizer.bos_token_id
    records = artifacts.read_jsonl_tolerant(out / "predictions" / "flores-en-zh.jsonl")
    sent = [p["prompt_token_ids"] for call in fake.calls for p in call["prompts"]]
    assert sent == encode_prompts(tokenizer, [r["prompt"] for r in records], add_special_tokens=False)
    assert all(ids[0] == bos and ids.count(bos) == 1 for ids in sent)  # the template's BOS, and no second one
    assert tokenizer(records[0]["prompt"])["input_ids"].count(bos) == 2  # what letting vLLM tokenize text gave
    hf = HFGenerator(str(bos_model), dtype="float32")  # the HF backend decodes from the very same ids
    assert encode_prompts(hf.tokenizer, [r["prompt"] for r in records], False) == sent


def test_alpaca_prompts_get_the_tokenizers_bos_once(bos_model):
    fake = FakeVLLM()
    gen = VLLMGenerator(str(bos_model), dtype="float32", vllm=fake)
    prompt = build_prompt("Translate to Chinese.", "Hello.", "alpaca")
    list(gen.generate([prompt], max_new_tokens=4, add_special_tokens=True))
    ids = fake.calls[0]["prompts"][0]["prompt_token_ids"]
    assert ids[0] == gen.tokenizer.bos_token_id and ids.count(gen.tokenizer.bos_token_id) == 1


def test_sampling_parameters_and_stop_handling(tiny_model_dir, tmp_path, monkeypatch):
    fake = FakeVLLM()
    monkeypatch.setitem(sys.modules, "vllm", fake)
    out = tmp_path / "eval"
    results = evaluate(str(tiny_model_dir), "xquad-zh", out, limit=3, batch_size=2, max_new_tokens=7,
                       dtype="float32", backend="vllm")
    assert fake.engines == [{"model": str(tiny_model_dir), "dtype": "float32", "trust_remote_code": False}]
    params = fake.calls[0]["params"]
    stops = list(ALPACA_STOP_STRINGS) + ["\n### "]
    assert vars(params) == {"temperature": 0.0, "max_tokens": 7, "stop": stops,
                            "stop_token_ids": HFGenerator(str(tiny_model_dir), dtype="float32").eos_ids,
                            "skip_special_tokens": True, "include_stop_str_in_output": False}
    assert fake.calls[0]["lora_request"] is None and fake.calls[0]["use_tqdm"] is False
    records = artifacts.read_jsonl_tolerant(out / "predictions" / "xquad-zh.jsonl")
    assert [r["prediction"] for r in records] == ["答案 here"] * 3  # cut at the stop string and stripped, as HF
    assert results["generation"]["backend"] == "vllm"


def test_lora_adapter_is_served_through_vllm_lora(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model

    adapter = tmp_path / "adapter"
    model = get_peft_model(load_model(str(tiny_model_dir)), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    model.save_pretrained(adapter)
    fake = FakeVLLM()
    gen = VLLMGenerator(str(adapter), dtype="float32", vllm=fake)
    assert fake.engines[0]["model"] == str(tiny_model_dir)  # the base model, from adapter_config.json
    assert fake.engines[0]["enable_lora"] is True and fake.engines[0]["max_lora_rank"] == 8
    list(gen.generate(["Hello"], max_new_tokens=3))
    request = fake.calls[0]["lora_request"]
    assert (request.lora_name, request.lora_int_id, request.lora_path) == ("lingalign-adapter", 1, str(adapter))

    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "r": 1024}))
    with pytest.raises(UserError, match="above vLLM's largest"):
        VLLMGenerator(str(adapter), dtype="float32", vllm=FakeVLLM())


def test_without_vllm_the_message_is_one_line(tiny_model_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    with pytest.raises(UserError, match="needs the vllm package"):
        VLLMGenerator(str(tiny_model_dir))
