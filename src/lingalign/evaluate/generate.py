"""Greedy generation in batches: the Hugging Face backend (default) and an optional vLLM backend.

Speed on a CPU comes from doing less work, not from tricks:

* prompts are reordered: for fixed batches by token length, longest first, so each batch holds
  prompts of similar length (little padding) and memory peaks in the first batch, where an
  out-of-memory error shows early; for the rolling batch by shared prefix, then length, so prompts
  that share a prefix (one XQuAD passage) sit together and the prefix is prefilled once;
* each sequence stops at its end token or at a stop string of the template (an Alpaca model that
  starts a new "### Instruction:" is done), and leaves the batch at once: on full-attention models
  the batch rolls (``rolling.py``), waiting prompts taking the places of finished ones, so a row
  that repeats itself to ``max_new_tokens`` no longer holds a whole batch (other models use
  ``model.generate``, where a batch ends when all its sequences have);
* the KV cache is on; bf16 is used only where the hardware computes in it (a CUDA GPU with bf16, or
  a CPU with AVX512-BF16/AMX): on other CPUs bf16 matrix products are much slower than fp32.

The prediction is decoded from the generated token ids only (``sequences[:, prompt_len:]``), not cut
from the decoded text by the prompt's character length as the reference code does, which breaks
when decoding does not round-trip the prompt exactly.
"""

from __future__ import annotations

import logging
from typing import Iterator, Sequence

from lingalign.errors import UserError

log = logging.getLogger(__name__)

BACKENDS = ("hf", "vllm")


