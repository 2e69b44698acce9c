"""GPU smoke run: train and evaluate the default model on one CUDA GPU, in a few minutes.

    make setup TORCH=torch          # a CUDA build of torch; optionally: pip install flash-attn vllm
    .venv/bin/python bench/gpu_smoke.py [--steps 60] [--items 100] [--out runs/gpu-smoke]

What it does, with lingalign's own stages (so it checks the paths a cluster run takes):

1. times a bf16 matrix product (8192^3, best of 5) on the GPU: the peak the training is compared with;
2. builds the CoIT-zh data of ``recipes/data/coit-zh.yaml`` from the samples shipped in the package;
3. trains the default model (SmolLM2-135M-Instruct) for ``--steps`` optimizer steps: bf16 autocast,
   packed rows of 512 tokens, flash-attention's variable-length kernel when the flash-attn package
   is installed, SDPA otherwise; prints tokens/s (steps after the first), peak GPU memory, and
   model FLOP/s (6 x parameters x tokens/s, attention not counted) as a fraction of the peak of
   step 1;
4. evaluates the trained model on the first ``--items`` FLORES en->zh and XQuAD-zh items with the
   HF backend and, when vllm is installed, the vLLM backend, and prints how many predictions the
   two backends agree on (greedy decoding in bf16 on different kernels: most, rarely all).

Without a CUDA GPU it stops at once, exit code 2, with one line saying so (it checks for an NVIDIA
driver before importing torch). ``--allow-cpu`` runs the same steps on a CPU, with ``--model`` and
small budgets, only to check the script itself: its figures mean nothing there.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

from lingalign.artifacts import read_jsonl_tolerant
from lingalign.data.build import build_dataset
from lingalign.evaluate import evaluate
from lingalign.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
DRIVER_MARKERS = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/dxg")  # Linux; WSL2
TASKS = ("flores-en-zh", "xquad-zh")


def why_no_cuda() -> str | None:
    """Why no CUDA GPU can be used here, or None. No driver: answered without importing torch."""
    if not any(os.path.exists(marker) for marker in DRIVER_MARKERS):
        return f"no NVIDIA driver found ({', '.join(DRIVER_MARKERS)} are all missing)"
    import torch

    if not torch.cuda.is_available():
        return (f"torch {torch.__version__} sees no CUDA device (built for CUDA {torch.version.cuda}); "
                "a CUDA build: make setup TORCH=torch")
    return None


def bf16_matmul_peak(device: str, repeat: int = 5) -> tuple[float, int]:
    """Best bf16 FLOP/s of one square matrix product on ``device``, and its size."""
    import torch

    n = 8192 if device == "cuda" else 256
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)

    def timed() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        torch.matmul(a, b)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    timed(), timed()  # warm-up: kernel selection, clocks
    return 2 * n ** 3 / min(timed() for _ in range(repeat)), n


def peak_memory_gib(device: str) -> str:
    import torch

    return f"{torch.cuda.max_memory_allocated() / 2 ** 30:.2f} GiB" if device == "cuda" else "n/a (CPU)"


def reset_peak_memory(device: str) -> None:
    import torch

    if device == "cuda":
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def train_figures(model_dir: Path) -> dict:
    """Tokens/s over the steps after the first (the first includes kernel warm-up), from train_log.jsonl."""
    log = [json.loads(line) for line in (model_dir / "train_log.jsonl").read_text().splitlines()]
    manifest = json.loads((model_dir / "manifest.json").read_text())
    timed = log[1:] or log
    seconds = log[-1]["elapsed"] - (log[0]["elapsed"] if len(log) > 1 else 0.0)
    tokens = sum(r["tokens"] for r in timed)
    return {"steps": len(log), "tokens": tokens, "seconds": round(seconds, 2),
            "tokens_per_s": tokens / max(seconds, 1e-9), "final_loss": log[-1]["loss"],
            "parameters": manifest["derived"]["trainable_parameters"],
            "attention": manifest["derived"]["attention"], "precision": manifest["derived"]["precision"]}


def evaluate_backend(model_dir: Path, out: Path, backend: str, args, dtype: str, device: str) -> dict:
    reset_peak_memory(device)
    start = time.perf_counter()
    results = evaluate(str(model_dir), list(TASKS), out, limit=args.items, batch_size=args.batch_size,
                       dtype=dtype, backend=backend)
    seconds = time.perf_counter() - start
    n = sum(entry["n"] for entry in results["tasks"].values())
    return {"seconds": round(seconds, 1), "items": n, "items_per_s": n / seconds, "memory": peak_memory_gib(device),
            "scores": {t: {m: v["value"] for m, v in e["metrics"].items()} for t, e in results["tasks"].items()}}


def predictions(folder: Path, task: str) -> dict[str, str]:
    return {r["id"]: r["prediction"] for r in read_jsonl_tolerant(folder / "predictions" / f"{task}.jsonl")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps to train (default 60)")
    parser.add_argument("--items", type=int, default=100, help="items of each evaluation task (default 100)")
    parser.add_argument("--micro-batch", type=int, default=8, help="packed rows of 512 tokens per step (default 8)")
    parser.add_argument("--batch-size", type=int, default=32, help="evaluation batch (default 32)")
    parser.add_argument("--model", default="smollm2-135m-instruct", help="base model (default: the default model)")
    parser.add_argument("--out", default="runs/gpu-smoke", help="working folder (replaced)")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="run on a CPU to check the script (figures meaningless)")
    args = parser.parse_args()

    started = time.perf_counter()
    reason = None if args.allow_cpu else why_no_cuda()
    if reason:
        print(f"gpu_smoke: needs a CUDA GPU: {reason}", file=sys.stderr)
        return 2

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    versions = {m: importlib.util.find_spec(m) is not None for m in ("flash_attn", "vllm")}
    print(f"device: {name}; torch {torch.__version__}; flash-attn installed: {versions['flash_attn']}; "
          f"vllm installed: {versions['vllm']}", flush=True)

    peak, size = bf16_matmul_peak(device)
    print(f"bf16 matmul peak (best of 5, {size}^3): {peak / 1e12:.1f} TFLOP/s", flush=True)

    build_dataset(ROOT / "recipes" / "data" / "coit-zh.yaml", out / "data")
    config = TrainConfig(model=args.model, precision="bf16" if device == "cuda" else "fp32", packing=True,
                         max_length=512, micro_batch_size=args.micro_batch, gradient_accumulation_steps=1,
                         epochs=100, max_steps=args.steps, learning_rate=1e-4, warmup_ratio=0.1, checkpoint_every=0)
    reset_peak_memory(device)
    model_dir = train(config, out / "data", out / "model")
    fig = train_figures(model_dir)
    flops = 6 * fig["parameters"] * fig["tokens_per_s"]
    print(f"train: {fig['steps']} steps, {fig['precision']}, attention {fig['attention']}, packed rows of 512: "
          f"{fig['tokens_per_s']:.0f} tokens/s (steps 2-{fig['steps']}), peak memory {peak_memory_gib(device)}, "
          f"final loss {fig['final_loss']:.3f}", flush=True)
    print(f"train: model FLOP/s {flops / 1e12:.2f} TFLOP/s = {flops / peak:.1%} of the measured bf16 peak", flush=True)

    dtype = "bfloat16" if device == "cuda" else "float32"
    summary = {"device": name, "matmul_peak_flops": peak, "train": fig, "model_flops": flops,
               "mfu": flops / peak, "eval": {}}
    summary["eval"]["hf"] = evaluate_backend(model_dir, out / "eval-hf", "hf", args, dtype, device)
    hf = summary["eval"]["hf"]
    print(f"eval hf: {hf['items']} items in {hf['seconds']} s ({hf['items_per_s']:.2f} items/s), "
          f"peak memory {hf['memory']}; scores {hf['scores']}", flush=True)
    if versions["vllm"] and device == "cuda":
        summary["eval"]["vllm"] = evaluate_backend(model_dir, out / "eval-vllm", "vllm", args, dtype, device)
        vl = summary["eval"]["vllm"]
        print(f"eval vllm: {vl['items']} items in {vl['seconds']} s (with engine start-up); scores {vl['scores']}")
        for task in TASKS:
            a, b = predictions(out / "eval-hf", task), predictions(out / "eval-vllm", task)
            same = sum(a[k] == b.get(k) for k in a)
            summary["eval"].setdefault("agreement", {})[task] = [same, len(a)]
            print(f"agreement {task}: {same}/{len(a)} predictions identical (HF vs vLLM)")
    else:
        print("eval vllm: skipped (" + ("not installed: pip install vllm" if not versions["vllm"] else "no GPU") + ")")
    summary["seconds"] = round(time.perf_counter() - started, 1)
    (out / "smoke.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    print(f"done in {summary['seconds']} s; figures in {out / 'smoke.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
