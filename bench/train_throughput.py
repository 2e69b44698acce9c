"""Training throughput: lingalign's settings vs the reference recipe's, on the same CoIT sample.

    python bench/train_throughput.py [--tokens 6000] [--threads N] [--precision auto|fp32|bf16]

Both runs train the default model (SmolLM2-135M-Instruct) from the same initial weights on the same
examples (Alpaca en + zh and en->zh newstest2017 translation pairs from the shipped samples, Alpaca
template, max length 512) for about the same number of real (non-padding) tokens, in the same
precision (``auto``: bf16 autocast on a CPU with native bf16, fp32 elsewhere, as training picks):

* reference (as x-LLM's train.py with the HF Trainer does it): random order, each batch of 4
  padded to its longest example, full-vocabulary logits at every position, mean loss; bf16 runs
  use autocast, as the Trainer's ``bf16=True`` does.
* lingalign: packed rows of 512 tokens with per-example attention (position-id restart),
  language-model head only at response positions, token-sum loss.

Printed: the kind of CPU (``lingalign.provenance``: native bf16 or not), non-padding tokens/s of
both runs and their ratio, and lingalign's model FLOP/s (6 * parameters * tokens / s, attention
score FLOPs not included) as a share of the matmul peak *of the precision it ran in*, measured here:
the fp32 peak on a CPU without native bf16 (target >= 70%), the bf16 peak on one with it (target
>= 50%). Emulated bf16 has no meaningful peak, so a forced ``--precision bf16`` there gets no target.
Figures from a shared or busy CPU are not results: measure on a quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import time

import torch

from lingalign.config import samples_dir
from lingalign.models import DEFAULT_MODEL, load_model, load_tokenizer, resolve_model
from lingalign.provenance import auto_precision, cpu
from lingalign.train.batching import plan_epoch
from lingalign.train.examples import tokenize_record
from lingalign.train.loop import accumulate_gradients, step_targets, step_tokens
from lingalign.train.loss import ResponseLoss

TRANSLATE = "Translate the following sentences from English to Chinese."


def coit_records() -> list[dict]:
    root = samples_dir()
    alpaca = json.loads((root / "alpaca/alpaca_en_zh.json").read_text(encoding="utf-8"))
    records = []
    for lang in ("en", "zh"):
        records += [{"instruction": r[f"{lang}_instruction"], "input": r[f"{lang}_input"],
                     "output": r[f"{lang}_output"]}
                    for r in alpaca]
    en = (root / "bitext/newstest2017.en-zh.en").read_text(encoding="utf-8").splitlines()
    zh = (root / "bitext/newstest2017.en-zh.zh").read_text(encoding="utf-8").splitlines()
    records += [{"instruction": TRANSLATE, "input": s, "output": t} for s, t in zip(en, zh) if s and t]
    return records


def tokenize_all(tokenizer, records, max_length):
    examples = [tokenize_record(r, tokenizer, "alpaca", max_length, "drop")[0] for r in records]
    return [e for e in examples if e is not None]


def matmul_peak(dtype: torch.dtype, repeat: int = 5) -> tuple[float, int]:
    """Best FLOP/s of a square matrix product in ``dtype``, and the size used.

    The size doubles from 256 up to 2048 while one product takes under 0.5 s, so a CPU that emulates
    bf16 (0.3 GFLOP/s measured on an AVX2-only machine) does not spend minutes here.
    """
    n = 256
    while True:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        torch.matmul(a, b)  # warm-up
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            torch.matmul(a, b)
            best = min(best, time.perf_counter() - start)
        if n >= 2048 or best > 0.5:
            return 2 * n ** 3 / best, n
        n *= 2


def reference_run(model, examples, pad_id, token_budget, batch_size=4, seed=0, precision="fp32"):
    """Random order, pad each batch to its longest example, full logits, HF mean loss; bf16 autocast
    when ``precision`` is bf16 (the HF Trainer's ``bf16=True``)."""
    rng = random.Random(seed)
    order = list(range(len(examples)))
    rng.shuffle(order)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train()
    tokens, elapsed, step = 0, 0.0, 0
    for start in range(0, len(order), batch_size):
        batch = [examples[i] for i in order[start:start + batch_size]]
        width = max(len(e) for e in batch)
        ids = torch.tensor([e.ids + [pad_id] * (width - len(e)) for e in batch])
        mask = torch.tensor([[1] * len(e) + [0] * (width - len(e)) for e in batch])
        labels = torch.tensor([e.labels + [-100] * (width - len(e)) for e in batch])
        tick = time.perf_counter()
        cast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
        with cast:
            loss = model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        if step > 1:  # the first step warms up allocators and kernels
            elapsed += time.perf_counter() - tick
            tokens += sum(len(e) for e in batch)
        if tokens >= token_budget:
            break
    return tokens, elapsed, step - 1


def lingalign_run(model, examples, pad_id, token_budget, rows_per_batch=1, max_length=512, seed=0, precision="bf16",
                  fused_adamw=False):
    """lingalign's loop body: packed rows, autocast at ``precision``, response-only head, token-normalised loss."""
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    wrapper = ResponseLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=fused_adamw or None)
    plan = plan_epoch([len(e) for e in examples], seed=seed, epoch=0, packing=True, max_length=max_length,
                      micro_batch_size=rows_per_batch)
    wrapper.train()
    tokens, targets, elapsed = 0, 0, 0.0
    for step, micro in enumerate(plan):
        tick = time.perf_counter()
        accumulate_gradients(accelerator, wrapper, [micro], examples, step_targets([micro], examples), precision,
                             pad_id)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step > 0:
            elapsed += time.perf_counter() - tick
            tokens += step_tokens([micro], examples)
            targets += step_targets([micro], examples)
        if tokens >= token_budget:
            break
    return tokens, elapsed, step, targets


