"""A prediction cut by ``max_new_tokens`` inside a multi-byte character loses the half character (a
trailing U+FFFD), and every place that stores predictions counts how often that happened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lingalign.data.recipe import TranslateFilters
from lingalign.data.translate import translate_chunk
from lingalign.evaluate import evaluate
from lingalign.generation.hf_generator import HFGenerator
from lingalign.generation.stops import Answer, cut_at_stop, finish_answer

STOPS = ["### Instruction:", "\n### "]
FFFD = "\ufffd"


def test_only_a_trailing_half_character_of_a_row_that_ran_out_is_dropped():
    cut = finish_answer(" 答案是中" + FFFD, STOPS, ran_out=True)
    assert cut == "答案是中" and cut.cut_characters == 1
    assert finish_answer("答" + FFFD * 2, STOPS, ran_out=True).cut_characters == 2  # byte fallback: one per byte
    kept = finish_answer("答" + FFFD, STOPS, ran_out=False)  # the model ended it: its own output
    assert kept == "答" + FFFD and kept.cut_characters == 0
    assert finish_answer("a" + FFFD + "b", STOPS, ran_out=True) == "a" + FFFD + "b"  # mid-text: the model's
    assert finish_answer("x" + FFFD * 4, STOPS, ran_out=True) == "x" + FFFD * 4  # more than one character's bytes
    stopped = finish_answer("答\n### Instruction: more" + FFFD, STOPS, ran_out=True)  # cut at the stop anyway
    assert stopped == "答" and stopped.cut_characters == 0


@pytest.mark.parametrize("text", ["  Paris.\n### Instruction: x", "答案", "", "a\n### b", "  end  ", "x" + FFFD + "y"])
@pytest.mark.parametrize("ran_out", [False, True])
def test_answers_without_a_trailing_half_character_are_exactly_as_before(text, ran_out):
    assert finish_answer(text, STOPS, ran_out) == cut_at_stop(text, STOPS)


def byte_token(tokenizer, byte: int) -> int:
    """The id of a single-byte token of a byte-level BPE tokenizer (GPT-2's byte-to-character map)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("\xa1"), ord("\xac") + 1), *range(ord("\xae"), 256)]
    shifted = {b: chr(256 + n) for n, b in enumerate(b for b in range(256) if b not in printable)}
    char = chr(byte) if byte in printable else shifted[byte]
    return tokenizer.convert_tokens_to_ids(char)


@pytest.fixture()
def generator(tiny_model_dir):
    return HFGenerator(str(tiny_model_dir), dtype="float32", device="cpu")


def forced(generator, monkeypatch, continuations: list[list[int]]):
    """Make ``model.generate`` answer each prompt with the given token ids (right-padded), as a real
    batch comes back."""

    def generate(input_ids, generation_config, **kwargs):
        width = max(len(c) for c in continuations)
        pad = generation_config.pad_token_id
        rows = [c + [pad] * (width - len(c)) for c in continuations]
        return torch.cat([input_ids, torch.tensor(rows)], dim=1)

    monkeypatch.setattr(generator.model, "generate", generate)


def test_the_hf_backend_drops_the_half_character_of_a_row_cut_by_the_token_limit(generator, monkeypatch):
    tok = generator.tokenizer
    half = [byte_token(tok, b) for b in "中".encode()[:2]]  # the first 2 of its 3 bytes
    whole = tok.encode("答案", add_special_tokens=False)
    eos = tok.eos_token_id
    rows = [whole + half, whole + half[:1] + [eos], whole + [eos]]
    width = len(rows[0])
    forced(generator, monkeypatch, rows)
    assert tok.decode(rows[0]) == "答案" + FFFD  # what decoding gives without the fix
    [batch] = list(generator.generate(["a", "b", "c"], max_new_tokens=width, batch_size=3, rolling=False,
                                      sort_by_length=False))
    answers = dict(batch)
    assert answers[0] == "答案" and answers[0].cut_characters == 1  # ran to the limit mid-character
    assert answers[1] == "答案" + FFFD and answers[1].cut_characters == 0  # ended by the model: kept
    assert answers[2] == "答案"


def test_the_rolling_batch_drops_it_too(generator, monkeypatch):
    from lingalign.generation import rolling

    tok = generator.tokenizer
    half = [byte_token(tok, "中".encode()[0])]
    whole = tok.encode("答案", add_special_tokens=False)
    outputs = {0: whole + half, 1: whole + [tok.eos_token_id]}
    monkeypatch.setattr(rolling.RollingDecoder, "run", lambda self, ids, order, **kw: iter(outputs.items()))
    answers = dict(pair for batch in generator.generate(["a", "b"], max_new_tokens=len(outputs[0]), rolling=True)
                   for pair in batch)
    assert answers[0] == "答案" and answers[0].cut_characters == 1
    assert answers[1] == "答案" and answers[1].cut_characters == 0


def test_the_vllm_backend_drops_it_when_a_request_stopped_at_max_tokens(tiny_model_dir):
    from types import SimpleNamespace

    from lingalign.generation.vllm_generator import VLLMGenerator

    class LLM:
        def __init__(self, model, **kwargs):
            pass

        def generate(self, requests, params, use_tqdm=False):
            return [SimpleNamespace(outputs=[SimpleNamespace(text="答案" + FFFD, finish_reason=reason)])
                    for reason in ("length", "stop")]

    fake = SimpleNamespace(LLM=LLM, SamplingParams=lambda **kw: SimpleNamespace(**kw), LoRARequest=None)
    generator = VLLMGenerator(str(tiny_model_dir), vllm=fake)
    [batch] = list(generator.generate(["a", "b"], max_new_tokens=3))
    answers = dict(batch)
    assert answers[0] == "答案" and answers[0].cut_characters == 1
    assert answers[1] == "答案" + FFFD and answers[1].cut_characters == 0


class CutGenerator:
    """Stands in for a backend: every other answer is a Chinese word whose last character was cut in half."""

    def generate(self, prompts, **kwargs):
        batch = []
        for index, _ in enumerate(prompts):
            answer = Answer("答案")
            answer.cut_characters = 1 if index % 2 == 0 else 0
            batch.append((index, answer))
        yield batch


def test_eval_counts_cut_answers_per_task_and_marks_their_records(tmp_path, monkeypatch, tiny_model_dir):
    from lingalign.evaluate import runner

    monkeypatch.setattr(runner, "make_generator", lambda *a, **kw: CutGenerator())
    results = evaluate(str(tiny_model_dir), "flores-en-zh", tmp_path / "eval", limit=4, batch_size=4)
    assert results["tasks"]["flores-en-zh"]["cut_characters"] == 2
    records = [json.loads(line) for line in (tmp_path / "eval" / "predictions" / "flores-en-zh.jsonl").open()]
    assert [r.get("cut_characters") for r in records] == [1, None, 1, None]  # only where it happened
    assert all(r["prediction"] == "答案" for r in records)


def test_stored_predictions_stay_byte_identical_and_unchecked_half_characters_are_decoded_again(tmp_path,
                                                                                               tiny_model_dir):
    out = tmp_path / "eval"
    evaluate(str(tiny_model_dir), "flores-en-zh", out, limit=4, batch_size=2, max_new_tokens=3)
    path = out / "predictions" / "flores-en-zh.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    made = records[0]["prediction"]
    records[0]["prediction"] = made + FFFD  # as stored before the check: to be decoded again
    records[1]["prediction"] += FFFD
    records[1]["cut_characters"] = 0  # checked: the model's own U+FFFD, kept
    edited = [json.dumps(r, ensure_ascii=False) for r in records[:2]] + lines[2:]
    path.write_text("\n".join(edited) + "\n", encoding="utf-8")
    evaluate(str(tiny_model_dir), "flores-en-zh", out, limit=4, batch_size=2, max_new_tokens=3)
    again = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(again[0])["prediction"] == made  # decoded again: what the model gives
    assert again[1:] == edited[1:]  # every other line byte for byte


def test_data_translate_counts_pieces_that_lost_a_half_character():
    class Translator:
        def count_tokens(self, texts):
            return [len(t.split()) for t in texts]

        def translate(self, texts):
            found = []
            for k, _ in enumerate(texts):
                answer = Answer("你好")
                answer.cut_characters = 1 if k == 0 else 0
                found.append((answer, k == 0))
            return found

    chunk = [(0, {"instruction": "Say hello.", "input": "", "output": "Hello there."})]
    filters = TranslateFilters(langid=False, max_length_ratio=None, numbers=False, truncated=False)
    kept, dropped, cut = translate_chunk(chunk, Translator(), "zh", filters, 64)
    assert cut == 1 and len(kept) == 1 and not dropped


def test_translate_manifest_reports_the_count(tmp_path, tiny_model_dir):
    from lingalign.data.recipe import TranslateSpec
    from lingalign.data.translate import translate_set

    source = tmp_path / "en.json"
    source.write_text(json.dumps([{"instruction": "Name a colour.", "input": "", "output": "Blue."}]))
    spec = TranslateSpec(model=str(tiny_model_dir), max_new_tokens=4, dtype="float32",
                         filters={"langid": False, "max_length_ratio": None, "numbers": False, "truncated": False})
    manifest = translate_set(source, tmp_path / "out", "zh", spec)
    assert isinstance(manifest["counts"]["cut_characters"], int)
    assert Path(tmp_path / "out" / "manifest.json").exists()
