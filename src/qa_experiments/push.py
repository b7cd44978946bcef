"""`qa-push RUN_DIR REPO_ID [--private]`: upload a finished run's model to the Hugging Face Hub.

Uploads `RUN_DIR/model/` (weights, tokenizer, calibration.json and the model card README.md)
with huggingface_hub, creating the repository if needed; the token is huggingface_hub's own
(`hf auth login` or HF_TOKEN). An unfinished run, a bad repository id or an unreachable Hub is
one line and exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qa_experiments.cli.arguments import ArgumentParser
from qa_experiments.cli.errors import run_command
from qa_experiments.errors import UserError, one_line
from qa_experiments.runs import layout

PROG = "qa-push"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a finished run directory")
    parser.add_argument("repo_id", metavar="REPO_ID", help="user/name on the Hub")
    parser.add_argument("--private", action="store_true", help="create the repository private")
    return parser.parse_args(argv)


def finished_model(run_dir: Path) -> Path:
    """The model directory of a finished run; UserError for anything else."""
    status = layout.read_json(run_dir / layout.STATUS)
    state = status.get("status") if isinstance(status, dict) else None
    if state != layout.FINISHED or not (run_dir / layout.MODEL_DIR).is_dir():
        raise UserError(f"{run_dir} holds no finished run (status: {state or 'none'}); only a "
                        "finished run's model is uploaded.")
    return run_dir / layout.MODEL_DIR


def push(args: argparse.Namespace) -> int:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    model_dir = finished_model(args.run_dir)
    try:
        validate_repo_id(args.repo_id)
    except HFValidationError as error:
        raise UserError(f"{args.repo_id!r} is not a Hub repository id: {one_line(error)}") from None
    api = HfApi()
    try:
        api.create_repo(args.repo_id, private=args.private, exist_ok=True)
        commit = api.upload_folder(folder_path=model_dir, repo_id=args.repo_id,
                                   commit_message="Upload a model trained with qa-experiments")
    except Exception as error:  # offline mode, no network, no token, no permission (HTTP 4xx)
        raise UserError(f"cannot upload to the Hub repository {args.repo_id!r}: "
                        f"{type(error).__name__}: {one_line(error)}") from error
    print(f"Uploaded {model_dir} to {commit.commit_url}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    return run_command(PROG, lambda: push(_parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
