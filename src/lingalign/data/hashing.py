"""Seeded 64-bit hashes: the only source of randomness in the data stage.

Every choice (which instruction paraphrase a pair gets, which pairs a ``count`` keeps, the order of
the final file) is a hash of the seed and the thing being placed, never a running random state.
So a choice does not depend on what else is in the corpus: adding, filtering or re-counting
records never changes the choices made for the others, and a rebuild is byte-identical.
"""

from __future__ import annotations

import hashlib

_SEP = "\x1f"


def seeded_hash(seed: int, *parts: object) -> int:
    """A stable 64-bit integer from the seed and any strings/numbers."""
    text = _SEP.join([str(seed), *map(str, parts)])
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def text_key(*texts: str) -> bytes:
    """An 8-byte digest of some texts, kept instead of the texts themselves (de-duplication)."""
    return hashlib.blake2b(_SEP.join(texts).encode("utf-8"), digest_size=8).digest()


def normalize_text(text: str) -> str:
    """The form compared by the contamination guard: stripped, whitespace collapsed."""
    return " ".join(text.split())
