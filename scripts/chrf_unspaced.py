"""What chrF++'s word n-grams and BLEU's tokenizer do on scripts written without spaces (docs/evaluate.md, "Scripts").

For each language, the hypothesis is the FLORES reference with every 10th non-space character
deleted (the same damage in every language), scored against the untouched reference:

    python scripts/chrf_unspaced.py [--flores ../shared/data/flores101/devtest] [--n 200]

Columns: space-separated "words" per sentence; chrF (characters only); chrF++ (characters + word
1-2-grams); the word unigram F-score inside chrF++; BLEU with 13a and with the tokenizer
lingalign picks (metrics.translation.bleu_tokenizer). Falls back to the shipped 5-line sample without --flores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sacrebleu.metrics import BLEU, CHRF

from lingalign.config import samples_dir
from lingalign.langid import base_code
from lingalign.metrics.translation import bleu_tokenizer

LANGS = ("eng", "vie", "ell", "rus", "ara", "hin", "kor", "cmn_Hans", "jpn", "tha", "lao", "khm", "mya")


def damage(line: str, every: int = 10) -> str:
    out, seen = [], 0
    for ch in line:
        if not ch.isspace():
            seen += 1
            if seen % every == 0:
                continue
        out.append(ch)
    return "".join(out)


def read(flores: Path | None, code: str, n: int) -> list[str]:
    if flores is not None:
        return (flores / f"{code}.{flores.name}").read_text(encoding="utf-8").splitlines()[:n]
    rows = (samples_dir() / "flores101" / "first5.devtest.tsv").read_text(encoding="utf-8").splitlines()
    return [r.split("\t", 1)[1] for r in rows if r.split("\t", 1)[0] == code][:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flores", type=Path, default=None, help="a FLORES-101 split folder, e.g. .../devtest")
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    print(f"{'lang':9} {'words/sent':>10} {'chrF':>6} {'chrF++':>7} {'word-1 F':>8} {'BLEU 13a':>8}  BLEU (tokenizer)")
    for code in LANGS:
        refs = read(args.flores, code, args.n)
        hyps = [damage(r) for r in refs]
        chrf_pp = CHRF(word_order=2)
        stats = chrf_pp._extract_corpus_statistics(hyps, [refs])
        total = [sum(col) for col in zip(*stats)]
        n_hyp, n_ref, n_match = total[18:21]  # orders 1-6 are characters, 7 is word unigrams
        p, r = n_match / max(n_hyp, 1), n_match / max(n_ref, 1)
        word_f = 0.0 if p + r == 0 else 5 * p * r / (4 * p + r)  # beta = 2, as chrF
        tok = bleu_tokenizer(base_code(code))
        print(f"{code:9} {sum(len(x.split()) for x in refs) / len(refs):10.1f} "
              f"{CHRF().corpus_score(hyps, [refs]).score:6.1f} {chrf_pp.corpus_score(hyps, [refs]).score:7.1f} "
              f"{100 * word_f:8.1f} {BLEU(tokenize='13a').corpus_score(hyps, [refs]).score:8.1f}  "
              f"{BLEU(tokenize=tok).corpus_score(hyps, [refs]).score:.1f} ({tok})")


if __name__ == "__main__":
    main()
