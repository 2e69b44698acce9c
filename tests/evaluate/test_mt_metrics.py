"""Translation metrics: the tokenizer follows the target language; signatures are recorded."""

import pytest
from sacrebleu.metrics import BLEU, CHRF

from lingalign.errors import UserError
from lingalign.evaluate.mt_metrics import bleu_tokenizer, find_spm_model, score_translation

HYP = ["我们现在有四个月大的老鼠。", "他补充道。"]
REF = ["我们现在有 4 个月大的老鼠。", "他补充说。"]


def test_chinese_bleu_uses_zh_tokenizer_and_matches_sacrebleu():
    scores = score_translation(HYP, REF, "zh")
    assert "tok:zh" in scores["bleu"]["signature"]
    assert scores["bleu"]["value"] == pytest.approx(BLEU(tokenize="zh").corpus_score(HYP, [REF]).score, abs=1e-3)
    # with 13a, each unsegmented Chinese sentence is one "word": BLEU collapses to ~0
    assert BLEU(tokenize="13a").corpus_score(HYP, [REF]).score < scores["bleu"]["value"]
    assert scores["chrf++"]["value"] == pytest.approx(CHRF(word_order=2).corpus_score(HYP, [REF]).score, abs=1e-3)
    assert "nw:2" in scores["chrf++"]["signature"]


def test_tokenizer_choice():
    assert bleu_tokenizer("zh") == "zh"
    assert bleu_tokenizer("vi") == "13a"
    assert bleu_tokenizer("ja") in ("ja-mecab", "13a")  # ja-mecab only when MeCab is installed


def test_spbleu_from_a_local_sentencepiece_file(tmp_path, samples_dir):
    import sentencepiece

    text = (samples_dir / "flores101/dev/cmn_Hans.dev").read_text(encoding="utf-8")
    (tmp_path / "corpus.txt").write_text(text, encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(input=str(tmp_path / "corpus.txt"), model_prefix=str(tmp_path / "spm"),
                                             vocab_size=2000, hard_vocab_limit=False)
    model = find_spm_model(tmp_path / "spm.model")
    scores = score_translation(HYP, REF, "zh", model)
    assert "tok:flores101" in scores["spbleu"]["signature"]
    assert 0 < scores["spbleu"]["value"] < 100
    with pytest.raises(UserError, match="not found"):
        find_spm_model(tmp_path / "missing.model")


def test_copy_source_floor_scores_the_sources_of_the_scored_records():
    from lingalign.evaluate.scoring import score_task
    from lingalign.evaluate.tasks import Example, Task

    src = ["Vietnam has 4 months old mice.", "He added.", "Hanoi in 2019."]
    ref = ["Việt Nam có chuột 4 tháng tuổi.", "Ông nói thêm.", "Hà Nội năm 2019."]
    task = Task("flores-en-vi", "translation", "vi", [Example(f"s{i}", source=s, references=[r])
                                                       for i, (s, r) in enumerate(zip(src, ref))], [], src_lang="en")
    # records in another order and one left out: the floor follows the records, by id
    records = [{"id": "s2", "prediction": ref[2], "references": [ref[2]]},
               {"id": "s0", "prediction": src[0], "references": [ref[0]]}]
    entry = score_task(task, records)
    floor = entry["copy_source"]
    expected = CHRF(word_order=2).corpus_score([src[2], src[0]], [[ref[2], ref[0]]]).score
    assert floor["chrf++"] == pytest.approx(expected, abs=1e-3)
    assert floor["bleu"] == pytest.approx(BLEU().corpus_score([src[2], src[0]], [[ref[2], ref[0]]]).score, abs=1e-3)
    assert entry["metrics"]["chrf++"]["value"] > floor["chrf++"]  # one exact translation beats copying
