"""The unit layer stays one: no test under tests/unit trains, starts a process, is marked slow
or asks for the trained `tiny_run` (tests/unit_layer.py says what is refused)."""

from __future__ import annotations

from pathlib import Path

import pytest

from unit_layer import guarded_phase, misplaced


def pytest_collection_modifyitems(config, items):
    found = misplaced(items, Path(__file__).parent)
    if found:
        raise pytest.UsageError("unit tests may not be slow or use the trained tiny_run; move "
                                "them to tests/: " + ", ".join(found))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from guarded_phase())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from guarded_phase())
