"""``lingalign data translate``: verbatim spans, field splitting, filters, resume, both model kinds, bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from lingalign.cli import main
from lingalign.data.recipe import TranslateFilters, TranslateSpec
from lingalign.data.segments import join_field, missing_tokens, pieces, split_field
from lingalign.data.translate import check_field, translate_set
from lingalign.data.translators import CausalTranslator, flores200_code, language_codes
from lingalign.errors import UserError

CODE = "```python\nprint('Hello world, this is code')\n```"
RECORDS = [
    {"instruction": "Give three tips for staying healthy.", "input": "",
     "output": "1. Eat a balanced diet.\n2. Exercise regularly.\n3. Get enough sleep."},
    {"instruction": "Explain what this code does.", "input": CODE,
     "output": "It prints a greeting. See https://docs.python.org/3/ for `print` and its 2 options."},
    {"instruction": "Name the capital of France.", "input": "", "output": "The capital of France is Paris."},
    {"instruction": "Translate {name} into a greeting.", "input": "Hello {name}", "output": "Welcome, {name}!"},
    {"instruction": "Count to five.", "input": "", "output": "One, two, three, four, five."},
]
# random models loop to their token budget: keep whatever is not empty or a copy
OFF = {"langid": False, "max_length_ratio": None, "numbers": False, "truncated": False}


def words(text: str) -> int:
    return len(text.split())


def write_set(folder: Path, records=RECORDS, name="en.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- segments ------------------------------------------------------------------------------------

def test_code_urls_list_markers_and_line_breaks_are_kept_verbatim_and_not_sent():
    text = f"Run `pip install x` first.\n{CODE}\n- Then open https://example.org/a_b.\n2. Done {{name}}."
    segments = split_field(text, words, 50)
    sent = pieces(segments)
    assert "".join(s.text for s in segments) == text
    assert sent == ["Run", "first.", "Then open", "Done {name}."]  # the "." after the URL has no letter: kept
    assert all("`" not in p and "http" not in p and "print" not in p for p in sent)
    assert join_field(segments, [p.upper() for p in sent]) == text.replace("Run", "RUN").replace(
        "first.", "FIRST.").replace("Then open", "THEN OPEN").replace("Done {name}.", "DONE {NAME}.")


def test_long_lines_are_cut_at_sentence_ends_under_the_limit_and_joined_back():
    text = "One two three. Four five six seven! Eight nine ten eleven twelve thirteen fourteen. Fifteen."
    segments = split_field(text, words, 5)
    assert "".join(s.text for s in segments) == text
    assert all(words(p) <= 5 for p in pieces(segments))
    assert pieces(segments)[:2] == ["One two three.", "Four five six seven!"]  # sentences stay whole where they fit
    assert split_field("short line", words, 5)[0].translate and len(split_field("short line", words, 5)) == 1


def test_text_without_letters_is_not_sent():
    assert pieces(split_field("3.5, 4.2 -- 10%", words, 5)) == []
    assert pieces(split_field("   ", words, 5)) == []


def test_numbers_survive_in_any_digits_and_placeholders_exactly():
    assert missing_tokens("Add 3 cups and 1,000 g for {name} (%s).", "Πρόσθεσε 3 φλιτζάνια, 1.000 g {name} (%s).") == []
    assert missing_tokens("It has 3 parts", "इसके ३ भाग हैं") == []  # Devanagari digits count
    assert missing_tokens("It has 3 parts", "它有三个部分") == ["number 3"]
    assert missing_tokens("Hi {name}", "Γεια {όνομα}") == ["placeholder {name}"]


# ---- filters -------------------------------------------------------------------------------------

@pytest.mark.parametrize("source,translation,reason", [
    ("The capital of France is Paris.", "Η πρωτεύουσα της Γαλλίας είναι το Παρίσι.", None),
    ("The capital of France is Paris.", "", "empty"),
    ("The capital of France is Paris.", "The capital of  France is Paris.", "untranslated"),
    ("The capital of France is Paris.", "Η πρωτεύουσα " * 20, "length_ratio"),
    ("It has 12 rooms and a garden.", "Έχει δώδεκα δωμάτια και κήπο.", "numbers"),
    ("The capital of France is Paris.", "La capitale de la France est Paris.", "wrong_language"),
])
def test_each_filter_names_its_reason(source, translation, reason):
    segments = split_field(source, words, 50)
    assert check_field(source, segments, [translation], "el", TranslateFilters()) == reason


def test_empty_required_field_in_the_source_and_empty_input_are_told_apart():
    assert check_field("", [], [], "el", TranslateFilters(), required=True) == "empty_source"
    assert check_field("", [], [], "el", TranslateFilters(), required=False) is None


# ---- a tiny causal model -------------------------------------------------------------------------

def spec(model: Path, **changes) -> TranslateSpec:
    settings = {"chunk_size": 2, "batch_size": 4, "max_new_tokens": 12, "filters": OFF, "prompt_format": "alpaca"}
    return TranslateSpec(model=str(model), **{**settings, **changes})


def test_causal_translation_keeps_code_and_structure_and_writes_a_manifest(tmp_path, tiny_model_dir, monkeypatch):
    sent = []
    real = CausalTranslator.translate
    monkeypatch.setattr(CausalTranslator, "translate", lambda self, texts: sent.extend(texts) or real(self, texts))
    manifest = translate_set(write_set(tmp_path), tmp_path / "out", "el", spec(tiny_model_dir))
    out = tmp_path / "out"
    kept = [json.loads(line) for line in (out / "translated.jsonl").read_text(encoding="utf-8").splitlines()]
    dropped = [json.loads(line) for line in (out / "dropped.jsonl").read_text(encoding="utf-8").splitlines()]
    assert manifest["counts"]["records"] == 5 and manifest["counts"]["kept"] == len(kept)
    assert len(kept) >= 3 and len(kept) + len(dropped) == 5 and manifest["direction"] == "en-el"
    assert manifest["model"]["kind"] == "causal" and "Greek" in manifest["model"]["instruction"]
    assert {r["index"] for r in kept} >= {0, 1}
    assert not any("print(" in text or "https://" in text or "`" in text for text in sent)
    for record in kept:
        assert set(record) == {"instruction", "input", "output", "index"}
        if record["index"] == 1:
            assert record["input"] == CODE and "https://docs.python.org/3/" in record["output"]
        if record["index"] == 0:
            assert record["output"].startswith("1. ") and record["output"].count("\n") == 2
    assert not (out / ".partial").exists()
    assert sorted(p.name for p in out.iterdir()) == ["dropped.jsonl", "manifest.json", "translated.jsonl"]


def test_killed_run_resumes_to_the_same_bytes(tmp_path, tiny_model_dir):
    source = write_set(tmp_path)
    translate_set(source, tmp_path / "whole", "el", spec(tiny_model_dir))
    partial = tmp_path / "resumed"
    assert translate_set(source, partial, "el", spec(tiny_model_dir), stop_after_chunks=1) == {}
    assert not (partial / "manifest.json").exists() and not (partial / "translated.jsonl").exists()
    work = partial / ".partial"
    with open(work / "translated.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"instruction": "torn')  # a kill in the middle of the next chunk's append
    with open(work / "progress.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"chunk": 1, "rec')
    manifest = translate_set(source, partial, "el", spec(tiny_model_dir))
    for name in ("translated.jsonl", "dropped.jsonl"):
        assert sha(partial / name) == sha(tmp_path / "whole" / name)
    assert manifest["counts"]["kept"] >= 3
    assert manifest["counts"] == json.loads((tmp_path / "whole" / "manifest.json").read_text())["counts"]


def test_finished_translation_is_reused_and_changed_settings_start_over(tmp_path, tiny_model_dir, caplog):
    source = write_set(tmp_path)
    first = translate_set(source, tmp_path / "out", "el", spec(tiny_model_dir))
    again = translate_set(source, tmp_path / "out", "el", spec(tiny_model_dir))
    assert again["created"] == first["created"]
    assert translate_set(source, tmp_path / "out", "el", spec(tiny_model_dir, limit=2))["counts"]["records"] == 2


def test_filters_drop_whole_records_and_count_reasons(tmp_path, tiny_model_dir):
    manifest = translate_set(write_set(tmp_path), tmp_path / "out", "el", spec(tiny_model_dir, filters={}))
    counts = manifest["counts"]
    assert counts["kept"] == 0 and counts["by_reason"]  # random output fails the default filters
    assert counts["kept"] + sum(counts["by_reason"].values()) == 5
    dropped = [json.loads(line) for line in (tmp_path / "out" / "dropped.jsonl").read_text().splitlines()]
    assert all(d["reason"] == d["fields"][0]["reason"] for d in dropped)
    assert counts["by_reason"] == {r: sum(d["reason"] == r for d in dropped) for r in counts["by_reason"]}


# ---- a tiny seq2seq model ------------------------------------------------------------------------

def test_seq2seq_translation_resumes_to_the_same_bytes(tmp_path, tiny_seq2seq_dir):
    source = write_set(tmp_path)
    whole = translate_set(source, tmp_path / "whole", "el", spec(tiny_seq2seq_dir))
    assert whole["model"]["kind"] == "seq2seq" and whole["model"]["family"] == "single-pair"
    translate_set(source, tmp_path / "resumed", "el", spec(tiny_seq2seq_dir), stop_after_chunks=2)
    translate_set(source, tmp_path / "resumed", "el", spec(tiny_seq2seq_dir))
    for name in ("translated.jsonl", "dropped.jsonl"):
        assert sha(tmp_path / "resumed" / name) == sha(tmp_path / "whole" / name)


def test_language_codes_of_each_family():
    class Vocab:
        def __init__(self, *tokens):
            self.vocab = {t: i for i, t in enumerate(tokens)}

        def get_vocab(self):
            return self.vocab

    nllb = language_codes(Vocab("eng_Latn", "ell_Grek", "hin_Deva"), "en", "el")
    assert nllb == {"family": "nllb", "src_lang": "eng_Latn", "forced_bos_token_id": 1, "target_code": "ell_Grek"}
    with pytest.raises(UserError, match="no language code 'tur_Latn'"):
        language_codes(Vocab("eng_Latn", "ell_Grek"), "en", "tr")
    assert language_codes(Vocab("en_XX", "hi_IN"), "en", "hi")["forced_bos_token_id"] == 1
    assert language_codes(Vocab(">>ell<<", ">>tur<<", "a"), "en", "tr")["prefix"] == ">>tur<< "
    assert language_codes(Vocab("a", "b"), "en", "el") == {"family": "single-pair"}
    assert [flores200_code(c) for c in ("el", "hi", "tr", "ar", "zh", "vi")] == [
        "ell_Grek", "hin_Deva", "tur_Latn", "arb_Arab", "zho_Hans", "vie_Latn"]

    class M2M(Vocab):
        def get_lang_id(self, code):
            return {"el": 7}[code]

    assert language_codes(M2M("__el__"), "en", "el")["forced_bos_token_id"] == 7


# ---- bad input: one line, exit 2, nothing left as if complete -------------------------------------

def cli(*args) -> int:
    return main(["data", "translate", *map(str, args)])


def test_bad_input_is_one_clear_line(tmp_path, tiny_model_dir, capsys):
    source = write_set(tmp_path)
    vit = tmp_path / "vit"
    vit.mkdir()
    (vit / "config.json").write_text(json.dumps({"model_type": "vit", "architectures": ["ViTModel"]}))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    cases = [
        ((source, "--to", "el", "--model", tmp_path / "no-model"), "model folder not found"),
        ((source, "--to", "el", "--model", vit), "cannot generate text"),
        ((source, "--to", "xx", "--model", tiny_model_dir), "unknown language code 'xx'"),
        ((empty, "--to", "el", "--model", tiny_model_dir), "no records to translate"),
        ((tmp_path / "missing.json", "--to", "el", "--model", tiny_model_dir), "file not found"),
    ]
    for n, (args, message) in enumerate(cases):
        out = tmp_path / f"out{n}"
        assert cli(*args, "-o", out) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2, err
        assert not out.exists()  # nothing written: every check comes before the first file


def test_cli_translates_with_a_field_mapping(tmp_path, tiny_model_dir, capsys):
    records = [{"en_instruction": r["instruction"], "en_input": r["input"], "en_output": r["output"]} for r in RECORDS]
    source = write_set(tmp_path, records, "pairs.json")
    assert cli(source, "--to", "el", "--model", tiny_model_dir, "-o", tmp_path / "out", "--limit", 3,
               "--fields", "instruction=en_instruction,input=en_input,output=en_output", "--max-new-tokens", 8,
               "--no-langid", "--max-length-ratio", 1000) == 0
    assert "of 3 records" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["config"]["fields"]["output"] == "en_output" and manifest["stage"] == "translate"


# ---- input checked before the model; a failure leaves no folder (issue 27) ----------------------

def truncated_jsonl(folder: Path, n: int = 200) -> Path:
    """A JSONL set whose last line was cut off mid-record (a copy or download that stopped)."""
    lines = [json.dumps({"instruction": f"Say {i}.", "input": "", "output": f"{i}."}) for i in range(n)]
    path = folder / "cut.jsonl"
    path.write_text("\n".join(lines) + "\n" + lines[0][:20], encoding="utf-8")
    return path


def test_a_truncated_last_line_fails_before_any_model_is_loaded_and_leaves_no_folder(tmp_path, monkeypatch):
    import time

    import lingalign.data.translate as translate_module

    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was read")

    monkeypatch.setattr(translate_module, "load_translator", no_model)
    out = tmp_path / "out"
    began = time.perf_counter()
    with pytest.raises(UserError, match=r"cut.jsonl:201: malformed JSON line"):
        translate_set(truncated_jsonl(tmp_path), out, "el", TranslateSpec(model="no-such-model"))
    assert time.perf_counter() - began < 1.0
    assert not out.exists()
    # a record without its output, far down the file: found before the model too
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(RECORDS * 40 + [{"instruction": "no output"}]), encoding="utf-8")
    with pytest.raises(UserError, match=r"bad.json:\d+ \[output\]: missing field"):
        translate_set(bad, out, "el", TranslateSpec(model="no-such-model"))
    assert not out.exists()


def test_the_cli_says_which_line_is_cut_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli(truncated_jsonl(tmp_path), "--to", "el", "-o", out) == 2
    err = capsys.readouterr().err
    assert "cut.jsonl:201: malformed JSON line" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_failure_before_the_first_chunk_leaves_no_folder_and_after_it_keeps_the_work(tmp_path, tiny_model_dir,
                                                                                   monkeypatch):
    import lingalign.data.translate as translate_module

    source = write_set(tmp_path)
    real = translate_module.translate_chunk
    calls = []

    def failing_at(n):
        def chunk(*args, **kwargs):
            calls.append(1)
            if len(calls) > n:
                raise RuntimeError("the machine ran out of something")
            return real(*args, **kwargs)
        return chunk

    monkeypatch.setattr(translate_module, "translate_chunk", failing_at(0))
    with pytest.raises(RuntimeError):
        translate_set(source, tmp_path / "first", "el", spec(tiny_model_dir))
    assert not (tmp_path / "first").exists()  # made by this call, nothing to resume: gone

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("the user's")
    with pytest.raises(RuntimeError):
        translate_set(source, tmp_path / "mine", "el", spec(tiny_model_dir))
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]  # theirs stays, ours goes

    calls.clear()
    monkeypatch.setattr(translate_module, "translate_chunk", failing_at(1))
    with pytest.raises(RuntimeError):
        translate_set(source, tmp_path / "later", "el", spec(tiny_model_dir))
    assert (tmp_path / "later" / ".partial" / "progress.jsonl").read_text().count("\n") == 1  # chunk 0 kept
    monkeypatch.setattr(translate_module, "translate_chunk", real)
    translate_set(source, tmp_path / "later", "el", spec(tiny_model_dir))
    translate_set(source, tmp_path / "whole", "el", spec(tiny_model_dir))
    assert sha(tmp_path / "later" / "translated.jsonl") == sha(tmp_path / "whole" / "translated.jsonl")
