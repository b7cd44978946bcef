"""What several test modules share besides fixtures (those live in conftest.py): the overrides
that shrink a run to seconds, config composition, and small builders and readers of run files.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

from qa_experiments.config.paths import config_dir
from qa_experiments.config.schema import DataConfig
from qa_experiments.lifecycle.job import train

# The CPU in fp32 on every machine: hardware=cpu alone trains in bf16 where the CPU has bf16
# units, and the end-to-end tests compare answers exactly (resume, ONNX fp32, qa-evaluate).
CPU_FP32 = ["hardware=cpu", "hardware.precision=fp32"]
# Overrides that shrink a run to seconds on a CPU.
FAST = [
    "logger=none",
    *CPU_FP32,
    "data.max_train_samples=24",
    "data.max_eval_samples=12",
    "data.max_seq_length=128",
    "data.doc_stride=48",
    "data.max_question_length=32",
    "trainer.num_train_epochs=1",
    "hardware.train_batch_size=8",
    "trainer.logging_steps=1",
    "trainer.disable_tqdm=true",
]


def compose_config(overrides: list[str], run_dir: Path | None = None):
    """Compose the real config with Hydra's compose API, as the entrypoint would."""
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    if run_dir is not None:
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(run_dir)
            cfg.hydra.job.override_dirname = run_dir.name
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def compose_with_hydra(*overrides: str):
    """The composed config with its hydra node (sweeper, launcher)."""
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


def run_train(tmp_path, name, overrides):
    """Run the real train task in-process on FAST + `overrides`; (dev F1, run directory)."""
    run_dir = tmp_path / name
    cfg = compose_config(FAST + overrides, run_dir)
    f1 = train(cfg)
    return f1, run_dir


