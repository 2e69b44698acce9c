"""Generation throughput (FLORES en->zh by default, or any task): lingalign's way vs the reference code's.

Both runs use the same model, prompts (Alpaca template, the paper's instruction), greedy decoding
and max_new_tokens, in one process:

* reference: batches of 8 in dataset order, float32, stops only when every sequence of the batch
  has produced EOS (as x-LLM's inference.py, on CPU);
* lingalign: ``HFGenerator``: prompts sorted by length (longest first), larger batches, each
  sequence stops at EOS or a stop string of the template and leaves the batch at once (the rolling
  batch: waiting prompts take its place), dtype ``auto`` (bf16 only on hardware with native bf16).

Prints sentences per second for both, the ratio (target on 2 CPU cores: >= 3x), and how many
predictions are identical once the reference's are cut at the same stop strings (greedy decoding
should give the same text whichever way it is batched; float noise can rarely flip a token).

  python bench/eval_throughput.py [--n 48] [--max-new-tokens 256] [--batch-size 16] [--ablate]
  python bench/eval_throughput.py --task xquad-zh --max-new-tokens 48    # shared passages: prefilled once
"""

from __future__ import annotations

import argparse
import os
import time

from lingalign.generation.hf_generator import HFGenerator
from lingalign.generation.stops import cut_at_stop
from lingalign.models import DEFAULT_MODEL, load_model, load_tokenizer, resolve_model
from lingalign.prompting import build_prompt, stop_strings
from lingalign.tasks.base import default_data_root
from lingalign.tasks.registry import load_builtin

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def reference_way(model, tokenizer, prompts, max_new_tokens, batch_size=8):
    """x-LLM inference.py on CPU: dataset order, fixed batches, EOS only, prompt cut by characters.

    Also returns the same outputs decoded from the generated ids only, to compare predictions: the
    character cut garbles an answer whenever decoding does not give the prompt back exactly.
    """
    import torch

    outputs, from_ids = [], []
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start:start + batch_size]
        encoded = tokenizer(batch, return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(**encoded, do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        texts = tokenizer.batch_decode(out, skip_special_tokens=True)
        outputs += [t[len(p):].strip() for t, p in zip(texts, batch)]
        from_ids += tokenizer.batch_decode(out[:, encoded["input_ids"].shape[1]:], skip_special_tokens=True)
    return outputs, from_ids


def timed(label, fn, n):
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"{label:44s} {seconds:7.1f} s  {n / seconds:6.3f} examples/s", flush=True)
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="flores-en-zh", help="any built-in task on the shipped samples")
    parser.add_argument("--n", type=int, default=48, help="examples (the first n of the task)")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16, help="lingalign's batch size")
    parser.add_argument("--ablate", action="store_true", help="also time each change on its own")
    args = parser.parse_args()

    import torch

    task = load_builtin(args.task, default_data_root())
    prompts = [build_prompt(e.instruction, e.input, "alpaca") for e in task.examples[:args.n]]
    path = resolve_model(DEFAULT_MODEL)
    print(f"model {DEFAULT_MODEL}; {len(prompts)} {args.task} examples; max_new_tokens "
          f"{args.max_new_tokens}; torch threads {torch.get_num_threads()}")

    ours = HFGenerator(path, dtype="auto")
    stops = list(stop_strings("alpaca")) + ["\n### "]
    print(f"lingalign dtype: {ours.dtype}")
    ref_model = ours.model if ours.dtype == "float32" else load_model(path, dtype="float32")
    ref_tok = load_tokenizer(path, padding_side="left")

    def run_ours(batch_size=args.batch_size, sort=True, stop=stops, rolling=None):
        pairs = [p for batch in ours.generate(prompts, max_new_tokens=args.max_new_tokens, batch_size=batch_size,
                                              stop=stop, sort_by_length=sort, rolling=rolling) for p in batch]
        return [text for _, text in sorted(pairs)]

    ref_s, (ref_out, ref_ids_out) = timed("reference (batch 8, dataset order, fp32, EOS)",
                           lambda: reference_way(ref_model, ref_tok, prompts, args.max_new_tokens), len(prompts))
    if args.ablate:
        timed("  + length-sorted batches of 8", lambda: run_ours(8, True, [], False), len(prompts))
        timed("  + stop strings, batches of 8, unsorted", lambda: run_ours(8, False, stops, False), len(prompts))
        timed("  + stop strings + sorted, batches of 8", lambda: run_ours(8, True, stops, False), len(prompts))
        timed(f"  + batch {args.batch_size}, no rolling (model.generate)",
              lambda: run_ours(args.batch_size, True, stops, False), len(prompts))
    our_s, our_out = timed(f"lingalign (batch {args.batch_size}, sorted, stops, rolling, {ours.dtype})",
                           run_ours, len(prompts))
    print(f"ratio lingalign / reference: {ref_s / our_s:.2f}x  (target >= 3x)")
    same = sum(cut_at_stop(r, stops) == o for r, o in zip(ref_ids_out, our_out))
    garbled = sum(cut_at_stop(r, stops) != cut_at_stop(i, stops) for r, i in zip(ref_out, ref_ids_out))
    print(f"identical predictions (reference decoded from its generated ids, cut at the same stop strings): "
          f"{same}/{len(prompts)}; the reference's character cut changed {garbled} of its own")
    prompt_tokens = sum(ours.token_lengths(prompts))
    print(f"prompt tokens: {prompt_tokens}; prefilled by lingalign: {ours.last_decoder.prefill_tokens} "
          f"(shared prefixes run once)" if ours.last_decoder else f"prompt tokens: {prompt_tokens}")
    long_ref = sum(len(ref_tok(o)["input_ids"]) >= args.max_new_tokens - 1 for o in ref_out)
    print(f"reference outputs running to max_new_tokens: {long_ref}/{len(ref_out)}")


if __name__ == "__main__":
    main()
