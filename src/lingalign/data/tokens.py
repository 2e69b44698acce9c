"""Optional ``max_tokens`` filter: drop examples the model could not take whole.

Training would truncate them (cutting off the answer and its end-of-sequence token, as the
reference code did) or drop them; dropping here is cheaper and shows up in the manifest. Texts
are tokenized in batches with the model's fast tokenizer, exactly as training will see them:
the prompt (``lingalign.prompting``), then the answer and the end-of-sequence token.
"""

from __future__ import annotations

from collections import Counter
from itertools import islice
from typing import Iterable, Iterator

from lingalign.prompting import build_prompt

BATCH = 1024


class TokenFilter:
    def __init__(self, tokenizer_name: str, max_tokens: int, prompt_format: str = "alpaca"):
        from lingalign.models import load_tokenizer

        self.tokenizer = load_tokenizer(tokenizer_name)
        self.max_tokens = max_tokens
        self.prompt_format = prompt_format

    def lengths(self, records: list[dict]) -> list[int]:
        """Tokens per example: prompt + output + end-of-sequence."""
        eos = self.tokenizer.eos_token
        texts = [build_prompt(r["instruction"], r["input"], self.prompt_format, self.tokenizer) + r["output"] + eos
                 for r in records]
        encoded = self.tokenizer(texts, add_special_tokens=False, return_attention_mask=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def keep(self, records: Iterable[dict], dropped: Counter) -> Iterator[dict]:
        """Pass through the records that fit, counting the others as ``too_many_tokens``."""
        records = iter(records)
        while batch := list(islice(records, BATCH)):
            for record, length in zip(batch, self.lengths(batch)):
                if length <= self.max_tokens:
                    yield record
                else:
                    dropped["too_many_tokens"] += 1