def compiled_run(tmp_path, monkeypatch, overrides) -> tuple[set[int], int, dict]:
    """Train tiny BERT with torch.compile on length-bucketed batches; return the batch lengths
    seen, the number of graphs dynamo compiled, and the run's results."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    from qa_experiments.training import experiment as training

    lengths = set()
    make_collator = training.padding_collator

    def recording_collator(tokenizer, args):
        collate = make_collator(tokenizer, args)

        def record(features):
            batch = collate(features)
            lengths.add(batch["input_ids"].shape[1])
            return batch

        return record

    monkeypatch.setattr(training, "padding_collator", recording_collator)
    torch._dynamo.reset()
    counters.clear()
    _, run_dir = run_train(tmp_path, "compiled", [
        "model=tiny_bert", "data.max_train_samples=200", "hardware.torch_compile=true",
        *overrides,
    ])
    results = json.loads((run_dir / "results.json").read_text())
    return lengths, counters["stats"]["unique_graphs"], results


RESUMABLE = FAST + [
    "model=tiny_bert", "data.max_train_samples=120", "hardware.train_batch_size=4",
    "trainer.num_train_epochs=2", "trainer.save_steps=10", "trainer.logging_steps=5",
    "trainer.save_total_limit=3",
]


def start(run_dir, *extra):
    """Start `qa-train` on RESUMABLE in a subprocess."""
    return subprocess.Popen(
        [sys.executable, "-m", "qa_experiments.train", *RESUMABLE, *extra,
         f"hydra.run.dir={run_dir}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def kill_and_resume(tmp_path, *extra) -> None:
    """SIGKILL a run after checkpoint-40 began; checkpoint-40 then reads as damaged (empty
    trainer_state.json), so the resume must fall back to checkpoint-30 and end exactly like an
    uninterrupted run with the same `extra` overrides. The run directory is tmp_path/killed."""
    reference = start(tmp_path / "uninterrupted", *extra)
    assert reference.wait(timeout=600) == 0, reference.stderr.read()[-2000:]

    interrupted = start(tmp_path / "killed", *extra)
    checkpoints = tmp_path / "killed" / "checkpoints"
    deadline = time.monotonic() + 300
    while not list(checkpoints.glob("checkpoint-40")) and interrupted.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    interrupted.send_signal(signal.SIGKILL)
    interrupted.wait()
    assert not (tmp_path / "killed" / "results.json").exists(), "killed too late: raise steps"
    (checkpoints / "checkpoint-40" / "trainer_state.json").write_text("")
    ledger = json.loads((checkpoints / "checkpoint-30" / "trainer_state.json").read_text())[
        "stateful_callbacks"]["RunLedger"]["attributes"]

    resumed = start(tmp_path / "killed", *extra, "resume=true")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()[-2000:]
    log = (tmp_path / "killed" / "train.log").read_text()
    assert re.search(r"Skipping \S+/checkpoint-40: ", log)  # incomplete or unreadable
    assert re.search(r"Resuming from \S+/checkpoint-30\n", log)
    first, second = (json.loads((tmp_path / d / "results.json").read_text())
                     for d in ("uninterrupted", "killed"))
    assert second["f1"] == pytest.approx(first["f1"], abs=1e-6)
    assert second["exact_match"] == pytest.approx(first["exact_match"], abs=1e-6)
    assert json.loads((tmp_path / "killed" / "predictions.json").read_text()) == json.loads(
        (tmp_path / "uninterrupted" / "predictions.json").read_text())

    # Whole-run figures: the resumed run's totals match the uninterrupted run's.
    assert (first["resumed"], first["resumed_from_step"]) == (False, None)
    assert (second["resumed"], second["resumed_from_step"]) == (True, 30)
    assert second["train_loss"] == pytest.approx(first["train_loss"], rel=1e-6)
    assert second["train_steps"] == first["train_steps"]
    for rate in ("train_samples_per_second", "train_tokens_per_second"):
        total = second[rate] * second["train_runtime"]
        assert total == pytest.approx(first[rate] * first["train_runtime"], rel=1e-6), rate
    assert second["train_runtime"] > ledger["seconds"] > 0  # both parts of the training


# An Optuna search of tiny BERT trials (with FAST), reporting to its pruner every step.
TINY_SEARCH = ["hparams_search=optuna", "model=tiny_bert", "optimizer.warmup=0",
               "pruning.report_every=1", "pruning.eval_questions=4", "hydra.sweeper.params=null"]


def search(cwd: Path, *overrides: str, status: int = 0) -> Path:
    """Run a search in `cwd`, expecting exit `status` (1: every trial of this search failed);
    its sweep directory."""
    sweep = cwd / f"sweep{len(list(cwd.glob('sweep*')))}"
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", *FAST, *TINY_SEARCH, *overrides,
         f"hydra.sweep.dir={sweep}"],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == status, (done.stdout + done.stderr)[-4000:]
    if status == 1:
        assert done.stderr.splitlines()[-1].startswith(
            "qa-train: error: every job of the sweep failed"), done.stderr[-4000:]
    return sweep


def trials_table(sweep: Path) -> list[dict[str, str]]:
    """The search's trials.csv, one dict per trial."""
    with (sweep / "trials.csv").open() as handle:
        return list(csv.DictReader(handle))


def make_job(
    sweep: Path,
    name: str,
    overrides: list[str],
    *,
    status: str | None = None,
    error: str | None = None,
    results: dict | str | None = None,
    backbone: str | None = None,
) -> Path:
    """A job directory as Hydra and the train task leave it; `results` may be raw text."""
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if status is not None:
        doc = {"status": status, "error": error, "overrides": overrides}
        (job / "status.json").write_text(json.dumps(doc))
    if backbone is not None:
        config = {"model": {"name": backbone}, "optimizer": {"lr": 1e-5}}
        (job / "config.json").write_text(json.dumps(config))
    if isinstance(results, dict):
        (job / "results.json").write_text(json.dumps(results))
    elif isinstance(results, str):
        (job / "results.json").write_text(results)
    return job


def metrics(em: float, f1: float, runtime: float = 725.3, sps: float = 25.37) -> dict:
    """A results.json as a finished job writes it."""
    return {
        "exact_match": em,
        "f1": f1,
        "train_runtime": runtime,
        "train_samples_per_second": sps,
        "eval_runtime": 12.5,
        "model": "some/model",
        "world_size": 1,
    }


