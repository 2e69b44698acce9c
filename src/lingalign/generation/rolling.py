"""Decoding with a rolling batch: a finished row leaves at once and waiting prompts take its place.

Why: ``model.generate`` runs a batch until its slowest row ends and keeps computing the rows that
have already finished. Untuned and lightly tuned models often repeat themselves up to
``max_new_tokens``, so on FLORES one such row in a batch makes all of it cost the full length.
Here every decoding step computes only live rows; once half the slots are free, the next prompts in
the queue (in the caller's order, normally :func:`rolling_order`: prompts with a shared prefix
together, longest first) are prefilled together and join the batch. A prefix that neighbouring
prompts share (an XQuAD passage with several questions, a task's template) is prefilled once and
copied to their rows.

How the batch is kept: rows are right-aligned in one key/value cache (``DynamicCache``) with an
attention mask marking each row's real positions, like the left padding of ``generate`` (a row
prefilled after a shared prefix may also have masked padding between its prompt and its answer). A joining
group is prefilled on its own, then both caches are left-padded with masked zeros to the same length
and concatenated along the batch. Columns that are padding in every row are cut from the left, so
the cache stays as long as the longest live row. Position ids count each row's real tokens, so a
row's keys and queries are the same as if it had been decoded alone (``test_rolling`` checks the
outputs against ``generate``).

Tokens are greedy (argmax), or drawn with each row's own seed when a :class:`~lingalign.generation.
sampling.Sampling` is given (the draw depends on the row's seed and step only, not on its batch).

Only models whose cache layers are plain ``DynamicLayer`` (full attention: LLaMA, Qwen, Mistral
without sliding windows, ...) use this path; :func:`supports_rolling` tells the caller, which falls
back to ``generate`` otherwise.
"""

from __future__ import annotations

import inspect
from collections import deque
from typing import Iterator, Sequence

import torch


def supports_rolling(model) -> bool:
    """True when the model's forward takes ``logits_to_keep`` and its cache layers are all full-attention."""
    if "logits_to_keep" not in inspect.signature(model.forward).parameters:
        return False
    try:
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        cache = DynamicCache(config=model.config)
    except Exception:  # an older transformers, or an architecture DynamicCache cannot describe
        return False
    layers = getattr(cache, "layers", None)  # older transformers keep the cache as lists of tensors
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


