"""What the commands share: an output the disk would not take is a one-line Failure."""

from __future__ import annotations

import errno

import pytest

from qa_experiments.cli.arguments import writing
from qa_experiments.errors import Failure, MissingFileError


def test_an_output_that_cannot_be_written_is_a_failure_naming_it(tmp_path):
    out = tmp_path / "out.json"
    with pytest.raises(Failure) as raised:
        with writing(out):
            raise OSError(errno.ENOSPC, "No space left on device", str(out))
    assert str(raised.value) == (f"cannot write {out}: [Errno 28] No space left on device: "
                                 f"'{out}'")


def test_a_user_error_in_the_block_stays_one(tmp_path):
    with pytest.raises(MissingFileError):
        with writing(tmp_path / "out.json"):
            raise MissingFileError("no such questions file")
