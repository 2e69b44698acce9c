"""Translation models for ``lingalign data translate``: a seq2seq MT model, or a causal LM with a prompt.

* **Sequence-to-sequence** (Marian, NLLB, M2M-100, mBART-50: ``config.is_encoder_decoder``):
  ``model.generate`` over batches of similar length (``length_sorted_batches`` of the generation
  layer), greedy. Each family names languages its own way, worked out in :func:`language_codes`:
  NLLB by a FLORES-200 code forced as the first target token (``ell_Grek``), M2M-100 by
  ``get_lang_id("el")``, mBART-50 by ``el_GR``-style codes, multi-target Marian models by a
  ``>>ell<<`` prefix on the source; a one-pair Marian model needs nothing.
* **Causal LM** (the default model, any HF folder, a lingalign-trained model): evaluation's fixed
  translation instruction ("Translate the following sentences from English to Greek.") in the
  model's prompt format, decoded by the generation layer's generator, as evaluation decodes (rolling
  batch, length sorting; ``backend="vllm"`` where vLLM is installed). The answer's first line is kept:
  a piece never holds a line break, so anything after one is the model talking about its answer.

Both are greedy, so a translation depends only on the text and on the other texts of its batch
(through padding); the data stage fixes the batches (see ``translate.py``).
"""

from __future__ import annotations

import logging
from typing import Sequence

import langcodes

from lingalign.errors import UserError
from lingalign.generation.backends import make_generator
from lingalign.generation.batching import length_sorted_batches
from lingalign.generation.dtype import resolve_dtype
from lingalign.generation.stops import Answer, finish_answer
from lingalign.models import load_tokenizer, resolve_model, torch_dtype
from lingalign.prompting import build_prompt, eval_instruction, is_pivot, read_model_prompt_format, stop_strings

log = logging.getLogger(__name__)

PROBE = "Hello."  # translated once before any work, so a model that cannot generate fails at once


def load_translator(model: str, src: str, tgt: str, *, backend: str = "hf", dtype: str = "auto",
                    batch_size: int = 16, max_new_tokens: int = 256, prompt_format: str = "auto",
                    target_code: str | None = None, trust_remote_code: bool = False):
    """The translator for ``model`` (a folder, alias or hub id), checked by translating one word."""
    path = resolve_model(model)
    config = read_model_config(path, model, trust_remote_code)
    if getattr(config, "is_encoder_decoder", False):
        if backend != "hf":
            raise UserError(f"{model}: a sequence-to-sequence model runs on the hf backend only",
                            hint="use --backend hf")
        translator = Seq2SeqTranslator(path, src, tgt, dtype=dtype, batch_size=batch_size,
                                       max_new_tokens=max_new_tokens, target_code=target_code,
                                       trust_remote_code=trust_remote_code)
    else:
        check_causal(config, model)
        translator = CausalTranslator(path, src, tgt, backend=backend, dtype=dtype, batch_size=batch_size,
                                      max_new_tokens=max_new_tokens, prompt_format=prompt_format,
                                      trust_remote_code=trust_remote_code)
    try:
        translator.translate([PROBE])
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"{model}: the model failed to generate a translation ({type(exc).__name__}: "
                        f"{_first_line(exc)})") from None
    return translator


def read_model_config(path: str, model: str, trust_remote_code: bool):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise UserError(f"{model}: could not read the model's config ({_first_line(exc)})",
                        hint="give a model folder with config.json (a Marian/NLLB/M2M-100 or a causal LM)") from None