class RollingDecoder:
    """Greedy (or seeded sampled) decoding of many prompts through a batch of at most ``batch_size`` live rows."""

    def __init__(self, model, tokenizer, eos_ids: Sequence[int], pad_id: int, min_shared: int = 16,
                 prefill_budget: int = 8192):
        self.model, self.tokenizer = model, tokenizer
        self.eos_ids, self.pad_id = set(eos_ids), pad_id
        # rows x padded width of one prefill forward: a group of 24 MLQA-vi prompts of ~6,000 tokens
        # would otherwise attend over 24 x 6,000^2 scores at once (tens of GB if materialised)
        self.prefill_budget = prefill_budget
        self.device = next(model.parameters()).device
        # transformers 5.x renamed the forward's ``past_key_values`` to ``cache``; the cache is updated in place
        self.cache_kwarg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.min_shared = min_shared
        self.prefill_tokens = 0  # prompt tokens actually run through the model (the bench and tests read it)

    @torch.inference_mode()
    def run(self, prompt_ids: Sequence[Sequence[int]], order: Sequence[int], *, max_new_tokens: int,
            batch_size: int, stop: Sequence[str] = (), sampling=None,
            seeds: Sequence[int] | None = None) -> Iterator[tuple[int, list[int]]]:
        """Yield ``(prompt index, generated token ids)`` as rows finish.

        The ids end with the end token or the stop string that ended the row, as ``generate``'s do;
        decoding with ``skip_special_tokens`` drops the end token, the caller cuts the stop string.
        ``sampling`` (a :class:`~lingalign.generation.sampling.Sampling`) draws each token with the
        seed ``seeds[prompt index]`` instead of taking the argmax.
        """
        if sampling is None:
            pick = lambda logits, indices, steps: logits.argmax(dim=-1)  # noqa: E731
        else:
            from lingalign.generation.sampling import sample_tokens

            pick = lambda logits, indices, steps: sample_tokens(  # noqa: E731
                logits, sampling, [seeds[i] for i in indices], steps)
        queue = deque(order)
        rows: list[tuple[int, list[int], str]] = []  # (prompt index, tokens generated so far, prompt's last chars)
        cache, mask, last = None, None, None       # last: the newest token of each row, not yet in the cache
        stop_window = max((len(s) for s in stop if s), default=0) + 16
        while queue or rows:
            if queue and len(rows) <= batch_size // 2:
                group = [queue.popleft() for _ in range(min(batch_size - len(rows), len(queue)))]
                new_cache, new_mask, first_logits = self._prefill([prompt_ids[i] for i in group])
                first = pick(first_logits, group, [0] * len(group))
                new_rows = [(i, [int(t)], self._prompt_tail(prompt_ids[i], stop)) for i, t in zip(group, first)]
                if cache is None:
                    cache, mask, last, rows = new_cache, new_mask, first, new_rows
                else:
                    cache, mask = _join(cache, mask, new_cache, new_mask)
                    last, rows = torch.cat([last, first]), rows + new_rows
            else:
                mask = torch.cat([mask, mask.new_ones(len(rows), 1)], dim=1)
                positions = (mask.sum(dim=1, keepdim=True) - 1)
                out = self.model(input_ids=last[:, None], attention_mask=mask, position_ids=positions,
                                 use_cache=True, logits_to_keep=1, **{self.cache_kwarg: cache})
                last = pick(out.logits[:, -1], [index for index, _, _ in rows], [len(t) for _, t, _ in rows])
                for (_, tokens, _), token in zip(rows, last.tolist()):
                    tokens.append(token)
            keep = []
            for r, (index, tokens, prompt_tail) in enumerate(rows):
                if self._finished(tokens, prompt_tail, max_new_tokens, stop, stop_window):
                    yield index, tokens
                else:
                    keep.append(r)
            if len(keep) < len(rows):
                rows = [rows[r] for r in keep]
                if not rows:
                    cache, mask, last = None, None, None
                    continue
                selected = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(selected)
                mask, last = mask[selected], last[selected]
                cache, mask = _trim_left(cache, mask)

    def _prefill(self, prompts: list[Sequence[int]]):
        """Cache, mask and the logits of the first generated token of a joining group.

        Neighbours that share a long prefix (XQuAD questions on one passage, or every prompt of a
        task's template) are prefilled once for the prefix and once per row for the rest.
        """
        parts = []
        for start, end, shared in prefix_runs(prompts, self.min_shared):
            for chunk in _chunks(prompts[start:end], shared, self.prefill_budget):
                parts.append(self._prefill_shared(chunk, shared) if shared and len(chunk) > 1
                             else self._prefill_padded(chunk))
        cache, mask, first = parts[0]
        for part_cache, part_mask, part_first in parts[1:]:
            cache, mask = _join(cache, mask, part_cache, part_mask)
            first = torch.cat([first, part_first])
        return cache, mask, first

    def _forward(self, cache, **inputs):
        self.prefill_tokens += inputs["input_ids"].numel()
        return self.model(use_cache=True, **inputs, **{self.cache_kwarg: cache})

    def _prefill_padded(self, prompts: list[Sequence[int]]):
        """Left-padded, as ``generate`` does."""
        from transformers import DynamicCache

        width = max(len(p) for p in prompts)
        ids = torch.tensor([[self.pad_id] * (width - len(p)) + list(p) for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        cache = DynamicCache(config=self.model.config)
        out = self._forward(cache, input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1)
        return cache, mask, out.logits[:, -1]

    def _prefill_shared(self, prompts: list[Sequence[int]], shared: int):
        """The first ``shared`` ids once, copied to every row; then the rest, right-padded.

        The padding sits between a row's prompt and its answer; it is masked, and position ids
        count real tokens only, so the row computes what it would alone.
        """
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        prefix = torch.tensor([list(prompts[0][:shared])], device=self.device)
        self._forward(cache, input_ids=prefix, position_ids=torch.arange(shared, device=self.device)[None],
                      logits_to_keep=1)
        cache.batch_repeat_interleave(len(prompts))
        rests = [list(p[shared:]) for p in prompts]
        width = max(len(r) for r in rests)
        ids = torch.tensor([r + [self.pad_id] * (width - len(r)) for r in rests], device=self.device)
        rest_mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rests], device=self.device)
        mask = torch.cat([rest_mask.new_ones(len(rests), shared), rest_mask], dim=1)
        positions = (shared + torch.arange(width, device=self.device)).expand(len(rests), width)
        out = self._forward(cache, input_ids=ids, attention_mask=mask, position_ids=positions)
        ends = torch.tensor([len(r) - 1 for r in rests], device=self.device)
        return cache, mask, out.logits[torch.arange(len(rests), device=self.device), ends]

    def _prompt_tail(self, prompt: Sequence[int], stop: Sequence[str]) -> str:
        """The prompt's last characters that a stop string could start in (``generate`` matches across)."""
        keep = max((len(s) for s in stop if s), default=1) - 1  # a stop string needs one generated char
        if keep == 0:
            return ""
        tail = list(prompt[-(2 * keep + 4):])  # more tokens than characters: a token may be part of one
        return self.tokenizer.decode(tail, skip_special_tokens=True)[-keep:]

    def _finished(self, tokens: list[int], prompt_tail: str, max_new_tokens: int, stop: Sequence[str],
                  window: int) -> bool:
        if tokens[-1] in self.eos_ids or len(tokens) >= max_new_tokens:
            return True
        if not stop:
            return False
        # a stop string counts when it ends inside the generated text; like ``generate``, it may begin
        # in the prompt (a response that starts "## " after a prompt ending in "\n#" has started a section)
        generated = self.tokenizer.decode(tokens[-window:], skip_special_tokens=True)
        if len(tokens) > window:
            return any(s and s in generated for s in stop)
        text = prompt_tail + generated
        return any(s and s in text[max(0, len(prompt_tail) - len(s) + 1):] for s in stop)


