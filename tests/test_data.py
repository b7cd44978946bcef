"""Reading SQuAD files end to end: a catalogue of bad records through the real entrypoint, and a
file its reader may not open (the reader checks are in tests/unit/data/test_splits.py)."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from qa_experiments.data.splits import DataError, load_split
from squad_records import CONTEXT, nested, qa, split_cfg, write

# answer_start values no position can have, of the right JSON type or not: they crashed
# building the dataset (pyarrow OverflowError, past int64) or were kept (an eval record's
# negative start). Each drops its record, named by file, id and field, in either split.


@pytest.mark.slow
def test_catalogue_of_bad_records_through_the_real_entrypoint(tmp_path):
    """Every kind of bad record in one file: the run trains on the valid ones and reports."""
    import subprocess
    import sys

    from helpers import FAST

    good = [qa(f"good{i}", text="Ada Lovelace" if i % 2 else "1843",
               start=0 if i % 2 else CONTEXT.index("1843")) for i in range(12)]
    bad = [
        qa("shifted", start=1),  # repaired, kept
        qa("wrong_text", text="Charles Babbage"),
        qa("outside", start=400),
        qa("empty_q", question=" "),
        {"id": "no_answers_field", "question": "Who?"},
        qa("good0"),  # duplicate id
        qa("flag", is_impossible=True),
    ]
    data = nested(good + bad)
    data["data"][0]["paragraphs"].append({"context": "", "qas": [qa("empty_context")]})
    data["data"][0]["paragraphs"].append({"context": "x" * 100_001, "qas": [qa("huge")]})
    broken = {"context": CONTEXT, "qas": [None, qa("bool_start", start=True)]}
    data["data"][0]["paragraphs"] += [None, broken]
    data["data"] = [{"title": "draft, no paragraphs yet"}, *data["data"], None]
    path = write(tmp_path / "catalogue.json", data)
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", *FAST, "model=tiny_bert", "data=local",
         f"data.train_file={path}", f"data.eval_file={path}", f"hydra.run.dir={tmp_path / 'run'}",
         "data.max_eval_samples=null"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    train = results["data_report"]["train"]
    assert train["dropped"] == {
        "answer_not_at_start": 1, "answer_outside_context": 1, "empty_question": 1,
        "missing_field": 1, "duplicate_id": 1, "inconsistent_v2_flag": 1, "empty_context": 1,
        "context_too_long": 1, "malformed_article": 2, "malformed_paragraph": 1,
        "malformed_question": 1, "malformed_answers": 1,
    }
    assert train["repaired"] == {"answer_start_off_by_whitespace": 1}
    assert results["train_examples"] == 13  # every valid record, the repaired one included
    predictions = json.loads((tmp_path / "run" / "predictions.json").read_text())
    assert {f"good{i}" for i in range(12)} | {"shifted"} <= predictions.keys()


def unprivileged(function):
    """Run `function()` in a forked child that has dropped to an unprivileged user when this
    process is root (root reads files without read permission); what it raised, or None."""
    if os.geteuid() != 0:
        try:
            function()
        except Exception as error:  # noqa: BLE001 - handed back to the test
            return error
        return None
    nobody = pwd.getpwnam("nobody")
    with multiprocessing.get_context("fork").Pool(1, initializer=_drop_to,
                                                 initargs=(nobody.pw_uid, nobody.pw_gid)) as pool:
        return pool.apply(_raised, (function,))


def _drop_to(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def _raised(function):
    try:
        function()
    except Exception as error:  # noqa: BLE001 - handed back to the parent
        return error
    return None


def test_unreadable_file_is_refused():
    """Runs in CI, which is root: the read happens in a child process run as `nobody`."""
    folder = Path(tempfile.mkdtemp(prefix="qa-unreadable-"))  # pytest's tmp_path is 0700
    try:
        folder.chmod(0o755)
        path = folder / "secret.json"
        path.write_text(json.dumps(nested([qa("a")])))
        path.chmod(0)
        error = unprivileged(functools.partial(load_split, split_cfg(str(path)), "train"))
    finally:
        shutil.rmtree(folder)
    assert isinstance(error, DataError) and "cannot be read" in str(error), error


