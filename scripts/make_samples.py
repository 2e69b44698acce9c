"""Copy small real samples from ../shared/data into src/lingalign/samples (run once, by maintainers).

The product and its tests must run without ../shared, so the embedded default run and the tests
use these samples. Each is a prefix of the original file, byte for byte (JSON sets are cut at whole
articles and re-serialised). Sources and licences: src/lingalign/samples/README.md.

    python scripts/make_samples.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "lingalign" / "samples"


def head_lines(src: Path, dst: Path, n: int) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8", newline="\n") as fout:
        for i, line in enumerate(fin):
            if i >= n:
                break
            fout.write(line)


def squad_prefix(src: Path, dst: Path, max_qas: int) -> int:
    data = json.loads(src.read_text(encoding="utf-8"))
    kept, count = [], 0
    for article in data["data"]:
        if count >= max_qas:
            break
        for paragraph in article["paragraphs"]:  # MLQA's extra sentence keys: not needed, large
            paragraph.pop("sentence_breaks", None)
            paragraph.pop("sentences", None)
        kept.append(article)
        count += sum(len(p["qas"]) for p in article["paragraphs"])
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps({"version": data.get("version"), "data": kept}, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    return count


def flores_first_lines(folder: Path, dst: Path, n: int) -> int:
    """The first ``n`` lines of every FLORES-101 language in ``folder``, as ``code<TAB>sentence`` rows.

    Real sentences in all 101 languages for the tests of the language identifier (tests/test_langid.py)
    and of scoring per script, without shipping 101 files of 200 lines."""
    rows = []
    for path in sorted(folder.glob(f"*.{folder.name}")):
        code = path.name.split(".")[0]
        with open(path, encoding="utf-8") as fin:
            for i, line in zip(range(n), fin):
                line = line.rstrip("\n")
                assert "\t" not in line, f"{path}:{i + 1}: tab in a FLORES sentence"
                rows.append(f"{code}\t{line}\n")
    dst.write_text("".join(rows), encoding="utf-8")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    shared = parser.parse_args().shared

    # Training-side samples.
    records = json.loads((shared / "alpaca/en-zh/data_v3/alpaca_chinese_part_0.json").read_text(encoding="utf-8"))[:600]
    (OUT / "alpaca").mkdir(parents=True, exist_ok=True)
    (OUT / "alpaca/alpaca_en_zh.json").write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n",
                                                  encoding="utf-8")
    head_lines(shared / "alpaca/vi/vi_alpaca_reduced_1.jsonl", OUT / "alpaca/alpaca_vi.jsonl", 400)
    for lang in ("en", "zh"):
        head_lines(shared / f"bitext/wmt-newstest/en-zh/newstest2017.en-zh.{lang}",
                   OUT / f"bitext/newstest2017.en-zh.{lang}", 1000)
    for lang in ("eng", "vie"):
        head_lines(shared / f"bitext/tatoeba-test-v2021-08-07/eng-vie/tatoeba-test.{lang}",
                   OUT / f"bitext/tatoeba.eng-vie.{lang}", 1000)

    # Evaluation-side samples (never trained on).
    for split in ("dev", "devtest"):
        for lang in ("eng", "cmn_Hans", "vie"):
            src = shared / f"flores101/{split}/{lang}.{split}"
            if lang == "cmn_Hans" and not src.exists():
                src = shared / f"flores101/{split}/zho_simpl.{split}"
            head_lines(src, OUT / f"flores101/{split}/{lang}.{split}", 200)
    for lang in ("eng", "zho_Hans", "vie"):
        name = "newstest2019-src.eng.txt" if lang == "eng" else f"newstest2019-ref.{lang}.txt"
        head_lines(shared / f"ntrex128/{name}", OUT / f"ntrex128/{name}", 100)
    for lang in ("en", "zh", "vi"):
        n = squad_prefix(shared / f"xquad/xquad.{lang}.json", OUT / f"xquad/xquad.{lang}.json", 200)
        print(f"xquad {lang}: {n} QAs")
        n = squad_prefix(shared / f"mlqa-dev/{lang}.json", OUT / f"mlqa-dev/{lang}.json", 200)
        print(f"mlqa {lang}: {n} QAs")
    n = flores_first_lines(shared / "flores101/devtest", OUT / "flores101/first5.devtest.tsv", 5)
    print(f"flores101 first lines: {n} rows")
    # MGSM and XCOPA: the first problems of every language (the files are parallel, so the same
    # problems in each language).
    for path in sorted((shared / "mgsm").glob("mgsm_*.tsv")):
        head_lines(path, OUT / "mgsm" / path.name, 25)
    for path in sorted((shared / "xcopa").glob("*/test.*.jsonl")):
        head_lines(path, OUT / "xcopa" / path.parent.name / path.name, 25)
    # GSM8KInstruct questions (GSM8K train, translated), zh with its English: the prompts of
    # `lingalign data pairs` (preference pairs from translation consistency) without ../shared
    for side in ("zh", "en"):
        head_lines(shared / f"gsm8kinstruct/question-zh-en/train.{side}",
                   OUT / f"gsm8kinstruct/question-zh-en/train.{side}", 64)
    shutil.copy(shared / "mgsm/LICENSE", OUT / "mgsm/LICENSE")
    shutil.copy(shared / "xcopa/LICENSE.md", OUT / "xcopa/LICENSE.md")
    shutil.copy(shared / "flores101/LICENSE-CC-BY-SA", OUT / "flores101/LICENSE-CC-BY-SA")
    shutil.copy(shared / "mlqa-dev/LICENSE", OUT / "mlqa-dev/LICENSE")
    shutil.copy(shared / "xquad/CC-BY-SA4.0.txt", OUT / "xquad/CC-BY-SA4.0.txt")


if __name__ == "__main__":
    main()
