"""A small fake run folder (two tiny random models, stored predictions, a run half done) and a live
``lingalign serve`` on it, listening on a free loopback port in a background thread."""

from __future__ import annotations

import shutil
import threading
import time

import pytest

from lingalign.artifacts import append_jsonl, write_json
from lingalign.config import samples_dir
from lingalign.serve.app import create_app
from lingalign.serve.chat import load_models
from lingalign.serve.command import bind
from lingalign.serve.runfolder import RunFolder

# XQuAD-zh items of the shipped sample: id -> gold answer.
XQUAD = {"56beb4343aeaaa14008c925b": "308", "56beb4343aeaaa14008c925c": "136 次",
         "56beb4343aeaaa14008c925d": "118", "56beb4343aeaaa14008c925e": "四次"}
# What each model "answered": base in English (right on b and d), tuned in Chinese (right on b, c, d).
ANSWERS = {
    "base": ["The defense gave up 308 points.", "I do not know the answer.", "He had 118 tackles.", "Four times."],
    "tuned": ["黑豹队的防守丢了308分。", "贾里德在职业生涯中有136 次擒杀。", "黑豹队的防守贡献了118次擒抱。",
              "约什·诺曼拦截了两次。"],
}


def _flores(n: int) -> tuple[list[str], list[str]]:
    folder = samples_dir() / "flores101" / "devtest"
    read = lambda name: (folder / name).read_text(encoding="utf-8").splitlines()[:n]  # noqa: E731
    return read("eng.devtest"), read("cmn_Hans.devtest")


def write_fake_run(root, base_model_dir, tuned_model_dir) -> None:
    """A run of recipe ``fake``: data and training done, base evaluated, the tuned model's evaluation under way."""
    (root / "recipe.yaml").write_text(
        f"name: fake\nbase_model: {base_model_dir}\ndatasets:\n  d: {{}}\n"
        "models:\n  - {name: tuned, data: d}\n"
        "evaluate: {tasks: [xquad-zh, flores-en-zh], limit: 4}\n", encoding="utf-8")
    shutil.copytree(tuned_model_dir, root / "models" / "tuned")
    write_json(root / "models" / "tuned" / "lingalign_model.json", {"prompt_format": "chat"})
    append_jsonl(root / "models" / "tuned" / "train_log.jsonl",
                 [{"step": s, "loss": round(3.0 - 0.3 * s, 3), "lr": 1e-4} for s in range(1, 6)])
    for key, seconds in (("data__d", 0.4), ("train__tuned", 120.0), ("eval__base", 30.0)):
        write_json(root / "steps" / f"{key}.json",
                   {"step": key.replace("__", ":"), "fingerprint": "x", "seconds": seconds})
    append_jsonl(root / "run_log.jsonl",
                 [{"step": k, "status": "done"} for k in ("data:d", "train:tuned", "eval:base")])

    sources, references = _flores(3)
    translations = {"base": sources, "tuned": [references[0], "他补充说。", "糖尿病的专家。"]}
    for label in ("base", "tuned"):
        folder = root / "eval" / label
        append_jsonl(folder / "predictions" / "xquad-zh.jsonl",
                     [{"id": i, "prompt": "...", "prediction": p, "references": [g]}
                      for (i, g), p in zip(XQUAD.items(), ANSWERS[label])])
        append_jsonl(folder / "predictions" / "flores-en-zh.jsonl",
                     [{"id": str(i), "prompt": "...", "prediction": p, "references": [r]}
                      for i, (p, r) in enumerate(zip(translations[label], references))])
        write_json(folder / "results.json", {
            "model": label, "prompt_format": "alpaca", "data_root": str(samples_dir()),
            "tasks": {"xquad-zh": {"kind": "qa", "lang": "zh", "n": 4, "metrics": {"inclusion": {"value": 50.0}}},
                      "flores-en-zh": {"kind": "translation", "lang": "zh", "split": "devtest", "n": 3,
                                       "metrics": {"chrf++": {"value": 20.0}}}}})


@pytest.fixture(scope="session")
def tuned_model_dir(tmp_path_factory, tiny_model_dir):
    """A second tiny model (other random weights, same tokenizer): the run's "tuned" model."""
    from transformers import AutoTokenizer

    from conftest import make_tiny_model

    folder = tmp_path_factory.mktemp("tiny-tuned")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    make_tiny_model(tokenizer, seed=1).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def fake_run(tmp_path_factory, tiny_model_dir, tuned_model_dir):
    root = tmp_path_factory.mktemp("runs") / "fake"
    root.mkdir()
    write_fake_run(root, tiny_model_dir, tuned_model_dir)
    return root


class LiveServer:
    """``lingalign serve`` on a free port, in a thread (the app and its queue are reachable for checks)."""

    def __init__(self, app, sock):
        import uvicorn

        self.app, self.port = app, sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_server(run_dir) -> LiveServer:
    run = RunFolder(run_dir)
    loaded, problems = load_models({k: v for k, v in run.chat_models().items() if v}, echo=lambda line: None)
    assert not problems, problems
    return LiveServer(create_app(run, loaded), bind("127.0.0.1", 0))


@pytest.fixture(scope="module")
def live(fake_run):
    server = start_server(fake_run)
    yield server
    server.stop()


@pytest.fixture
def gate(live, monkeypatch):
    """Decoding waits for the gate (and then takes ~20 ms a token): requests pile up while it is shut."""
    opened = threading.Event()
    for model in live.app.state.models.values():
        forward = model.model.forward

        def held(*args, _forward=forward, **kwargs):
            opened.wait(timeout=60)
            time.sleep(0.02)
            return _forward(*args, **kwargs)

        monkeypatch.setattr(model.model, "forward", held)
    yield opened
    opened.set()
