"""The chat queue of ``lingalign serve``: one generation at a time, each waiting request told its place,
at most ``max_queue`` waiting, the rest answered at once with 503 and Retry-After (issue 27, part 4)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest

from lingalign.cli import main
from lingalign.serve import command
from lingalign.serve.chat import DEFAULT_MAX_QUEUE, FIRST_GUESS_SECONDS, GenerationQueue, QueueFull

# ---- the queue on its own ---------------------------------------------------------------------------

def test_positions_move_up_as_requests_leave():
    async def scenario():
        queue = GenerationQueue(max_waiting=3)
        first, second, third = queue.enter(), queue.enter(), queue.enter()
        assert [first.position, second.position, third.position] == [0, 1, 2] and queue.waiting == 2
        seen = []

        async def follow():
            async for position in third.turns():
                seen.append(position)

        task = asyncio.create_task(follow())
        await asyncio.sleep(0)
        second.leave()  # a waiting client went away: those behind it move up
        await asyncio.sleep(0)
        first.leave(finished=True)
        await asyncio.wait_for(task, 1)
        assert seen == [2, 1, 0] and queue.line == [third]
        first.leave()  # leaving twice is harmless
        assert queue.line == [third] and len(queue.durations) == 1

    asyncio.run(scenario())


def test_a_full_queue_refuses_at_once_with_a_retry_time():
    queue = GenerationQueue(max_waiting=2)
    tickets = [queue.enter() for _ in range(3)]  # one generating, two waiting
    with pytest.raises(QueueFull) as refused:
        queue.enter()
    assert refused.value.retry_after == FIRST_GUESS_SECONDS  # no request has finished yet: the first guess
    assert str(refused.value) == ("the server is busy: one request is generating and 2 waiting, the most it lets "
                                  f"wait (lingalign serve --max-queue 2); retry in about {FIRST_GUESS_SECONDS} s")
    queue.durations.extend([4.2, 30.0, 5.1])  # the median, so one long answer does not set the retry time
    assert queue.retry_after() == 6 and queue.wait_seconds(2) == 11
    tickets[1].leave()
    assert queue.enter().position == 2  # a place freed: the next request is taken


def test_a_queue_of_zero_serves_only_when_idle():
    queue = GenerationQueue(max_waiting=0)
    running = queue.enter()
    with pytest.raises(QueueFull):
        queue.enter()
    running.leave()
    assert queue.enter().position == 0


def test_only_requests_that_ran_to_their_end_set_the_typical_time():
    queue = GenerationQueue()
    queue.enter().leave(finished=False)  # stopped after a token: says nothing about how long answers take
    assert not queue.durations and queue.retry_after() == FIRST_GUESS_SECONDS


def test_the_commands_default_is_the_queues():
    assert command.DEFAULT_MAX_QUEUE == DEFAULT_MAX_QUEUE == 8


# ---- over HTTP --------------------------------------------------------------------------------------

def read_events(response) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[len("data: "):])))
    return events


def wait_until(condition, seconds=20.0) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, f"timed out ({condition.__code__.co_firstlineno})"
        time.sleep(0.02)


def test_twelve_concurrent_chats_against_a_queue_of_eight(live, gate):
    """The bar of issue 27: each request gets an answer or a 503 with Retry-After; each queued one hears its
    position, and again at each move up; 1 generates + 8 wait, so exactly 3 are refused."""
    assert live.app.state.queue.max_waiting == 8
    body = {"prompt": "Say hello.", "models": ["base"], "max_new_tokens": 4, "sampling": True, "temperature": 1.0,
            "seed": 0}
    start, answered = threading.Barrier(12), threading.Semaphore(0)
    results: list[dict] = [{} for _ in range(12)]

    def ask(i):
        start.wait()
        with httpx.stream("POST", f"{live.url}/api/chat", json=body, timeout=120) as response:
            results[i].update(status=response.status_code, headers=dict(response.headers))
            answered.release()  # the status is known: accepted (the stream has begun) or refused
            if response.status_code == 200:
                results[i]["events"] = read_events(response)
            else:
                results[i]["body"] = json.loads(response.read())

    threads = [threading.Thread(target=ask, args=(i,), daemon=True) for i in range(12)]
    for thread in threads:
        thread.start()
    for _ in range(12):
        assert answered.acquire(timeout=60), "a request got no answer while the first was held"
    assert len(live.app.state.queue.line) == 9  # nothing has moved yet: one generating, eight waiting
    gate.set()
    for thread in threads:
        thread.join(timeout=120)

    served = [r for r in results if r["status"] == 200]
    refused = [r for r in results if r["status"] != 200]
    assert (len(served), len(refused)) == (9, 3)
    for r in refused:
        assert r["status"] == 503
        retry = int(r["headers"]["retry-after"])
        assert retry >= 1 and r["body"]["retry_after"] == retry
        assert r["body"]["error"].startswith("the server is busy: one request is generating and 8 waiting")
        assert f"retry in about {retry} s" in r["body"]["error"] and "--max-queue" in r["body"]["error"]
    first_positions = []
    for r in served:
        names = [name for name, _ in r["events"]]
        assert names[0] == "queued" and names[-1] == "end" and "done" in names
        positions = [data["position"] for name, data in r["events"] if name == "queued"]
        assert all(a > b for a, b in zip(positions, positions[1:])), positions  # only ever moves up
        assert positions[-1] == 0 and names.index("start") > names.index("queued")  # 0: its turn has come
        assert all(name != "queued" for name in names[names.index("start"):])  # told before its answer streams
        first_positions.append(positions[0])
    assert sorted(first_positions) == list(range(9))  # every queued one was told its place: 1 to 8
    waited = [r for r in served if r["events"][0][1]["position"] > 0]
    assert all(r["events"][0][1]["wait_seconds"] > 0 for r in waited)
    assert live.app.state.queue.line == []


def test_a_waiting_client_that_leaves_frees_its_place(live, gate):
    """A closed tab in the queue: it leaves at once and those behind it move up, before any generation ends."""
    body = {"prompt": "Hi", "models": ["tuned"], "max_new_tokens": 2}
    queue = live.app.state.queue
    events: dict[str, list] = {"first": [], "third": []}

    def ask(name):
        with httpx.stream("POST", f"{live.url}/api/chat", json=body, timeout=60) as response:
            events[name] = read_events(response)

    first = threading.Thread(target=ask, args=("first",), daemon=True)
    first.start()
    wait_until(lambda: len(queue.line) == 1)
    with httpx.Client(timeout=30) as client:
        with client.stream("POST", f"{live.url}/api/chat", json=body) as second:  # waits at position 1
            lines = second.iter_lines()  # kept: a dropped line iterator closes the connection
            assert next(lines) == "event: queued" and json.loads(next(lines)[len("data: "):])["position"] == 1
            third = threading.Thread(target=ask, args=("third",), daemon=True)
            third.start()
            wait_until(lambda: len(queue.line) == 3)
        wait_until(lambda: len(queue.line) == 2)  # the second closed its connection: its place is free
    gate.set()
    first.join(timeout=60)
    third.join(timeout=60)
    positions = [data["position"] for name, data in events["third"] if name == "queued"]
    assert positions == [2, 1, 0] and events["third"][-1][0] == "end"
    assert events["first"][-1][0] == "end" and queue.line == []


def test_the_page_gets_the_queue_limit(live):
    assert httpx.get(f"{live.url}/api/info").json()["limits"]["max_queue"] == 8


def test_a_negative_max_queue_is_a_one_line_error(capsys):
    assert main(["serve", "--model", "a=x", "--max-queue", "-1"]) == 2
    assert "--max-queue -1: expected 0 or more" in capsys.readouterr().err
