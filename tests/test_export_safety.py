"""qa-export never writes over what it did not write, fails in one line before loading for a
bad source or --out, replaces a previous export whole, and an export directory that was
damaged since is refused in one line when it is loaded."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from qa_experiments import export
from qa_experiments.errors import Failure, UserError
from qa_experiments.inference import onnx_backend
from qa_experiments.inference.answerer import QuestionAnswerer
from qa_experiments.inference.predictor import load_run
from qa_experiments.runs import staging
from qa_experiments.runs.claim import RunDirError, owned

QUESTION, CONTEXT = "Who wrote the book?", "The book was written by Jane Austen in 1813."


def qa_export(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa_experiments.export", *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=env)


def one_error_line(done, expected: str) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("qa-export: error: "), done.stderr
    assert expected in lines[0], lines[0]
    assert done.stdout == ""
    return lines[0]


def tree(path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def int8_export(tiny_run, tmp_path_factory):
    """One int8 export of the tiny run, shared read-only (copy it to change it)."""
    out = tmp_path_factory.mktemp("safety") / "int8"
    done = qa_export(tiny_run, "--quantize", "int8", "--out", out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done


@pytest.mark.slow
def test_the_tracers_warnings_are_not_passed_on(int8_export):
    """The exporter's warnings about its trace are proven harmless by the logit check after
    the export (onnx_backend.check_logits); none reaches the user."""
    _, done = int8_export
    for warning in ("TracerWarning", "will produce incorrect results", "pre-processing"):
        assert warning not in done.stderr


def test_an_export_computing_other_logits_than_the_model_fails(tiny_run, int8_export):
    out, _ = int8_export
    run = load_run(tiny_run)

    class Shifted(onnx_backend._QAWithTypes):
        def forward(self, *inputs):
            start, end = super().forward(*inputs)
            return start + 0.1, end

    with pytest.raises(Failure, match="other logits than the model"):
        onnx_backend.check_logits(Shifted(run.model).eval(), run.tokenizer,
                                  out / "model.onnx", onnx_backend.MODEL_INPUTS)


def test_a_new_export_replaces_a_previous_one_whole(tiny_run, int8_export, tmp_path):
    out = tmp_path / "onnx"
    shutil.copytree(int8_export[0], out)
    done = qa_export(tiny_run, "--out", out)  # fp32 only this time
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (out / "model.int8.onnx").exists()  # the old int8 model would answer instead
    with QuestionAnswerer.load(out) as answerer:
        assert answerer.run.model.path.name == "model.onnx"
    assert [p.name for p in tmp_path.iterdir()] == ["onnx"]  # no staging folder left


@pytest.mark.parametrize("content", ["model", "notes"])
def test_a_folder_holding_files_qa_export_did_not_write_is_refused(tiny_run, tmp_path,
                                                                   content):
    out = tmp_path / "out"
    if content == "model":  # a copy of a run's model/: its tokenizer and calibration
        shutil.copytree(tiny_run / "model", out)
    else:
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    before = tree(out)
    one_error_line(qa_export(tiny_run, "--out", out), "holds files that qa-export did not write")
    assert tree(out) == before


@pytest.mark.parametrize("where,expected", [
    ("file", "is a file"),
    ("file/under/onnx", "Not a directory"),
    ("/proc/qa-export-test/onnx", "cannot write the export"),
])
def test_an_out_that_cannot_be_a_folder_is_one_line_before_loading(tiny_run, tmp_path, where,
                                                                   expected):
    (tmp_path / "file").write_text("mine")
    out = where if where.startswith("/") else tmp_path / where
    done = qa_export(tiny_run, "--out", out)
    one_error_line(done, expected)
    assert "Loading weights" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_an_export_as_the_source_is_one_line(int8_export, tmp_path):
    done = qa_export(int8_export[0], "--out", tmp_path / "again")
    one_error_line(done, "is an ONNX export; export from a run or model directory")
    assert not (tmp_path / "again").exists()


@pytest.mark.slow
def test_a_user_error_after_loading_is_one_line_without_a_banner(tmp_path):
    """Transformers prints `[INFO] Running in WANDB offline mode` on stdout when it is
    imported with WANDB_MODE=offline; the error found once it is imported stays one line."""
    (tmp_path / "empty").mkdir()
    done = qa_export(tmp_path / "empty", "--out", tmp_path / "onnx",
                     env={**os.environ, "WANDB_MODE": "offline"})
    one_error_line(done, "holds no model")
    assert not (tmp_path / "onnx").exists()


def test_a_failed_export_leaves_the_previous_one_and_holds_the_folder_while_writing(
        tiny_run, int8_export, tmp_path, monkeypatch):
    """While it writes, no job can claim the folder (the lock of runs.claim); a failure
    (here in the quantizer, after model.onnx was written) leaves --out as it was."""
    out = tmp_path / "onnx"
    shutil.copytree(int8_export[0], out)
    before = tree(out)

    def failing_export(run, staging, **_):
        (staging / "model.onnx").write_bytes(b"half")
        with pytest.raises(RunDirError):
            with owned(tmp_path):
                pass
        raise RuntimeError("quantizer failed")

    monkeypatch.setattr(onnx_backend, "export_onnx", failing_export)
    with pytest.raises(RuntimeError, match="quantizer failed"):
        export.main([str(tiny_run), "--out", str(out)])
    assert tree(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["onnx"]


def export_process(run, out) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "qa_experiments.export", str(run),
                             "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_staging(process, out, holding: str) -> Path:
    """The staging folder of the running export `process` to `out`, once it holds `holding`."""
    deadline = time.monotonic() + 300
    while True:
        found = [path for path in out.parent.glob(f".{out.name}.*")
                 if (path / staging.MARKER).is_file() and (path / holding).exists()
                 and json.loads((path / staging.MARKER).read_text())["pid"] == process.pid]
        if found:
            return found[0]
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)


@pytest.mark.slow  # three exports, two of them at once: about a minute on 2 busy cores
def test_a_killed_exports_staging_folder_is_removed_by_the_next_but_a_live_ones_never(
        tiny_run, tmp_path):
    """kill -9 during an export leaves its hidden folder (with a half-written model.onnx);
    the next export to the same --out removes it, and an export running meanwhile (paused)
    keeps its own folder and finishes. The user's own hidden folder of the same form stays."""
    out = tmp_path / "onnx"
    mine = tmp_path / ".onnx.mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    killed = export_process(tiny_run, out)
    left = wait_for_staging(killed, out, "model.onnx")
    killed.kill()
    killed.communicate(timeout=60)
    assert left.is_dir()
    paused = export_process(tiny_run, out)
    live = wait_for_staging(paused, out, staging.MARKER)
    assert not left.exists()  # removed by the paused export before it made its own
    paused.send_signal(signal.SIGSTOP)
    try:
        done = qa_export(tiny_run, "--out", out)
        assert done.returncode == 0, done.stderr[-3000:]
        assert (live / staging.MARKER).is_file()
        assert "removed" not in done.stderr
    finally:
        paused.send_signal(signal.SIGCONT)
    _, err = paused.communicate(timeout=600)
    assert paused.returncode == 0, err[-3000:]
    assert f"removed {left}, left by an export (pid {killed.pid})" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [".onnx.mine", "onnx"]
    assert (mine / "notes.txt").read_text() == "mine"
    assert (out / "qa_export.json").is_file() and not (out / staging.MARKER).exists()
    with QuestionAnswerer.load(out) as answerer:
        assert answerer.answer(QUESTION, CONTEXT).text in CONTEXT


