"""`lingalign analyze align` end to end on the tiny model: files, numbers, resume, bad input."""

from __future__ import annotations

import csv
import json
import shutil
import types

import pytest
import torch

from lingalign.analysis.alignment import paired_difference, retrieval_hits, similarity
from lingalign.analysis.layerwise import _metrics
from lingalign.cli import main
from lingalign.config import samples_dir

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def self_translation(tmp_path):
    """A bitext whose 'German' side is the English sentences themselves."""
    folder = tmp_path / "bitext"
    folder.mkdir()
    english = samples_dir() / "flores101" / "dev" / "eng.dev"
    shutil.copy(english, folder / "en.txt")
    shutil.copy(english, folder / "de.txt")
    return folder


def test_align_writes_every_number_plots_and_manifest(tiny_model_dir, tmp_path):
    out = tmp_path / "align"
    code = main(["analyze", "align", "--model", f"tiny={tiny_model_dir}", "--langs", "en,zh,vi",
                 "--limit", "12", "--batch-size", "5", "--cka", "-o", str(out)])
    assert code == 0
    report = json.loads((out / "alignment.json").read_text(encoding="utf-8"))
    assert report["langs"] == ["en", "zh", "vi"] and report["n_sentences"] == 12
    assert report["metrics"] == ["cos_matched", "cos_mismatched", "cos_gap", "retrieval_en_x", "retrieval_x_en", "cka"]
    (entry,) = report["models"]
    assert entry["label"] == "tiny" and entry["num_layers"] == 2
    for lang in ("zh", "vi"):
        for metric, values in entry["results"][lang].items():
            assert len(values) == 3 and all(isinstance(v, float) for v in values), metric
    assert report["best_layer"]["tiny"]["zh"]["retrieval_en_x"]["layer"] in (0, 1, 2)
    assert report["data"]["files"]["zh"].endswith("cmn_Hans.dev") and report["data"]["fingerprint"]

    rows = list(csv.DictReader((out / "alignment.csv").open(encoding="utf-8")))
    assert len(rows) == 2 * 3 and rows[0]["model"] == "tiny"
    assert float(rows[0]["cos_gap"]) == pytest.approx(entry["results"][rows[0]["lang"]]["cos_gap"][0], abs=1e-6)
    for row in rows:  # every retrieval accuracy comes with an interval around it
        for metric in ("retrieval_en_x", "retrieval_x_en"):
            low, value, high = (float(row[f"{metric}_low"]), float(row[metric]), float(row[f"{metric}_high"]))
            assert 0 <= low <= value <= high <= 1 and high - low > 0.1  # 12 sentences: a wide interval
    for metric in report["metrics"] + ["overview"]:
        assert (out / f"{metric}.png").read_bytes()[:8] == PNG
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["stage"] == "analyze-align" and "overview.png" in manifest["outputs"]
    assert report["provenance"]["precision"] == {"analysis": "fp32"}  # the default --dtype float32
    assert isinstance(report["provenance"]["native_bf16"], bool) and manifest["provenance"] == report["provenance"]


def test_retrieval_is_perfect_when_the_translation_is_the_english_sentence(tiny_model_dir, self_translation, tmp_path):
    out = tmp_path / "self"
    assert main(["analyze", "align", "--model", str(tiny_model_dir), "--langs", "en,de", "--data",
                 str(self_translation), "--limit", "30", "-o", str(out)]) == 0
    results = json.loads((out / "alignment.json").read_text(encoding="utf-8"))["models"][0]["results"]["de"]
    assert results["retrieval_en_x"] == [1.0] * 3 and results["retrieval_x_en"] == [1.0] * 3
    assert results["cos_matched"] == pytest.approx([1.0] * 3)