def wandb_state(run_dir):
    """The run's config and summary, read back with W&B's own reader."""
    (offline_run,) = (run_dir / "wandb").glob("offline-run-*")
    done = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--summary", "--json",
         str(offline_run)], capture_output=True, text=True, check=True,
    )
    return json.loads(done.stdout)


def wandb_history(run_dir, key: str) -> list[float]:
    """Every value of `key` in the run's history, in order, read from its .wandb log."""
    (offline_run,) = (run_dir / "wandb").glob("offline-run-*")
    done = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json",
                           str(offline_run)], capture_output=True, text=True, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    rows = [r["history"]["item"] for r in records if r.get("type") == "history"]
    return [row[key] for row in rows if key in row]


def wandb_attempts(run_dir) -> list[dict]:
    """Every attempt's offline W&B run in `run_dir`, oldest first: its run id, config and
    history rows, read back with W&B's own reader."""
    attempts = []
    for offline in sorted((run_dir / "wandb").glob("offline-run-*")):  # named by start time
        inspect = [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(offline)]
        done = subprocess.run(inspect, capture_output=True, text=True, check=True)
        records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        summary = subprocess.run([*inspect[:-1], "--summary", str(offline)], capture_output=True,
                                 text=True, check=True)
        attempts.append({
            "id": offline.name.rsplit("-", 1)[1],  # offline-run-<time>-<id>: also when empty
            "rows": [r["history"]["item"] for r in records if r.get("type") == "history"],
            **{k: v for k, v in json.loads(summary.stdout).items() if k in ("config", "summary")},
        })
    return attempts


def assert_one_wandb_run_across_attempts(run_dir, attempts: int) -> list[dict]:
    """The run's `attempts` offline W&B runs are one run: the same id (the one wandb_run.json
    names), the same config, and a history whose optimizer steps each appear once, the later
    attempt continuing where the earlier one stopped. The attempts, oldest first."""
    runs = wandb_attempts(run_dir)
    assert len(runs) == attempts
    state = json.loads((run_dir / "wandb_run.json").read_text())
    assert {run["id"] for run in runs} == {state["id"]}
    configs = [run["config"] for run in runs if run.get("config")]  # a killed one may be empty
    assert configs and all(config == configs[0] for config in configs)
    steps = [row["_step"] for run in runs for row in run["rows"]]
    assert steps == sorted(set(steps)), steps  # each step once, in order across attempts
    assert state["last_step"] == steps[-1]
    logged = [row["train/global_step"] for run in runs for row in run["rows"]
              if "train/loss" in row]
    assert logged == sorted(set(logged)) and logged, logged
    return runs


def tensorboard_events(run_dir):
    """The run's TensorBoard events (RUN_DIR/tensorboard/), read with TensorBoard's own reader,
    every one kept (no sampling)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    reader = EventAccumulator(str(run_dir / "tensorboard"),
                              size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    reader.Reload()
    return reader


def scalar_steps(reader, tag: str) -> list[int]:
    """The steps of TensorBoard scalar `tag`, in the order read."""
    return [event.step for event in reader.Scalars(tag)]


def find_key(tree, key):
    """The value stored under `key` anywhere in a nested JSON structure (None if absent)."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        tree = list(tree.values())
    if isinstance(tree, list):
        for item in tree:
            found = find_key(item, key)
            if found is not None:
                return found
    return None


def assert_scores_match_predictions(run_dir: Path) -> None:
    """results.json's EM/F1 are the official scores of predictions.json on the eval questions,
    recomputed with the independent implementation of the official script."""
    from official_v2_reference import official_raw_scores
    from qa_experiments.data.squad_files import read_squad_file

    config = json.loads((run_dir / "config.json").read_text())
    results = json.loads((run_dir / "results.json").read_text())
    predictions = json.loads((run_dir / "predictions.json").read_text())
    golds = {r["id"]: [a["text"] for a in r["answers"]]
             for r in read_squad_file(config["data"]["eval_file"]) if r["id"] in predictions}
    assert golds.keys() == predictions.keys()
    exact, f1 = official_raw_scores(golds, predictions)
    assert results["exact_match"] == pytest.approx(100 * sum(exact.values()) / len(exact))
    assert results["f1"] == pytest.approx(100 * sum(f1.values()) / len(f1))