def prefix_runs(prompts: Sequence[Sequence[int]], min_shared: int) -> list[tuple[int, int, int]]:
    """Split ``prompts`` (in order) into runs ``(start, end, shared)`` that prefill a prefix once.

    A run is cut before a prompt whose common prefix with the previous one is under ``min_shared``
    ids, or under half of a neighbouring pair's: XQuAD questions on one passage share ~400 ids,
    questions on the next passage only the ~30 of the template, so passages become separate runs
    instead of one run sharing the template. ``shared`` stays below each prompt's length, so every
    row has a token of its own to prefill. Single prompts are gathered into runs with ``shared == 0``.
    """
    n = len(prompts)
    lcp = [0] + [_common_prefix(prompts[j - 1], prompts[j]) for j in range(1, n)]
    starts = [0] + [j for j in range(1, n)
                    if lcp[j] < min_shared or 2 * lcp[j] < max(lcp[j - 1], lcp[j + 1] if j + 1 < n else 0)]
    runs: list[tuple[int, int, int]] = []
    for start, end in zip(starts, starts[1:] + [n]):
        shared = min([*lcp[start + 1:end], *(len(p) - 1 for p in prompts[start:end])]) if end - start > 1 else 0
        if shared < min_shared:
            shared = 0
        if shared == 0 and runs and runs[-1][2] == 0:
            runs[-1] = (runs[-1][0], end, 0)
        else:
            runs.append((start, end, shared))
    return runs


def rolling_order(prompt_ids: Sequence[Sequence[int]], min_shared: int = 16) -> list[int]:
    """The order the rolling batch takes prompts in: prompts sharing a prefix together, longest first.

    Token order brings prompts with a common prefix next to each other (an XQuAD passage and its
    questions), so the prefix is prefilled once. Those groups, and the prompts within each, then go
    longest first, so a joining group holds prompts of similar length and little padding is prefilled
    (MLQA-zh, whose passages are not shared: 94k tokens for its first 200 prompts against 176k in
    token order; ``bench/eval_order.py``). Longest first also makes an out-of-memory error show at
    the start.
    """
    by_ids = sorted(range(len(prompt_ids)), key=lambda i: prompt_ids[i])
    in_order = [prompt_ids[i] for i in by_ids]
    # what every prompt shares (the template and a task's fixed instruction) does not bind a group:
    # only a longer common prefix, such as a passage, does
    everyone = min((_common_prefix(a, b) for a, b in zip(in_order, in_order[1:])), default=0)
    length = lambda i: len(prompt_ids[i])  # noqa: E731
    units: list[list[int]] = []
    for start, end, shared in prefix_runs(in_order, min_shared):
        members = by_ids[start:end]
        bound = shared - everyone >= min_shared
        units += [sorted(members, key=length, reverse=True)] if bound else [[i] for i in members]
    units.sort(key=lambda unit: length(unit[0]), reverse=True)
    return [i for unit in units for i in unit]


def _chunks(run: Sequence[Sequence[int]], shared: int, budget: int) -> Iterator[Sequence[Sequence[int]]]:
    """Consecutive pieces of ``run`` whose rows x padded width (beyond the shared prefix) fit ``budget``."""
    start, width = 0, 0
    for end, prompt in enumerate(run):
        width = max(width, len(prompt) - shared)
        if end > start and (end - start + 1) * width > budget:
            yield run[start:end]
            start, width = end, len(prompt) - shared
    yield run[start:]


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _join(cache, mask, new_cache, new_mask):
    """Both caches left-padded (masked zeros) to one length and stacked along the batch."""
    width = max(mask.shape[1], new_mask.shape[1])
    for layer, new_layer in zip(cache.layers, new_cache.layers):
        layer.keys = torch.cat([_pad_left(layer.keys, width), _pad_left(new_layer.keys, width)])
        layer.values = torch.cat([_pad_left(layer.values, width), _pad_left(new_layer.values, width)])
    return cache, torch.cat([_pad_left(mask, width, dim=1), _pad_left(new_mask, width, dim=1)])


def _pad_left(tensor: torch.Tensor, width: int, dim: int = -2) -> torch.Tensor:
    missing = width - tensor.shape[dim]
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


def _trim_left(cache, mask):
    """Drop the leading columns that are padding in every row."""
    real = mask.any(dim=0).nonzero()
    start = int(real[0]) if len(real) else 0
    if start:
        for layer in cache.layers:
            layer.keys, layer.values = layer.keys[..., start:, :], layer.values[..., start:, :]
        mask = mask[:, start:]
    return cache, mask
