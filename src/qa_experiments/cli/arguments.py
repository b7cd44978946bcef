"""What the qa-predict and qa-evaluate command lines share; light, so `--help` stays fast."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from qa_experiments.cli.errors import run_command
from qa_experiments.data.squad_files import is_unicode_text
from qa_experiments.errors import Failure, UserError, one_line
from qa_experiments.runs import layout


class UsageError(UserError):
    """A bad command-line argument; the message points at --help."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser with the one error policy: a bad argument raises UsageError, which
    `run_command` reports in one line (`PROG: error: ...`) with exit status 2, without the
    usage block; so its `parse_args` runs inside `run_command`."""

    def error(self, message: str):
        raise UsageError(f"{message} (see {self.prog} --help)")


def text(value: str) -> str:
    """argparse type: text that is valid Unicode (bytes that are not UTF-8 on the command line
    arrive as lone surrogates, which no answer or file can hold)."""
    if not is_unicode_text(value):
        raise argparse.ArgumentTypeError("is not valid UTF-8 text")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive count, got {value}")
    return value


NULL_THRESHOLD_HELP = ("SQuAD v2 models: the no-answer threshold, a number or auto (the one tuned "
                       "at the end of training); default: the run's "
                       "data.null_score_diff_threshold")


def null_threshold(text: str) -> float | str:
    """argparse type: a finite number or auto."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number nor auto")
    return value



class OutputPathError(UserError, ValueError):
    """An output path that is a directory or a file of a training run; the message says why."""


def check_output_path(path: Path, what: str = "--out") -> None:
    """OutputPathError, before any work, when `path` cannot take a command's output file: it
    is a directory, or it lies inside a training run where the run owns the name (its own
    files, or anything inside its model/, report/, checkpoints/, .hydra/, wandb/,
    tensorboard/): a run's files never change. A new file directly in a run directory is fine."""
    if path.is_dir():
        raise OutputPathError(f"{what} {str(path)!r} is a directory; give a file path.")
    check_output_dir(path.parent, what, path.name)


def check_output_dir(directory: Path, what: str = "--out", name: str | None = None,
                     owned: tuple[str, ...] = ()) -> None:
    """OutputPathError when a command's output (`name` in `directory`, or the files it writes
    into `directory`) would land among a training run's own files: inside any subdirectory
    of a run, or on one of a run's names, except the `owned` names (those the command owns,
    e.g. qa-report the run's report/). RunDirError when it would land in or under a directory
    that a running job holds (qa-train's lock on its run directory), run or not yet."""
    check_not_held(Path(directory) / name if name is not None else Path(directory), what)
    if name is not None and layout.is_run_dir(Path(directory) / name):
        raise OutputPathError(f"{what} {str(Path(directory) / name)!r} is a training run, "
                              "whose files never change; give a path outside it.")
    run = layout.enclosing_run(directory)
    if run is None:
        return
    inside = Path(directory).expanduser().resolve().relative_to(run).parts
    if not inside and name is None:
        raise OutputPathError(f"{what} {str(directory)!r} is a training run, whose files never "
                              "change; give another directory.")
    if inside and inside[0] not in owned:
        raise OutputPathError(
            f"{what} {str(Path(directory) / (name or ''))!r} lies inside {inside[0]}/ of the "
            f"training run in {str(run)!r}, whose files never change; give a path outside it.")
    if not inside and name in layout.RUN_NAMES and name not in owned:
        raise OutputPathError(
            f"{what} {str(Path(directory) / name)!r} would replace the {name} of the training "
            f"run in {str(run)!r}, which never changes; give another path.")


def check_not_held(path: Path, what: str = "--out") -> None:
    """RunDirError when a running job holds `path` or a directory above it (`runs.claim`)."""
    from qa_experiments.runs.claim import check_not_held as check  # light --help: imported late

    check(path, what)


@contextlib.contextmanager
def writing(*paths: Path, what: str = "--out") -> Iterator[None]:
    """While the block writes `paths`: no job may claim a directory they lie in, and
    RunDirError before the block runs when a job that started meanwhile holds one already
    (`runs.claim.kept_from_jobs`). The check before the work (`check_output_dir`) refuses
    at once; this one covers the minutes the work took. An OSError in the block (not a
    UserError) becomes a Failure, `cannot write PATHS: why` (exit status 1)."""
    from qa_experiments.runs.claim import kept_from_jobs

    try:
        with contextlib.ExitStack() as stack:
            for path in paths:
                stack.enter_context(kept_from_jobs(Path(path), what))
            yield
    except OSError as error:
        if isinstance(error, UserError):  # e.g. MissingFileError, also an OSError
            raise
        shown = ", ".join(str(path) for path in paths)
        raise Failure(f"cannot write {shown}: {one_line(error)}") from error


def output_home(run_dir: Path) -> Path:
    """Where a command's default output goes: the training run that `run_dir` is or lies in
    (RUN for RUN/model or RUN/checkpoints/checkpoint-N), else `run_dir` itself."""
    run = layout.enclosing_run(run_dir)
    if run is None or Path(run_dir).expanduser().absolute() == run:
        return run_dir
    return run


def add_run_dir_argument(parser: argparse.ArgumentParser) -> None:
    """The positional RUN_DIR both commands take."""
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a run directory (model/, config.json) or a checkpoint directory")


def add_scoring_arguments(parser: argparse.ArgumentParser, max_samples_note: str = "") -> None:
    """--max-samples, --batch-size and --null-threshold, shared by both commands."""
    parser.add_argument("--max-samples", type=positive_int, metavar="N",
                        help=f"{max_samples_note}only N usable questions, chosen like "
                             "data.max_eval_samples (the first N; SQuAD v2: keeping the "
                             "answerable/unanswerable mix)")
    parser.add_argument("--batch-size", type=positive_int, metavar="N",
                        help="windows per forward pass (default: the run's eval batch size)")
    parser.add_argument("--null-threshold", type=null_threshold, metavar="T",
                        help=NULL_THRESHOLD_HELP)


def run_model_command(
    prog: str,
    parse_args: Callable[[list[str] | None], argparse.Namespace],
    command: Callable[[argparse.Namespace, TextIO], int],
    argv: list[str] | None,
) -> int:
    """Parse `argv`, then run `command(args, stdout)`, both under the one error path
    (`cli.errors.run_command`). Only what the command writes to `stdout` reaches standard
    output: anything else printed meanwhile (library banners) goes to standard error."""
    stdout = sys.stdout

    def parse_and_run() -> int:
        args = parse_args(argv)
        with contextlib.redirect_stdout(sys.stderr):
            return command(args, stdout)

    return run_command(prog, parse_and_run)