def check_causal(config, model: str) -> None:
    from transformers import AutoModelForCausalLM

    if type(config) not in AutoModelForCausalLM._model_mapping:
        kind = getattr(config, "model_type", "?")
        raise UserError(f"{model}: a {kind} model cannot generate text (neither a causal LM nor a "
                        "sequence-to-sequence model)", hint="give an MT model (Marian, NLLB, M2M-100) or a causal LM")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class CausalTranslator:
    """A causal LM asked to translate, one piece per prompt, through the generation layer's generator."""

    kind = "causal"

    def __init__(self, path: str, src: str, tgt: str, *, backend: str, dtype: str, batch_size: int,
                 max_new_tokens: int, prompt_format: str, trust_remote_code: bool):
        recorded = read_model_prompt_format(path)
        if is_pivot(recorded):  # its answers open with the instruction restated in English
            raise UserError(f"{path}: a pivot model ({recorded}) answers through English first; data translate "
                            "keeps the first line of an answer, so it needs a model that answers with the translation",
                            hint="translate with an MT model or a model trained without pivot answers")
        self.generator = make_generator(path, backend=backend, dtype=dtype, trust_remote_code=trust_remote_code)
        self.tokenizer = getattr(self.generator, "tokenizer", None)
        if self.tokenizer is None:  # vLLM keeps its own; ours only counts tokens and builds chat prompts
            self.tokenizer = load_tokenizer(path, trust_remote_code=trust_remote_code, padding_side="left")
        if prompt_format == "auto":  # a lingalign-trained model's own format, else chat for instruct models
            prompt_format = recorded or (
                "chat" if getattr(self.tokenizer, "chat_template", None) else "alpaca")
        self.prompt_format = prompt_format
        self.instruction = eval_instruction(src, tgt)
        # chat answers start at once, so a line break ends them; an Alpaca answer starts with one
        self.stops = list(stop_strings(prompt_format)) + (["\n"] if prompt_format == "chat" else ["\n\n"])
        self.batch_size, self.max_new_tokens = batch_size, max_new_tokens
        # a piece, the prompt around it and its answer must fit the context: a quarter of it per piece
        config = getattr(getattr(self.generator, "model", None), "config", None)
        self.max_input_tokens = max(16, min(getattr(config, "max_position_embeddings", None) or 2048, 4096) // 4)
        self.codes = {"instruction": self.instruction, "prompt_format": prompt_format}

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def translate(self, texts: Sequence[str]) -> list[tuple[str, bool]]:
        """``(translation, truncated)`` per text; truncated: the answer ran to its token budget.

        Each text's budget is ``budget(its length)`` rounded up to a power of two, and texts of
        one budget are decoded together: a short piece whose answer loops stops early instead of
        running to the budget of the longest piece.
        """
        tokenizer = self.tokenizer if self.prompt_format == "chat" else None
        prompts = [build_prompt(self.instruction, text, self.prompt_format, tokenizer) for text in texts]
        groups: dict[int, list[int]] = {}
        for i, n in enumerate(self.count_tokens(texts)):
            groups.setdefault(min(self.max_new_tokens, _power_of_two(budget(n))), []).append(i)
        out: list[tuple[str, bool]] = [("", False)] * len(texts)
        for limit, members in sorted(groups.items()):
            for batch in self.generator.generate([prompts[i] for i in members], max_new_tokens=limit,
                                                 batch_size=self.batch_size, stop=self.stops,
                                                 add_special_tokens=self.prompt_format != "chat"):
                for k, text in batch:
                    truncated = self.count_tokens([text])[0] >= limit - 4 if text else False
                    out[members[k]] = (line_of(text), truncated)
        return out


def budget(tokens: int) -> int:
    """New tokens allowed for a piece of ``tokens`` source tokens: room for scripts that take 3x the tokens."""
    return 3 * tokens + 16


def _power_of_two(n: int) -> int:
    return 1 << max(n - 1, 1).bit_length()


def line_of(answer: str) -> Answer:
    """The first line of a decoded answer, still saying how many U+FFFD its end lost (``Answer.cut_characters``)."""
    line = Answer(first_line(answer))
    line.cut_characters = getattr(answer, "cut_characters", 0)
    return line


def first_line(text: str) -> str:
    return next((line.strip() for line in text.strip().splitlines() if line.strip()), "")


class Seq2SeqTranslator:
    """An encoder-decoder MT model: greedy ``generate`` over length-sorted batches."""

    kind = "seq2seq"

    def __init__(self, path: str, src: str, tgt: str, *, dtype: str, batch_size: int, max_new_tokens: int,
                 target_code: str | None, trust_remote_code: bool):
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(
                path, dtype=torch_dtype(resolve_dtype(dtype)), trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as exc:
            raise UserError(f"{path}: could not load the translation model ({_first_line(exc)})") from None
        self.model.eval()
        self._torch = torch
        self.batch_size, self.max_new_tokens = batch_size, max_new_tokens
        self.codes = language_codes(self.tokenizer, src, tgt, target_code)
        if self.codes.get("src_lang"):
            self.tokenizer.src_lang = self.codes["src_lang"]
        limits = [getattr(self.model.config, "max_position_embeddings", None), self.tokenizer.model_max_length]
        self.max_input_tokens = min(n for n in limits + [1024] if isinstance(n, int) and n > 0) - 2

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=True)["input_ids"]]

    def translate(self, texts: Sequence[str]) -> list[tuple[str, bool]]:
        """``(translation, truncated)`` per text, as :meth:`CausalTranslator.translate`."""
        prefix = self.codes.get("prefix", "")
        inputs = [prefix + text for text in texts]
        out: list[tuple[str, bool]] = [("", False)] * len(texts)
        kwargs = ({"forced_bos_token_id": self.codes["forced_bos_token_id"]}
                  if "forced_bos_token_id" in self.codes else {})
        pad = self.tokenizer.pad_token_id
        for batch in length_sorted_batches(self.count_tokens(inputs), self.batch_size):
            encoded = self.tokenizer([inputs[i] for i in batch], return_tensors="pt", padding=True, truncation=True,
                                     max_length=self.max_input_tokens)
            limit = min(self.max_new_tokens, budget(encoded["input_ids"].shape[1]))
            with self._torch.inference_mode():
                generated = self.model.generate(**encoded, do_sample=False, num_beams=1, max_new_tokens=limit,
                                                pad_token_id=pad, **kwargs)
            ended = (generated == self.tokenizer.eos_token_id).any(dim=1).tolist()
            for i, text, done in zip(batch, self.tokenizer.batch_decode(generated, skip_special_tokens=True), ended):
                ran_out = not done and generated.shape[1] > limit
                out[i] = (line_of(finish_answer(text, (), ran_out)), ran_out)
        return out


