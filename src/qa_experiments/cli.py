"""What the qa-predict and qa-evaluate command lines share; light, so `--help` stays fast."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive count, got {value}")
    return value


def run_command(
    prog: str,
    parse_args: Callable[[list[str] | None], argparse.Namespace],
    command: Callable[[argparse.Namespace], int],
    argv: list[str] | None,
) -> int:
    """Parse `argv`, then run `command(args)`; 2 for a bad run directory or data, else its
    own exit status."""
    args = parse_args(argv)
    from qa_experiments.inference import run_cli  # heavy (torch): after the argument checks

    return run_cli(prog, lambda: command(args))
