"""`qa-serve RUN_DIR`: answer questions over HTTP with a trained model.

    qa-serve outputs/2026-12-05/10-00-00                 # http://127.0.0.1:8000/ (the web page)
    curl -s 127.0.0.1:8000/answer -H 'Content-Type: application/json' \\
         -d '{"question": "Who wrote it?", "context": "It was written by Ada.", "top_k": 3}'

Binds to 127.0.0.1 (this machine only) unless --host says otherwise: `--host 0.0.0.0` serves
every network interface, without authentication, so only do that on a network you trust.
Needs the `serve` extra: pip install 'qa-experiments[serve]'.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qa_experiments.cli.arguments import ArgumentParser, positive_int
from qa_experiments.cli.errors import run_command
from qa_experiments.errors import extra, needs_package

PROG = "qa-serve"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog=PROG, description=__doc__.split("\n")[0],
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a run directory, a checkpoint or a model directory")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=positive_int, default=8000)
    parser.add_argument("--no-batching", action="store_true",
                        help="answer each request alone instead of grouping concurrent ones")
    parser.add_argument("--batch-window-ms", type=float, default=5.0, metavar="MS",
                        help="how long a request waits for others to join its batch")
    return parser.parse_args(argv)


def serve(args: argparse.Namespace) -> int:
    with needs_package(PROG, extra("serve")):
        import uvicorn

        from qa_experiments.serving.app import create_app
    from transformers.utils import logging as transformers_logging

    from qa_experiments.inference.answerer import QuestionAnswerer

    transformers_logging.disable_progress_bar()
    answerer = QuestionAnswerer.load(args.run_dir)  # before the port opens: ready when it is
    app = create_app(answerer, batching=not args.no_batching,
                     window_s=args.batch_window_ms / 1000)
    print(f"Serving {answerer.run.model_dir} on http://{args.host}:{args.port}/ "
          f"(POST /answer, GET /health, /docs)", flush=True)
    with answerer:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point; one line and exit 2 for a bad run directory or option."""
    return run_command(PROG, lambda: serve(_parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
