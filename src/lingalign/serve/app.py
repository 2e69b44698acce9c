"""The HTTP routes of ``lingalign serve`` (FastAPI).

    GET  /, /chat, /browse, /progress   the page (one HTML file; the path picks the tab)
    GET  /api/info                      run name, models and their prompt formats, limits
    POST /api/chat                      a prompt -> server-sent events: notice, queued (position), start, token,
                                        done, error, end; or 503 with Retry-After when the queue is full
    GET  /api/tasks, /api/items         the predictions browser (items filtered and paged)
    GET  /api/progress                  steps of the run and the training loss chart so far
    GET  /report, /files/<path>         the run's HTML report and other files of the run folder

Errors reach the page as ``{"error": "one line"}`` with a 4xx status (or as an ``error`` event
inside a stream), never as a traceback. Models are named by label only: a request cannot make the
server read a path, and files are served from inside the run folder only.
"""

from __future__ import annotations

import json
import logging
import types
import typing
from contextlib import aclosing
from importlib import resources
from typing import Optional

import anyio
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.sse import EventSourceResponse, format_sse_event
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from lingalign.errors import UserError
from lingalign.serve.browse import Predictions
from lingalign.serve.chat import (
    DEFAULT_MAX_QUEUE,
    MAX_INPUT_CHARS,
    MAX_MODELS,
    MAX_NEW_TOKENS,
    ChatModel,
    GenerationQueue,
    QueueFull,
    Settings,
    Ticket,
    chat_events,
)
from lingalign.serve.runfolder import RunFolder

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field("", description="the instruction or question")
    input: str = Field("", description="optional input the instruction refers to (a sentence to translate, a passage)")
    models: Optional[list[str]] = Field(None, description="labels of loaded models (default: all)")
    sampling: bool = False
    temperature: float = Field(0.7, gt=0, le=2)
    top_p: float = Field(0.9, gt=0, le=1)
    max_new_tokens: int = Field(128, ge=1, le=MAX_NEW_TOKENS)
    seed: Optional[int] = Field(None, ge=0)


