"""The reward of ``lingalign data pairs``: how well a translation model maps an X answer onto the English answer.

MAPO (Hu et al., ACL 2024) scores a sampled answer in language X by the probability a translation
model gives the model's own English answer as the translation of it: an X answer that reasons like
the English one (same steps, same numbers) makes the English answer likely. The score here is the
**mean log-probability per token** of the English answer (its tokens and the end token), given
the X answer, so long and short answers compare fairly. (MAPO's code takes the inverse of the mean
cross-entropy, which ranks answers the same way.)

Two kinds of translation model:

* a **causal LM** (the model being aligned, by default, or any other): asked with the fixed
  evaluation instruction "Translate the following sentences from Chinese to English." and the X
  answer as input, in its prompt format; the English answer is the continuation scored. It runs on
  the engine that decoded (:meth:`HFGenerator.continuation_logprobs`: the model already in
  memory; vLLM's ``prompt_logprobs`` on that backend);
* a **sequence-to-sequence MT model** (NLLB, M2M-100, mBART-50, Marian), as MAPO uses NLLB: the X
  answer is the source, the English answer the target, scored by teacher forcing
  (:func:`~lingalign.generation.loglik.seq2seq_logprobs`). Languages are given the model's own way
  (:func:`~lingalign.data.translators.language_codes`); a forced target-language token is fed to
  the decoder but not scored (generation forces it, so it says nothing about the answer).
"""

from __future__ import annotations

from typing import Sequence

from lingalign.data.translators import Seq2SeqTranslator, check_causal, read_model_config
from lingalign.generation.backends import make_generator
from lingalign.generation.batching import encode_prompts
from lingalign.models import resolve_model
from lingalign.prompting import build_prompt, eval_instruction, read_model_prompt_format


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def auto_prompt_format(path: str, tokenizer, prompt_format: str = "auto") -> str:
    """A lingalign-trained model's own format, else chat when the tokenizer has a template, else alpaca."""
    if prompt_format != "auto":
        return prompt_format
    return read_model_prompt_format(path) or ("chat" if getattr(tokenizer, "chat_template", None) else "alpaca")


class CausalScorer:
    """A causal LM asked to translate the X answer, scoring the English answer as its continuation."""

    kind = "causal"

    def __init__(self, engine, prompt_format: str, x_lang: str, batch_size: int = 4, path: str = ""):
        self.engine, self.tokenizer = engine, engine.tokenizer
        self.prompt_format, self.batch_size = prompt_format, batch_size
        self.instruction = eval_instruction(x_lang, "en")
        self.info = {"kind": self.kind, "path": path, "prompt_format": prompt_format, "instruction": self.instruction}

    def prompt(self, x_answer: str) -> str:
        tokenizer = self.tokenizer if self.prompt_format == "chat" else None
        return build_prompt(self.instruction, x_answer, self.prompt_format, tokenizer)

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float | None]:
        """Mean log-probability per token of each English answer after the translation prompt of its X answer."""
        contexts = encode_prompts(self.tokenizer, [self.prompt(x) for x, _ in pairs],
                                  add_special_tokens=self.prompt_format != "chat")
        eos = [self.tokenizer.eos_token_id] if self.tokenizer.eos_token_id is not None else []
        targets = [ids + eos for ids in self.tokenizer([e for _, e in pairs], add_special_tokens=False)["input_ids"]]
        per_token = self.engine.continuation_logprobs(contexts, targets, batch_size=self.batch_size)
        return [mean(values) for values in per_token]


class Seq2SeqScorer:
    """An encoder-decoder MT model: log-probability of the English answer as the translation of the X answer."""

    kind = "seq2seq"

    def __init__(self, path: str, x_lang: str, *, dtype: str = "auto", batch_size: int = 4,
                 target_code: str | None = None):
        from lingalign.generation.loglik import seq2seq_logprobs

        self._logprobs = seq2seq_logprobs
        mt = Seq2SeqTranslator(path, x_lang, "en", dtype=dtype, batch_size=batch_size, max_new_tokens=256,
                               target_code=target_code, trust_remote_code=False)
        self.model, self.tokenizer, self.codes = mt.model, mt.tokenizer, mt.codes
        self.max_tokens, self.batch_size = mt.max_input_tokens, batch_size
        if self.codes.get("target_code") and hasattr(self.tokenizer, "tgt_lang"):
            self.tokenizer.tgt_lang = self.codes["target_code"]  # NLLB, M2M-100, mBART-50 label their targets
        config = self.model.config
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.start_id = config.decoder_start_token_id if config.decoder_start_token_id is not None else self.pad_id
        self.info = {"kind": self.kind, "path": path, **self.codes}

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float | None]:
        prefix = self.codes.get("prefix", "")
        sources = self.tokenizer([prefix + x for x, _ in pairs], truncation=True,
                                 max_length=self.max_tokens)["input_ids"]
        targets = self.tokenizer(text_target=[e for _, e in pairs], truncation=True,
                                 max_length=self.max_tokens)["input_ids"]
        per_token = self._logprobs(self.model, sources, targets, pad_id=self.pad_id, decoder_start_id=self.start_id,
                                   batch_size=self.batch_size)
        forced = self.codes.get("forced_bos_token_id")
        return [mean(values[1:] if forced is not None and ids and ids[0] == forced else values)
                for ids, values in zip(targets, per_token)]


def load_scorer(scorer: str | None, x_lang: str, *, policy=None, policy_format: str = "alpaca",
                backend: str = "hf", dtype: str = "auto", batch_size: int = 4, target_code: str | None = None):
    """The scorer a recipe names: ``None`` scores with the model being aligned (``policy``, its prompt format)."""
    if scorer is None:
        return CausalScorer(policy, policy_format, x_lang, batch_size, path="(the model)")
    path = resolve_model(scorer)
    config = read_model_config(path, scorer, False)
    if getattr(config, "is_encoder_decoder", False):
        return Seq2SeqScorer(path, x_lang, dtype=dtype, batch_size=batch_size, target_code=target_code)
    check_causal(config, scorer)
    engine = make_generator(path, backend=backend, dtype=dtype)
    return CausalScorer(engine, auto_prompt_format(path, engine.tokenizer), x_lang, batch_size, path=path)
