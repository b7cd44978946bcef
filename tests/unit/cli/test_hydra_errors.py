"""run_reporting_errors: a failure that is not a user's mistake keeps its traceback."""

from __future__ import annotations

import os

import pytest

from qa_experiments.cli.hydra_errors import run_reporting_errors


@pytest.mark.parametrize("error", [OSError("no path"), RuntimeError("a bug")])
def test_failures_that_are_not_mistakes_keep_their_traceback(error, monkeypatch):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)

    def hydra_main():
        assert os.environ["HYDRA_FULL_ERROR"] == "1"  # Hydra raises instead of printing
        raise error

    with pytest.raises(type(error)):
        run_reporting_errors("qa-train", hydra_main)
    assert "HYDRA_FULL_ERROR" not in os.environ
