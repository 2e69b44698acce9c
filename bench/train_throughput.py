"""Training throughput: lingalign's settings vs the reference recipe's, on the same CoIT sample.

    python bench/train_throughput.py [--tokens 6000] [--threads N]

Both runs train the default model (SmolLM2-135M-Instruct) from the same initial weights on the same
examples (Alpaca en + zh and en->zh newstest2017 translation pairs from the shipped samples, Alpaca
template, max length 512) for about the same number of real (non-padding) tokens:

* reference (as x-LLM's train.py with the HF Trainer does it): fp32, random order, each batch of
  4 padded to its longest example, full-vocabulary logits at every position, mean loss.
* lingalign: bf16 autocast, packed rows of 512 tokens with per-example attention (position-id
  restart), language-model head only at response positions, token-sum loss.

Printed: non-padding tokens/s of both and their ratio; lingalign's model FLOP/s (6 * parameters *
tokens / s, attention score FLOPs not included) as a fraction of a bf16 matmul peak measured here.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch

from lingalign.config import samples_dir

TRANSLATE = "Translate the following sentences from English to Chinese."


def coit_records() -> list[dict]:
    root = samples_dir()
    alpaca = json.loads((root / "alpaca/alpaca_en_zh.json").read_text(encoding="utf-8"))
    records = []
    for lang in ("en", "zh"):
        records += [{"instruction": r[f"{lang}_instruction"], "input": r[f"{lang}_input"], "output": r[f"{lang}_output"]}
                    for r in alpaca]
    en = (root / "bitext/newstest2017.en-zh.en").read_text(encoding="utf-8").splitlines()
    zh = (root / "bitext/newstest2017.en-zh.zh").read_text(encoding="utf-8").splitlines()
    records += [{"instruction": TRANSLATE, "input": s, "output": t} for s, t in zip(en, zh) if s and t]
    return records


def tokenize_all(tokenizer, records, max_length):
    from lingalign.train.examples import tokenize_record

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


def reference_run(model, examples, pad_id, token_budget, batch_size=4, seed=0):
    """fp32, random order, pad each batch to its longest example, full logits, HF mean loss."""
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


def lingalign_run(model, examples, pad_id, token_budget, rows_per_batch=1, max_length=512, seed=0, precision="bf16"):
    """lingalign's loop body: packed rows, autocast at ``precision``, response-only head, token-normalised loss."""
    from accelerate import Accelerator

    from lingalign.train.batching import plan_epoch
    from lingalign.train.loop import accumulate_gradients, step_targets, step_tokens
    from lingalign.train.loss import ResponseLoss

    accelerator = Accelerator(cpu=True)
    wrapper = ResponseLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    plan = plan_epoch([len(e) for e in examples], seed=seed, epoch=0, packing=True, max_length=max_length,
                      micro_batch_size=rows_per_batch)
    wrapper.train()
    tokens, targets, elapsed = 0, 0, 0.0
    for step, micro in enumerate(plan):
        tick = time.perf_counter()
        accumulate_gradients(accelerator, wrapper, [micro], examples, step_targets([micro], examples), precision, pad_id)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step > 0:
            elapsed += time.perf_counter() - tick
            tokens += step_tokens([micro], examples)
            targets += step_targets([micro], examples)
        if tokens >= token_budget:
            break
    return tokens, elapsed, step, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=6000, help="real tokens to time per run (after one warm-up step)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--only", choices=["reference", "lingalign"], default=None)
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                        help="lingalign side: auto = bf16 only where the CPU computes it natively (as training does)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from lingalign.models import DEFAULT_MODEL, load_model, load_tokenizer, resolve_model

    path = resolve_model(DEFAULT_MODEL)
    tokenizer = load_tokenizer(path)
    examples = tokenize_all(tokenizer, coit_records(), 512)
    n_params = sum(p.numel() for p in load_model(path).parameters())
    head = tokenizer.vocab_size * load_model(path).config.hidden_size
    print(f"model {path}: {n_params / 1e6:.1f}M parameters; {len(examples)} examples; torch threads {torch.get_num_threads()}")

    peak, n_bf16 = matmul_peak(torch.bfloat16)
    fp32_peak, n_fp32 = matmul_peak(torch.float32)
    print(f"matmul peak here (best of 5): bf16 {peak / 1e9:.1f} GFLOP/s ({n_bf16}^3), "
          f"fp32 {fp32_peak / 1e9:.1f} GFLOP/s ({n_fp32}^3)")
    results = {}
    if args.only in (None, "reference"):
        torch.manual_seed(0)
        tokens, seconds, steps = reference_run(load_model(path, dtype="float32"), examples, tokenizer.pad_token_id, args.tokens)
        results["reference"] = tokens / seconds
        print(f"reference (fp32, padded batches of 4, full logits): {tokens} tokens in {steps} steps, "
              f"{seconds:.1f} s -> {tokens / seconds:.1f} tokens/s")
    if args.only in (None, "lingalign"):
        torch.manual_seed(0)
        from lingalign.models import cpu_has_fast_bf16

        precision = args.precision if args.precision != "auto" else ("bf16" if cpu_has_fast_bf16() else "fp32")
        tokens, seconds, steps, targets = lingalign_run(load_model(path, dtype="float32"), examples,
                                                        tokenizer.pad_token_id, args.tokens, precision=precision)
        rate = tokens / seconds
        results["lingalign"] = rate
        model_flops = 6 * n_params * rate
        executed = (6 * (n_params - head) * tokens + 6 * head * targets) / seconds
        print(f"lingalign ({precision}, packed 512, response-only head): {tokens} tokens in {steps} steps, "
              f"{seconds:.1f} s -> {rate:.1f} tokens/s")
        print(f"lingalign model FLOP/s (6*N*tokens/s, no attention FLOPs): {model_flops / 1e9:.1f} GFLOP/s "
              f"= {model_flops / peak:.0%} of the bf16 peak")
        print(f"  FLOPs actually executed (head only on {targets}/{tokens} response positions): "
              f"{executed / 1e9:.1f} GFLOP/s = {executed / peak:.0%} of the bf16 peak, "
              f"{executed / fp32_peak:.0%} of the fp32 peak")
        print(f"  model FLOP/s as a fraction of the peak of the precision it ran in: "
              f"{model_flops / (peak if precision == 'bf16' else fp32_peak):.0%} ({precision})")
    if len(results) == 2:
        print(f"ratio lingalign / reference: {results['lingalign'] / results['reference']:.2f}x")


if __name__ == "__main__":
    main()
