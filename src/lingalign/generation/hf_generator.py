"""Generation in batches with transformers: the ``hf`` backend (the default); greedy, or seeded sampling.

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

Sampling (``sampling=Sampling(...)`` and one seed per prompt, for preference data) draws each
token from the row's own seed (``sampling.py``) on both paths; greedy calls never reach that code.

The prediction is decoded from the generated token ids only (``sequences[:, prompt_len:]``), not cut
from the decoded text by the prompt's character length as the reference code does, which breaks
when decoding does not round-trip the prompt exactly. A row cut by ``max_new_tokens`` in the middle
of a character loses that half character (``stops.finish_answer``).
"""

from __future__ import annotations

from typing import Iterator, Sequence

from lingalign.errors import UserError
from lingalign.generation.batching import encode_prompts, length_sorted_batches
from lingalign.generation.dtype import resolve_dtype
from lingalign.generation.sampling import Sampling, check_seeds, seeded_logits_processor
from lingalign.generation.stops import end_token_ids, finish_answer
from lingalign.models import load_model, load_tokenizer
from lingalign.runtime import default_device


class HFGenerator:
    """Batched decoding with transformers: greedy by default, seeded sampling when asked for."""

    def __init__(self, model_path: str, *, dtype: str = "auto", trust_remote_code: bool = False,
                 device: str | None = None):
        import torch

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
                 sort_by_length: bool = True, rolling: bool | None = None, sampling: Sampling | None = None,
                 seeds: Sequence[int] | None = None) -> Iterator[list[tuple[int, str]]]:
        """Yield, batch by batch, ``(index into prompts, prediction)`` pairs.

        ``sort_by_length`` reorders prompts for speed: by length for fixed batches; for the rolling
        batch by shared prefix, then length (:func:`~lingalign.generation.rolling.rolling_order`);
        ``False`` keeps the dataset order.

        ``rolling`` (default: whenever the model supports it) decodes with a rolling batch; ``False``
        uses ``model.generate`` on fixed batches.

        ``sampling`` draws tokens instead of taking the argmax, prompt ``i`` with seed ``seeds[i]``
        (:mod:`~lingalign.generation.sampling`); ``None`` is greedy decoding.
        """
        from transformers import GenerationConfig, LogitsProcessorList

        from lingalign.generation.rolling import supports_rolling  # imports torch

        if sampling is not None:
            seeds = check_seeds(prompts, seeds)
        if rolling is None:
            rolling = supports_rolling(self.model)
        if rolling:  # prompts sharing a prefix go together; each finished row leaves the batch at once
            yield from self._generate_rolling(prompts, max_new_tokens, batch_size, stop, add_special_tokens,
                                              sort_by_length, sampling, seeds)
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
            extra = {}
            if sampling is not None:  # greedy over scores where only the seeded draw is left
                extra["logits_processor"] = LogitsProcessorList([seeded_logits_processor(
                    sampling, [seeds[i] for i in batch], encoded["input_ids"].shape[1])])
            with self._torch.inference_mode():
                out = self.model.generate(**encoded, generation_config=config,
                                          tokenizer=self.tokenizer if stop else None, **extra)
            new_tokens = out[:, encoded["input_ids"].shape[1]:]
            texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            # a row ran out when the batch ran to the limit and the row did not end (no end id, no padding after one)
            ended = set(self.eos_ids) | {self.tokenizer.pad_token_id}
            ran_out = [new_tokens.shape[1] >= max_new_tokens and int(row[-1]) not in ended for row in new_tokens]
            yield [(i, finish_answer(t, stop, r)) for i, t, r in zip(batch, texts, ran_out)]

    def _generate_rolling(self, prompts, max_new_tokens, batch_size, stop, add_special_tokens, sort_by_length,
                          sampling=None, seeds=None):
        from lingalign.generation.rolling import RollingDecoder, rolling_order  # imports torch

        ids = encode_prompts(self.tokenizer, prompts, add_special_tokens)
        order = rolling_order(ids) if sort_by_length else list(range(len(ids)))
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]
        decoder = self.last_decoder = RollingDecoder(self.model, self.tokenizer, self.eos_ids, pad_id)
        finished = []
        for index, tokens in decoder.run(ids, order, max_new_tokens=max_new_tokens, batch_size=batch_size, stop=stop,
                                         sampling=sampling, seeds=seeds):
            ran_out = len(tokens) >= max_new_tokens and tokens[-1] not in self.eos_ids
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            finished.append((index, finish_answer(text, stop, ran_out)))
            if len(finished) >= batch_size:  # hand results over (and to disk) a batch at a time
                yield finished
                finished = []
        if finished:
            yield finished

    def continuation_logprobs(self, contexts: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]], *,
                              batch_size: int = 4) -> list[list[float]]:
        """Per-token log-probabilities of each continuation after its context, on this generator's model
        (:func:`~lingalign.generation.loglik.continuation_logprobs`): decoding and scoring share one engine."""
        from lingalign.generation.loglik import continuation_logprobs

        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]
        return continuation_logprobs(self.model, contexts, continuations, pad_id=pad_id, batch_size=batch_size)
