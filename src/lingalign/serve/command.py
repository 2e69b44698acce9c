"""Open a local web page on a run folder: chat with its models side by side, browse its predictions,
watch its progress.

    lingalign serve runs/quickstart                       base and tuned models of the run
    lingalign serve runs/quickstart --model base --model coit-zh        two of them
    lingalign serve --model a=path/to/model --model b=other/model       any model folders, no run

The page listens on 127.0.0.1 (this machine only) unless --host says otherwise. It only reads the
run folder and the model folders; no code from a model folder runs. See docs/serve.md.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import re
import socket
import sys
import time

from lingalign.errors import UserError
from lingalign.models import resolve_model
from lingalign.serve.chat import DEFAULT_MAX_QUEUE, MAX_MODELS, load_models
from lingalign.serve.runfolder import RunFolder

DEFAULT_PORT = 7860
LABEL = re.compile(r"^[A-Za-z0-9._-]+$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", help="a folder written by `lingalign run` (optional with --model)")
    parser.add_argument("--model", action="append", default=[], metavar="LABEL=PATH",
                        help="a model to chat with: LABEL=PATH (a model folder, .gguf or alias) or the label of a "
                             "model of the run (base, or a name in its recipe); repeat for 2-4 columns "
                             "(default: the run's base and tuned models)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; anything else is "
                             "reachable from the network and prints a warning)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--max-queue", type=int, default=DEFAULT_MAX_QUEUE, metavar="N",
                        help="chat requests that may wait behind the one generating (default "
                             f"{DEFAULT_MAX_QUEUE}); more are answered at once with 503 and a time to retry")


def choose_models(run, specs: list[str]) -> tuple[dict[str, str], set[str], dict[str, str]]:
    """``(label -> model to load, labels the user named, label -> why it is not offered)``."""
    in_run = run.chat_models() if run else {}
    chosen, named, skipped = {}, set(), {}
    for spec in specs:
        label, sep, path = spec.partition("=")
        label, path = label.strip(), path.strip()
        if not LABEL.match(label):
            raise UserError(f"--model {spec}: the label must be letters, digits, '.', '_' or '-' (LABEL=PATH)")
        if label in chosen:
            raise UserError(f"--model {spec}: label {label!r} is given twice")
        if not sep:
            if label not in in_run:
                where = f"the run has: {', '.join(in_run)}" if in_run else "no run folder given"
                raise UserError(f"--model {label}: not a model of the run ({where})", hint="or give LABEL=PATH")
            if in_run[label] is None:
                raise UserError(f"--model {label}: {run.root / 'models' / label} is not trained yet")
            path = in_run[label]
        elif not path:
            raise UserError(f"--model {spec}: no path after '='")
        chosen[label] = path
        named.add(label)
    if len(chosen) > MAX_MODELS:
        raise UserError(f"--model: at most {MAX_MODELS} models side by side, got {len(chosen)}")
    if not specs:
        for label, path in in_run.items():
            if path is None:
                skipped[label] = "not trained yet"
            elif len(chosen) >= MAX_MODELS:
                skipped[label] = f"more than {MAX_MODELS} models: choose with --model LABEL"
            else:
                chosen[label] = path
    return chosen, named, skipped


def check_model_paths(chosen: dict[str, str], named: set[str]) -> None:
    """A path the user gave must exist: say so now, before minutes of loading the others."""
    for label in [label for label in chosen if label in named]:  # in the order given
        try:
            resolve_model(chosen[label])
        except UserError as exc:
            raise UserError(f"--model {label}={chosen[label]}: {exc.message}", hint=exc.hint) from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, made here so a port in use is a one-line error (uvicorn then serves on it)."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port}: expected 0-65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise UserError(f"--host {host}: not an address of this machine ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"port {port} on {host} is in use (another lingalign serve?)",
                            hint=f"pick another with --port, e.g. --port {port + 1},"
                                 " or stop the other server") from None
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.listen(64)
    return sock


def main(args: argparse.Namespace) -> int:
    start = time.time()
    run = RunFolder(args.run_dir) if args.run_dir else None
    if run is None and not args.model:
        raise UserError("nothing to serve: give a run folder or models",
                        hint="lingalign serve runs/quickstart, or lingalign serve --model a=PATH --model b=PATH")
    if args.max_queue < 0:
        raise UserError(f"--max-queue {args.max_queue}: expected 0 or more (requests waiting behind the one "
                        "generating; 0: refuse any request while one generates)")
    chosen, named, skipped = choose_models(run, args.model)
    check_model_paths(chosen, named)
    if run is not None and not chosen:
        has_predictions = any(run.root.glob("eval/*/predictions/*.jsonl"))
        if not has_predictions and not (run.root / "steps").is_dir():
            raise UserError(f"{args.run_dir}: no models to chat with and no predictions to browse "
                            "(no recipe.yaml base_model, no trained models/<name>/, no eval/*/predictions/)",
                            hint="pass --model LABEL=PATH, or start `lingalign run` on this folder first")
        print(f"lingalign serve: {args.run_dir} has no model to chat with yet; the page shows its predictions "
              "and progress (add --model LABEL=PATH to chat)", flush=True)
    sock = bind(args.host, args.port)  # before loading models: a port in use fails in a second
    loopback = is_loopback(args.host)
    if not loopback:
        print(f"lingalign serve: WARNING: listening on {args.host}, reachable from other machines; the page has "
              "no login and lets anyone on the network read the run folder and use the models", file=sys.stderr)
    try:
        from lingalign.serve.app import LOOPBACK_HOSTS, create_app  # fastapi: not at `lingalign --help`

        if chosen:
            print(f"loading {len(chosen)} model(s):", flush=True)
        loaded, problems = load_models(chosen, strict=named, echo=lambda line: print(line, flush=True))
        for label, reason in skipped.items():
            print(f"  {label}: not offered ({reason})", flush=True)
        app = create_app(run, loaded, unavailable={**skipped, **problems},
                         allowed_hosts=LOOPBACK_HOSTS if loopback else ["*"], max_queue=args.max_queue)
        import uvicorn

        port = sock.getsockname()[1]
        shown = f"[{args.host}]" if ":" in args.host else args.host
        print(f"lingalign serve: http://{shown}:{port}/ ready in {time.time() - start:.1f} s (Ctrl+C stops it)",
              flush=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3))
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C after its own clean shutdown
        pass
    finally:
        sock.close()
    print("lingalign serve: stopped", flush=True)
    return 0
