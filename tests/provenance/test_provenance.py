"""Provenance: one rule for precision auto, the block every result carries, and `lingalign env`."""

import json
from types import SimpleNamespace

import pytest
import torch

from lingalign import provenance
from lingalign.artifacts import read_json, write_manifest
from lingalign.cli import main as cli_main
from lingalign.evaluate import evaluate
from lingalign.generation.dtype import resolve_dtype
from lingalign.provenance import machine
from lingalign.train import TrainConfig, train
from lingalign.train.stage import resolve_precision

X86_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu avx2 avx512f avx512bw avx512_bf16 amx_bf16 amx_tile
processor\t: 1
model name\t: should not be read
"""
ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd sve bf16 i8mm
CPU implementer\t: 0x41
"""


def test_parse_cpuinfo_reads_the_first_processor_on_x86_and_arm():
    name, flags = provenance.parse_cpuinfo(X86_CPUINFO)
    assert name == "Intel(R) Xeon(R) Platinum 8480+"
    assert {"avx512_bf16", "amx_bf16", "avx2"} <= flags and "sve" not in flags
    name, flags = provenance.parse_cpuinfo(ARM_CPUINFO)
    assert name is None and "bf16" in flags


@pytest.fixture
def x86_cpu(monkeypatch):
    """An x86 CPU whose AVX512-BF16 / AMX / oneDNN answers the test sets."""
    monkeypatch.setattr(machine.platform, "machine", lambda: "x86_64")

    def configure(avx512_bf16=False, amx=False, onednn=False):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
        monkeypatch.setattr(machine, "onednn_bf16", lambda: onednn)
    return configure


def test_auto_precision_is_bf16_only_with_native_bf16(x86_cpu):
    x86_cpu()  # AVX2 only
    assert provenance.auto_precision("cpu") == "fp32"
    x86_cpu(onednn=True)  # AVX-512 without BF16: oneDNN says yes, but bf16 is emulated there
    assert provenance.auto_precision("cpu") == "fp32"
    x86_cpu(avx512_bf16=True, onednn=True)
    assert provenance.auto_precision("cpu") == "bf16"
    x86_cpu(amx=True, onednn=True)
    assert provenance.auto_precision("cpu") == "bf16"
    assert provenance.auto_precision("mps") == "fp32"


def test_evaluation_auto_dtype_follows_the_device_that_decodes(x86_cpu, monkeypatch):
    """An AVX2 host with a bf16 GPU: the hf backend decodes on the GPU, so auto means bf16 there."""
    x86_cpu()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_dtype("auto", "cuda") == "bfloat16"
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("float32", "cuda") == "float32"


