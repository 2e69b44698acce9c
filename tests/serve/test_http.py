"""``lingalign serve`` over HTTP, on a fake run folder with two tiny random models."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from lingalign.report.command import write_report
from lingalign.serve.app import ChatRequest


def chat_events(url: str, body: dict) -> list[tuple[str, dict]]:
    """POST a chat request and read its server-sent events to the end: ``[(event, data), ...]``."""
    events, name = [], None
    with httpx.stream("POST", f"{url}/api/chat", json=body, timeout=120) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: "):])))
    return events


def test_page_loads_with_the_runs_models(live):
    page = httpx.get(f"{live.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>lingalign serve</title>" in page.text and "/static/app.js" in page.text
    assert httpx.get(f"{live.url}/browse?task=xquad-zh").text == page.text  # the report links here
    assert "EventSource" not in httpx.get(f"{live.url}/static/app.js").text  # streams over fetch (POST), see app.js
    info = httpx.get(f"{live.url}/api/info").json()
    assert info["run"] == "fake"
    assert [(m["label"], m["prompt_format"]) for m in info["models"]] == [("base", "alpaca"), ("tuned", "chat")]


def test_a_chat_request_streams_tokens_from_both_models(live):
    events = chat_events(live.url, {"prompt": "Translate into Chinese.", "input": "Good morning, how are you?",
                                    "sampling": True, "temperature": 1.0, "seed": 0, "max_new_tokens": 12})
    names = [name for name, _ in events]
    assert names[0] == "queued" and names[-1] == "end"
    for label in ("base", "tuned"):
        mine = [(name, data) for name, data in events if data.get("model") == label]
        assert mine[0][0] == "start" and mine[-1][0] == "done"
        tokens = [data["text"] for name, data in mine if name == "token"]
        assert tokens, f"{label} streamed no text"
        done = mine[-1][1]
        assert done["text"].startswith("".join(tokens).strip())  # the final text is what was streamed (cut at a stop)
        assert 0 < done["new_tokens"] <= 12 and done["lang"]
    # one generation at a time: base finishes before tuned starts
    order = [(name, data.get("model")) for name, data in events if name in ("start", "done")]
    assert order == [("start", "base"), ("done", "base"), ("start", "tuned"), ("done", "tuned")]


def test_one_model_can_be_chosen_and_a_path_cannot(live):
    events = chat_events(live.url, {"prompt": "Hello", "models": ["tuned"], "max_new_tokens": 3})
    assert {data.get("model") for name, data in events if name == "done"} == {"tuned"}
    refused = httpx.post(f"{live.url}/api/chat", json={"prompt": "Hello", "models": ["/etc/passwd"]})
    assert refused.status_code == 400 and "chosen by label" in refused.json()["error"]


def test_an_empty_prompt_or_bad_setting_is_a_clear_message(live):
    empty = httpx.post(f"{live.url}/api/chat", json={"prompt": "   "})
    assert empty.status_code == 400
    assert empty.json() == {"error": "the prompt is empty: type a question or an instruction"}
    too_many = httpx.post(f"{live.url}/api/chat", json={"prompt": "Hi", "max_new_tokens": 100000})
    assert too_many.status_code == 400 and too_many.json()["error"].startswith("max_new_tokens:")
    assert "Traceback" not in too_many.text


def test_a_long_input_is_cut_with_a_message(live):
    events = chat_events(live.url, {"prompt": "Summarise.", "input": "word " * 3000, "models": ["base"],
                                    "max_new_tokens": 4})
    notices = [data["message"] for name, data in events if name == "notice"]
    assert any("input was cut to its first" in n and "characters" in n for n in notices)  # 15000 -> 8000 chars
    assert any(n.startswith("base: the input was cut to its first") and "512-token window" in n for n in notices)
    assert [name for name, _ in events if name == "done"] == ["done"]


def test_a_closed_connection_stops_the_generation(live, monkeypatch):
    """The client goes away while a model decodes: the worker stops and the queue frees at once."""
    model, queue = live.app.state.models["base"], live.app.state.queue
    forward = model.model.forward

    def slow_forward(*args, **kwargs):  # ~30 ms a token: 300 tokens would take 9 s
        time.sleep(0.03)
        return forward(*args, **kwargs)

    monkeypatch.setattr(model.model, "forward", slow_forward)
    queue.recent.clear()
    seen = queue.recent
    body = {"prompt": "Count to one thousand.", "models": ["base"], "sampling": True, "temperature": 1.0,
            "seed": 1, "max_new_tokens": 300}  # the tiny model's window is 512 tokens
    start = time.time()
    with httpx.stream("POST", f"{live.url}/api/chat", json=body, timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("event: start"):
                time.sleep(0.5)  # the server has started decoding (it resumes as soon as "start" is sent)
                break
    deadline = time.time() + 10
    while not seen and time.time() < deadline:
        time.sleep(0.05)
    assert seen and seen[0]["model"] == "base" and seen[0]["cancelled"]
    assert seen[0]["new_tokens"] < 300 and time.time() - start < 6
    # the queue is free: the next request starts at once
    events = chat_events(live.url, {"prompt": "Hi", "models": ["tuned"], "max_new_tokens": 2})
    assert events[0] == ("queued", {"position": 0, "wait_seconds": 0})


def test_requests_queue_one_generation_at_a_time(live, monkeypatch):
    """Two tabs: the second waits (position 1) and starts only after the first is done."""
    for model in live.app.state.models.values():  # ~20 ms a token, so the first request is still running
        forward = model.model.forward
        monkeypatch.setattr(model.model, "forward",
                            lambda *a, _forward=forward, **k: time.sleep(0.02) or _forward(*a, **k))
    results = {}

    def ask(name, body):
        results[name] = chat_events(live.url, body)

    first = threading.Thread(target=ask, args=("first", {"prompt": "One", "models": ["base", "tuned"],
                                                         "max_new_tokens": 40, "sampling": True, "temperature": 1.0,
                                                         "seed": 3}))
    first.start()
    deadline = time.time() + 10
    while live.app.state.queue.ahead() == 0 and time.time() < deadline:  # until the first holds the queue
        time.sleep(0.01)
    ask("second", {"prompt": "Two", "models": ["tuned"], "max_new_tokens": 2})
    first.join(timeout=60)
    assert results["second"][0][0] == "queued" and results["second"][0][1]["position"] == 1
    assert [data["position"] for name, data in results["second"] if name == "queued"] == [1, 0]
    assert results["first"][-1][0] == "end" and results["second"][-1][0] == "end"


# ---- the predictions browser ---------------------------------------------------------------------

def items(live, **params) -> dict:
    response = httpx.get(f"{live.url}/api/items", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_tasks_list_kind_language_and_models(live):
    tasks = {t["task"]: t for t in httpx.get(f"{live.url}/api/tasks").json()["tasks"]}
    assert set(tasks) == {"xquad-zh", "flores-en-zh"}
    assert tasks["xquad-zh"]["kind"] == "qa" and tasks["xquad-zh"]["models"] == ["base", "tuned"]
    assert tasks["flores-en-zh"]["metrics"] == ["chrf++"]


def test_items_carry_question_gold_predictions_and_scores(live):
    data = items(live, task="xquad-zh", metric="inclusion")
    assert (data["total"], data["matched"]) == (4, 4)
    first = data["items"][0]
    assert "黑豹队的防守丢了多少分" in first["question"]  # read from the task data the evaluation used
    assert first["gold"] == ["308"] and "308" in first["context"] or first["context"]
    assert first["preds"]["tuned"]["scores"]["inclusion"] == 100.0
    assert [i["preds"]["base"]["scores"]["inclusion"] for i in data["items"]] == [100.0, 0.0, 100.0, 0.0]
    assert data["summary"]["base"]["mean"] == 50.0


def test_filters_disagree_wrong_language_score_range_and_text(live):
    ids = lambda data: [i["id"][-1] for i in data["items"]]  # noqa: E731  (last letter of the XQuAD id)
    assert ids(items(live, task="xquad-zh", metric="inclusion", disagree=1)) == ["c"]
    assert items(live, task="xquad-zh", wrong_lang="base")["matched"] == 4
    assert items(live, task="xquad-zh", wrong_lang="tuned")["matched"] == 0
    assert ids(items(live, task="xquad-zh", metric="inclusion", score_model="tuned", min=0, max=0)) == ["e"]
    assert ids(items(live, task="xquad-zh", metric="inclusion", score_model="all", min=100, max=100)) == ["b", "d"]
    assert ids(items(live, task="xquad-zh", q="四次")) == ["e"]
    assert ids(items(live, task="xquad-zh", limit=2, offset=2)) == ["d", "e"]


def test_translation_items_use_sentence_chrf(live):
    data = items(live, task="flores-en-zh")
    first = data["items"][0]
    assert first["source"].startswith('"We now have 4-month-old mice')
    assert first["preds"]["tuned"]["scores"]["chrf++"] == 100.0  # the reference itself
    assert all(i["preds"]["base"]["wrong_lang"] for i in data["items"])  # the copied English source
    assert items(live, task="flores-en-zh", wrong_lang="any")["matched"] == 3


def test_bad_browser_requests_are_clear_messages(live):
    unknown = httpx.get(f"{live.url}/api/items", params={"task": "../../etc/passwd"})
    assert unknown.status_code == 400 and unknown.json()["error"].startswith("unknown task '../../etc/passwd'")
    metric = httpx.get(f"{live.url}/api/items", params={"task": "xquad-zh", "metric": "bleu"})
    assert metric.status_code == 400 and "available: f1, inclusion, em" in metric.json()["error"]
    model = httpx.get(f"{live.url}/api/items", params={"task": "xquad-zh", "wrong_lang": "nobody"})
    assert model.status_code == 400 and "unknown model 'nobody'" in model.json()["error"]


# ---- paths, hosts, report -------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/files//etc/passwd",
                                  "/files/models/..%2F..%2F..%2Fetc%2Fpasswd"])
def test_a_path_outside_the_run_folder_is_refused(live, path):
    with httpx.Client() as client:
        response = client.send(client.build_request("GET", live.url + "/"), stream=False)  # warm-up
        request = client.build_request("GET", live.url + "/")
        request.url = request.url.copy_with(raw_path=path.encode())
        response = client.send(request)
    assert response.status_code in (403, 404) and "root:" not in response.text
    assert "error" in response.json()


def test_files_inside_the_run_folder_are_served(live, fake_run):
    recipe = httpx.get(f"{live.url}/files/recipe.yaml")
    assert recipe.status_code == 200 and "name: fake" in recipe.text
    escape = fake_run / "models" / "link-out"
    escape.symlink_to("/etc")
    try:
        assert httpx.get(f"{live.url}/files/models/link-out/hostname").status_code == 403
    finally:
        escape.unlink()


def test_another_host_name_is_refused(live):
    """A page on another site that rebinds its name to 127.0.0.1 cannot read the run (DNS rebinding)."""
    response = httpx.get(f"{live.url}/api/info", headers={"Host": "evil.example"})
    assert response.status_code == 400


def test_report_links_into_the_browser_and_is_served(live, fake_run):
    write_report(fake_run)
    try:
        page = httpx.get(f"{live.url}/report")
        assert page.status_code == 200
        assert 'href="/browse?task=xquad-zh"' in page.text
    finally:
        (fake_run / "report.html").unlink()
    missing = httpx.get(f"{live.url}/report")
    assert missing.status_code == 404 and "no report.html yet" in missing.json()["error"]


# ---- progress ------------------------------------------------------------------------------------

def test_progress_shows_steps_and_the_loss_curve(live):
    state = httpx.get(f"{live.url}/api/progress").json()
    status = {s["step"]: s["status"] for s in state["steps"]}
    assert status == {"data:d": "done", "train:tuned": "done", "eval:base": "done", "eval:tuned": "running"}
    assert state["active"] is True
    assert state["loss_chart"].startswith("data:image/png;base64,")
    assert state["losses"]["tuned"][-1] == [5, 1.5]
    detail = {s["step"]: s["detail"] for s in state["steps"]}
    assert detail["train:tuned"] == "step 5, loss 1.500"
    assert detail["eval:tuned"] == "predictions: flores-en-zh 3, xquad-zh 4"


def test_the_api_never_answers_with_a_traceback(live):
    response = httpx.post(f"{live.url}/api/chat", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "Traceback" not in response.text
    assert json.loads(response.text)["error"]


EXPECTED = ("expected a JSON object {prompt: str, input: str, models: [str] | null, sampling: bool, "
            "temperature: number, top_p: number, max_new_tokens: int, seed: int | null}")


@pytest.mark.parametrize("body, content_type, problem", [
    (b"{not json", "application/json", "the body is not valid JSON (Expecting property name enclosed in double quotes "
                                       "at line 1, column 2)"),
    (b'{"prompt": "Hi",\n "seed": }', "application/json", "the body is not valid JSON (Expecting value at line 2, "
                                                          "column 10)"),
    (b'["Hi"]', "application/json", "the body is not a JSON object"),
    (b"", "application/json", "the body is empty"),
    (b'{"prompt": "Hi", "temprature": 1}', "application/json", "temprature: Extra inputs are not permitted"),
    (b'{"prompt": "Hi"}', "application/x-www-form-urlencoded",  # curl -d without -H
     "the body was sent as application/x-www-form-urlencoded, not as application/json"),
])
def test_a_body_that_is_not_the_request_says_what_was_expected(live, body, content_type, problem):
    """Not only a character offset: the fields and their types, read from the request model itself."""
    response = httpx.post(f"{live.url}/api/chat", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith(problem) and EXPECTED in error and "\n" not in error
    assert all(f"{field}:" in error for field in ChatRequest.model_fields)


def test_a_wrong_field_keeps_its_own_short_message(live):
    response = httpx.post(f"{live.url}/api/chat", json={"prompt": 5})
    assert response.status_code == 400 and response.json() == {"error": "prompt: Input should be a valid string"}
