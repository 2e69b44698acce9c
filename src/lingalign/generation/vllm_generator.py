"""The ``vllm`` backend: the hf backend's interface on vLLM (GPU), used only when ``--backend vllm`` is asked for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Sequence

from lingalign.artifacts import read_text
from lingalign.errors import UserError
from lingalign.generation.batching import encode_prompts
from lingalign.generation.sampling import Sampling, check_seeds
from lingalign.generation.stops import end_token_ids, finish_answer
from lingalign.models import adapter_base, is_adapter, load_tokenizer, resolve_model


class VLLMGenerator:
    """The same interface on vLLM (GPU); used only when ``--backend vllm`` is asked for.

    One prompt path for both backends: the prompt text comes from ``build_prompt`` as for HF, and
    vLLM receives the token ids of :func:`encode_prompts`, the ids HF decodes from. (Given text,
    vLLM would tokenize it itself, adding a BOS in front of a chat prompt whose template already
    wrote one.) Decoding is greedy, or sampled with a seed per request (``SamplingParams(seed=...)``:
    vLLM draws each request's tokens from its own generator), ends at the same end-of-sequence ids
    and stop strings as HF, and the text is cut with the same :func:`finish_answer` (a row that
    stopped at ``max_tokens``, ``finish_reason == "length"``, loses the half character it may end in).
    :meth:`continuation_logprobs` scores given text with the same engine (``prompt_logprobs``). A
    LoRA adapter folder is served through vLLM's LoRA support: the base model is loaded with
    ``enable_lora`` and every request names the adapter (``LoRARequest``).

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

    def sampling_params(self, max_new_tokens: int, stop: Sequence[str], sampling: Sampling | None = None,
                        seed: int | None = None):
        """Greedy (or ``sampling`` with ``seed``), at most ``max_new_tokens``, ending at the HF backend's
        end ids and stop strings."""
        drawn = ({"temperature": 0.0} if sampling is None else
                 {"temperature": sampling.temperature, "top_p": sampling.top_p, "seed": seed})
        return self._vllm.SamplingParams(**drawn, max_tokens=max_new_tokens, stop=list(stop) or None,
                                         stop_token_ids=list(self.eos_ids), skip_special_tokens=True,
                                         include_stop_str_in_output=False)

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int = 16,
                 stop: Sequence[str] = (), add_special_tokens: bool = True,
                 sort_by_length: bool = True, sampling: Sampling | None = None,
                 seeds: Sequence[int] | None = None) -> Iterator[list[tuple[int, str]]]:
        """All prompts in one vLLM call (vLLM schedules its own batches; the runner's units bound
        the work a kill can lose); ``batch_size`` and ``sort_by_length`` do not apply. With
        ``sampling``, request ``i`` is sampled with seed ``seeds[i]``."""
        ids = encode_prompts(self.tokenizer, prompts, add_special_tokens)
        requests = [{"prompt_token_ids": list(x)} for x in ids]
        if sampling is None:
            params = self.sampling_params(max_new_tokens, stop)
        else:
            params = [self.sampling_params(max_new_tokens, stop, sampling, seed)
                      for seed in check_seeds(prompts, seeds)]
        outputs = self.llm.generate(requests, params, use_tqdm=False, **self._lora())
        yield [(k, finish_answer(o.outputs[0].text, stop, o.outputs[0].finish_reason == "length"))
               for k, o in enumerate(outputs)]

    def continuation_logprobs(self, contexts: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]], *,
                              batch_size: int = 4) -> list[list[float]]:
        """Per-token log-probabilities of each continuation after its context, from vLLM's
        ``prompt_logprobs`` of the joined ids (one generated token, not used)."""
        wanted = [i for i, c in enumerate(continuations) if c]
        requests = [{"prompt_token_ids": list(contexts[i]) + list(continuations[i])} for i in wanted]
        params = self._vllm.SamplingParams(temperature=0.0, max_tokens=1, prompt_logprobs=0)
        out: list[list[float]] = [[] for _ in contexts]
        if not requests:
            return out
        for i, request, result in zip(wanted, requests, self.llm.generate(requests, params, use_tqdm=False,
                                                                           **self._lora())):
            ids, start = request["prompt_token_ids"], len(contexts[i])
            out[i] = [float(result.prompt_logprobs[t][ids[t]].logprob) for t in range(start, len(ids))]
        return out

    def _lora(self) -> dict:
        return {"lora_request": self.lora_request} if self.lora_request is not None else {}


def _generation_config(model_path: str):
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(model_path)
    except (OSError, ValueError):
        return None
