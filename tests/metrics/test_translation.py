"""Translation metrics: the tokenizer follows the target language; signatures are recorded."""

from pathlib import Path

import pytest
from sacrebleu.metrics import BLEU, CHRF

from lingalign.errors import UserError
from lingalign.metrics import translation as mt_metrics
from lingalign.metrics.translation import bleu_tokenizer, find_spm_model, score_translation, spm_signature

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


def test_tokenizer_choice_follows_the_script(monkeypatch):
    for lang in ("zh", "cmn_Hans", "cmn_Hant", "zho_trad", "zh-Hant", "yue"):
        assert bleu_tokenizer(lang) == "zh", lang
    for lang in ("th", "tha", "lo", "lao", "km", "khm", "my", "mya", "bo"):
        assert bleu_tokenizer(lang) == "char", lang
    for lang in ("en", "vi", "ar", "el", "hi", "tr", "ru", "de", "ro", "es", "he", "am", "ka"):
        assert bleu_tokenizer(lang) == "13a", lang
    monkeypatch.setattr(mt_metrics, "_installed", lambda *modules: False)  # no MeCab: a fallback, never a crash
    assert (bleu_tokenizer("ja"), bleu_tokenizer("jpn"), bleu_tokenizer("ko")) == ("char", "char", "13a")
    monkeypatch.setattr(mt_metrics, "_installed", lambda *modules: True)
    assert (bleu_tokenizer("ja"), bleu_tokenizer("ko")) == ("ja-mecab", "ko-mecab")


def test_unspaced_targets_get_character_bleu_and_13a_would_collapse(samples_dir):
    rows = (samples_dir / "flores101/first5.devtest.tsv").read_text(encoding="utf-8").splitlines()
    refs = [r.split("\t", 1)[1] for r in rows if r.startswith("tha\t")]
    hyps = [r[: len(r) // 2] + r[len(r) // 2 + 3:] for r in refs]  # three characters dropped mid-sentence
    scores = score_translation(hyps, refs, "th")
    assert "tok:char" in scores["bleu"]["signature"]
    assert scores["bleu"]["value"] == pytest.approx(BLEU(tokenize="char").corpus_score(hyps, [refs]).score, abs=1e-3)
    assert scores["bleu"]["value"] > 80 > BLEU(tokenize="13a").corpus_score(hyps, [refs]).score


def test_chrf_word_ngrams_on_an_unspaced_script_are_whole_chunks(samples_dir):
    """chrF++ splits words on spaces only: a Japanese sentence is one "word", so its word n-grams match
    only when the whole sentence does, and chrF++ sits below chrF for the same damage."""
    rows = (samples_dir / "flores101/first5.devtest.tsv").read_text(encoding="utf-8").splitlines()
    refs = [r.split("\t", 1)[1] for r in rows if r.startswith("jpn\t")]
    hyps = [r[:10] + r[11:] for r in refs]  # one character dropped per sentence
    assert sum(len(r.split()) for r in refs) <= 7  # 5 sentences, hardly any spaces
    chrf, chrf_pp = CHRF().corpus_score(hyps, [refs]).score, CHRF(word_order=2).corpus_score(hyps, [refs]).score
    stats = CHRF(word_order=2)._extract_corpus_statistics(hyps, [refs])
    word_unigram_matches = sum(s[20] for s in stats)  # orders 1-6 characters, 7 word unigrams: [hyp, ref, match]
    assert word_unigram_matches <= 2  # at most the odd punctuation mark split off a chunk
    assert chrf_pp < chrf - 10


@pytest.mark.mecab
def test_japanese_bleu_with_mecab_when_installed():
    pytest.importorskip("MeCab")
    pytest.importorskip("ipadic")
    scores = score_translation(["東京タワーに行きました。"], ["東京タワーへ行った。"], "ja")
    assert "tok:ja-mecab" in scores["bleu"]["signature"]
    assert scores["bleu"]["value"] == pytest.approx(
        BLEU(tokenize="ja-mecab").corpus_score(["東京タワーに行きました。"], [["東京タワーへ行った。"]]).score,
        abs=1e-3)


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
    scores = score_translation(["กินข้าว"], ["กินข้าวแล้ว"], "th", model)
    assert "tok:char" in scores["bleu"]["signature"] and "tok:flores101" in scores["spbleu"]["signature"]


def test_sacrebleu_cached_spm_models_are_found_and_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SACREBLEU", str(tmp_path))
    assert find_spm_model() is None  # nothing cached: no spBLEU, and nothing downloaded
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "flores200sacrebleuspm").write_bytes(b"")
    assert find_spm_model().name == "flores200sacrebleuspm"
    (tmp_path / "models" / "sacrebleu_tokenizer_spm.model").write_bytes(b"")
    assert find_spm_model().name == "sacrebleu_tokenizer_spm.model"  # FLORES-101 first: the paper's spBLEU
    names = {"sacrebleu_tokenizer_spm.model": "flores101", "flores200sacrebleuspm": "flores200",
             "my-FLORES200.model": "flores200", "spm.model": "flores101"}
    assert {name: spm_signature(Path(name)) for name in names} == names