def language_codes(tokenizer, src: str, tgt: str, target_code: str | None = None) -> dict:
    """How this MT model is told the languages: ``{"family", "src_lang", "forced_bos_token_id", "prefix"}``.

    ``target_code`` overrides the code looked up for the target (e.g. ``arb_Arab`` vs ``ary_Arab``).
    A multilingual model without a code for the target is an error naming the codes it has.
    """
    vocab = tokenizer.get_vocab()
    if hasattr(tokenizer, "get_lang_id"):  # M2M-100: __el__ tokens, looked up by ISO 639-1 code
        codes = {"family": "m2m_100", "src_lang": src}
        target = target_code or tgt
        try:
            codes["forced_bos_token_id"] = tokenizer.get_lang_id(target)
        except KeyError:
            raise UserError(f"this M2M-100 model has no language code {target!r}",
                            hint="give the model's code with --target-code") from None
        codes["target_code"] = target
        return codes
    if "eng_Latn" in vocab:  # NLLB: FLORES-200 codes as special tokens
        return {"family": "nllb", "src_lang": flores200_code(src, vocab),
                **_forced(target_code or flores200_code(tgt, vocab), vocab, "NLLB")}
    if "en_XX" in vocab:  # mBART-50
        return {"family": "mbart50", "src_lang": _mbart_code(src, vocab),
                **_forced(target_code or _mbart_code(tgt, vocab), vocab, "mBART-50")}
    marian = [t for t in vocab if t.startswith(">>") and t.endswith("<<")]
    if marian:  # a multi-target Marian model: the source starts with >>ell<<
        target = target_code or next((t[2:-2] for t in (f">>{c}<<" for c in _iso_forms(tgt)) if t in vocab), None)
        if target is None or f">>{target}<<" not in vocab:
            raise UserError(f"this Marian model has no target token for {tgt!r}",
                            hint=f"it has {', '.join(sorted(marian)[:12])}...; give one with --target-code")
        return {"family": "marian-multi", "prefix": f">>{target}<< ", "target_code": target}
    return {"family": "single-pair"}  # Marian en-X: the model knows its pair


def _forced(code: str, vocab: dict, family: str) -> dict:
    if code not in vocab:
        raise UserError(f"this {family} model has no language code {code!r}",
                        hint="give the model's code with --target-code")
    return {"forced_bos_token_id": vocab[code], "target_code": code}


def _iso_forms(code: str) -> list[str]:
    language = langcodes.Language.get(code)
    forms = [code, language.language or code]
    try:
        forms.append(language.to_alpha3())
        forms.append(language.to_alpha3(variant="B"))
    except (LookupError, ValueError):
        pass
    return list(dict.fromkeys(forms))


# FLORES-200 codes that are not "<ISO 639-3>_<script>" of the macrolanguage
_FLORES200 = {"ar": "arb_Arab", "zh": "zho_Hans", "fa": "pes_Arab", "ms": "zsm_Latn", "sw": "swh_Latn",
              "et": "est_Latn", "lv": "lvs_Latn", "uz": "uzn_Latn", "mn": "khk_Cyrl", "ne": "npi_Deva",
              "or": "ory_Orya", "ps": "pbt_Arab", "az": "azj_Latn", "sq": "als_Latn", "om": "gaz_Latn"}


def flores200_code(code: str, vocab: dict | None = None) -> str:
    """``el`` -> ``ell_Grek``, ``zh`` -> ``zho_Hans``, ``ar`` -> ``arb_Arab`` (NLLB's language tokens)."""
    if "_" in code and vocab is not None and code in vocab:
        return code
    language = langcodes.Language.get(code)
    base = language.language or code
    if base in _FLORES200:
        return _FLORES200[base]
    return f"{language.to_alpha3()}_{language.maximize().script}"


def _mbart_code(code: str, vocab: dict) -> str:
    base = langcodes.Language.get(code).language or code
    found = sorted(t for t in vocab if len(t) == 5 and t[2] == "_" and t[:2] == base and t[3:].isupper())
    return found[0] if found else f"{base}_XX"
