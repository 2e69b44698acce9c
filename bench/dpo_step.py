"""One DPO step against one supervised (SFT) step on the same answers, on the default model.

    python bench/dpo_step.py [--precision auto|fp32|bf16] [--rounds 4] [--threads N]

The figures behind "Cost per step" of DPO in docs/train.md. Baseline: a supervised step on the
chosen answers of the same pairs, timed in the same process. Both steps take the shipped preference
sample's pairs 8-15 (``samples/preferences/alpaca_zh_answer_language.jsonl``, Alpaca template, max
length 320) as 4 micro-batches of 2 pairs: DPO runs the chosen and the rejected sequence of each pair
forward and backward plus two forwards of a frozen reference copy (``dpo.tune: full``); SFT runs the
2 chosen sequences of each micro-batch forward and backward. Forward and backward only (the
objectives' ``accumulate``), no optimizer step: the optimizer costs the same in both. The two steps
alternate, one round after a warm-up round, so both see the same machine load. Printed: the kind of
CPU, each round's times, and the medians, their ratio and tokens/s. Figures from a shared or busy
CPU are not results: measure on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from accelerate import Accelerator

from lingalign.config import samples_dir
from lingalign.models import DEFAULT_MODEL, load_model, load_tokenizer, resolve_model
from lingalign.provenance import auto_precision, cpu
from lingalign.train.dpo import PreferenceObjective, Reference
from lingalign.train.dpo_loss import PreferenceLogps
from lingalign.train.loop import ResponseObjective
from lingalign.train.loss import ResponseLoss
from lingalign.train.preference_data import load_pairs

PAIRS = range(8, 16)  # 8 pairs of the shipped sample, as timed in docs/train.md
PAIRS_PER_MICRO_BATCH = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                        help="auto = bf16 only where the CPU computes it natively (as training does)")
    parser.add_argument("--rounds", type=int, default=4, help="timed rounds after one warm-up round")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    info = cpu()
    precision = args.precision if args.precision != "auto" else auto_precision("cpu")
    print(f"CPU: {info['model'] or 'unknown'} ({info['arch']}): {info['kind']}; torch {torch.__version__}, "
          f"torch threads {torch.get_num_threads()}; precision {precision}"
          + (" (auto)" if args.precision == "auto" else " (forced)"))

    path = resolve_model(DEFAULT_MODEL)
    tokenizer = load_tokenizer(path)
    examples, _ = load_pairs(samples_dir() / "preferences" / "alpaca_zh_answer_language.jsonl", tokenizer,
                             "alpaca", 320, "drop")
    pairs = list(PAIRS)
    dpo_micro = [[[i] for i in pairs[j:j + PAIRS_PER_MICRO_BATCH]] for j in range(0, len(pairs), PAIRS_PER_MICRO_BATCH)]
    sft_micro = [[[2 * i] for row in mb for i in row] for mb in dpo_micro]  # examples: chosen 2i, rejected 2i+1
    accelerator = Accelerator(cpu=True)
    policy = load_model(path, dtype="float32")
    frozen = PreferenceLogps(load_model(path, dtype="float32").requires_grad_(False).eval())
    sft_model, dpo_model = ResponseLoss(policy), PreferenceLogps(policy)
    sft = ResponseObjective(examples, tokenizer.pad_token_id)
    dpo = PreferenceObjective(examples, tokenizer.pad_token_id, Reference(frozen, accelerator, dpo_model), beta=0.1,
                              loss_type="sigmoid")
    steps = {"sft (baseline)": (sft, sft_model, sft_micro), "dpo": (dpo, dpo_model, dpo_micro)}
    tokens = {name: objective.step_tokens(micro) for name, (objective, _, micro) in steps.items()}
    print(f"{len(pairs)} pairs in {len(dpo_micro)} micro-batches; tokens per step: "
          + ", ".join(f"{name} {n}" for name, n in tokens.items()))

    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_number in range(args.rounds + 1):
        for name, (objective, model, micro) in steps.items():
            policy.zero_grad(set_to_none=True)
            start = time.perf_counter()
            objective.accumulate(accelerator, model, micro, objective.step_targets(micro), precision)
            seconds = time.perf_counter() - start
            if round_number:  # round 0 warms up
                times[name].append(seconds)
            print(f"round {round_number}{' (warm-up)' if not round_number else ''}: {name} {seconds:.2f} s", flush=True)
    sft_s, dpo_s = (statistics.median(times[name]) for name in steps)
    ratios = [d / s for s, d in zip(*times.values())]
    print(f"{precision}: median step (forward + backward, no optimizer): sft {sft_s:.1f} s, dpo {dpo_s:.1f} s; "
          f"ratio dpo / sft {dpo_s / sft_s:.2f}x ({min(ratios):.2f}-{max(ratios):.2f} per round); tokens/s "
          f"sft {tokens['sft (baseline)'] / sft_s:.0f}, dpo {tokens['dpo'] / dpo_s:.0f}")


if __name__ == "__main__":
    main()
