"""Seeded sampling: each answer's tokens drawn from its own seed, whatever else shares its batch.

Preference data (``lingalign data pairs``) samples several answers per prompt. Drawing them from
torch's global random state would make an answer depend on which other rows were in its batch,
on how many processes decoded and on where a resumed run restarted. Here every row carries its own
seed (the caller derives it from the item and the sample's index) and the random number for its
``step``-th token is a hash of ``(seed, step)``: a counter-based draw, with no state to carry
between batches. The token is then read off the row's distribution by inverse transform:
probabilities sorted from the largest (ties by token id), cut to the nucleus (``top_p``: the
smallest set of tokens whose mass reaches it), and the first token whose cumulative mass passes
``u x`` the kept mass is the one drawn.

The same function picks tokens in the rolling batch and, as a logits processor, inside
``model.generate``, so both hf paths sample alike. A row's distribution still depends on its batch
through floating-point padding effects (as greedy decoding's argmax does), so a token can flip only
when ``u`` falls within rounding of a boundary between two tokens: the data stage fixes its batches
(work in fixed chunks) so that a resumed run is byte-identical all the same. vLLM takes the seed per
request (``SamplingParams(seed=...)``) and draws with its own generator.

Greedy decoding does not pass through here: with ``sampling=None`` the generators run exactly the
code they ran before sampling existed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

from lingalign.errors import UserError


@dataclass(frozen=True)
class Sampling:
    """Temperature and nucleus (top-p) sampling; the seeds are given per prompt to ``generate``."""

    temperature: float = 1.0
    top_p: float = 1.0

    def __post_init__(self):
        if not self.temperature > 0:
            raise UserError(f"sampling temperature must be above 0 (got {self.temperature}); greedy is sampling=None")
        if not 0 < self.top_p <= 1:
            raise UserError(f"sampling top_p must be in (0, 1] (got {self.top_p})")


def step_uniform(seed: int, step: int) -> float:
    """A number in [0, 1) fixed by ``(seed, step)``: 53 bits of a BLAKE2b hash."""
    digest = hashlib.blake2b(f"{seed}:{step}".encode("ascii"), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 11) / float(1 << 53)


def check_seeds(prompts: Sequence, seeds: Sequence[int] | None) -> list[int]:
    """The seeds of a sampled call: one integer per prompt."""
    if seeds is None or len(seeds) != len(prompts):
        raise ValueError(f"sampling needs one seed per prompt ({len(prompts)} prompts, "
                         f"{'no' if seeds is None else len(seeds)} seeds)")
    return [int(s) for s in seeds]


def sample_tokens(logits, sampling: Sampling, seeds: Sequence[int], steps: Sequence[int]):
    """One token id per row of ``logits`` (rows x vocabulary), drawn with ``step_uniform(seed, step)``."""
    import torch

    probs = torch.softmax(logits.double() / sampling.temperature, dim=-1)
    ordered, order = torch.sort(probs, dim=-1, descending=True, stable=True)
    cumulative = ordered.cumsum(dim=-1)
    if sampling.top_p < 1:
        # the nucleus: tokens whose preceding mass is below top_p (the most likely one always stays)
        kept = (cumulative - ordered) < sampling.top_p
        kept[:, 0] = True
        cumulative = (ordered * kept).cumsum(dim=-1)
        last = kept.sum(dim=-1) - 1
    else:
        last = torch.full((len(seeds),), probs.shape[-1] - 1, device=probs.device)
    u = torch.tensor([step_uniform(s, t) for s, t in zip(seeds, steps)], dtype=torch.float64, device=probs.device)
    target = u * cumulative.gather(1, last[:, None])[:, 0]
    position = torch.searchsorted(cumulative, target[:, None], right=True)[:, 0]
    position = torch.minimum(position, last)  # rounding at the top end: the last kept token
    return order.gather(1, position[:, None])[:, 0]


def seeded_logits_processor(sampling: Sampling, seeds: Sequence[int], prompt_width: int):
    """A ``generate`` logits processor that makes greedy decoding take the seeded sample.

    It returns scores that are ``-inf`` everywhere but the drawn token, so ``generate``'s greedy
    argmax picks it; the step of every row is the number of tokens generated after the (left-padded)
    prompt of ``prompt_width`` ids.
    """
    import torch
    from transformers import LogitsProcessor

    class SeededSampler(LogitsProcessor):
        def __call__(self, input_ids, scores):
            step = input_ids.shape[1] - prompt_width
            chosen = sample_tokens(scores, sampling, seeds, [step] * len(seeds))
            out = torch.full_like(scores, float("-inf"))
            out[torch.arange(len(seeds), device=scores.device), chosen] = 0.0
            return out

    return SeededSampler()
