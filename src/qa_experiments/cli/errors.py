"""The one user-error policy of every command: `PROG: error: MESSAGE` on stderr, exit 2.

Results go to stdout, errors to stderr, in one format. A `UserError` (see
`qa_experiments.errors`) becomes that line; so do Hydra's own mistakes (`hydra_errors`) and
argparse's (which already print `PROG: error:` and exit 2). Anything else is a program failure
and propagates (exit 1).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from qa_experiments.errors import UserError, one_line


def report_error(prog: str, message: str) -> None:
    """Print `PROG: error: MESSAGE` on stderr (the message folded into one line)."""
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)


def run_command(prog: str, command: Callable[[], int]) -> int:
    """Run a command; a UserError becomes one line on stderr and exit status 2."""
    try:
        return command()
    except UserError as error:
        report_error(prog, one_line(error))
        return 2
