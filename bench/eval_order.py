"""How many prompt tokens the rolling batch prefills, by the order it takes prompts in (no model run).

The rolling batch prefills each joining group of prompts left-padded to its longest (after a prefix
the group shares, which is run once). So the order of the queue decides how much padding is
computed. This counts it for the first N prompts of a task, in groups of ``--batch-size`` taken
one after the other (the rolling batch's joins are usually smaller, so real runs pad a little less
in every order):

* dataset order;
* token order (the rolling batch's order before ``rolling_order``);
* ``rolling_order``: prefix groups together, longest first.

Only the tokenizer is loaded, so it runs in seconds and needs no free CPU.

  python bench/eval_order.py --task mlqa-zh --data-root ../shared/data --n 200 --batch-size 24
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lingalign.generation.rolling import prefix_runs, rolling_order
from lingalign.models import DEFAULT_MODEL, load_tokenizer, resolve_model
from lingalign.prompting import build_prompt
from lingalign.tasks.base import default_data_root
from lingalign.tasks.registry import load_builtin


def prefilled_tokens(prompt_ids, order, batch_size: int, min_shared: int = 16) -> int:
    """Tokens run through the model when consecutive groups of ``order`` are prefilled as the decoder does."""
    total = 0
    for start in range(0, len(order), batch_size):
        group = [prompt_ids[i] for i in order[start:start + batch_size]]
        for a, b, shared in prefix_runs(group, min_shared):
            run = group[a:b]
            total += shared + len(run) * max(len(p) - shared for p in run)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="mlqa-zh")
    parser.add_argument("--data-root", help="default: the samples shipped with lingalign")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=24)
    args = parser.parse_args()

    task = load_builtin(args.task, Path(args.data_root) if args.data_root else default_data_root())
    prompts = [build_prompt(e.instruction, e.input, "alpaca") for e in task.examples[:args.n]]
    ids = load_tokenizer(resolve_model(DEFAULT_MODEL))(prompts)["input_ids"]
    lengths = [len(p) for p in ids]
    print(f"{args.task}: {len(ids)} prompts, {sum(lengths):,} tokens (mean {sum(lengths) / len(ids):.0f}, "
          f"max {max(lengths):,}); groups of {args.batch_size}")
    orders = {"dataset order": list(range(len(ids))),
              "token order": sorted(range(len(ids)), key=lambda i: ids[i]),
              "rolling_order": rolling_order(ids)}
    baseline = prefilled_tokens(ids, orders["token order"], args.batch_size)
    for name, order in orders.items():
        tokens = prefilled_tokens(ids, order, args.batch_size)
        print(f"  {name:14s} {tokens:9,} tokens prefilled   {baseline / tokens:5.2f}x fewer than token order")


if __name__ == "__main__":
    main()
