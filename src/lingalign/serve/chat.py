"""Side-by-side chat: models loaded once, one generation at a time, answers streamed token by token.

Each model is prompted as it was trained and evaluated: its folder's ``lingalign_model.json``
names the prompt format (``alpaca`` when it names none, as ``lingalign eval`` does), and the
Alpaca stop strings end an answer where the model starts a new section. Loading goes through the
generation layer's :class:`~lingalign.generation.hf_generator.HFGenerator`, as evaluation's does (same
dtype choice, same end-of-sequence ids, same one-line errors for a broken checkpoint).

The machine has two cores, so generations never run side by side: a request waits its turn in
:class:`GenerationQueue` (shared by every tab), told its position as it moves up, and then streams its
models one after the other. The queue is bounded: beyond ``max_waiting`` a request is refused at once
with a retry time, rather than accepted and left waiting for minutes.
``model.generate`` runs in a worker thread and hands text to the request through transformers'
``AsyncTextIteratorStreamer``; a stop button or a closed tab cancels the request, which sets an
event that a stopping criterion checks after every token, so the worker ends within one step.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import threading
import time
from collections import deque
from contextlib import aclosing
from dataclasses import dataclass
from typing import AsyncIterator

import anyio
import langcodes

from lingalign.errors import UserError
from lingalign.generation.hf_generator import HFGenerator
from lingalign.generation.stops import cut_at_stop
from lingalign.langid import detect_with_score
from lingalign.models import resolve_model
from lingalign.prompting import build_prompt, eval_stop_strings, read_model_prompt_format

log = logging.getLogger(__name__)

MAX_MODELS = 4          # columns on the page
MAX_NEW_TOKENS = 512    # per answer: a CPU decodes ~10-30 tokens/s for a 135M model
MAX_INPUT_CHARS = 8000  # prompt + input text kept from a request; the rest is cut, with a notice
DEFAULT_MAX_QUEUE = 8   # requests waiting behind the one generating; more are refused (503) rather than left waiting
FIRST_GUESS_SECONDS = 15  # how long a request takes, until one has finished (retry and wait estimates)
CONTEXT_CAP = 4096      # tokens of prompt + answer, whatever larger window a model has (CPU time)


@dataclass
class Settings:
    """Decoding settings of one request (validated by the HTTP layer)."""

    max_new_tokens: int = 128
    sampling: bool = False
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int | None = None


class ChatModel:
    """One loaded model with its tokenizer, prompt format and stop strings."""

    def __init__(self, label: str, path: str):
        self.label, self.path = label, path
        resolved = resolve_model(path)
        self.prompt_format = read_model_prompt_format(resolved) or "alpaca"  # as lingalign eval decides it
        generator = HFGenerator(resolved)  # trust_remote_code stays False: no code from model folders runs
        self.model, self.tokenizer, self.eos_ids = generator.model, generator.tokenizer, generator.eos_ids
        self.stops = eval_stop_strings(self.prompt_format)  # evaluate()'s: the template's, any new Alpaca section
        window = getattr(self.model.config, "max_position_embeddings", None) or CONTEXT_CAP
        self.context = min(int(window), CONTEXT_CAP)

    def info(self) -> dict:
        return {"label": self.label, "path": self.path, "prompt_format": self.prompt_format, "context": self.context}

    def prompt_ids(self, instruction: str, input: str, max_new_tokens: int) -> tuple[list[int], list[str]]:
        """Token ids of the prompt, and notices; the user's text is cut to fit the model's context."""
        notices = []
        special = self.prompt_format != "chat"  # a chat template writes its own special tokens
        tokenize = lambda text: self.tokenizer(text, add_special_tokens=special)["input_ids"]  # noqa: E731
        ids = tokenize(build_prompt(instruction, input, self.prompt_format, self.tokenizer))
        budget = self.context - max_new_tokens
        if len(ids) > budget:
            excess = len(ids) - budget
            field, text = ("input", input) if len(input) > len(instruction) else ("prompt", instruction)
            words = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            keep = len(words) - excess
            if keep < 1:
                raise UserError(f"{self.label}: {max_new_tokens} new tokens leave no room for the prompt in this "
                                f"model's {self.context}-token window; lower max new tokens")
            cut = self.tokenizer.decode(words[:keep], skip_special_tokens=True)
            instruction, input = (instruction, cut) if field == "input" else (cut, input)
            ids = tokenize(build_prompt(instruction, input, self.prompt_format, self.tokenizer))[-budget:]
            notices.append(f"{self.label}: the {field} was cut to its first {keep} of {len(words)} tokens to leave "
                           f"room for {max_new_tokens} new tokens in a {self.context}-token window")
        return ids, notices

    def generate(self, ids: list[int], settings: Settings, streamer, cancel: threading.Event, result: dict) -> None:
        """Decode into ``streamer`` (run in a worker thread); ``result`` gets new_tokens and text, or error."""
        import torch
        from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool)

        options = dict(max_new_tokens=settings.max_new_tokens, eos_token_id=self.eos_ids, use_cache=True,
                       pad_token_id=self.tokenizer.pad_token_id, stop_strings=self.stops or None)
        if settings.sampling:
            options.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
            if settings.seed is not None:
                torch.manual_seed(settings.seed)
        else:
            options.update(do_sample=False, num_beams=1)
        try:
            input_ids = torch.tensor([ids])
            with torch.inference_mode():
                out = self.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                          generation_config=GenerationConfig(**options), streamer=streamer,
                                          stopping_criteria=StoppingCriteriaList([Cancelled()]),
                                          tokenizer=self.tokenizer if self.stops else None)
            new = out[0, input_ids.shape[1]:]
            result["new_tokens"] = len(new)
            # the answer decoded in one piece, as evaluation decodes it (streamed pieces may split a character)
            result["text"] = self.tokenizer.decode(new, skip_special_tokens=True)
        except Exception as exc:  # shown in the model's column as one line; the server log has the traceback
            log.exception("%s: generation failed", self.label)
            text = str(exc).strip().splitlines()
            result["error"] = f"{type(exc).__name__}: {text[0] if text else ''}"
            streamer.end()  # release the reader


def load_models(paths: dict[str, str], *, strict: set[str] = frozenset(),
                echo=print) -> tuple[dict[str, ChatModel], dict[str, str]]:
    """Load every model once: ``(loaded, problems)``. A failure of a label in ``strict`` stops the command."""
    loaded, problems = {}, {}
    for label, path in paths.items():
        start = time.time()
        try:
            loaded[label] = ChatModel(label, path)
        except UserError as exc:
            if label in strict:
                raise UserError(f"--model {label}={path}: {exc.message}", hint=exc.hint) from None
            problems[label] = exc.message
            echo(f"  {label}: not loaded ({exc.message})")
            continue
        echo(f"  {label}: {path} ({loaded[label].prompt_format} prompt) loaded in {time.time() - start:.1f} s")
    return loaded, problems


def visible(text: str, stops: list[str]) -> str:
    """The part of a growing answer safe to show: before a stop string, minus a trailing partial one."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
    text = text[:cut]
    hold = max((k for s in stops for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
    return text[:len(text) - hold]


class QueueFull(Exception):
    """No place left in the queue: the request is answered at once (503) instead of waiting minutes unseen."""

    def __init__(self, waiting: int, max_waiting: int, retry_after: int):
        most = "the most it lets wait" if waiting == max_waiting else f"more than the {max_waiting} it lets wait"
        super().__init__(f"the server is busy: one request is generating and {waiting} waiting, {most} "
                         f"(lingalign serve --max-queue {max_waiting}); retry in about {retry_after} s")
        self.waiting, self.retry_after = waiting, retry_after


class Ticket:
    """One request's place in :class:`GenerationQueue`: position 0 generates, 1 is next, and so on."""

    def __init__(self, queue: GenerationQueue):
        self.queue = queue
        self.turn_started: float | None = None  # when its turn came (for the queue's duration estimate)
        self._moved = asyncio.Event()  # set whenever a request ahead of this one leaves

    @property
    def position(self) -> int:
        """Requests to be served before this one starts (the one generating counts); -1 once it has left."""
        line = self.queue.line
        return line.index(self) if self in line else -1

    async def turns(self) -> AsyncIterator[int]:
        """This request's position now and after each move up; ends when its turn comes (position 0)."""
        shown = None
        while True:
            self._moved.clear()  # before reading the position: a move while the caller handles it is not lost
            position = self.position
            if position != shown:
                shown = position
                yield position
            if position <= 0:
                return
            await self._moved.wait()

    def leave(self, finished: bool = False) -> None:
        """Give up the place (idempotent); ``finished``: the request ran to its end, so its time is typical."""
        self.queue.leave(self, finished)


class GenerationQueue:
    """One generation at a time across every request, in arrival order, with at most ``max_waiting`` waiting.

    A request takes a :class:`Ticket` with :meth:`enter` before its response starts, so a full queue is
    a 503 at once; the ticket follows the request to its end (done, stopped, or the client gone).
    """

    def __init__(self, max_waiting: int = DEFAULT_MAX_QUEUE):
        self.max_waiting = max_waiting
        self.line: list[Ticket] = []  # line[0] generates, the rest wait
        self.recent = deque(maxlen=50)  # the last generations: model, new tokens, seconds, cancelled
        self.durations = deque(maxlen=20)  # seconds of the last requests that ran to their end

    def record(self, entry: dict) -> None:
        self.recent.append(entry)
        log.info("%s: %d new tokens in %.1f s%s", entry["model"], entry["new_tokens"], entry["seconds"],
                 " (cancelled)" if entry["cancelled"] else "")

    def ahead(self) -> int:
        """Requests a new one would wait for (the one generating and those waiting)."""
        return len(self.line)

    @property
    def waiting(self) -> int:
        return max(0, len(self.line) - 1)

    def enter(self) -> Ticket:
        """A place at the end of the line, or QueueFull. No await: the check and the taking are one step."""
        if self.waiting >= self.max_waiting and self.line:
            raise QueueFull(self.waiting, self.max_waiting, self.retry_after())
        ticket = Ticket(self)
        self.line.append(ticket)
        if len(self.line) == 1:
            ticket.turn_started = time.monotonic()
        return ticket

    def leave(self, ticket: Ticket, finished: bool = False) -> None:
        """Remove ``ticket``; everyone behind it moves up one place (and the next one's turn may come)."""
        if ticket not in self.line:
            return
        index = self.line.index(ticket)
        self.line.pop(index)
        now = time.monotonic()
        if index == 0 and finished and ticket.turn_started is not None:
            self.durations.append(now - ticket.turn_started)
        if index == 0 and self.line:
            self.line[0].turn_started = now
        for behind in self.line[index:]:
            behind._moved.set()

    def typical_seconds(self) -> float:
        """How long one request holds the queue: the median of the last ones that ran to their end."""
        if not self.durations:
            return FIRST_GUESS_SECONDS
        return statistics.median(self.durations)

    def retry_after(self) -> int:
        """Seconds a refused request should wait: a place frees each time a request ends."""
        return max(1, math.ceil(self.typical_seconds()))

    def wait_seconds(self, position: int) -> int:
        """A rough wait for a request at ``position``, for the page to show next to it."""
        return math.ceil(position * self.typical_seconds())


def cut_input(instruction: str, input: str) -> tuple[str, str, list[str]]:
    """Keep at most MAX_INPUT_CHARS characters of the request's text, saying so when cutting."""
    notices = []
    if len(instruction) > MAX_INPUT_CHARS:
        notices.append(f"the prompt was cut to its first {MAX_INPUT_CHARS} of {len(instruction)} characters")
        instruction = instruction[:MAX_INPUT_CHARS]
    room = max(0, MAX_INPUT_CHARS - len(instruction))
    if len(input) > room:
        notices.append(f"the input was cut to its first {room} of {len(input)} characters")
        input = input[:room]
    return instruction, input, notices


async def chat_events(models: list[ChatModel], instruction: str, input: str, settings: Settings,
                      ticket: Ticket) -> AsyncIterator[tuple[str, dict]]:
    """``(event, data)`` pairs for one request: notice, queued (its position, again at each move up), then
    start, token..., done per model, end. The caller took ``ticket`` and gives it up when the response ends,
    however it ends; a request that runs to its end frees its place here, before its last event."""
    instruction, input, notices = cut_input(instruction, input)
    for notice in notices:
        yield "notice", {"message": notice}
    queue = ticket.queue
    async with aclosing(ticket.turns()) as turns:
        async for position in turns:
            yield "queued", {"position": position, "wait_seconds": queue.wait_seconds(position)}
    if ticket.position != 0:  # cannot happen while the response holds the ticket; never generate out of turn
        yield "error", {"message": "the request lost its place in the queue; send it again"}
        return
    for model in models:
        async with aclosing(_answer(model, instruction, input, settings, queue)) as answers:
            async for event in answers:
                yield event
    ticket.leave(finished=True)
    yield "end", {}


async def _answer(model: ChatModel, instruction: str, input: str, settings: Settings,
                  queue: GenerationQueue) -> AsyncIterator[tuple[str, dict]]:
    from transformers import AsyncTextIteratorStreamer

    try:
        ids, notices = model.prompt_ids(instruction, input, settings.max_new_tokens)
    except UserError as exc:
        yield "error", {"model": model.label, "message": exc.message}
        return
    for notice in notices:
        yield "notice", {"model": model.label, "message": notice}
    yield "start", {"model": model.label, "prompt_tokens": len(ids), "prompt_format": model.prompt_format}
    streamer = AsyncTextIteratorStreamer(model.tokenizer, skip_prompt=True, skip_special_tokens=True)
    cancel, result = threading.Event(), {}
    worker = threading.Thread(target=model.generate, args=(ids, settings, streamer, cancel, result), daemon=True)
    start = time.time()
    worker.start()
    text, shown, finished = "", "", False
    try:
        async for piece in streamer:
            text += piece
            now = visible(text, model.stops)
            if len(now) > len(shown):
                yield "token", {"model": model.label, "text": now[len(shown):]}
                shown = now
        finished = True
    finally:  # a closed tab or the stop button: stop the worker before the next request may start
        if not finished:
            cancel.set()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(worker.join)
        queue.record({"model": model.label, "new_tokens": result.get("new_tokens", 0),
                      "seconds": round(time.time() - start, 2), "cancelled": cancel.is_set()})
    if "error" in result:
        yield "error", {"model": model.label, "message": result["error"]}
        return
    answer = cut_at_stop(result.get("text", text), model.stops)
    lang, score = detect_with_score(answer)
    new_tokens = result.get("new_tokens", 0)
    seconds = time.time() - start
    yield "done", {"model": model.label, "text": answer, "lang": lang, "lang_name": language_name(lang),
                   "lang_score": round(score, 3), "new_tokens": new_tokens, "seconds": round(seconds, 2),
                   "stopped": "length" if new_tokens >= settings.max_new_tokens else "end"}


def language_name(code: str) -> str:
    """``zh`` -> ``Chinese`` (langcodes), for the badge's tooltip."""
    try:
        return langcodes.Language.get(code).display_name()
    except (LookupError, ValueError):
        return code
