"""One line and exit status 2 for the mistakes Hydra itself reports, like every other user error.

Hydra prints 6-16 lines and exits 1 for an unknown group choice (`model=bert2`), a value of the
wrong type (`optimizer.lr=abc`), a misspelt key, an override that does not parse or a run
directory it cannot create. `run_reporting_errors` runs the `@hydra.main` function with
HYDRA_FULL_ERROR=1, so that Hydra raises these instead of printing them, and turns each into a
`HydraMistake` (a UserError), which `cli.errors.run_command` reports in one line like any other.
When the user sets HYDRA_FULL_ERROR=1 Hydra's full report is shown unchanged.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from qa_experiments.cli.errors import run_command
from qa_experiments.errors import UserError, extra

FULL_ERROR = "HYDRA_FULL_ERROR"
FULL_ERROR_HINT = f"{FULL_ERROR}=1 shows the full error"
SWEEPER_PARAMS = "hydra.sweeper.params."
# What Hydra says when the `sweep` extra (Optuna, the joblib and submitit launchers) is missing.
NEEDS_SWEEP_EXTRA = ("Error locating target 'optuna.", "hydra/launcher/joblib",
                     "hydra/launcher/submitit")

# hydra/launcher=ray_cluster found no cluster: Ray's own message names a `--address` flag.
NO_RAY_CLUSTER = ("no running Ray cluster to connect to: set RAY_ADDRESS=HOST:PORT (or "
                  "hydra.launcher.ray.init.address=HOST:PORT) to its head node's address, or "
                  "start one on this machine with `ray start --head`")


class HydraMistake(UserError):
    """A mistake Hydra found in the command line or the composed config, said in one line."""


def run_reporting_errors(prog: str, hydra_main: Callable[[], Any]) -> None:
    """Run `hydra_main` through `run_command`: a configuration mistake Hydra raises, like a
    UserError of the task, exits 2 after one line on stderr."""
    full = os.environ.get(FULL_ERROR) == "1"
    os.environ[FULL_ERROR] = "1"  # Hydra re-raises instead of printing its own report
    try:
        status = run_command(prog, lambda: _run(hydra_main, full))
    finally:
        if not full:
            os.environ.pop(FULL_ERROR, None)
    if status:
        sys.exit(status)


def _run(hydra_main: Callable[[], Any], full: bool) -> int:
    """`hydra_main()`; Hydra's own mistakes as HydraMistake unless the user asked for Hydra's
    full report."""
    try:
        hydra_main()
    except Exception as error:
        mistake = None if full or isinstance(error, UserError) else as_mistake(error)
        if mistake is None:
            raise
        raise mistake from error
    return 0


def as_mistake(error: BaseException) -> UserError | None:
    """The UserError that `error` stands for, None for a failure of the program: a UserError
    that a config resolver raised (OmegaConf wraps it), no Ray cluster, or a mistake Hydra
    reports."""
    wrapped = resolver_user_error(error)
    if wrapped is not None:
        return wrapped
    if _is_no_ray_cluster(error):
        return HydraMistake(NO_RAY_CLUSTER)
    if isinstance(error, (HydraException, OmegaConfBaseException)) or _is_path_error(
            error) or _is_command_line_error(error):
        return HydraMistake(f"{describe(error)} ({FULL_ERROR_HINT})")
    return None


def resolver_user_error(error: BaseException) -> UserError | None:
    """The UserError a config resolver raised (e.g. `${minilm_path:}` without its package),
    which OmegaConf re-raises as its own errors, each in the handling of the one before."""
    while isinstance(error, OmegaConfBaseException):
        error = error.__cause__ or error.__context__
    return error if isinstance(error, UserError) else None


def describe(error: BaseException) -> str:
    """What was wrong and how to fix it, on one line (with the pip command when an optional
    extra is missing)."""
    text = _describe(error)
    if any(sign in text for sign in NEEDS_SWEEP_EXTRA):
        text += f"; searches and the joblib/submitit launchers need: pip install {extra('sweep')}"
    return text


def _describe(error: BaseException) -> str:
    if isinstance(error, MissingConfigException) and error.options:
        return f"{_first_paragraph(error)}; choose one of: {', '.join(error.options)}"
    if isinstance(error, OverrideParseException):
        return f"cannot parse the override {error.override!r}: {_first_paragraph(error)}"
    if SWEEPER_PARAMS in str(error) and "Sweeping over Hydra's configuration" in str(error):
        return (f"{_first_paragraph(error)}; give a search space as an override of the key "
                "itself, e.g. 'model=choice(bert,roberta)' or 'trainer.num_train_epochs="
                "choice(1,2)' (it replaces the preset's space for that key)")
    if _is_path_error(error):  # Hydra creates the run directory and writes .hydra/ into it
        return (f"cannot create or write {error.filename}: {error.strerror}; choose a writable "
                "hydra.run.dir (hydra.sweep.dir with -m)")
    if isinstance(error, OmegaConfBaseException):  # e.g. a bad ${...} in hydra.run.dir
        return f"{_first_line(error)} (in {error.full_key})"
    cause = error.__cause__
    if isinstance(cause, OmegaConfBaseException):
        return f"{_first_line(error).rstrip('.')}: {_first_line(cause)}{_did_you_mean(cause)}"
    return _first_paragraph(error)


def _is_path_error(error: BaseException) -> bool:
    """An OSError about a path (MissingConfigException is an OSError too, without one)."""
    return isinstance(error, OSError) and not isinstance(error, HydraException) and bool(
        error.filename)


def _is_command_line_error(error: BaseException) -> bool:
    """A ValueError raised by Hydra's own argument handling, e.g. `-m` together with `--cfg`."""
    if not isinstance(error, ValueError) or error.__traceback__ is None:
        return False
    frames = list(traceback.walk_tb(error.__traceback__))
    return frames[-1][0].f_globals.get("__name__") == "hydra._internal.utils"


def _is_no_ray_cluster(error: BaseException) -> bool:
    """ray.init(address="auto") found neither RAY_ADDRESS nor a cluster started here."""
    return isinstance(error, ConnectionError) and "Could not find any running Ray instance" in (
        str(error))


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0].strip()


def _first_paragraph(error: BaseException) -> str:
    """The error's text up to its first blank line, joined into one line."""
    paragraph = str(error).strip().split("\n\n")[0]
    return " ".join(line.strip() for line in paragraph.splitlines()) or type(error).__name__


def _did_you_mean(cause: OmegaConfBaseException) -> str:
    """For a key the config does not have: how to add it, or the closest key it does have."""
    known = _known_keys(cause) if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) else []
    if not known:
        return ""
    key, parent = str(cause.key), str(cause.full_key).rpartition(".")[0]
    prefix = f"{parent}." if parent else ""
    if parent == "trainer" and key in known:
        return f" (a TrainingArguments field not in the config: add it with +trainer.{key}=VALUE)"
    matches = difflib.get_close_matches(key, known, n=1)
    if matches:
        return f" (did you mean {prefix}{matches[0]}?)"
    return "" if parent == "trainer" else f" (allowed keys: {', '.join(known)})"


def _known_keys(cause: OmegaConfBaseException) -> list[str]:
    """The keys of the node missing `cause.key`: a schema dataclass's fields, or for the free-form
    trainer node those of transformers.TrainingArguments."""
    if dataclasses.is_dataclass(cause.object_type):
        return [field.name for field in dataclasses.fields(cause.object_type)]
    if str(cause.full_key).startswith("trainer."):
        from transformers import TrainingArguments

        return [field.name for field in dataclasses.fields(TrainingArguments)]
    return []
