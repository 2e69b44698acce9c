"""One AdamW step over the default model's parameters: torch's loop, foreach and fused kernels.

    python bench/optimizer_step.py [--steps 5]

The figures behind ``fused_adamw`` in docs/train.md. Random gradients, one warm-up step, then the
mean of ``--steps`` steps per implementation; each implementation is timed twice, interleaved, since
a shared CPU drifts. Also prints whether fused and foreach give the loop's weights bit for bit
after a few steps on the same gradients (the reason ``fused_adamw`` is off by default).
"""

from __future__ import annotations

import argparse
import time

import torch

from lingalign.models import DEFAULT_MODEL, load_model, resolve_model

KINDS = {"loop (torch's CPU default)": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    model = load_model(resolve_model(DEFAULT_MODEL), dtype="float32")
    params = list(model.parameters())
    print(f"{sum(p.numel() for p in params) / 1e6:.1f}M parameters; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    for _ in range(2):
        for label, kwargs in KINDS.items():
            optimizer = torch.optim.AdamW(params, lr=1e-5, **kwargs)
            optimizer.step()
            start = time.perf_counter()
            for _ in range(args.steps):
                optimizer.step()
            print(f"{label}: {(time.perf_counter() - start) / args.steps * 1000:.0f} ms per step", flush=True)

    torch.manual_seed(0)
    shapes = [(p.shape) for p in params[:3]]
    grads = [[torch.randn(s) * 1e-3 for s in shapes] for _ in range(5)]
    start_values = [torch.randn(s) for s in shapes]
    weights = {}
    for label, kwargs in KINDS.items():
        copies = [w.clone().requires_grad_() for w in start_values]
        optimizer = torch.optim.AdamW(copies, lr=1e-4, weight_decay=0.01, **kwargs)
        for step in grads:
            for w, g in zip(copies, step):
                w.grad = g.clone()
            optimizer.step()
        weights[label] = [w.detach() for w in copies]
    loop = weights["loop (torch's CPU default)"]
    for label in ("foreach", "fused"):
        same = all(torch.equal(a, b) for a, b in zip(loop, weights[label]))
        worst = max((a - b).abs().max().item() for a, b in zip(loop, weights[label]))
        print(f"{label} after 5 steps: {'bit-identical to' if same else 'differs from'} the loop"
              f" (max |diff| {worst:.1e})")


if __name__ == "__main__":
    main()