def assert_training_rate_matches(results: dict, epochs: int = 1) -> None:
    """train_samples_per_second is the windows trained on over the training time."""
    assert results["train_samples_per_second"] == pytest.approx(
        results["train_features"] * epochs / results["train_runtime"], rel=1e-6)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (hidden ones too), by relative path, with its bytes."""
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


class ShiftedOffsets:
    """A real fast tokenizer whose offsets all point one character later (a broken one)."""

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)

    def __call__(self, *args, **kwargs):
        encoded = self._tokenizer(*args, **kwargs)
        if "offset_mapping" in encoded:
            encoded["offset_mapping"] = [[(s + 1, e + 1) if e else (s, e) for s, e in offsets]
                                         for offsets in encoded["offset_mapping"]]
        return encoded


CONTEXT = ("The Normans were the people who in the 10th and 11th centuries gave their name to "
           "Normandy, a region in France. They were descended from Norse raiders and pirates.")


def crafted_record(i: int, rng: random.Random, *, v2: bool, confidence: bool) -> dict:
    """Question record `i` of a crafted run, as the evaluation writes it to eval_questions.jsonl."""
    answerable = not v2 or i % 3 != 0
    gold = ["Normandy"] if answerable else []
    right = rng.random() < 0.5
    prediction = ("Normandy" if right else "France") if answerable or rng.random() < 0.5 else ""
    p_na = rng.random()
    record = {
        "id": f"q{i}", "title": "Normans", "question": rng.choice(
            ["Where did the Normans live?", "In what country is Normandy?", "Who were they?",
             "Why did they raid?", "How many centuries?"]),
        "context": CONTEXT, "answers": gold,
        "answer_starts": [CONTEXT.find("Normandy")] if answerable else [],
        "prediction": prediction,
        "exact_match": int(prediction == "Normandy" if answerable else prediction == ""),
        "f1": 0.0, "windows": 1 + i % 3,
        "answer_start_char": CONTEXT.find(prediction) if prediction else -1,
        "probability": rng.random(), "confidence": rng.random() if confidence else None,
    }
    record["f1"] = float(record["exact_match"])
    if v2:
        span_right = answerable and rng.random() < 0.6
        record.update({"no_answer_probability": p_na,
                       "best_span": "Normandy" if span_right else "France",
                       "best_span_exact_match": int(span_right),
                       "best_span_f1": float(span_right)})
    return record


def crafted_run(tmp_path, n=90, *, v2=True, confidence=True, results=True):
    """A run directory holding `n` crafted question records (and results.json); (dir, records)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    rng = random.Random(7)
    records = [crafted_record(i, rng, v2=v2, confidence=confidence) for i in range(n)]
    (run_dir / "eval_questions.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    if results:
        f1 = 100 * sum(r["f1"] for r in records) / n
        (run_dir / "results.json").write_text(json.dumps({
            "exact_match": f1, "f1": f1, "eval_examples": n,
            "calibration": {"ece_before": 0.2, "ece_after": 0.04}}))
    return run_dir, records


def data_cfg(**overrides):
    """A `data` config with the schema's defaults and `overrides`."""
    return OmegaConf.merge(OmegaConf.structured(DataConfig(name="test")), overrides)


def one_line(error: BaseException) -> str:
    """The error's message, which must be one line."""
    message = str(error)
    assert "\n" not in message and message.strip(), repr(message)
    return message


def run(module: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    # Transformers prints a banner when WANDB_MODE=offline is set (conftest sets it).
    env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)


def assert_one_error_line(done: subprocess.CompletedProcess, prog: str, expected: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == "", done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{prog}: error: ") and expected in lines[0], lines[0]