def type_name(annotation) -> str:
    """``Optional[list[str]]`` -> ``[str] | null``: a field's type as a JSON user would write it."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " | ".join("null" if arg is type(None) else type_name(arg) for arg in typing.get_args(annotation))
    if typing.get_origin(annotation) is list:
        return f"[{type_name(typing.get_args(annotation)[0])}]"
    return {str: "str", bool: "bool", int: "int", float: "number"}.get(annotation, getattr(annotation, "__name__", "?"))


def expected_body(model: type[BaseModel]) -> str:
    """What a request body should look like, read from the model itself so the message cannot drift from it."""
    fields = ", ".join(f"{name}: {type_name(field.annotation)}" for name, field in model.model_fields.items())
    return f"expected a JSON object {{{fields}}} (only prompt is needed)"


BODY_SHAPE_ERRORS = {"json_invalid", "model_attributes_type", "dict_type", "extra_forbidden", "missing"}


def validation_message(exc: RequestValidationError, content_type: str = "application/json") -> str:
    """One line for a refused request; when the body is not the expected object, say what the object is.

    FastAPI alone says "JSON decode error" at a character offset, which tells a script writer nothing
    about the fields; a wrong type or range of one field keeps pydantic's own message (it names the field).
    """
    problems, shape = [], False
    for error in exc.errors():
        loc = error.get("loc", ())
        if error.get("type") == "json_invalid":
            problems.append(f"the body is not valid JSON ({json_position(exc.body, loc[-1], error)})")
        elif tuple(loc) == ("body",) and "json" not in content_type:  # curl -d sends a form unless told
            sent = f"as {content_type}" if content_type else "without a Content-Type"
            problems.append(f"the body was sent {sent}, not as application/json "
                            "(curl: -H 'Content-Type: application/json')")
        elif tuple(loc) == ("body",):
            problems.append("the body is empty" if error.get("type") == "missing" else "the body is not a JSON object")
        else:
            where = ".".join(str(p) for p in loc if p not in ("body", "query"))
            problems.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
        shape = shape or (loc[:1] == ("body",) and error.get("type") in BODY_SHAPE_ERRORS)
    return "; ".join(problems + ([expected_body(ChatRequest)] if shape else []))


def json_position(document, offset, error: dict) -> str:
    """``Expecting ',' delimiter at line 1, column 12``: where json.loads gave up, as an editor counts."""
    reason = (error.get("ctx") or {}).get("error", "JSON decode error")
    if not isinstance(document, str) or not isinstance(offset, int):
        return reason
    line = document.count("\n", 0, offset) + 1
    column = offset - (document.rfind("\n", 0, offset) + 1) + 1
    return f"{reason} at line {line}, column {column}"


class QueuedEvents(EventSourceResponse):
    """A chat's event stream, holding its place in the generation queue until the response ends.

    However it ends (the answers done, the stop button, a closed tab, or a client gone before the first
    byte, when the stream never starts), the stream is closed first, which stops its generation, and
    only then is the place given up, so two generations never overlap and a place is never leaked.
    """

    def __init__(self, content, ticket: Ticket, **kwargs):
        super().__init__(content, **kwargs)
        self.ticket = ticket

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()
            self.ticket.leave()


def busy(exc: QueueFull) -> JSONResponse:
    """The 503 of a full queue: a message with the retry time for people, Retry-After for scripts."""
    return JSONResponse({"error": str(exc), "retry_after": exc.retry_after}, status_code=503,
                        headers={"Retry-After": str(exc.retry_after)})


def create_app(run: RunFolder | None, models: dict[str, ChatModel], *, unavailable: dict[str, str] | None = None,
               allowed_hosts: list[str] | None = None, max_queue: int = DEFAULT_MAX_QUEUE) -> FastAPI:
    """The app over a run folder (or None) and the loaded models; ``unavailable``: label -> why not loaded;
    ``max_queue``: requests that may wait behind the one generating (more get 503)."""
    app = FastAPI(title="lingalign serve", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or LOOPBACK_HOSTS)
    queue = GenerationQueue(max_waiting=max_queue)
    app.state.queue, app.state.models = queue, models  # for tests and for anyone embedding the app
    predictions = Predictions(run) if run else None
    unavailable = dict(unavailable or {})
    chart_cache: dict = {}
    static = resources.files("lingalign.serve") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    # ---- errors: one line of JSON, never a traceback -------------------------------------------

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        message = validation_message(exc, request.headers.get("content-type", ""))
        return JSONResponse({"error": message}, status_code=400)

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        return JSONResponse({"error": exc.message}, status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); the server's terminal has details"},
                            status_code=500)

    def need_run() -> RunFolder:
        if run is None:
            raise HTTPException(404, "no run folder: start `lingalign serve RUN_DIR`"
                                     " to browse predictions and progress")
        return run

    # ---- the page --------------------------------------------------------------------------------

    page = (static / "index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse)
    @app.get("/chat", response_class=HTMLResponse)
    @app.get("/browse", response_class=HTMLResponse)
    @app.get("/progress", response_class=HTMLResponse)
    async def index():
        return HTMLResponse(page)

    @app.get("/api/info")
    async def info():
        return {
            "run": run.name if run else None, "run_dir": str(run.root) if run else None,
            "report": bool(run and (run.root / "report.html").is_file()),
            "models": [m.info() for m in models.values()],
            "unavailable": [{"label": k, "reason": v} for k, v in unavailable.items()],
            "limits": {"max_models": MAX_MODELS, "max_new_tokens": MAX_NEW_TOKENS, "max_input_chars": MAX_INPUT_CHARS,
                       "max_queue": queue.max_waiting},
        }

    # ---- chat ------------------------------------------------------------------------------------

    @app.post("/api/chat")
    async def chat(request: ChatRequest):
        if not request.prompt.strip():
            raise HTTPException(400, "the prompt is empty: type a question or an instruction")
        if not models:
            raise HTTPException(400, "no model is loaded: start lingalign serve with a run folder that has models, "
                                     "or with --model LABEL=PATH")
        labels = request.models or list(models)
        unknown = [label for label in labels if label not in models]
        if unknown:
            raise HTTPException(400, f"unknown model {unknown[0]!r} (models are chosen by label, not path); "
                                     f"loaded: {', '.join(models)}")
        if len(labels) > MAX_MODELS:
            raise HTTPException(400, f"at most {MAX_MODELS} models side by side, got {len(labels)}")
        settings = Settings(max_new_tokens=request.max_new_tokens, sampling=request.sampling,
                            temperature=request.temperature, top_p=request.top_p, seed=request.seed)
        try:
            ticket = queue.enter()  # before the response starts: a full queue is a 503, not a stream
        except QueueFull as exc:
            log.warning("chat request refused: %s", exc)
            return busy(exc)
        events = chat_events([models[label] for label in dict.fromkeys(labels)], request.prompt, request.input,
                             settings, ticket)

        async def stream():
            try:
                async with aclosing(events):  # closed with the response: its generation stops first
                    async for name, data in events:
                        yield format_sse_event(event=name, data_str=json.dumps(data, ensure_ascii=False))
            except Exception as exc:  # the response has started: report the failure as an event
                log.exception("chat stream failed")
                yield format_sse_event(event="error", data_str=json.dumps({"message": f"{type(exc).__name__}: {exc}"}))

        return QueuedEvents(stream(), ticket, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # ---- predictions browser ---------------------------------------------------------------------

    @app.get("/api/tasks")
    async def tasks():
        need_run()
        return {"tasks": predictions.tasks()}

    @app.get("/api/items")
    def items(task: str, metric: Optional[str] = None, disagree: bool = False, gap: float = Query(50.0, ge=0, le=100),
              wrong_lang: str = "", score_model: str = "", low: float = Query(0.0, alias="min"),
              high: float = Query(100.0, alias="max"), q: str = "", offset: int = Query(0, ge=0),
              limit: int = Query(50, ge=1, le=200)):
        need_run()
        return predictions.query(task, metric=metric, disagree=disagree, gap=gap, wrong_lang=wrong_lang,
                                 score_model=score_model, low=low, high=high, text=q, offset=offset, limit=limit)

    # ---- progress --------------------------------------------------------------------------------

    @app.get("/api/progress")
    def progress():
        folder = need_run()
        state = folder.progress()
        stamp = folder.train_log_stamp()
        if stamp and chart_cache.get("stamp") != stamp:
            from lingalign.charts import training_curves  # matplotlib: loaded at the first chart

            chart_cache.update(stamp=stamp, chart=training_curves(folder.train_logs()))
        state["loss_chart"] = chart_cache.get("chart") if stamp else None
        state["losses"] = {name: [[r["step"], r["loss"]] for r in rows] for name, rows in folder.train_logs().items()}
        return state

    # ---- files of the run folder -------------------------------------------------------------------

    @app.get("/report")
    async def report():
        folder = need_run()
        path = folder.root / "report.html"
        if not path.is_file():
            raise HTTPException(404, f"{folder.name} has no report.html yet (lingalign run writes it at the end; "
                                     f"or run `lingalign report {folder.root}`)")
        return FileResponse(path, media_type="text/html")

    @app.get("/files/{relative:path}")
    async def files(relative: str):
        folder = need_run()
        try:
            path = folder.file(relative)
        except PermissionError:
            raise HTTPException(403, f"refused: {relative!r} is outside the run folder") from None
        if not path.is_file():
            raise HTTPException(404, f"{relative}: no such file in the run folder")
        return FileResponse(path)

    return app
