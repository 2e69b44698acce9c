"""Peak memory of `analyze align` pooling vs keeping every hidden state until the end.

Baseline (measured in the same run): collect the hidden states of every layer for every batch, then
pool; memory grows with layers x sentences x tokens x hidden. lingalign reduces each batch's hidden
states to pooled vectors at once, so it keeps only layers x sentences x hidden floats.

Each variant runs in its own process; the figure is the growth of peak RSS over the RSS right after
the model is loaded (so the model's own weights are not counted).

    python bench/analysis_memory.py [--model smollm2-135m-instruct] [--lang zh] [--n 64] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

from lingalign.analysis.parallel import load_parallel
from lingalign.analysis.pooling import _pad_batch, encode, masked_mean, pooled_layers
from lingalign.models import load_model, load_tokenizer


def rss_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def child(args: argparse.Namespace) -> None:
    import torch

    texts = load_parallel(["en", args.lang], limit=args.n).texts[args.lang]
    tokenizer, model = load_tokenizer(args.model), load_model(args.model)
    model(input_ids=torch.tensor([[1, 2, 3]]))  # warm up allocators before taking the reference
    before = rss_peak_mib()
    if args.variant == "pooled":
        pooled_layers(model, tokenizer, texts, batch_size=args.batch_size)
    else:
        kept, pools = [], []
        encoded = encode(tokenizer, texts)
        with torch.inference_mode():
            for first in range(0, len(encoded), args.batch_size):
                ids, attention, positions, pool = _pad_batch(encoded[first:first + args.batch_size],
                                                             tokenizer.pad_token_id, "right")
                out = model.model(input_ids=ids, attention_mask=attention, position_ids=positions,
                                  output_hidden_states=True)
                kept.append(out.hidden_states)
                pools.append(pool)
            [[masked_mean(h, p) for h in states] for states, p in zip(kept, pools)]
    tokens = sum(sum(keep) for _, keep in encode(tokenizer, texts))
    print(json.dumps({"growth_mib": rss_peak_mib() - before, "tokens": tokens,
                      "layers": model.config.num_hidden_layers + 1, "hidden": model.config.hidden_size}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--lang", default="zh")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--variant", choices=("pooled", "keep-states"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        return child(args)
    results = {}
    for variant in ("keep-states", "pooled"):
        command = [sys.executable, __file__, "--variant", variant, "--model", args.model, "--lang", args.lang,
                   "--n", str(args.n), "--batch-size", str(args.batch_size)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[variant] = json.loads(output.strip().splitlines()[-1])
    facts = results["pooled"]
    kept_mib = facts["layers"] * facts["tokens"] * facts["hidden"] * 4 / 2**20
    pooled_mib = facts["layers"] * args.n * facts["hidden"] * 4 / 2**20
    print(f"{args.n} {args.lang} sentences, {facts['tokens']} tokens, {facts['layers']} hidden states of width "
          f"{facts['hidden']}, batch {args.batch_size}")
    print(f"  baseline keep-states: peak RSS growth {results['keep-states']['growth_mib']:7.1f} MiB "
          f"(hidden states alone: {kept_mib:.1f} MiB without padding)")
    print(f"  lingalign pooled:     peak RSS growth {results['pooled']['growth_mib']:7.1f} MiB "
          f"(pooled vectors: {pooled_mib:.1f} MiB)")
    ratio = results["keep-states"]["growth_mib"] / max(results["pooled"]["growth_mib"], 1e-9)
    print(f"  ratio baseline / lingalign: {ratio:.1f}x")


if __name__ == "__main__":
    main()
