"""Copy a small GSM8KInstruct sample from ../shared/data into src/lingalign/samples (run once, by maintainers).

The sample serves question alignment (QAlign stage 1: zh-en and ru-en question pairs), English math
tuning (stage 2: GSM8K records with step-by-step answers) and math pivot records (a pair's English
question looked up among the GSM8K records), so all three hold the **same** problems: the first
``--problems`` GSM8K train records that have a final ``####`` line and whose question is in both the
zh-en and the ru-en pairs. Lines are copied byte for byte (question files in their own order, the
GSM8K JSONL lines as they are); the same input gives the same bytes.

    python scripts/make_gsm8k_sample.py [--shared ../shared/data] [--problems 64]

Sources and licences: src/lingalign/samples/README.md (question pairs Apache-2.0, GSM8K MIT).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "lingalign" / "samples" / "gsm8kinstruct"
PAIRS = ("zh", "ru")


def norm(text: str) -> str:
    return " ".join(text.split())


def raw_lines(path: Path) -> list[bytes]:
    """The file's lines as bytes, each ending in a newline (a last line without one gets it)."""
    return [line if line.endswith(b"\n") else line + b"\n" for line in path.read_bytes().splitlines(keepends=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--problems", type=int, default=64)
    args = parser.parse_args()
    source = args.shared / "gsm8kinstruct"
    pairs = {x: (raw_lines(source / f"question-{x}-en" / f"train.{x}"),
                 raw_lines(source / f"question-{x}-en" / "train.en")) for x in PAIRS}
    in_every = set.intersection(*({norm(line.decode("utf-8")) for line in en} for _, en in pairs.values()))
    chosen, keys = [], set()
    for line in raw_lines(source / "en" / "train.txt"):
        record = json.loads(line)
        key = norm(record["question"])
        if "####" in record["answer"] and key in in_every and key not in keys:
            chosen.append(line)
            keys.add(key)
        if len(chosen) == args.problems:
            break
    (OUT / "en").mkdir(parents=True, exist_ok=True)
    (OUT / "en" / "train.txt").write_bytes(b"".join(chosen))
    print(f"en/train.txt: {len(chosen)} GSM8K records")
    for x, (xs, ens) in pairs.items():
        kept = [(a, b) for a, b in zip(xs, ens) if norm(b.decode("utf-8")) in keys]
        seen, unique = set(), []
        for a, b in kept:  # one pair per problem
            if norm(b.decode("utf-8")) not in seen:
                seen.add(norm(b.decode("utf-8")))
                unique.append((a, b))
        folder = OUT / f"question-{x}-en"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"train.{x}").write_bytes(b"".join(a for a, _ in unique))
        (folder / "train.en").write_bytes(b"".join(b for _, b in unique))
        print(f"question-{x}-en: {len(unique)} pairs")


if __name__ == "__main__":
    main()
