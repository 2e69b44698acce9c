"""The ``vllm`` backend: the hf backend's interface on vLLM (GPU), used only when ``--backend vllm`` is asked for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Sequence

from lingalign.artifacts import read_text
from lingalign.errors import UserError
from lingalign.generation.batching import encode_prompts
from lingalign.generation.stops import end_token_ids, finish_answer
from lingalign.models import adapter_base, is_adapter, load_tokenizer, resolve_model


class VLLMGenerator:
    """The same interface on vLLM (GPU); used only when ``--backend vllm`` is asked for.

    One prompt path for both backends: the prompt text comes from ``build_prompt`` as for HF, and
    vLLM receives the token ids of :func:`encode_prompts`, the ids HF decodes from. (Given text,
    vLLM would tokenize it itself, adding a BOS in front of a chat prompt whose template already
    wrote one.) Decoding is greedy, ends at the same end-of-sequence ids and stop strings as HF,
    and the text is cut with the same :func:`finish_answer` (a row that stopped at ``max_tokens``,
``finish_reason == "length"``, loses the half character it may end in). A LoRA adapter folder is served through
    vLLM's LoRA support: the base model is loaded with ``enable_lora`` and every request names the
    adapter (``LoRARequest``).

    ``vllm`` is the module to use; the tests pass a stand-in that records what it is sent.
    """

    LORA_RANKS = (8, 16, 32, 64, 128, 256, 512)  # max_lora_rank values vLLM accepts

    def __init__(self, model_path: str, *, dtype: str = "auto", trust_remote_code: bool = False, vllm=None):
        if vllm is None:
            try:
                import vllm
            except ImportError:
                raise UserError("--backend vllm needs the vllm package, which is not installed",
                                hint="pip install vllm (needs a GPU), or use --backend hf") from None
        self._vllm = vllm
        path = resolve_model(model_path)
        self.dtype = dtype
        self.tokenizer = load_tokenizer(path, trust_remote_code=trust_remote_code, padding_side="left")
        engine = {"dtype": dtype, "trust_remote_code": trust_remote_code}
        self.lora_request = None
        model = path
        if is_adapter(path):
            model = resolve_model(adapter_base(path))
            engine.update(enable_lora=True, max_lora_rank=self._lora_rank_slot(path))
            self.lora_request = vllm.LoRARequest("lingalign-adapter", 1, path)
        self.eos_ids = end_token_ids(self.tokenizer, _generation_config(model))
        self.llm = vllm.LLM(model=model, **engine)

    def _lora_rank_slot(self, adapter: str) -> int:
        rank = int(json.loads(read_text(Path(adapter) / "adapter_config.json")).get("r") or 8)
        slot = next((r for r in self.LORA_RANKS if r >= rank), None)
        if slot is None:
            raise UserError(f"{adapter}: LoRA rank {rank} is above vLLM's largest ({self.LORA_RANKS[-1]})",
                            hint="merge it first: lingalign train --export-merged ADAPTER -o OUT")
        return slot

    def sampling_params(self, max_new_tokens: int, stop: Sequence[str]):
        """Greedy, at most ``max_new_tokens``, ending at the HF backend's end ids and stop strings."""
        return self._vllm.SamplingParams(temperature=0.0, max_tokens=max_new_tokens, stop=list(stop) or None,
                                         stop_token_ids=list(self.eos_ids), skip_special_tokens=True,
                                         include_stop_str_in_output=False)

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int = 16,
                 stop: Sequence[str] = (), add_special_tokens: bool = True,
                 sort_by_length: bool = True) -> Iterator[list[tuple[int, str]]]:
        """All prompts in one vLLM call (vLLM schedules its own batches; the runner's units bound
        the work a kill can lose); ``batch_size`` and ``sort_by_length`` do not apply."""
        ids = encode_prompts(self.tokenizer, prompts, add_special_tokens)
        requests = [{"prompt_token_ids": list(x)} for x in ids]
        extra = {"lora_request": self.lora_request} if self.lora_request is not None else {}
        outputs = self.llm.generate(requests, self.sampling_params(max_new_tokens, stop), use_tqdm=False, **extra)
        yield [(k, finish_answer(o.outputs[0].text, stop, o.outputs[0].finish_reason == "length"))
               for k, o in enumerate(outputs)]


def _generation_config(model_path: str):
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(model_path)
    except (OSError, ValueError):
        return None