TARGETS = {"bf16": 0.50, "fp32": 0.70}  # share of the peak of the precision run in (issue 19)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=6000, help="real tokens to time per run (after one warm-up step)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--only", choices=["reference", "lingalign"], default=None)
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                        help="both sides: auto = bf16 only where the CPU computes it natively (as training does)")
    parser.add_argument("--fused-adamw", action="store_true",
                        help="lingalign side: the fused AdamW kernel (train recipe key fused_adamw)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    info = cpu()
    precision = args.precision if args.precision != "auto" else auto_precision("cpu")
    print(f"CPU: {info['model'] or 'unknown'} ({info['arch']}): {info['kind']}; torch {torch.__version__}, "
          f"kernels {info['torch_isa']}, torch threads {torch.get_num_threads()}")
    print(f"precision: {precision}" + (" (auto)" if args.precision == "auto" else " (forced)")
          + ("; bf16 is emulated on this CPU" if precision == "bf16" and not info["native_bf16"] else ""))

    path = resolve_model(DEFAULT_MODEL)
    tokenizer = load_tokenizer(path)
    examples = tokenize_all(tokenizer, coit_records(), 512)
    n_params = sum(p.numel() for p in load_model(path).parameters())
    head = tokenizer.vocab_size * load_model(path).config.hidden_size
    print(f"model {path}: {n_params / 1e6:.1f}M parameters; {len(examples)} examples")

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    peak, size = matmul_peak(dtype)
    print(f"{precision} matmul peak here (best of 5): {peak / 1e9:.1f} GFLOP/s ({size}^3)")
    results = {}
    if args.only in (None, "reference"):
        torch.manual_seed(0)
        tokens, seconds, steps = reference_run(load_model(path, dtype="float32"), examples, tokenizer.pad_token_id,
                                               args.tokens, precision=precision)
        results["reference"] = tokens / seconds
        print(f"reference ({precision}, padded batches of 4, full logits): {tokens} tokens in {steps} steps, "
              f"{seconds:.1f} s -> {tokens / seconds:.1f} tokens/s")
    if args.only in (None, "lingalign"):
        torch.manual_seed(0)
        tokens, seconds, steps, targets = lingalign_run(load_model(path, dtype="float32"), examples,
                                                        tokenizer.pad_token_id, args.tokens, precision=precision,
                                                        fused_adamw=args.fused_adamw)
        rate = tokens / seconds
        results["lingalign"] = rate
        model_flops = 6 * n_params * rate
        executed = (6 * (n_params - head) * tokens + 6 * head * targets) / seconds
        adam = ", fused AdamW" if args.fused_adamw else ""
        print(f"lingalign ({precision}, packed 512, response-only head{adam}): {tokens} tokens in {steps} steps, "
              f"{seconds:.1f} s -> {rate:.1f} tokens/s")
        share = model_flops / peak
        native = precision == "fp32" or info["native_bf16"]
        target = f"; target >= {TARGETS[precision]:.0%}: {'met' if share >= TARGETS[precision] else 'not met'}" \
            if native else "; no target (emulated bf16)"
        print(f"lingalign model FLOP/s (6*N*tokens/s, no attention FLOPs): {model_flops / 1e9:.1f} GFLOP/s "
              f"= {share:.0%} of the {precision} peak{target}")
        print(f"  FLOPs actually executed (head only on {targets}/{tokens} response positions): "
              f"{executed / 1e9:.1f} GFLOP/s = {executed / peak:.0%} of the {precision} peak")
    if len(results) == 2:
        print(f"ratio lingalign / reference (both {precision}): {results['lingalign'] / results['reference']:.2f}x")


if __name__ == "__main__":
    main()
