"""Optional ``max_tokens`` filter: drop examples the model could not take whole.

Training would truncate them (cutting off the answer and its end-of-sequence token, as the
reference code did) or drop them; dropping here is cheaper and shows up in the manifest. Texts
are tokenized in batches with the model's fast tokenizer, as training will see them: the prompt
(``lingalign.prompting``), the answer, and one end-of-sequence token.

For the Alpaca prompt the model's ``tokenizer.json`` is loaded with the ``tokenizers`` library
itself (the engine of every "fast" tokenizer): the same token ids as ``transformers`` gives, in a
second instead of importing transformers and torch (~20 s and ~400 MB). Chat prompts need the
model's chat template, so they go through ``transformers``.
"""

from __future__ import annotations

from collections import Counter
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator

from lingalign.prompting import build_prompt

BATCH = 2048


class TokenFilter:
    def __init__(self, model_name: str, max_tokens: int, prompt_format: str = "alpaca"):
        self.max_tokens = max_tokens
        self.prompt_format = prompt_format
        self.chat_tokenizer = None
        self.count_tokens = self._load(model_name)

    def _load(self, model_name: str) -> Callable[[list[str]], list[int]]:
        """A batch token counter for a model name/folder, or a folder holding just a tokenizer."""
        from lingalign.models import load_tokenizer, resolve_model

        folder = Path(model_name).expanduser()
        if not (folder / "tokenizer_config.json").exists():
            folder = Path(resolve_model(model_name))
        if self.prompt_format == "alpaca" and (folder / "tokenizer.json").exists():
            import tokenizers

            engine = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
            return lambda texts: [len(e.ids) for e in engine.encode_batch_fast(texts, add_special_tokens=False)]
        if (folder / "tokenizer_config.json").exists():
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(folder)
        else:
            tokenizer = load_tokenizer(model_name)
        self.chat_tokenizer = tokenizer
        return lambda texts: [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def lengths(self, records: list[dict]) -> list[int]:
        """Tokens per example: prompt + output, plus one for the end-of-sequence token."""
        texts = [build_prompt(r["instruction"], r["input"], self.prompt_format, self.chat_tokenizer) + r["output"]
                 for r in records]
        return [n + 1 for n in self.count_tokens(texts)]

    def keep(self, records: Iterable[dict], dropped: Counter) -> Iterator[dict]:
        """Pass through the records that fit, counting the others as ``too_many_tokens``."""
        records = iter(records)
        while batch := list(islice(records, BATCH)):
            for record, length in zip(batch, self.lengths(batch)):
                if length <= self.max_tokens:
                    yield record
                else:
                    dropped["too_many_tokens"] += 1
