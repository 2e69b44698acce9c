"""Optional ``max_tokens`` filter: drop examples the model could not take whole.

Training would truncate them (cutting off the answer and its end-of-sequence token, as the
reference code did) or drop them; dropping here is cheaper and shows up in the manifest. Counts
are those of the model's fast tokenizer on exactly what training sees: the prompt
(``lingalign.prompting``), the answer, and one end-of-sequence token.

For the Alpaca prompt the model's ``tokenizer.json`` is loaded with the ``tokenizers`` library
itself (the engine behind every "fast" tokenizer): the same ids as ``transformers``, in a second
instead of importing transformers and torch (~20 s, ~400 MB). Chat prompts need the model's chat
template, so they go through ``transformers``.

Most examples need no tokenizing at all. A byte-level BPE tokenizer without a normalizer (GPT-2,
LLaMA-3, SmolLM2, Qwen...) splits text into pre-tokens and never gives a pre-token more tokens than
it has UTF-8 bytes. So an example surely fits if (exact tokens of the template's inner pre-tokens)
+ (bytes of everything else) + 1 <= max_tokens; only the others are tokenized. The bound is
checked against real counts on the first batch and abandoned if it ever undercounts.
"""

from __future__ import annotations

from collections import Counter
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator

import tokenizers

from lingalign.models import load_tokenizer, resolve_model
from lingalign.prompting import build_prompt, template_format

BATCH = 2048
_SLOT = "\x00"


class TokenFilter:
    def __init__(self, model_name: str, max_tokens: int, prompt_format: str = "alpaca"):
        self.max_tokens = max_tokens
        self.prompt_format = prompt_format
        self.chat_tokenizer = None
        self.template_cost: dict[bool, int] | None = None  # set for byte-level tokenizers
        self.checked = False
        self.count_tokens = self._load(model_name)

    def _load(self, model_name: str) -> Callable[[list[str]], list[int]]:
        """A batch token counter for a model name/folder, or a folder holding just a tokenizer."""
        folder = Path(model_name).expanduser()
        if not (folder / "tokenizer_config.json").exists():
            folder = Path(resolve_model(model_name))
        if template_format(self.prompt_format) == "alpaca" and (folder / "tokenizer.json").exists():
            engine = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
            count = lambda texts: [len(e.ids) for e in engine.encode_batch_fast(texts, add_special_tokens=False)]
            if engine.normalizer is None and isinstance(engine.pre_tokenizer, tokenizers.pre_tokenizers.ByteLevel):
                self.template_cost = {has_input: self._template_cost(engine, count, has_input)
                                      for has_input in (True, False)}
            return count
        if (folder / "tokenizer_config.json").exists():
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(folder)
        else:
            tokenizer = load_tokenizer(model_name)
        self.chat_tokenizer = tokenizer
        return lambda texts: [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def _template_cost(self, engine, count, has_input: bool) -> int:
        """Upper bound on the template's share: exact tokens of pre-tokens away from the slots where
        the texts go, plus the bytes of the pre-tokens next to them (which the texts may change)."""
        template = build_prompt(_SLOT, _SLOT if has_input else "", self.prompt_format)
        cost = 0
        for piece in template.split(_SLOT):
            spans = [piece[a:b] for _, (a, b) in engine.pre_tokenizer.pre_tokenize_str(piece)]
            edges, inner = (spans[:1] + spans[-1:], spans[1:-1]) if len(spans) > 1 else (spans, [])
            cost += sum(len(s.encode("utf-8")) for s in edges) + sum(count(inner) if inner else [])
        return cost

    def texts(self, records: list[dict]) -> list[str]:
        return [build_prompt(r["instruction"], r["input"], self.prompt_format, self.chat_tokenizer) + r["output"]
                for r in records]

    def lengths(self, records: list[dict]) -> list[int]:
        """Tokens per example: prompt + output, plus one for the end-of-sequence token."""
        return [n + 1 for n in self.count_tokens(self.texts(records))]

    def bound(self, record: dict) -> int:
        """At least the record's token count (byte-level tokenizers only)."""
        size = sum(len(record[k].encode("utf-8")) for k in ("instruction", "input", "output"))
        return self.template_cost[bool(record["input"])] + size + 1

    def fits(self, records: list[dict]) -> list[bool]:
        """Whether each example has at most ``max_tokens`` tokens, tokenizing only where needed."""
        if self.template_cost is None or not self.checked:
            lengths = self.lengths(records)
            if self.template_cost is not None and any(n > self.bound(r) for n, r in zip(lengths, records)):
                self.template_cost = None  # this tokenizer breaks the bound: count everything
            self.checked = True
            return [n <= self.max_tokens for n in lengths]
        unsure = [i for i, r in enumerate(records) if self.bound(r) > self.max_tokens]
        result = [True] * len(records)
        for i, n in zip(unsure, self.lengths([records[i] for i in unsure])):
            result[i] = n <= self.max_tokens
        return result

    def keep(self, records: Iterable[dict], dropped: Counter) -> Iterator[dict]:
        """Pass through the records that fit, counting the others as ``too_many_tokens``."""
        records = iter(records)
        while batch := list(islice(records, BATCH)):
            for record, fits in zip(batch, self.fits(batch)):
                if fits:
                    yield record
                else:
                    dropped["too_many_tokens"] += 1
