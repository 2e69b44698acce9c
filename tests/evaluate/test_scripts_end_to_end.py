"""A user's Thai and Japanese sets through an eval recipe, scored from stored predictions.

Contexts and references are real FLORES-101 devtest lines (samples/flores101/first5.devtest.tsv);
the questions are ours. The tiny random model makes the first predictions (so the settings
fingerprint is the runner's own); we then replace them with answers of known quality and run the
same command again, which scores the stored predictions without generating.
"""

import json

import pytest

from lingalign import artifacts
from lingalign.cli import main as cli_main
from lingalign.errors import UserError
from lingalign.evaluate.significance import default_metrics
from lingalign.metrics import qa as qa_metrics
from lingalign.metrics.per_item import item_scores


def squad(context: str, qas: list[tuple[str, str, str]]) -> dict:
    for _, _, answer in qas:
        assert answer in context
    return {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": [
        {"id": qid, "question": q, "answers": [{"text": a, "answer_start": context.index(a)}]}
        for qid, q, a in qas]}]}]}


# (id, question, gold answer, prediction we store)
THAI = [("th1", "ดร.เอฮุด อูร์ เป็นศาสตราจารย์ที่มหาวิทยาลัยใด", "มหาวิทยาลัยดัลเฮาซี", "มหาวิทยาลัยดัลเฮาซีในแฮลิแฟกซ์"),
        ("th2", "มหาวิทยาลัยดัลเฮาซีตั้งอยู่ที่เมืองใด", "แฮลิแฟกซ์", "แฮลิแฟกซ์"),
        ("th3", "ใครกล่าวเตือนว่าการวิจัยยังอยู่ในระยะแรกเริ่ม", "ดร.เอฮุด อูร์", "เอฮุด")]
JAPANESE = [("ja1", "エフード・ウル博士はどの大学の教授ですか", "ダルハウジー大学", "ダルハウジー大学医学部"),
            ("ja2", "ダルハウジー大学はどこにありますか", "ノバスコシア州ハリファックス", "ハリファックス")]


def test_thai_and_japanese_user_sets_get_sensible_numbers(flores, tiny_model_dir, tmp_path):
    (tmp_path / "qa.th.json").write_text(json.dumps(squad(flores["tha"][1], [t[:3] for t in THAI]), ensure_ascii=False))
    (tmp_path / "qa.ja.json").write_text(json.dumps(squad(flores["jpn"][1], [t[:3] for t in JAPANESE]),
                                                    ensure_ascii=False))
    (tmp_path / "news.en").write_text("\n".join(flores["eng"][:3]) + "\n")
    (tmp_path / "news.th").write_text("\n".join(flores["tha"][:3]) + "\n")
    (tmp_path / "eval.yaml").write_text(
        "eval:\n  sets:\n"
        "    - {name: my-qa-th, type: qa, path: qa.th.json, lang: th, max_new_tokens: 3}\n"
        "    - {name: my-qa-ja, type: qa, path: qa.ja.json, lang: jpn, max_new_tokens: 3}\n"
        "    - {name: my-news-th, type: translation, prefix: news, src_lang: en, tgt_lang: th, max_new_tokens: 3}\n")
    argv = ["eval", "--model", str(tiny_model_dir), "--recipe", str(tmp_path / "eval.yaml"),
            "-o", str(tmp_path / "out"), "--dtype", "float32", "--batch-size", "4"]
    assert cli_main(argv) == 0

    stored = {qid: pred for qid, _, _, pred in THAI + JAPANESE}
    damaged = [line[:20] + line[23:] for line in flores["tha"][:3]]  # three characters dropped per sentence
    for task in ("my-qa-th", "my-qa-ja", "my-news-th"):
        path = tmp_path / "out/predictions" / f"{task}.jsonl"
        records = artifacts.read_jsonl_tolerant(path)
        for record in records:
            record["prediction"] = stored.get(record["id"]) or damaged[int(record["id"])]
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    assert cli_main(argv) == 0  # same settings: nothing is generated, the stored predictions are scored

    tasks = artifacts.read_json(tmp_path / "out/results.json")["tasks"]
    th, ja, news = (tasks[t]["metrics"] for t in ("my-qa-th", "my-qa-ja", "my-news-th"))
    # th1: all 15 gold clusters among 24 predicted -> 30/39; th2 exact; th3 เอฮุด (เ อ ฮุ ด) is 4 of
    # the 8 clusters of ดร.เอฮุด อูร์ (ด ร เ อ ฮุ ด อู ร์; the full stop goes) -> 2*4/(4+8)
    by_hand = (30 / 39 + 1 + 8 / 12) / 3
    assert th["f1"]["value"] == pytest.approx(100 * by_hand, abs=1e-3)
    assert th["f1"]["value"] > 75 and th["em"]["value"] == pytest.approx(100 / 3, abs=1e-3)
    assert th["f1"]["normalisation"] == "mlqa-th+graphemes"
    # ja1: 8 gold of 11 predicted -> 16/19; ja2: 7 of 14 gold -> 14/21
    assert ja["f1"]["value"] == pytest.approx(100 * (16 / 19 + 14 / 21) / 2, abs=1e-3)
    assert ja["inclusion"]["value"] == 50.0  # ja1 contains its gold answer; ja2 does not
    assert tasks["my-qa-ja"]["lang"] == "ja" and ja["answer_lang"]["expected"] == "ja"
    assert th["answer_lang"]["value"] == 100.0
    assert "tok:char" in news["bleu"]["signature"] and news["bleu"]["value"] > 80
    assert news["answer_lang"] == {"value": 100.0, "expected": "th"}
    # every stored prediction is the one the metrics saw
    assert th["f1"]["value"] == pytest.approx(
        100 * sum(qa_metrics.f1(p, g, "th") for _, _, g, p in THAI) / 3, abs=1e-3)


def test_bootstrap_skips_answer_lang_where_the_identifier_cannot_tell():
    entry = {"metrics": {"f1": {"value": 10.0}, "answer_lang": {"expected": "mi", "note": "not supported ..."}}}
    assert default_metrics(entry, entry, "qa", None) == ["f1"]
    with pytest.raises(UserError, match="not supported by the language identifier"):
        item_scores("answer_lang", [{"prediction": "Kia ora"}], "mi")