def resolve_dtype(name: str, device_type: str = "cpu") -> str:
    """``auto``: bfloat16 where ``device_type`` computes in bf16 natively, else float32.

    The rule is :func:`lingalign.provenance.auto_precision`, the same as training's: on x86 CPUs
    only AVX512-BF16/AMX count (oneDNN's own check also accepts AVX-512 without them, where bf16 is
    emulated and slower than fp32). The hf backend decodes on a GPU when there is one, vLLM always does.
    """
    if name != "auto":
        return name
    from lingalign.provenance import auto_precision

    return "bfloat16" if auto_precision(device_type) == "bf16" else "float32"


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """The text before the first stop string, stripped."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=len(text))
    return text[:cut].strip()


def encode_prompts(tokenizer, prompts: Sequence[str], add_special_tokens: bool) -> list[list[int]]:
    """The token ids every backend decodes from: one tokenizer call, shared by HF and vLLM.

    ``add_special_tokens`` is False for chat prompts, whose template already wrote the BOS token.
    """
    return tokenizer(list(prompts), add_special_tokens=add_special_tokens)["input_ids"]


def end_token_ids(tokenizer, generation_config) -> list[int]:
    """The tokenizer's EOS and the model's generation-config EOS ids (instruct models often list several)."""
    eos = {tokenizer.eos_token_id}
    config_eos = getattr(generation_config, "eos_token_id", None) if generation_config is not None else None
    eos.update(config_eos if isinstance(config_eos, list) else [config_eos] if config_eos is not None else [])
    return sorted(e for e in eos if e is not None)


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches, longest prompts first (stable for equal lengths)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


class HFGenerator:
    """Batched greedy decoding with transformers' ``generate``."""

    def __init__(self, model_path: str, *, dtype: str = "auto", trust_remote_code: bool = False,
                 device: str | None = None):
        import torch

        from lingalign.models import load_model, load_tokenizer

        self.device = device or default_device()
        self.dtype = resolve_dtype(dtype, str(self.device).split(":")[0])
        try:
            self.tokenizer = load_tokenizer(model_path, trust_remote_code=trust_remote_code, padding_side="left")
            self.model = load_model(model_path, dtype=self.dtype, trust_remote_code=trust_remote_code)
        except UserError:
            raise
        except Exception as exc:  # a corrupt or incompatible checkpoint: say so in one line
            raise UserError(f"{model_path}: could not load the model ({type(exc).__name__}: "
                            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''})") from None
        self.model.to(self.device).eval()
        self._torch = torch
        self.eos_ids = end_token_ids(self.tokenizer, self.model.generation_config)
        self.last_decoder = None  # the rolling decoder of the last call (its prefill_tokens count)

    def token_lengths(self, prompts: Sequence[str], add_special_tokens: bool = True) -> list[int]:
        return [len(ids) for ids in encode_prompts(self.tokenizer, prompts, add_special_tokens)]

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int = 16,
                 stop: Sequence[str] = (), add_special_tokens: bool = True,
                 sort_by_length: bool = True, rolling: bool | None = None) -> Iterator[list[tuple[int, str]]]:
        """Yield, batch by batch, ``(index into prompts, prediction)`` pairs.

        ``sort_by_length`` reorders prompts for speed: by length for fixed batches; for the rolling
        batch by shared prefix, then length (:func:`~lingalign.evaluate.rolling.rolling_order`);
        ``False`` keeps the dataset order.

        ``rolling`` (default: whenever the model supports it) decodes with a rolling batch; ``False``
        uses ``model.generate`` on fixed batches.
        """
        from transformers import GenerationConfig

        from lingalign.evaluate.rolling import supports_rolling

        if rolling is None:
            rolling = supports_rolling(self.model)
        if rolling:  # prompts sharing a prefix go together; each finished row leaves the batch at once
            yield from self._generate_rolling(prompts, max_new_tokens, batch_size, stop, add_special_tokens,
                                              sort_by_length)
            return
        if sort_by_length:
            batches = length_sorted_batches(self.token_lengths(prompts, add_special_tokens), batch_size)
        else:
            batches = [list(range(i, min(i + batch_size, len(prompts)))) for i in range(0, len(prompts), batch_size)]
        config = GenerationConfig(
            do_sample=False, num_beams=1, max_new_tokens=max_new_tokens, use_cache=True,
            eos_token_id=self.eos_ids, pad_token_id=self.tokenizer.pad_token_id,
            stop_strings=list(stop) or None,
        )
        ids = encode_prompts(self.tokenizer, prompts, add_special_tokens)
        for batch in batches:
            encoded = self.tokenizer.pad({"input_ids": [ids[i] for i in batch]}, return_tensors="pt").to(self.device)
            with self._torch.inference_mode():
                out = self.model.generate(**encoded, generation_config=config,
                                          tokenizer=self.tokenizer if stop else None)
            new_tokens = out[:, encoded["input_ids"].shape[1]:]
            texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            yield [(i, cut_at_stop(t, stop)) for i, t in zip(batch, texts)]

    def _generate_rolling(self, prompts, max_new_tokens, batch_size, stop, add_special_tokens, sort_by_length):
        from lingalign.evaluate.rolling import RollingGreedy, rolling_order

        ids = encode_prompts(self.tokenizer, prompts, add_special_tokens)
        order = rolling_order(ids) if sort_by_length else list(range(len(ids)))
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]
        decoder = self.last_decoder = RollingGreedy(self.model, self.tokenizer, self.eos_ids, pad_id)
        finished = []
        for index, tokens in decoder.run(ids, order, max_new_tokens=max_new_tokens, batch_size=batch_size, stop=stop):
            finished.append((index, cut_at_stop(self.tokenizer.decode(tokens, skip_special_tokens=True), stop)))
            if len(finished) >= batch_size:  # hand results over (and to disk) a batch at a time
                yield finished
                finished = []
        if finished:
            yield finished


class VLLMGenerator:
    """The same interface on vLLM (GPU); used only when ``--backend vllm`` is asked for.

    One prompt path for both backends: the prompt text comes from ``build_prompt`` as for HF, and
    vLLM receives the token ids of :func:`encode_prompts`, the ids HF decodes from. (Given text,
    vLLM would tokenize it itself, adding a BOS in front of a chat prompt whose template already
    wrote one.) Decoding is greedy, ends at the same end-of-sequence ids and stop strings as HF,
    and the text is cut with the same :func:`cut_at_stop`. A LoRA adapter folder is served through
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
        from lingalign.models import adapter_base, is_adapter, load_tokenizer, resolve_model

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
        import json
        from pathlib import Path

        rank = int(json.loads((Path(adapter) / "adapter_config.json").read_text(encoding="utf-8")).get("r") or 8)
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
        yield [(k, cut_at_stop(o.outputs[0].text, stop)) for k, o in enumerate(outputs)]


def _generation_config(model_path: str):
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(model_path)
    except (OSError, ValueError):
        return None


def make_generator(model_path: str, *, backend: str = "hf", dtype: str = "auto",
                   trust_remote_code: bool = False, device: str | None = None):
    if backend == "hf":
        return HFGenerator(model_path, dtype=dtype, trust_remote_code=trust_remote_code, device=device)
    if backend == "vllm":
        return VLLMGenerator(model_path, dtype=dtype, trust_remote_code=trust_remote_code)
    raise UserError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