def foreign_model(path) -> None:
    """A valid ONNX model of another kind: one float input, its identity as output."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), str(path))


def edit_settings(path, **changes) -> None:
    settings = json.loads((path / "qa_export.json").read_text())
    (path / "qa_export.json").write_text(json.dumps({**settings, **changes}))


DAMAGES = {
    "truncated": (lambda d: (d / "model.int8.onnx").write_bytes(
        (d / "model.int8.onnx").read_bytes()[:5000]), "not an ONNX model"),
    "empty": (lambda d: (d / "model.int8.onnx").write_bytes(b""), "not an ONNX model"),
    "foreign": (lambda d: foreign_model(d / "model.int8.onnx"), "not the model qa_export"),
    "fewer-inputs": (lambda d: edit_settings(d, inputs=["input_ids", "attention_mask"]),
                     "not the model qa_export.json describes"),
    "inputs-text": (lambda d: edit_settings(d, inputs="input_ids"), "inputs is not"),
    "data-list": (lambda d: edit_settings(d, data=[]), "data is not an object"),
    "format": (lambda d: edit_settings(d, format="tflite"), "format is not"),
    "batch-true": (lambda d: edit_settings(d, eval_batch_size=True), "eval_batch_size"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_export_is_one_line_when_loaded(int8_export, tmp_path, damage):
    out = tmp_path / "onnx"
    shutil.copytree(int8_export[0], out)
    change, expected = DAMAGES[damage]
    change(out)
    with pytest.raises(UserError, match=expected) as raised:
        with QuestionAnswerer.load(out) as answerer:
            answerer.answer(QUESTION, CONTEXT)
    assert "\n" not in str(raised.value)


@pytest.mark.slow
def test_qa_predict_refuses_a_damaged_export_in_one_line(int8_export, tmp_path):
    out = tmp_path / "onnx"
    shutil.copytree(int8_export[0], out)
    (out / "model.int8.onnx").write_bytes(b"")
    done = subprocess.run([sys.executable, "-m", "qa_experiments.predict", str(out), "-q",
                           QUESTION, "-c", CONTEXT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("qa-predict: ")]
    assert len(lines) == 1 and "is not an ONNX model ONNX Runtime can load" in lines[0]


def test_a_model_loading_error_under_wandb_offline_is_one_line(tmp_path):
    """qa-predict on a run whose tokenizer.json is damaged: the error line is all of stderr
    (no `[INFO] Running in WANDB offline mode` before it)."""
    (tmp_path / "tokenizer_config.json").write_text('{"tokenizer_class": "BertTokenizer"}')
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.predict", str(tmp_path), "-q", "q", "-c", "c"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "WANDB_MODE": "offline"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("qa-predict: error: ")
