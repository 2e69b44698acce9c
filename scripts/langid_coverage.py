"""Which FLORES-101 languages the answer-language check can recognise, and how often it does.

    python scripts/langid_coverage.py [--flores ../shared/data/flores101/devtest] [--n 200]

One row per language file: the code a task uses (``lingalign.langid.base_code``), the label
py3langid gives that language (``identifier_code``; "-" = not supported), the share of the first
``--n`` sentences detected as it, and the most frequent detections. Without --flores it reads the
5 sentences per language shipped in src/lingalign/samples/flores101/first5.devtest.tsv.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from lingalign.config import samples_dir
from lingalign.langid import base_code, detect, identifier_code


def sentences(flores: Path | None, n: int) -> dict[str, list[str]]:
    if flores is not None:
        return {p.name.split(".")[0]: p.read_text(encoding="utf-8").splitlines()[:n]
                for p in sorted(flores.glob(f"*.{flores.name}"))}
    found: dict[str, list[str]] = {}
    for row in (samples_dir() / "flores101" / "first5.devtest.tsv").read_text(encoding="utf-8").splitlines():
        code, text = row.split("\t", 1)
        found.setdefault(code, []).append(text)
    return {code: lines[:n] for code, lines in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flores", type=Path, default=None, help="a FLORES-101 split folder, e.g. .../devtest")
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    unsupported = []
    for code, lines in sentences(args.flores, args.n).items():
        want = identifier_code(code)
        got = Counter(detect(line) for line in lines)
        share = f"{got[want] / len(lines):7.1%}" if want else "      -"
        print(f"{code:10} {base_code(code):5} {want or '-':5} {share}  {got.most_common(3)}")
        if want is None:
            unsupported.append(code)
    print(f"not supported ({len(unsupported)}): {' '.join(unsupported)}")


if __name__ == "__main__":
    main()
