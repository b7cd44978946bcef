"""What a unit test may not do (train a model, start a process), enforced for every test under
tests/unit by tests/unit/conftest.py; the end-to-end tests in tests/ do these things."""

from __future__ import annotations

import multiprocessing.process
import os
import subprocess
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import transformers

# (owner, attribute, what it does): each is replaced while a unit test runs
FORBIDDEN = (
    (subprocess.Popen, "__init__", "starts a process"),
    (multiprocessing.process.BaseProcess, "start", "starts a process"),
    (os, "fork", "forks a process"),
    (os, "system", "runs a shell command"),
    (transformers.Trainer, "train", "trains a model"),
)
MESSAGE = ("a unit test {what} ({name}); put it beside the end-to-end tests in tests/, or give "
           "it a fake")


class UnitLayerViolation(Exception):
    """A unit test did something only an end-to-end test may do."""


@contextmanager
def forbidden() -> Iterator[list[str]]:
    """Make every FORBIDDEN call raise UnitLayerViolation while the `with` body runs; yields the
    list of violations, which stays filled even when the test catches the exception."""
    violations: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        for owner, attribute, what in FORBIDDEN:
            patch.setattr(owner, attribute, _refusal(violations, what,
                                                     f"{owner.__name__}.{attribute}"))
        yield violations


def _refusal(violations: list[str], what: str, name: str):
    def refuse(*args, **kwargs):
        message = MESSAGE.format(what=what, name=name)
        violations.append(message)
        raise UnitLayerViolation(message)

    return refuse


def guarded_phase() -> Generator[None, object, object]:
    """A pytest hook wrapper's body: run the phase (fixtures, or the test) with the forbidden
    calls refused, and fail it if one was attempted, even if the test caught the refusal."""
    with forbidden() as violations:
        result = yield
    if violations:
        pytest.fail(violations[0], pytrace=False)
    return result


def misplaced(items: Iterable[pytest.Item], unit_dir: Path) -> list[str]:
    """The tests under `unit_dir` marked slow or asking for the trained `tiny_run`."""
    return [item.nodeid for item in items if unit_dir in item.path.parents
            and (item.get_closest_marker("slow") or "tiny_run" in item.fixturenames)]
