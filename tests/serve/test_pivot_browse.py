"""The predictions browser scores a pivot model's answers on their final part, as evaluation does."""

from __future__ import annotations

from lingalign.artifacts import append_jsonl, write_json
from lingalign.config import samples_dir
from lingalign.prompting import PIVOT_SEPARATOR, pivot_response, write_model_info
from lingalign.serve.browse import Predictions
from lingalign.serve.runfolder import RunFolder

GOLD = {"56beb4343aeaaa14008c925b": "308", "56beb4343aeaaa14008c925c": "136 次"}


def test_a_pivot_models_items_are_scored_on_the_final_part_and_shown_whole(tmp_path):
    answers = [pivot_response("How many points?", "", "They gave up 308 points.", "308"),
               "贾里德有136 次擒杀。"]  # no separator: scored whole
    for label, with_results in (("pivot", True), ("pivot-running", False)):
        folder = tmp_path / "eval" / label
        append_jsonl(folder / "predictions" / "xquad-zh.jsonl",
                     [{"id": i, "prompt": "...", "prediction": p, "references": [g]}
                      for (i, g), p in zip(GOLD.items(), answers)])
        if with_results:
            write_json(folder / "results.json", {
                "model": label, "prompt_format": "alpaca-pivot", "data_root": str(samples_dir()),
                "tasks": {"xquad-zh": {"kind": "qa", "lang": "zh", "n": 2, "pivot_separator": PIVOT_SEPARATOR,
                                       "metrics": {"em": {"value": 50.0}}}}})
        else:  # evaluation under way: the model folder says it is a pivot model
            write_model_info(tmp_path / "models" / label, "alpaca-pivot")
    table = Predictions(RunFolder(tmp_path)).table("xquad-zh")
    first = next(item for item in table["items"] if item["id"] == "56beb4343aeaaa14008c925b")
    for label in ("pivot", "pivot-running"):
        assert first["preds"][label]["scores"]["em"] == 100.0  # the final part "308" is the gold answer
        assert first["preds"][label]["text"] == answers[0]  # shown as generated, English part included