def test_shuffled_pairs_retrieve_at_chance(tiny_model_dir, self_translation, tmp_path):
    lines = (self_translation / "de.txt").read_text(encoding="utf-8").splitlines()[:100]
    order = torch.randperm(100, generator=torch.Generator().manual_seed(0)).tolist()
    (self_translation / "en.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (self_translation / "de.txt").write_text("\n".join(lines[i] for i in order) + "\n", encoding="utf-8")
    out = tmp_path / "shuffled"
    assert main(["analyze", "align", "--model", str(tiny_model_dir), "--langs", "en,de", "--data",
                 str(self_translation), "--limit", "100", "-o", str(out)]) == 0
    results = json.loads((out / "alignment.json").read_text(encoding="utf-8"))["models"][0]["results"]["de"]
    fixed_points = sum(i == j for i, j in enumerate(order))  # pairs the shuffle left in place
    for metric in ("retrieval_en_x", "retrieval_x_en"):
        assert max(results[metric]) <= (fixed_points + 3) / 100, metric


def test_models_are_compared_sentence_by_sentence_with_the_first(tiny_model_dir, tmp_path, capsys):
    """Same model twice: every difference is exactly zero. Against a model that retrieves every
    sentence, the reference loses exactly its misses (the hits are the ones alignment.csv counts)."""
    out = tmp_path / "paired"
    assert main(["analyze", "align", "--model", f"ref={tiny_model_dir},again={tiny_model_dir}", "--langs", "en,zh",
                 "--limit", "40", "-o", str(out)]) == 0
    report = json.loads((out / "alignment.json").read_text(encoding="utf-8"))
    assert [(c["model"], c["reference"], c["metric"]) for c in report["paired"]] == [
        ("again", "ref", "retrieval_en_x"), ("again", "ref", "retrieval_x_en")]
    for comparison in report["paired"]:
        assert len(comparison["layers"]) == 3
        assert all(row["delta"] == 0.0 and row["p"] == 1.0 and row["only_model"] == 0 for row in comparison["layers"])
        best = report["best_layer"]["ref"]["zh"][comparison["metric"]]["layer"]
        assert comparison["at_reference_best"]["layer"] == best
    rows = list(csv.DictReader((out / "paired.csv").open(encoding="utf-8")))
    assert len(rows) == 2 * 3 and {r["model"] for r in rows} == {"again"}
    assert "again - ref en-zh retrieval_en_x @ layer" in capsys.readouterr().out
    assert "paired.csv" in json.loads((out / "manifest.json").read_text(encoding="utf-8"))["outputs"]

    vectors = torch.load(out / "vectors" / "ref.pt")["vectors"]
    hits = _metrics({"vectors": vectors}, cka=False, center=False)[1]["zh"]["retrieval_en_x"]
    assert hits.mean(axis=1).tolist() == pytest.approx(report["models"][0]["results"]["zh"]["retrieval_en_x"])
    perfect = [True] * 40
    gain = paired_difference(perfect, hits[1])
    assert gain["delta"] == pytest.approx(1 - hits[1].mean()) and gain["only_reference"] == 0
    assert hits[1].tolist() == retrieval_hits(similarity(vectors["en"][1], vectors["zh"][1])).tolist()


def test_second_run_reuses_finished_work(tiny_model_dir, tmp_path, monkeypatch):
    args = ["analyze", "align", "--model", f"a={tiny_model_dir}", "--langs", "en,zh", "--limit", "6",
            "-o", str(tmp_path)]
    assert main(args) == 0
    first = (tmp_path / "alignment.json").read_text(encoding="utf-8")
    (tmp_path / "manifest.json").unlink()  # as if killed before the end: the per-model part is kept

    def no_loading(*_args, **_kwargs):
        raise AssertionError("a finished model was measured again")

    monkeypatch.setattr("lingalign.analysis.layerwise.load_model", no_loading)
    assert main(args) == 0
    again = json.loads((tmp_path / "alignment.json").read_text(encoding="utf-8"))
    assert again["models"] == json.loads(first)["models"]
    assert main([*args, "--center"]) == 0  # other metric options reuse the pooled vectors too
    centred = json.loads((tmp_path / "alignment.json").read_text(encoding="utf-8"))
    assert centred["center"] is True
    assert centred["models"][0]["results"] != json.loads(first)["models"][0]["results"]


@pytest.mark.parametrize("extra, message", [
    (["--langs", "en,el"], "no data for language 'el' (available: cmn_Hans, eng, vie)"),
    (["--langs", "en,zh", "--model", "a=/nonexistent/model"], "/nonexistent/model: model folder not found"),
    (["--langs", "en,zh", "--limit", "0"], "--limit must be at least 1"),
    (["--langs", "en"], "at least two different languages"),
])
def test_bad_input_exits_2_with_a_clear_message(tiny_model_dir, tmp_path, capsys, extra, message):
    code = main(["analyze", "align", "--model", str(tiny_model_dir), *extra, "-o", str(tmp_path / "x")])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_duplicate_labels_and_unequal_files_exit_2(tiny_model_dir, tmp_path, capsys):
    assert main(["analyze", "align", "--model", f"{tiny_model_dir},{tiny_model_dir}", "--langs", "en,zh",
                 "-o", str(tmp_path / "x")]) == 2
    assert "several models are labelled" in capsys.readouterr().err
    (tmp_path / "en.txt").write_text("a\nb\nc\n", encoding="utf-8")
    (tmp_path / "zh.txt").write_text("一\n二\n", encoding="utf-8")
    assert main(["analyze", "align", "--model", str(tiny_model_dir), "--langs", "en,zh", "--data", str(tmp_path),
                 "-o", str(tmp_path / "x")]) == 2
    assert "different line counts" in capsys.readouterr().err


def test_model_without_hidden_states_exits_2(tiny_model_dir, tmp_path, capsys, monkeypatch):
    class Opaque(torch.nn.Module):
        """A model whose forward gives logits only, like a wrapper that drops hidden states."""

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))
            self.config = types.SimpleNamespace(num_hidden_layers=1)

        def forward(self, input_ids, **_):
            return types.SimpleNamespace(logits=torch.zeros(*input_ids.shape, 3), hidden_states=None)

    monkeypatch.setattr("lingalign.analysis.layerwise.load_model", lambda *a, **k: Opaque())
    assert main(["analyze", "align", "--model", f"opaque={tiny_model_dir}", "--langs", "en,zh", "--limit", "4",
                 "-o", str(tmp_path / "x")]) == 2
    assert "opaque: the model returned no hidden states" in capsys.readouterr().err
