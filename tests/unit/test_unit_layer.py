"""The guard that keeps tests/unit a unit layer (tests/unit/conftest.py, tests/unit_layer.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from unit_layer import FORBIDDEN, UnitLayerViolation, guarded_phase, misplaced


def test_every_forbidden_call_is_refused_while_a_unit_test_runs():
    for owner, attribute, _ in FORBIDDEN:
        assert getattr(owner, attribute).__name__ == "refuse", (owner, attribute)


def test_a_refusal_the_test_catches_still_fails_it():
    phase = guarded_phase()
    next(phase)  # the phase starts
    with pytest.raises(UnitLayerViolation, match="starts a process"):
        subprocess.run(["true"])
    with pytest.raises(UnitLayerViolation, match="forks a process"):
        os.fork()
    with pytest.raises(pytest.fail.Exception, match="a unit test starts a process"):
        phase.send(None)  # the phase ends


def test_a_phase_without_a_forbidden_call_passes_its_result_through():
    phase = guarded_phase()
    next(phase)
    with pytest.raises(StopIteration) as ended:
        phase.send("result")
    assert ended.value.value == "result"


def test_slow_unit_tests_and_unit_tests_that_train_are_named_at_collection(tmp_path):
    unit = tmp_path / "unit"

    def item(name, path, slow=False, fixtures=()):
        return SimpleNamespace(nodeid=name, path=path, fixturenames=list(fixtures),
                               get_closest_marker=lambda marker: slow and marker == "slow")

    items = [item("fast", unit / "a" / "test_a.py"), item("slow", unit / "test_b.py", slow=True),
             item("trained", unit / "test_c.py", fixtures=["tiny_run"]),
             item("e2e", tmp_path / "test_d.py", slow=True, fixtures=["tiny_run"])]
    assert misplaced(items, unit) == ["slow", "trained"]
    assert misplaced(items, Path("/elsewhere")) == []
