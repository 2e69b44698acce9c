"""Benchmark: build instruction data from a 1M-pair corpus, streaming, vs. the reference way.

Ours: ``lingalign.data.build_dataset`` on one bitext source (take all, en->zh), with the
contamination guard on and ``max_tokens: 512``, so every example is tokenized (in batches) with
the default model's fast tokenizer. De-duplication is off because the corpus is real bitext
replicated to size: with it on, the replicas would be dropped and almost nothing tokenized.

Baseline (the reference code's way, after Stanford Alpaca's train.py): read both files into
Python lists, build every example and prompt in memory, then tokenize each example one call at
a time, the prompt and prompt+answer separately, keeping input ids and masked labels as tensors.
It runs on a slice (default 50k pairs); its rate is per pair, and its memory is measured at two
slice sizes and extrapolated linearly to the full corpus.

Each side runs in its own subprocess; peak memory is that process's max RSS (getrusage).

    python bench/data_build.py                       # 1M pairs (and 250k), baseline on 25k and 50k
    python bench/data_build.py --pairs 200000 --baseline-pairs 20000
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path("/work/shared/data/bitext")
REAL_EN_ZH = [  # (English file, Chinese file) of real human-translated bitext, if this machine has it
    (SHARED / "wmt-newstest/en-zh" / f"newstest{y}.en-zh.en", SHARED / "wmt-newstest/en-zh" / f"newstest{y}.en-zh.zh")
    for y in (2017, 2018, 2020)
] + [(SHARED / "tico19-test/en-zh/tico19-test.en", SHARED / "tico19-test/en-zh/tico19-test.zh"),
     (SHARED / "tatoeba-test-v2021-08-07/eng-zho/tatoeba-test.eng",
      SHARED / "tatoeba-test-v2021-08-07/eng-zho/tatoeba-test.zho")]
MAX_TOKENS = 512


def real_pairs() -> tuple[list[tuple[str, str]], str]:
    files = [pair for pair in REAL_EN_ZH if pair[0].exists() and pair[1].exists()]
    origin = "shared bitext (WMT newstest 2017/18/20, TICO-19, Tatoeba en-zh)"
    if not files:
        from lingalign.config import samples_dir

        files = [(samples_dir() / "bitext/newstest2017.en-zh.en", samples_dir() / "bitext/newstest2017.en-zh.zh")]
        origin = "shipped sample newstest2017 en-zh"
    pairs = []
    for en, zh in files:
        pairs += zip(en.read_text(encoding="utf-8").splitlines(), zh.read_text(encoding="utf-8").splitlines())
    return [p for p in pairs if p[0].strip() and p[1].strip()], origin


def make_corpus(folder: Path, n: int) -> Path:
    """``folder/corpus.en-zh.{en,zh}`` with n lines: the real pairs repeated to size."""
    pairs, origin = real_pairs()
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / "corpus.en-zh"
    with open(f"{prefix}.en", "w", encoding="utf-8") as en, open(f"{prefix}.zh", "w", encoding="utf-8") as zh:
        for i in range(n):
            src, tgt = pairs[i % len(pairs)]
            en.write(src + "\n")
            zh.write(tgt + "\n")
    print(f"corpus: {n:,} pairs from {len(pairs):,} real {origin}, in {folder}")
    return prefix


# ---- the two workers (each runs in its own process) ---------------------------------------------
# Each worker imports what it uses inside itself: its imports are part of the time and memory it is charged.

def run_ours(prefix: Path, out: Path) -> dict:
    from lingalign.data import build_dataset
    from lingalign.data.recipe import DataRecipe

    recipe = DataRecipe.model_validate({
        "seed": 0, "max_tokens": MAX_TOKENS,
        "clean": {"dedup": False},
        "eval_sets": ["sample:flores101/dev", "sample:flores101/devtest", "sample:ntrex128"],
        "sources": [{"name": "corpus", "kind": "bitext", "path": str(prefix), "languages": ["en", "zh"]}],
    })
    manifest = build_dataset(recipe, out, force=True)
    return {"records": manifest["counts"]["records"], "dropped": manifest["dropped"]["corpus"]}


def run_baseline(prefix: Path, limit: int) -> dict:
    import copy

    from lingalign.data.instructions import TRAIN_TEMPLATES
    from lingalign.models import load_tokenizer
    from lingalign.prompting import build_prompt

    tokenizer = load_tokenizer("smollm2-135m-instruct")
    tokenizer.model_max_length = MAX_TOKENS
    # read only the slice: reading the whole 1M-line files and slicing would put the full corpus in
    # every slice's peak, and the slope between two slices (what is extrapolated) would hide it
    with open(f"{prefix}.en", encoding="utf-8") as en, open(f"{prefix}.zh", encoding="utf-8") as zh:
        lines = [(s.rstrip("\n"), t.rstrip("\n")) for s, t in itertools.islice(zip(en, zh), limit)]
    examples = []
    for key, (src, tgt) in enumerate(lines):  # template by raw line number, as the reference does
        if src.strip() and tgt.strip():
            instruction = TRAIN_TEMPLATES[key % len(TRAIN_TEMPLATES)].format(src="English", tgt="Chinese")
            examples.append({"instruction": instruction, "input": src.strip(), "output": tgt.strip()})
    sources = [build_prompt(e["instruction"], e["input"]) for e in examples]
    targets = [e["output"] + tokenizer.eos_token for e in examples]

    def tokenize_each(texts):
        ids = [tokenizer(t, return_tensors="pt", padding="longest", max_length=MAX_TOKENS, truncation=True).input_ids[0]
               for t in texts]
        return ids, [int(i.ne(tokenizer.pad_token_id).sum()) for i in ids]

    full_ids, _ = tokenize_each([s + t for s, t in zip(sources, targets)])
    _, source_lens = tokenize_each(sources)
    labels = copy.deepcopy(full_ids)
    for label, length in zip(labels, source_lens):
        label[:length] = -100
    return {"records": len(full_ids)}


def worker(args) -> None:
    start = time.perf_counter()
    if args.worker == "ours":
        result = run_ours(Path(args.prefix), Path(args.out))
    else:
        result = run_baseline(Path(args.prefix), args.limit)
    result["seconds"] = time.perf_counter() - start
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(side: str, prefix: Path, out: Path, limit: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--worker", side, "--prefix", str(prefix), "--out", str(out),
           "--limit", str(limit)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{side} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--small-pairs", type=int, default=250_000, help="ours is also run at this size (flatness)")
    parser.add_argument("--baseline-pairs", type=int, default=50_000)
    parser.add_argument("--worker", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    with tempfile.TemporaryDirectory(prefix="lingalign-bench-") as tmp:
        tmp = Path(tmp)
        big = make_corpus(tmp / "big", args.pairs)
        small = make_corpus(tmp / "small", args.small_pairs)
        half = args.baseline_pairs // 2
        base_half = measure("baseline", big, tmp / "unused", half)
        base = measure("baseline", big, tmp / "unused", args.baseline_pairs)
        ours_small = measure("ours", small, tmp / "out-small")
        ours = measure("ours", big, tmp / "out")

    rate = args.pairs / ours["seconds"]
    # Baseline per pair: the slope between its two slices, so its ~20 s start-up (importing
    # transformers and torch) is not charged to it. Ours is charged everything, start-up included.
    base_seconds_per_pair = (base["seconds"] - base_half["seconds"]) / (args.baseline_pairs - half)
    base_rate = 1 / base_seconds_per_pair
    per_pair_mb = (base["peak_mb"] - base_half["peak_mb"]) / (args.baseline_pairs - half)
    base_peak_full = base["peak_mb"] + per_pair_mb * (args.pairs - args.baseline_pairs)
    print(f"\nours     {args.small_pairs:>9,} pairs: {ours_small['seconds']:7.1f} s"
          f"  peak {ours_small['peak_mb']:7.0f} MB")
    print(f"ours     {args.pairs:>9,} pairs: {ours['seconds']:7.1f} s  peak {ours['peak_mb']:7.0f} MB  "
          f"-> {rate:,.0f} pairs/s end to end ({ours['records']:,} records written; dropped {ours['dropped']})")
    print(f"baseline {half:>9,} pairs: {base_half['seconds']:7.1f} s  peak {base_half['peak_mb']:7.0f} MB")
    print(f"baseline {args.baseline_pairs:>9,} pairs: {base['seconds']:7.1f} s  peak {base['peak_mb']:7.0f} MB  "
          f"-> {base_rate:,.0f} pairs/s (slope between the two slices, start-up excluded)")
    print(f"baseline at {args.pairs:,} pairs, EXTRAPOLATED per pair from the two slices: "
          f"{args.pairs / base_rate:,.0f} s, peak ~{base_peak_full:,.0f} MB ({per_pair_mb * 1024:.2f} KB/pair)")
    print(f"ratios: speed {rate / base_rate:.1f}x baseline; peak memory {ours['peak_mb'] / base_peak_full:.3f}x "
          f"baseline (extrapolated); ours grows {ours['peak_mb'] / ours_small['peak_mb']:.2f}x from "
          f"{args.small_pairs:,} to {args.pairs:,} pairs")

if __name__ == "__main__":
    main()
