"""Make the shipped preference sample from the shipped Alpaca en/zh sample (run once, by maintainers).

Each pair teaches a preference for answering in the user's language: the prompt is the Chinese
instruction (and its input, after a blank line, as the chat format joins them), the chosen answer is
the Chinese answer, the rejected answer is the English answer to the same instruction. Short records
only (so that a CPU step stays short), in source order; the same input gives the same bytes.

    python scripts/make_preference_sample.py [--pairs 48]

Source and licence: src/lingalign/samples/README.md (Alpaca data: CC BY-NC 4.0).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "src" / "lingalign" / "samples"
SOURCE = SAMPLES / "alpaca" / "alpaca_en_zh.json"
OUT = SAMPLES / "preferences" / "alpaca_zh_answer_language.jsonl"
HAN = re.compile(r"[\u4e00-\u9fff]")
MAX_PROMPT, MAX_CHOSEN, MAX_REJECTED = 150, 120, 300  # characters


def usable(record: dict) -> bool:
    """Short, with a Chinese prompt and answer, and an English answer that is not the same text."""
    prompt = record["zh_instruction"] + record["zh_input"]
    zh, en = record["zh_output"].strip(), record["en_output"].strip()
    return (0 < len(prompt) <= MAX_PROMPT and 0 < len(zh) <= MAX_CHOSEN and 0 < len(en) <= MAX_REJECTED
            and zh != en and bool(HAN.search(record["zh_instruction"])) and len(HAN.findall(zh)) >= len(zh) / 3)


def pair(index: int, record: dict) -> dict:
    prompt = record["zh_instruction"].strip()
    if record["zh_input"].strip():
        prompt += "\n\n" + record["zh_input"].strip()
    return {"id": f"alpaca_en_zh.json#{index}", "prompt": prompt, "chosen": record["zh_output"].strip(),
            "rejected": record["en_output"].strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=48)
    args = parser.parse_args()
    records = json.loads(SOURCE.read_text(encoding="utf-8"))
    pairs = [pair(i, r) for i, r in enumerate(records) if usable(r)][:args.pairs]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: {len(pairs)} pairs from {SOURCE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
