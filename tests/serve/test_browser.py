"""The page in a real browser: headless Chromium (the Debian package) driven by playwright.

Skipped unless both are there (apt-get install chromium; pip install -e '.[browser]'). Run:

    python -m pytest tests/serve -m browser

By default it serves the fake run of conftest.py (tiny random models: the answers are noise). To
take the screenshots of docs/serve.md from a real run, start the server and point the test at it:

    lingalign serve runs/quickstart &
    LINGALIGN_SERVE_URL=http://127.0.0.1:7860 LINGALIGN_SCREENSHOTS=docs/img python -m pytest tests/serve -m browser
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("LINGALIGN_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[browser]'")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 820})
        page = context.pages[0] if context.pages else context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page, errors
        context.close()


@pytest.fixture(scope="module")
def url(request):
    external = os.environ.get("LINGALIGN_SERVE_URL")
    return external.rstrip("/") if external else request.getfixturevalue("live").url


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("LINGALIGN_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


def test_chat_answers_from_every_model_arrive_in_columns(browser_page, url, shots):
    page, errors = browser_page
    page.goto(f"{url}/chat")
    page.wait_for_selector("#model-choice input[type=checkbox]")
    labels = page.eval_on_selector_all("#model-choice input:checked", "boxes => boxes.map(b => b.value)")
    assert len(labels) >= 2
    page.fill("#prompt", "Translate the following sentence into Chinese.")
    page.click("#input-box summary")
    page.fill("#input", "The weather is nice today, so we are going to the park.")
    page.fill("#max-new", "40")
    page.click("#send")
    page.wait_for_function(
        "n => [...document.querySelectorAll('.col .status')]"
        ".filter(s => s.textContent.startsWith('done')).length === n",
        arg=len(labels), timeout=300_000)
    columns = page.query_selector_all(".col")
    assert [c.get_attribute("data-model") for c in columns] == labels
    for column in columns:
        assert column.query_selector(".answer").inner_text().strip()
        assert column.query_selector(".badge.lang").inner_text().strip()  # the detected language
    assert page.is_disabled("#stop") and not page.is_disabled("#send")
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "serve-chat.png"), full_page=True)
    assert (shots / "serve-chat.png").stat().st_size > 10_000
    assert not errors, errors


def test_an_empty_prompt_shows_a_message_on_the_page(browser_page, url):
    page, errors = browser_page
    page.goto(f"{url}/chat")
    page.wait_for_selector("#model-choice input[type=checkbox]")
    page.click("#send")
    assert "The prompt is empty" in page.inner_text("#chat-notices")
    assert not errors, errors


def test_the_stop_button_cancels_the_generation(browser_page, request, monkeypatch):
    """Stop closes the stream; the server's worker stops (its queue records a cancelled generation)."""
    if os.environ.get("LINGALIGN_SERVE_URL"):
        pytest.skip("needs the in-process test server")
    live = request.getfixturevalue("live")
    page, errors = browser_page
    model = live.app.state.models["base"]
    forward = model.model.forward
    monkeypatch.setattr(model.model, "forward", lambda *a, **k: time.sleep(0.03) or forward(*a, **k))
    live.app.state.queue.recent.clear()
    page.goto(f"{live.url}/chat")
    page.wait_for_selector("#model-choice input[type=checkbox]")
    page.uncheck("#model-choice input[value=tuned]")
    page.fill("#prompt", "Count slowly.")
    page.fill("#max-new", "300")
    page.click("#send")
    page.wait_for_function("() => document.querySelector('.col .status').textContent.startsWith('generating')")
    time.sleep(0.3)
    page.click("#stop")
    page.wait_for_function("() => document.querySelector('.col .status').textContent === 'stopped'")
    deadline = time.time() + 5
    while not live.app.state.queue.recent and time.time() < deadline:
        time.sleep(0.05)
    (entry,) = live.app.state.queue.recent
    assert entry["model"] == "base" and entry["cancelled"] and entry["new_tokens"] < 300
    assert not errors, errors


def hold_the_queue(live, gate):
    """A request from elsewhere that generates (held by the gate) until the gate opens: returns its thread."""
    def ask():
        with httpx.stream("POST", f"{live.url}/api/chat", json={"prompt": "Hold", "models": ["tuned"],
                                                                  "max_new_tokens": 2}, timeout=60) as response:
            response.read()

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while len(live.app.state.queue.line) != 1:
        assert time.time() < deadline, "the holding request did not start"
        time.sleep(0.02)
    return thread


def in_process_server(request):
    if os.environ.get("LINGALIGN_SERVE_URL"):
        pytest.skip("needs the in-process test server")
    return request.getfixturevalue("live"), request.getfixturevalue("gate")


def test_a_waiting_request_shows_its_place_in_the_queue(browser_page, request):
    live, gate = in_process_server(request)
    page, errors = browser_page
    page.goto(f"{live.url}/chat")
    page.wait_for_selector("#model-choice input[type=checkbox]")
    page.uncheck("#model-choice input[value=tuned]")
    page.fill("#prompt", "Wait your turn.")
    page.fill("#max-new", "3")
    holder = hold_the_queue(live, gate)
    page.click("#send")
    page.wait_for_selector("#queue-status")
    assert page.inner_text("#queue-status").startswith("In the queue: position 1 (1 request is served before yours")
    assert page.inner_text(".col .status") == "queued: position 1"
    page.screenshot(path=str(request.getfixturevalue("shots") / "serve-queue.png"))
    gate.set()
    page.wait_for_function("() => document.querySelector('.col .status').textContent.startsWith('done')")
    assert page.query_selector("#queue-status") is None  # gone once its turn came
    holder.join(timeout=30)
    assert not errors, errors


def test_a_full_queue_shows_the_busy_message_and_when_to_retry(browser_page, request, monkeypatch):
    live, gate = in_process_server(request)
    page, errors = browser_page
    monkeypatch.setattr(live.app.state.queue, "max_waiting", 0)  # one generating is already full
    page.goto(f"{live.url}/chat")
    page.wait_for_selector("#model-choice input[type=checkbox]")
    page.fill("#prompt", "Am I too late?")
    holder = hold_the_queue(live, gate)
    page.click("#send")
    page.wait_for_selector("#chat-notices .error")
    message = page.inner_text("#chat-notices .error")
    assert message.startswith("the server is busy: one request is generating and 0 waiting")
    assert "retry in about" in message
    assert not page.is_disabled("#send") and page.query_selector(".col") is None
    page.screenshot(path=str(request.getfixturevalue("shots") / "serve-busy.png"))
    gate.set()
    holder.join(timeout=30)
    assert not errors, errors


def test_predictions_tab_filters_items(browser_page, url, shots):
    page, errors = browser_page
    page.goto(f"{url}/browse?task=flores-en-zh")
    page.wait_for_selector("#items tr td")
    total = page.eval_on_selector_all("#items tr", "rows => rows.length") - 1
    assert total >= 1
    page.select_option("#wrong-lang", "any")  # items where some model did not answer in Chinese
    page.wait_for_selector("#items[data-query*='wrong_lang=any']")
    assert "wrong_lang=any" in page.url
    assert page.eval_on_selector_all("#items tr", "rows => rows.length") - 1 <= total
    page.screenshot(path=str(shots / "serve-browse.png"), full_page=False)
    page.click("nav a[data-tab=progress]")
    page.wait_for_selector("#steps tr td")
    assert "done" in page.inner_text("#steps")
    page.screenshot(path=str(shots / "serve-progress.png"), full_page=True)
    assert not errors, errors