def test_arm_asks_onednn(monkeypatch):
    monkeypatch.setattr(machine.platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(machine, "onednn_bf16", lambda: True)
    assert provenance.native_bf16() is True
    monkeypatch.setattr(machine, "onednn_bf16", lambda: False)
    assert provenance.native_bf16() is False


def test_training_and_evaluation_share_the_rule(x86_cpu):
    """Before, evaluation asked oneDNN (true on any AVX-512 CPU) and training asked for AVX512-BF16/AMX."""
    accelerator = SimpleNamespace(device=torch.device("cpu"))
    x86_cpu(onednn=True)
    assert (resolve_precision("auto", accelerator), resolve_dtype("auto")) == ("fp32", "float32")
    x86_cpu(avx512_bf16=True, onednn=True)
    assert (resolve_precision("auto", accelerator), resolve_dtype("auto")) == ("bf16", "bfloat16")
    assert (resolve_precision("fp32", accelerator), resolve_dtype("float32")) == ("fp32", "float32")


def test_cpu_kind_labels():
    assert provenance.cpu_kind({"native_bf16": False, "torch_isa": "AVX2", "arch": "x86_64"}) == "AVX2 (no native bf16)"
    avx512 = {"native_bf16": False, "torch_isa": "AVX512", "arch": "x86_64"}
    assert provenance.cpu_kind(avx512) == "AVX512 (no native bf16)"
    assert provenance.cpu_kind({"native_bf16": True, "amx": True, "arch": "x86_64"}) == "AMX-BF16 (native bf16)"
    assert provenance.cpu_kind({"native_bf16": True, "amx": False, "arch": "x86_64"}) == "AVX512-BF16 (native bf16)"
    assert provenance.cpu_kind({"native_bf16": True, "arch": "aarch64"}) == "aarch64 BF16 (native bf16)"


def test_block_on_this_machine():
    block = provenance.provenance(train="bf16", eval="float32", analysis=None)
    assert block["precision"] == {"train": "bf16", "eval": "fp32"}
    assert block["native_bf16"] is provenance.native_bf16() is block["cpu"]["native_bf16"]
    assert block["cpu"]["kind"].endswith("(native bf16)" if block["native_bf16"] else "(no native bf16)")
    assert block["cpu"]["torch_threads"] == torch.get_num_threads()
    assert block["cpu"]["torch_isa"] == torch.backends.cpu.get_cpu_capability()
    assert block["torch"] and block["torch"].startswith(torch.__version__.split("+")[0])
    assert block["transformers"] and block["device"]["type"] in ("cpu", "cuda")
    assert provenance.provenance(torch_device=torch.device("cpu"))["device"] == {"type": "cpu"}


def _block(precision, kind, torch_version="2.13.0"):
    return {"precision": precision, "native_bf16": kind.endswith("(native bf16)"),
            "cpu": {"kind": kind, "model": "X", "torch_threads": 2}, "device": {"type": "cpu"},
            "torch": torch_version, "transformers": "5.1.0"}


def test_describe_and_differences():
    avx2 = _block({"eval": "fp32"}, "AVX2 (no native bf16)")
    amx = _block({"eval": "bf16"}, "AMX-BF16 (native bf16)")
    line = provenance.describe(avx2)
    assert line == "eval fp32 · AVX2 (no native bf16), X, 2 threads · cpu · torch 2.13.0, transformers 5.1.0"
    found = provenance.differences(provenance.key_facts(avx2), provenance.key_facts(amx))
    assert found == ["eval precision fp32 vs bf16", "CPU kind AVX2 (no native bf16) vs AMX-BF16 (native bf16)"]
    assert provenance.differences(provenance.key_facts(avx2), provenance.key_facts(avx2)) == []
    trained_elsewhere = {**avx2, "precision": {"train": "bf16", "eval": "fp32"},
                         "trained_on": {"precision": "bf16", "cpu_kind": "AMX-BF16 (native bf16)"}}
    assert provenance.describe(trained_elsewhere).startswith(
        "train bf16 (on AMX-BF16 (native bf16)), eval fp32 · AVX2")
    assert "training CPU kind" not in " ".join(provenance.differences(
        provenance.key_facts(avx2), provenance.key_facts(trained_elsewhere)))  # avx2 has no training stage
    # A result written before provenance existed: its generation dtype is all there is.
    assert provenance.describe(None, "float32") == "eval fp32 (no provenance recorded)"
    assert provenance.differences(provenance.key_facts(None, "bfloat16"), provenance.key_facts(avx2)) == [
        "eval precision bf16 vs fp32"]


def test_summarize_names_the_steps_when_precisions_differ():
    avx2 = _block({"train": "fp32"}, "AVX2 (no native bf16)")
    steps = {"train:a": avx2, "train:b": _block({"train": "bf16"}, "AVX2 (no native bf16)"),
             "eval:a": _block({"train": "fp32", "eval": "fp32"}, "AVX2 (no native bf16)"), "eval:old": None}
    line = provenance.summarize(steps)
    assert line.startswith("precision: train fp32 (a), bf16 (b); eval fp32 · machine: AVX2 (no native bf16), X, cpu;")
    assert "machine not recorded for eval:old" in line
    steps["eval:a"] = _block({"eval": "bf16"}, "AMX-BF16 (native bf16)")
    assert "machines: AVX2 (no native bf16)" in provenance.summarize(steps)


def test_trained_with_reads_new_and_old_manifests(tmp_path):
    write_manifest(tmp_path / "new", stage="train", fingerprint="f", derived={"precision": "fp32"},
                   provenance=_block({"train": "bf16"}, "AMX-BF16 (native bf16)"))
    assert provenance.trained_with(tmp_path / "new") == {
        "precision": "bf16", "cpu_kind": "AMX-BF16 (native bf16)", "native_bf16": True, "device": "cpu"}
    write_manifest(tmp_path / "old", stage="train", fingerprint="f", derived={"precision": "fp32"})
    assert provenance.trained_with(tmp_path / "old") == {"precision": "fp32"}
    assert provenance.trained_with(tmp_path / "missing") is None


def test_trained_model_then_evaluated_records_both_stages(tiny_model_dir, tmp_path, samples_dir):
    """The bar of issue 19 on a tiny model: the train manifest and eval's results.json (and its
    manifest) name the precision used and whether the CPU has native bf16."""
    data = tmp_path / "data"
    data.mkdir()
    en = (samples_dir / "bitext/newstest2017.en-zh.en").read_text(encoding="utf-8").splitlines()[:6]
    zh = (samples_dir / "bitext/newstest2017.en-zh.zh").read_text(encoding="utf-8").splitlines()[:6]
    (data / "train.jsonl").write_text("".join(
        json.dumps({"instruction": "Translate into Chinese.", "input": s, "output": t}, ensure_ascii=False) + "\n"
        for s, t in zip(en, zh)), encoding="utf-8")
    config = TrainConfig(model=str(tiny_model_dir), max_length=256, micro_batch_size=2, precision="fp32")
    model = train(config, data, tmp_path / "model")
    trained = read_json(model / "manifest.json")["provenance"]
    assert trained["precision"] == {"train": "fp32"}
    assert trained["native_bf16"] is provenance.native_bf16() and trained["device"] == {"type": "cpu"}

    results = evaluate(str(model), "flores-en-zh", tmp_path / "eval", limit=2, batch_size=2, max_new_tokens=3,
                       dtype="auto")
    block = results["provenance"]
    expected_eval = provenance.auto_precision("cpu")
    assert block["precision"] == {"train": "fp32", "eval": expected_eval}
    assert results["generation"]["dtype"] == {"fp32": "float32", "bf16": "bfloat16"}[expected_eval]
    assert block["native_bf16"] is provenance.native_bf16()
    assert block["trained_on"]["cpu_kind"] == trained["cpu"]["kind"]
    assert read_json(tmp_path / "eval/results.json")["provenance"] == block
    assert read_json(tmp_path / "eval/manifest.json")["provenance"] == block


def test_env_verb_text_and_json(capsys):
    assert cli_main(["env"]) == 0
    text = capsys.readouterr().out
    kind = provenance.cpu()["kind"]
    assert f"kind: {kind}" in text and f"torch {torch.__version__}" in text and "precision auto here" in text
    assert cli_main(["env", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["native_bf16"] is provenance.native_bf16() and facts["cpu"]["kind"] == kind
    assert facts["auto_precision"]["eval"] == provenance.auto_precision("cpu")
    assert facts["versions"]["torch"] == facts["torch"]
