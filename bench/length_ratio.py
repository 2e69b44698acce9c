"""How each length measure treats each script: the table in docs/data.md ("Length in every script").

    python bench/length_ratio.py [--flores DIR] [--ratio 3.0]

FLORES-101 devtest holds professional translations of the same 1,012 English sentences, so none of
its pairs is misaligned: a length-ratio filter should keep them all. For each language this prints
the median length of X over English and the share of pairs a ``--ratio`` filter would drop, measured
in UTF-8 bytes (the rule before 2026-12), plain characters, and characters with East Asian wide ones
counting 3 (``lingalign.data.clean.text_length``, the rule now).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from lingalign.data.clean import text_length

LANGS = "ara ell hin tur vie zho_simpl jpn kor tha rus heb ben tam mya khm amh".split()
UNITS = {"utf8-bytes": lambda t: text_length(t, "utf8-bytes"), "characters": len, "wide=3": text_length}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flores", default="../shared/data/flores101/devtest", help="FLORES-101 devtest folder")
    parser.add_argument("--ratio", type=float, default=3.0)
    args = parser.parse_args()
    folder = Path(args.flores)
    english = (folder / "eng.devtest").read_text(encoding="utf-8").splitlines()
    print(f"{'lang':10}" + "".join(f"{'median ' + u:>20}" for u in UNITS)
          + "".join(f"{'dropped ' + u:>20}" for u in UNITS))
    for code in LANGS:
        other = (folder / f"{code}.devtest").read_text(encoding="utf-8").splitlines()
        pairs = list(zip(english, other))
        medians, dropped = [], []
        for size in UNITS.values():
            lengths = [(size(a), size(b)) for a, b in pairs]
            medians.append(statistics.median(b / a for a, b in lengths))
            dropped.append(sum(max(a, b) > args.ratio * min(a, b) for a, b in lengths) / len(lengths))
        print(f"{code:10}" + "".join(f"{m:20.2f}" for m in medians) + "".join(f"{d:20.1%}" for d in dropped))


if __name__ == "__main__":
    main()
