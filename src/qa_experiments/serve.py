"""`qa-serve RUN_DIR`: answer questions over HTTP with a trained model.

    qa-serve outputs/2026-12-05/10-00-00                 # http://127.0.0.1:8080/ (the web page)
    curl -s 127.0.0.1:8080/answer -H 'Content-Type: application/json' \\
         -d '{"question": "Who wrote it?", "context": "It was written by Ada.", "top_k": 3}'

Binds to 127.0.0.1 (this machine only) unless --host says otherwise: `--host 0.0.0.0` serves
every network interface, without authentication, so only do that on a network you trust.
Stdout holds one line (where it serves); stderr one access-log line per request. Ctrl-C or
SIGTERM stops it (requests still running get SHUTDOWN_GRACE_S seconds).
Needs the `serve` extra: pip install 'qa-experiments[serve]'.
"""

from __future__ import annotations

import argparse
import copy
import errno
import os
import signal
import socket
import sys
from pathlib import Path
from typing import NoReturn, TextIO

from qa_experiments.cli.arguments import ArgumentParser, positive_int, run_model_command
from qa_experiments.errors import UserError, extra, needs_package

PROG = "qa-serve"
DEFAULT_PORT = 8080  # mkdocs serve has 8000
MAX_BATCH_WINDOW_MS = 1000.0
SHUTDOWN_GRACE_S = 5


def port(text: str) -> int:
    """argparse type: a TCP port number, 1 to 65535."""
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, got {value}")
    return value


def window_ms(text: str) -> float:
    """argparse type: milliseconds from 0 to MAX_BATCH_WINDOW_MS."""
    value = float(text)
    if not 0 <= value <= MAX_BATCH_WINDOW_MS:  # also false for nan
        raise argparse.ArgumentTypeError(
            f"must be a number of milliseconds from 0 to {MAX_BATCH_WINDOW_MS:g}, got {text}")
    return value


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog=PROG, description=__doc__.split("\n")[0],
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a run directory, a checkpoint or a model directory")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=port, default=DEFAULT_PORT,
                        help=f"the TCP port (default {DEFAULT_PORT})")
    parser.add_argument("--no-batching", action="store_true",
                        help="answer each request alone instead of grouping concurrent ones")
    parser.add_argument("--batch-window-ms", type=window_ms, default=5.0, metavar="MS",
                        help="how long a request waits for others to join its batch "
                             f"(0 to {MAX_BATCH_WINDOW_MS:g}; default 5)")
    parser.add_argument("--max-queue", type=positive_int, default=64, metavar="N",
                        help="requests waiting or being answered before the next one is "
                             "refused with 503 (default 64)")
    return parser.parse_args(argv)


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (listening starts with the server); UserError, before any
    model is loaded, for an unknown host or a port that is taken or not ours to use."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as error:
        raise UserError(f"--host {host!r} is not a known host name or address of this machine "
                        f"({getattr(error, 'strerror', None) or error}); give e.g. 127.0.0.1 "
                        "or 0.0.0.0") from error
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise UserError(f"port {port} on {host} is in use (another server?); give another "
                            "--port") from error
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror}; give another --host "
                        "or --port") from error
    return sock


class Stopped(Exception):
    """SIGINT or SIGTERM while the model loads."""


def _stopped(signum, frame):
    raise Stopped


def _ignore_stop_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def serve(args: argparse.Namespace, stdout: TextIO) -> int:
    sock = bind(args.host, args.port)  # before anything heavy: a taken port is said at once
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stopped)
    try:
        with sock:
            _serve(args, sock, stdout)
    except Stopped:
        pass
    return 0


def _serve(args: argparse.Namespace, sock: socket.socket, stdout: TextIO) -> None:
    with needs_package(PROG, extra("serve")):
        import uvicorn

        from qa_experiments.serving.app import create_app
    import datasets
    from transformers.utils import logging as transformers_logging

    from qa_experiments.inference.answerer import QuestionAnswerer

    transformers_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    with QuestionAnswerer.load(args.run_dir) as answerer:  # removes its scratch dir at the end
        app = create_app(answerer, batching=not args.no_batching,
                         window_s=args.batch_window_ms / 1000, max_queue=args.max_queue)
        server = uvicorn.Server(uvicorn.Config(
            app, log_config=log_config(uvicorn.config.LOGGING_CONFIG),
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S))
        print(f"Serving {answerer.run.model_dir} on http://{args.host}:{args.port}/ "
              f"(POST /answer, GET /health, /docs)", file=stdout, flush=True)
        _ignore_stop_signals()  # uvicorn handles them while it runs, then raises them again
        server.run(sockets=[sock])


def log_config(uvicorn_config: dict) -> dict:
    """Uvicorn's logging with warnings and the access log (one line a request) on stderr, and
    the server's own notes (a request dropped when its client left)."""
    config = copy.deepcopy(uvicorn_config)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config["loggers"]["uvicorn"]["level"] = "WARNING"
    config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO"
    config["loggers"]["qa_experiments.serving"] = {"handlers": ["default"], "level": "INFO"}
    return config


def run(argv: list[str] | None = None) -> int:
    """Parse `argv` and serve until stopped; the exit status (2 and one line for a bad run
    directory, option or address)."""
    return run_model_command(PROG, _parse_args, serve, argv)


def main(argv: list[str] | None = None) -> NoReturn:
    """Console entry point: `run`, then end the process itself once everything is closed.

    A stopped server must stop at once: after uvicorn has run, the interpreter's own exit spends
    2-3 s in its final garbage collection (measured with gdb: `Py_FinalizeEx` ->
    `gc_collect_main`, beside idle tokenizer and OpenBLAS threads), and was once seen to hang
    there; everything the server writes is flushed and closed before this point."""
    code = run(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
