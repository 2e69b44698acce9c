"""The ``lingalign scaling`` commands end to end on a small CSV: files written, bad input -> exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from lingalign.cli import main
from lingalign.data.recipe import load_data_recipe

SIZES = [100, 200, 400, 800, 1600, 3200]


@pytest.fixture
def points(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["language,size,metric,value,model,seed"]
    for lang, a, b in (("zh", 4.0, 8.0), ("vi", 2.0, 15.0)):
        for size in SIZES:
            lines.append(f"{lang},{size},chrf++,{a * np.log(size) + b + rng.normal(0, 0.2):.4f},m,0")
            lines.append(f"{lang},{size},bleu,1.0,m,0")
    path = tmp_path / "points.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_predict_allocate(points, tmp_path, capsys):
    out = tmp_path / "fit"
    assert main(["scaling", "fit", str(points), "-o", str(out), "--metric", "chrf++",
                 "--forms", "log-linear,saturating", "--bootstrap", "50"]) == 0
    law = json.loads((out / "law.json").read_text())
    assert set(law["languages"]) == {"zh", "vi"}
    assert (out / "fit.png").stat().st_size > 1000 and (out / "manifest.json").exists()
    assert set(law["forms"]) == {"log-linear", "saturating"}
    assert law["languages"]["zh"]["sizes"] == [float(s) for s in SIZES]

    capsys.readouterr()
    assert main(["scaling", "predict", str(out), "--size", "1000", "--lang", "zh", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["interval"][0] <= row["score"] <= row["interval"][1]
    assert main(["scaling", "predict", str(out / "law.json"), "--target", str(row["score"]), "--lang", "zh",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["size"] == pytest.approx(1000, rel=1e-6)

    mix = tmp_path / "mix.yaml"
    assert main(["scaling", "allocate", str(out), "--budget", "3000", "--available", "zh=2500,vi=2500",
                 "-o", str(mix)]) == 0
    written = yaml.safe_load(mix.read_text())
    assert sum(written["counts"].values()) == 3000
    assert set(written["comparison"]) == {"optimal", "uniform", "proportional"}
    assert written["comparison"]["optimal"]["weighted_sum"] >= written["comparison"]["uniform"]["weighted_sum"]


def test_allocate_writes_a_full_data_recipe(points, tmp_path):
    out = tmp_path / "fit"
    assert main(["scaling", "fit", str(points), "-o", str(out), "--metric", "chrf++", "--forms", "log-linear",
                 "--bootstrap", "20"]) == 0
    base = tmp_path / "muit.yaml"
    base.write_text(yaml.safe_dump({"data": {"seed": 0, "total": 300, "sources": [
        {"name": "alpaca-en", "kind": "instructions", "path": "sample:alpaca/alpaca_en_zh.json", "lang": "en",
         "fields": {"instruction": "en_instruction", "output": "en_output"}, "count": 5},
        {"name": "news-en-zh", "kind": "bitext", "path": "sample:bitext/newstest2017.en-zh", "languages": ["en", "zh"],
         "weight": 1},
        {"name": "tatoeba-en-vi", "kind": "bitext", "path": "sample:bitext/tatoeba.eng-vie",
         "languages": ["eng", "vie"], "weight": 1},
    ]}}, sort_keys=False))
    mix = tmp_path / "muit-allocated.yaml"
    assert main(["scaling", "allocate", str(out), "--budget", "600", "-o", str(mix), "--recipe", str(base),
                 "--source-for", "zh=news-en-zh,vi=tatoeba-en-vi"]) == 0
    recipe = yaml.safe_load(mix.read_text())["data"]
    counts = {s["name"]: s.get("count") for s in recipe["sources"]}
    assert counts["news-en-zh"] + counts["tatoeba-en-vi"] == 600 and counts["alpaca-en"] == 5
    assert "total" not in recipe and all("weight" not in s for s in recipe["sources"])
    assert mix.read_text().startswith("# allocation:")
    assert load_data_recipe(mix).sources[1].count == counts["news-en-zh"]


@pytest.mark.parametrize("make, args, message", [
    (lambda p: p.write_text("language,size,value\nzh,10,1\n"), ["fit"], "missing column(s) metric, model, seed"),
    (lambda p: p.write_text("language,size,metric,value,model,seed\nzh,0,chrf++,1,m,0\n"), ["fit"],
     "sizes must be positive"),
    (lambda p: p.write_text("language,size,metric,value,model,seed\nzh,10,chrf++,1,m,0\nzh,20,bleu,1,m,0\n"), ["fit"],
     "several metrics"),
    (lambda p: p.write_text("language,size,metric,value,model,seed\nzh,10,chrf++,x,m,0\n"), ["fit"],
     "expected a number"),
    (lambda p: p.write_text("language,size,metric,value,model,seed\nzh,10,chrf++,1,m,0\n"), ["fit"],
     "no candidate form"),
])
def test_fit_bad_input(tmp_path, capsys, make, args, message):
    path = tmp_path / "p.csv"
    make(path)
    assert main(["scaling", *args, str(path), "-o", str(tmp_path / "o"), "--bootstrap", "0"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--budget", "-5"], "must not be negative"),
    (["--budget", "100000", "--available", "zh=10,vi=10"], "more than the 20 pairs available"),
    (["--budget", "100", "--available", "fr=10"], "unknown language(s) fr"),
    (["--budget", "100", "--weights", "zh=x"], "not a number"),
])
def test_allocate_bad_input(points, tmp_path, capsys, args, message):
    out = tmp_path / "fit"
    assert main(["scaling", "fit", str(points), "-o", str(out), "--metric", "chrf++", "--forms", "log-linear",
                 "--bootstrap", "10"]) == 0
    capsys.readouterr()
    assert main(["scaling", "allocate", str(out), *args, "-o", str(tmp_path / "m.yaml")]) == 2
    assert message in capsys.readouterr().err


def test_shared_fit_needs_distances(points, tmp_path, capsys):
    assert main(["scaling", "fit", str(points), "-o", str(tmp_path / "o"), "--metric", "chrf++", "--shared"]) == 2
    assert "--shared needs a distance" in capsys.readouterr().err
    assert main(["scaling", "fit", str(points), "-o", str(tmp_path / "o"), "--metric", "chrf++", "--shared",
                 "--distance", "zh=0.2,vi=0.3", "--forms", "log-linear", "--bootstrap", "20"]) == 0
    law = json.loads((tmp_path / "o" / "law.json").read_text())
    assert law["mode"] == "shared" and set(law["shared"]["coefficients"]) == {"a0", "a1", "b[vi]", "b[zh]"}
