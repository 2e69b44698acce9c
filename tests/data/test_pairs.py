"""``lingalign data pairs``: the reward, pairing and its counts, resume to the same bytes, seeds that do not
depend on batches or chunks, folders of other jobs refused, the recipe's errors, and ``--import``."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from lingalign.cli import main
from lingalign.data import pairs as pairs_module
from lingalign.data.pair_scoring import CausalScorer
from lingalign.data.pairs import build_pairs, pair_outcome
from lingalign.data.pairs_import import import_pairs
from lingalign.data.pairs_recipe import PairsRecipe, load_pairs_recipe
from lingalign.errors import UserError
from lingalign.generation.loglik import continuation_logprobs
from lingalign.models import load_tokenizer

# three math problems: each Chinese answer carries the numbers of its English answer
ENGLISH = ["She sold 48 / 2 = 24 clips in May, so 48 + 24 = 72 clips. The answer is 72.",
           "She earns 12 / 60 = 0.2 dollars a minute, so 0.2 * 50 = 10 dollars. The answer is 10.",
           "Betty has 100 / 2 = 50 dollars, her parents give 15 and her grandparents 30, so she needs 5 more."]
CHINESE = ["五月卖了 48 / 2 = 24 个，所以一共 48 + 24 = 72 个。答案是 72。",
           "每分钟挣 12 / 60 = 0.2 美元，所以 0.2 * 50 = 10 美元。答案是 10。",
           "贝蒂有 100 / 2 = 50 美元，父母给 15，祖父母给 30，所以还需要 5 美元。"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- a translation model whose log-probabilities are known ------------------------------------------

class CopyLM(torch.nn.Module):
    """A hand-made "translation model": the next token is ``e^4`` times likelier when it already occurred in
    the text so far. The English answer is then likely exactly when the X answer before it holds its
    tokens (numbers, names), the property MAPO's reward relies on. Scoring the wrong positions (an
    off-by-one) or losing the context would make faithful and shuffled answers score alike."""

    def __init__(self, vocab: int, strength: float = 4.0):
        super().__init__()
        self.vocab, self.strength = vocab, strength
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the module a device

    def forward(self, input_ids, attention_mask=None, position_ids=None, logits_to_keep=0):
        seen = torch.nn.functional.one_hot(input_ids, self.vocab).float()
        if attention_mask is not None:
            seen = seen * attention_mask[..., None]
        logits = self.strength * seen.cumsum(dim=1).clamp(max=1)
        return SimpleNamespace(logits=logits[:, -logits_to_keep:] if logits_to_keep else logits)


class CopyEngine:
    """The engine interface the scorer uses (a tokenizer and ``continuation_logprobs``), on :class:`CopyLM`."""

    def __init__(self, tokenizer):
        self.tokenizer, self.model = tokenizer, CopyLM(len(tokenizer))

    def continuation_logprobs(self, contexts, continuations, batch_size=4):
        return continuation_logprobs(self.model, contexts, continuations, pad_id=self.tokenizer.pad_token_id,
                                     batch_size=batch_size)


@pytest.fixture(scope="module")
def copy_scorer(tiny_model_dir):
    return CausalScorer(CopyEngine(load_tokenizer(str(tiny_model_dir))), "chat", "zh", batch_size=2)


def test_the_reward_ranks_a_faithful_answer_above_a_shuffled_one(copy_scorer):
    faithful = copy_scorer.score(list(zip(CHINESE, ENGLISH)))
    shuffled = copy_scorer.score(list(zip(CHINESE[1:] + CHINESE[:1], ENGLISH)))
    assert all(f > s + 0.1 for f, s in zip(faithful, shuffled)), (faithful, shuffled)
    assert "Translate the following sentences from Chinese to English." in copy_scorer.prompt(CHINESE[0])
    assert copy_scorer.score([(CHINESE[0], ENGLISH[0])]) == pytest.approx(faithful[:1])  # batch-independent


# ---- the job, with canned answers -----------------------------------------------------------------

class CannedEngines:
    """Stands in for the model being aligned: answers looked up by request text; the scorer is given."""

    loads = 0

    def __init__(self, answers: dict[str, list[str] | str], scorer):
        self.answers, self.scorer = answers, scorer
        self.x_lang, self.info = "zh", {"path": "canned", "prompt_format": "chat"}
        CannedEngines.loads += 1

    def answer(self, requests, recipe, seeds=None):
        if seeds is None:
            return [self.answers[r] for r in requests]
        out, taken = [], {}
        for request in requests:  # the k samples of a prompt, in order
            out.append(self.answers[request][taken.get(request, 0)])
            taken[request] = taken.get(request, 0) + 1
        return out


def write_prompts(folder: Path, chinese: list[str], english: list[str]) -> Path:
    (folder / "q.zh").write_text("".join(f"{t}\n" for t in chinese), encoding="utf-8")
    (folder / "q.en").write_text("".join(f"{t}\n" for t in english), encoding="utf-8")
    return folder / "q"


def recipe(prefix: Path, **keys) -> PairsRecipe:
    return PairsRecipe(**{"model": str(keys.pop("model", "tiny")), "prompts": {
        "kind": "bitext", "path": str(prefix), "languages": ["zh", "en"]}, **keys})


@pytest.fixture()
def canned(monkeypatch, tmp_path, copy_scorer, tiny_model_dir):
    """Five Chinese questions and what the "model" answers to each; the copy model scores."""
    questions = [f"问题{i}" for i in range(5)]
    answers = {
        "问题0": [CHINESE[1], CHINESE[0], "", "没有数字"],         # faithful vs wrong numbers; empty; no number
        "问题1": [CHINESE[1]] * 4,                                # identical samples: a tie
        "问题2": [CHINESE[0], "", "", "没有数字"],                  # one parsable answer: too few
        "问题3": [CHINESE[2], CHINESE[0], CHINESE[1], CHINESE[2]],  # English answer has no number: unusable
        "问题4": [CHINESE[0], CHINESE[2], CHINESE[2], CHINESE[1]],  # faithful vs wrong numbers
        "Q0": ENGLISH[0], "Q1": ENGLISH[1], "Q2": ENGLISH[0], "Q3": "I do not know.", "Q4": ENGLISH[2],
    }
    monkeypatch.setattr(pairs_module, "_Engines", lambda r: CannedEngines(answers, copy_scorer))
    prefix = write_prompts(tmp_path, questions, [f"Q{i}" for i in range(5)])
    return recipe(prefix, model=tiny_model_dir, answers="math", chunk_size=2)


def test_pairs_take_the_best_over_the_worst_and_count_what_gives_none(canned, tmp_path):
    manifest = build_pairs(canned, tmp_path / "out")
    pairs = [json.loads(line) for line in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert [p["id"] for p in pairs] == ["prompts:0", "prompts:4"]
    assert pairs[0]["chosen"] == CHINESE[0] and pairs[0]["rejected"] == CHINESE[1]  # the same numbers win
    assert pairs[1]["chosen"] == CHINESE[2] and pairs[1]["chosen_score"] > pairs[1]["rejected_score"]
    assert list(pairs[0]) == ["id", "prompt", "chosen", "rejected", "lang", "chosen_score", "rejected_score"]
    assert pairs[0]["prompt"] == "问题0" and pairs[0]["lang"] == "zh"
    counts = manifest["counts"]
    assert (counts["pairs"], counts["tie"], counts["too_few_parsable"], counts["english_unusable"]) == (2, 1, 1, 1)
    assert counts["unparsable"] == {"empty": 3, "no_number": 2} and counts["samples"] == 20
    samples = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert [s["status"] for s in samples[0]["samples"]] == ["ok", "ok", "empty", "no_number"]
    assert samples[0]["samples"][2]["score"] is None and samples[0]["samples"][1]["number"] == "72"
    assert all(s["score"] is None for s in samples[3]["samples"])  # nothing scored against an unusable answer
    assert manifest["stage"] == "pairs" and manifest["outputs"]["train.jsonl"]


def test_a_pairs_folder_is_what_dpo_training_reads(canned, tmp_path, tiny_model_dir):
    from lingalign.train.preference_data import load_pairs

    build_pairs(canned, tmp_path / "out")
    examples, counts = load_pairs(tmp_path / "out" / "train.jsonl", load_tokenizer(str(tiny_model_dir)), "chat",
                                  512, "drop")
    assert counts["pairs"] == 2 and len(examples) == 4


def test_min_margin_drops_close_pairs_and_repairs_without_sampling_again(canned, tmp_path):
    first = build_pairs(canned, tmp_path / "out")
    loads = CannedEngines.loads
    margins = [p["chosen_score"] - p["rejected_score"]
               for p in map(json.loads, (tmp_path / "out" / "train.jsonl").read_text().splitlines())]
    between = (min(margins) + max(margins)) / 2
    again = build_pairs(canned.model_copy(update={"min_margin": between}), tmp_path / "out")
    assert CannedEngines.loads == loads  # the samples were kept: no model loaded
    assert again["counts"]["pairs"] == 1 and again["counts"]["below_margin"] == 1
    assert again["samples_fingerprint"] == first["samples_fingerprint"]
    assert again["fingerprint"] != first["fingerprint"]


def test_pair_outcomes():
    def record(*samples, english="ok"):
        return {"id": "p:0", "prompt": "q", "lang": "zh", "english_status": english,
                "samples": [{"sample": j, "answer": a, "status": "ok" if s is not None else "empty", "score": s}
                            for j, (a, s) in enumerate(samples)]}

    assert pair_outcome(record(("a", -1.0), ("b", -1.0)), 0.0)[0] == "tie"  # all scores equal
    assert pair_outcome(record(("a", -1.0), (" a ", -2.0)), 0.0)[0] == "tie"  # the same text
    assert pair_outcome(record(("a", -1.0), ("b", -1.2)), 0.5)[0] == "below_margin"
    outcome, pair = pair_outcome(record(("a", -1.0), ("b", -0.5), ("c", -0.5), ("d", -3.0)), 0.5)
    assert outcome == "pair" and (pair["chosen"], pair["rejected"]) == ("b", "d")  # a tie for best: the first
    assert pair_outcome(record(("a", -1.0), ("", None)), 0.0)[0] == "too_few_parsable"
    assert pair_outcome(record(("a", -1.0), ("b", -2.0), english="empty"), 0.0)[0] == "english_unusable"


# ---- the job on a real (tiny) model -------------------------------------------------------------------

@pytest.fixture()
def gsm_prompts(samples_dir):
    return samples_dir / "gsm8kinstruct" / "question-zh-en" / "train"


def tiny_recipe(prefix, model, **keys):
    settings = {"count": 5, "samples": 2, "max_new_tokens": 6, "chunk_size": 2, "batch_size": 4,
                "prompt_format": "alpaca", "dtype": "float32", **keys}
    return recipe(prefix, model=model, **settings)


def test_resume_after_a_kill_gives_the_same_bytes(tmp_path, gsm_prompts, tiny_model_dir):
    spec = tiny_recipe(gsm_prompts, tiny_model_dir)
    whole = build_pairs(spec, tmp_path / "whole")
    assert whole["counts"]["prompts"] == 5 and whole["counts"]["samples"] == 10 and whole["counts"]["pairs"] > 0
    assert whole["counts"]["pairs"] + whole["counts"]["tie"] + whole["counts"]["too_few_parsable"] + \
        whole["counts"]["english_unusable"] + whole["counts"]["below_margin"] == 5
    assert build_pairs(spec, tmp_path / "resumed", stop_after_chunks=1) == {}
    partial = tmp_path / "resumed" / ".partial"
    assert not (tmp_path / "resumed" / "train.jsonl").exists() and not (tmp_path / "resumed" / "manifest.json").exists()
    with open(partial / "samples.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"id": "torn')  # killed while writing the next chunk
    assert build_pairs(spec, tmp_path / "resumed", stop_after_chunks=2) == {}
    resumed = build_pairs(spec, tmp_path / "resumed")
    for name in ("train.jsonl", "samples.jsonl"):
        assert sha(tmp_path / "resumed" / name) == sha(tmp_path / "whole" / name)
    assert resumed["counts"] == whole["counts"] and resumed["fingerprint"] == whole["fingerprint"]
    assert not partial.exists()
    assert build_pairs(spec, tmp_path / "resumed")["created"] == resumed["created"]  # finished: kept as it is


def test_samples_do_not_depend_on_batches_chunks_or_how_many_prompts(tmp_path, gsm_prompts, tiny_model_dir):
    small = build_pairs(tiny_recipe(gsm_prompts, tiny_model_dir, count=3, batch_size=16, chunk_size=8),
                        tmp_path / "a")
    large = build_pairs(tiny_recipe(gsm_prompts, tiny_model_dir, count=6, batch_size=3, chunk_size=1),
                        tmp_path / "b")
    assert small["samples_fingerprint"] != large["samples_fingerprint"]

    def samples(folder):
        return {r["id"]: [(s["seed"], s["answer"]) for s in r["samples"]]
                for r in map(json.loads, (folder / "samples.jsonl").read_text().splitlines())}

    a, b = samples(tmp_path / "a"), samples(tmp_path / "b")
    assert set(a) < set(b)  # count 3 is a subset of count 6
    assert all(a[i] == b[i] for i in a)
    assert len({answer for draws in b.values() for _, answer in draws}) > len(b)  # the samples differ


def test_a_seq2seq_translation_model_scores(tmp_path, gsm_prompts, tiny_model_dir, tiny_seq2seq_dir):
    manifest = build_pairs(tiny_recipe(gsm_prompts, tiny_model_dir, count=2, scorer=str(tiny_seq2seq_dir)),
                           tmp_path / "out")
    assert manifest["scorer"]["kind"] == "seq2seq" and manifest["scorer"]["family"] == "single-pair"
    records = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    scores = [s["score"] for r in records for s in r["samples"] if s["score"] is not None]
    assert scores and all(-20 < s < 0 for s in scores)


def test_a_folder_holding_another_jobs_output_is_refused(tmp_path, gsm_prompts, tiny_model_dir):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"stage": "data", "fingerprint": "abc"}))
    spec = tiny_recipe(gsm_prompts, tiny_model_dir, count=2)
    with pytest.raises(UserError, match="another job .stage data"):
        build_pairs(spec, out)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]
    build_pairs(spec, out, force=True)
    with pytest.raises(UserError, match="another job .stage pairs"):
        build_pairs(spec.model_copy(update={"samples": 3}), out)  # other samples: refused too
    other = tmp_path / "other"
    build_pairs(spec.model_copy(update={"count": 4}), other, stop_after_chunks=1)  # killed, other settings
    with pytest.raises(UserError, match="unfinished pairs made with other settings"):
        build_pairs(spec, other)


# ---- the recipe and the command line ------------------------------------------------------------------

def test_recipe_errors_name_the_key(tmp_path, gsm_prompts):
    path = tmp_path / "pairs.yaml"
    cases = {
        "samples: 1": "samples",
        "prompts: {kind: bitext, path: x, languages: [zh, de]}": "exactly one side must be English",
        "prompts: {kind: instructions, path: a.json, lang: zh}": "english_fields",
        "temprature: 0.5": "Did you mean 'temperature'",
        "top_p: 1.5": "top_p",
    }
    for text, message in cases.items():
        if "prompts" not in text:
            text += f"\nprompts: {{kind: bitext, path: {gsm_prompts}, languages: [zh, en]}}"
        path.write_text(f"pairs:\n  {text.replace(chr(10), chr(10) + '  ')}\n", encoding="utf-8")
        with pytest.raises(UserError, match=message):
            load_pairs_recipe(path)


def test_cli_runs_on_flags_and_prints_counts(tmp_path, gsm_prompts, tiny_model_dir, capsys):
    args = ["data", "pairs", "--prompts", str(gsm_prompts), "--lang", "zh", "--model", str(tiny_model_dir),
            "--count", "2", "--samples", "2", "--max-new-tokens", "5", "--set", "prompt_format=alpaca",
            "-o", str(tmp_path / "out")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "pairs from 2 zh prompts x 2 samples" in out
    assert main(["data", "show", str(tmp_path / "out")]) == 0
    assert "preference pairs" in capsys.readouterr().out
    assert main(["data", "pairs", "-o", str(tmp_path / "x")]) == 2
    assert "give a RECIPE, or --prompts" in capsys.readouterr().err


# ---- --import ---------------------------------------------------------------------------------------

def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


GOOD = [{"prompt": "你好吗？", "chosen": "我很好。", "rejected": "I am fine."},
        {"instruction": "翻译", "input": "cat", "chosen": "猫", "rejected": "cat", "id": "x"},
        {"prompt": "一样", "chosen": "同", "rejected": " 同 "}]


def test_import_checks_and_writes_a_data_folder(tmp_path, tiny_model_dir):
    from lingalign.train.preference_data import load_pairs

    manifest = import_pairs(write_jsonl(tmp_path / "p.jsonl", GOOD), tmp_path / "out")
    assert manifest["counts"] == {"records": 3, "pairs": 2, "dropped_identical": 1,
                                  "layouts": {"prompt": 2, "instruction": 1}}
    lines = (tmp_path / "out" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == GOOD[:2]  # every key kept, in file order
    _, counts = load_pairs(tmp_path / "out" / "train.jsonl", load_tokenizer(str(tiny_model_dir)), "alpaca", 256,
                           "drop")
    assert counts["pairs"] == 2
    listed = tmp_path / "p.json"
    listed.write_text(json.dumps(GOOD, ensure_ascii=False), encoding="utf-8")  # a JSON list, as LLaMA-Factory's
    assert import_pairs(listed, tmp_path / "from-list")["counts"]["pairs"] == 2
    with pytest.raises(UserError, match="another job"):
        import_pairs(listed, tmp_path / "out")


@pytest.mark.parametrize("records, message", [
    ([GOOD[0], {"prompt": "q", "chosen": "a"}], "p.jsonl:2: missing 'rejected'"),
    ([{"prompt": "q", "chosen": " ", "rejected": "b"}], r"p.jsonl:1 \[chosen\]: empty chosen"),
    ([{"prompt": "q", "chosen": "a", "rejected": "a"}, {"prompt": "r", "chosen": "b", "rejected": "b "}],
     "p.jsonl:1: chosen == rejected in every one of the 2 records"),
    ([{"instruction": "q", "output": "a"}], "a supervised record"),
])
def test_bad_preference_files_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, records, message):
    source = write_jsonl(tmp_path / "p.jsonl", records)
    out = tmp_path / "out"
    assert main(["data", "pairs", "--import", str(source), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) <= 2 and "Traceback" not in err
    assert re.search(message, err.splitlines()[0]), err
    assert not out.exists()
