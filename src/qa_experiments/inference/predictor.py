"""Answer questions and score data files with a trained model, without training.

`load_run` accepts a training run directory (its `model/` and `config.json`) or a bare
checkpoint directory. Windows, decoding and scores come from the same functions as the
evaluation at the end of training (`data.windows`, `evaluation.model_eval`), run by a
prediction-only `transformers.Trainer`, so a run's own eval data reproduces its results.json.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import torch
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from qa_experiments.config.schema import (
    AUTO_THRESHOLD,
    ConfigError,
    DataConfig,
    HardwareConfig,
    ModelConfig,
    leaves,
    validate_data_settings,
)
from qa_experiments.data.splits import SplitReport, load_split
from qa_experiments.data.windows import prepare_eval_features
from qa_experiments.errors import UserError, one_line
from qa_experiments.evaluation.model_eval import decode_answers, evaluate_features, predict_logits
from qa_experiments.inference.onnx_backend import (
    FP32_FILE,
    INT8_FILE,
    OnnxModel,
    export_settings,
)
from qa_experiments.model.checkpoints import last_checkpoint
from qa_experiments.model.device import device_arguments, padding_collator, set_tf32
from qa_experiments.model.loading import load_model, load_tokenizer, weights_problem
from qa_experiments.model.progress import no_progress_bars
from qa_experiments.runs import layout
from qa_experiments.runs.claim import live_owner
from qa_experiments.runs.layout import CALIBRATION, EXPORT_SETTINGS, model_directory
from qa_experiments.scoring.calibration import PlattCalibration
from qa_experiments.scoring.calibration_metrics import brier_score, expected_calibration_error
from qa_experiments.scoring.decoding import Prediction

# Transformers prints "[INFO] Running in WANDB offline mode" on stdout when its Trainer is first
# imported under WANDB_MODE=offline: not a line to show beside an answer or a one-line error.
# Only that import's stdout is dropped; warnings and logging go to stderr as before.
with contextlib.redirect_stdout(io.StringIO()):
    from transformers import Trainer, TrainingArguments

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
# PyTorch's pickle format: loading it can run code, so a model saved only in it is refused.
PICKLED_WEIGHT_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
DATA_SUFFIXES = (".gz", ".jsonl", ".json")


class RunLoadError(UserError, ValueError):
    """A path that holds no usable run or model; the message says what was expected."""



@dataclass
class LoadedRun:
    """A trained model with its tokenizer and the data settings it was trained with."""

    path: Path  # the directory given to load_run
    model_dir: Path
    model: Any
    tokenizer: Any
    data_cfg: DictConfig  # window and decoding settings (schema.DataConfig), threshold resolved
    hardware: dict[str, Any]  # the run's hardware settings, typed ({} for an export)
    eval_batch_size: int
    calibration: PlattCalibration | None = None  # from model/calibration.json
    tuned_threshold: float | None = None  # from model/calibration.json (SQuAD v2 runs)


def load_run(path: str | Path, null_threshold: float | str | None = None,
             precision: str | None = None,
             check_inputs: Callable[[DictConfig], None] | None = None) -> LoadedRun:
    """Load a run directory (`model/` + `config.json`), a bare checkpoint directory, or an
    ONNX export directory (qa-export; `precision` fp32 or int8, default int8 when exported).

    `null_threshold` (a number or "auto", the tuned one) replaces the run's
    data.null_score_diff_threshold; RunLoadError, before the model is loaded, when the run
    decodes as SQuAD v1.1 (the threshold would change nothing) or for auto without a tuned one.
    `check_inputs`, if given, is called with the run's data settings once the run is checked
    and before the model is loaded: a command's own input checks (its data file's records)
    fail before any weights are read.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise RunLoadError(f"No run or checkpoint directory at {str(path)!r}.")
    if (path / EXPORT_SETTINGS).is_file():
        return load_export(path, null_threshold, precision, check_inputs)
    if precision is not None:
        raise RunLoadError(f"precision={precision!r} chooses the model file of an ONNX export "
                           f"(qa-export), but {str(path)!r} is not one; leave it out.")
    model_dir = model_directory(path)
    _check_run_finished(path, model_dir)
    _refuse_pickled_weights(model_dir)
    if not (model_dir / layout.CONFIG).is_file() or not _has_weights(model_dir):
        raise RunLoadError(
            f"{str(path)!r} holds no model: expected a run directory (model/ and config.json, "
            "as written by qa-train) or a checkpoint directory (config.json, model.safetensors)."
        )
    damage = weights_problem(model_dir)
    if damage:
        raise RunLoadError(f"The model in {str(model_dir)!r} is damaged: {damage}.")
    config, source = _run_config(path, model_dir)
    data_cfg = _data_config(config.get("data", {}), source)
    model_cfg = _model_config(model_dir, _section(config, "model", source))
    hardware = _hardware(_section(config, "hardware", source), source)
    batch_size = _eval_batch_size(_section(config, "trainer", source), hardware, source)
    calibration, tuned_threshold = _stored_calibration(model_dir)  # before the heavy loading
    data_cfg.null_score_diff_threshold = _decoding_threshold(
        data_cfg, null_threshold, tuned_threshold, path)
    if check_inputs is not None:
        check_inputs(data_cfg)
    with no_progress_bars():
        tokenizer = load_tokenizer(model_cfg)
        model = load_model(model_cfg, trained=True)
    model.eval()
    return LoadedRun(path, model_dir, model, tokenizer, data_cfg, hardware, batch_size,
                     calibration, tuned_threshold)


def load_export(path: Path, null_threshold: float | str | None, precision: str | None,
                check_inputs: Callable[[DictConfig], None] | None = None) -> LoadedRun:
    """An ONNX export directory (inference.onnx_backend) loaded like a run."""
    source = path / EXPORT_SETTINGS
    settings = export_settings(_plain_settings(layout.read_json(source), source), source)
    data_cfg = _data_config(settings.data, source)
    data_cfg.null_score_diff_threshold = settings.null_score_diff_threshold
    file = INT8_FILE if precision == "int8" or (
        precision is None and (path / INT8_FILE).is_file()) else FP32_FILE
    if not (path / file).is_file():
        raise RunLoadError(f"{str(path)!r} holds no {file} (export with --quantize int8 for it).")
    calibration, tuned_threshold = _stored_calibration(path)
    if null_threshold is not None:
        data_cfg.null_score_diff_threshold = _decoding_threshold(
            data_cfg, null_threshold, tuned_threshold, path)
    if check_inputs is not None:
        check_inputs(data_cfg)
    tokenizer = load_tokenizer(OmegaConf.structured(ModelConfig(name="export",
                                                                name_or_path=str(path))))
    model = OnnxModel(path / file, settings.inputs)
    return LoadedRun(path, path, model, tokenizer, data_cfg, {}, settings.eval_batch_size,
                     calibration, tuned_threshold)


def calibration_path(path: str | Path) -> Path:
    """Where the calibration of the model in a run or checkpoint directory is stored."""
    path = Path(path).expanduser()
    return model_directory(path) / CALIBRATION


def _stored_calibration(model_dir: Path) -> tuple[PlattCalibration | None, float | None]:
    """The calibration and tuned no-answer threshold stored with the model (None if absent)."""
    path = model_dir / CALIBRATION
    if not path.is_file():
        return None, None
    try:
        stored = layout.read_json_object(path)
        if stored is None:
            raise ValueError("it is not a JSON object")
        confidence = stored.get("confidence")
        threshold = stored.get("null_score_diff_threshold")
        threshold = None if threshold is None else float(threshold)
        if threshold is not None and not math.isfinite(threshold):
            raise ValueError(f"null_score_diff_threshold {threshold} is not a finite number")
        return (PlattCalibration.from_dict(confidence) if confidence else None, threshold)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise RunLoadError(f"{str(path)!r} is not a calibration file qa-train wrote: "
                           f"{one_line(error)}; remove it or retrain.") from error


def _decoding_threshold(data_cfg: DictConfig, override: float | str | None,
                        tuned: float | None, path: Path) -> float:
    """The no-answer threshold to decode with: `override` (--null-threshold) if given, else the
    run's own; "auto" is the tuned threshold stored with the model. A run trained with auto
    whose tuning was skipped (too few questions) decoded with 0.0, and so does this."""
    version_2 = data_cfg.version_2_with_negative
    if override is not None and not version_2:
        raise RunLoadError(
            f"--null-threshold changes nothing for {str(path)!r}: it decodes as SQuAD v1.1 (its "
            "run config has data.version_2_with_negative=false, or it has none), which always "
            "answers; leave the option out.")
    value = data_cfg.null_score_diff_threshold if override is None else override
    if value != AUTO_THRESHOLD:
        return float(value)
    if tuned is not None:
        return tuned
    if override is not None:
        raise RunLoadError(
            f"No tuned no-answer threshold is stored with the model in {str(path)!r} "
            f"(model/{CALIBRATION} gets one at the end of a SQuAD v2 run with enough "
            "questions to tune it); give a number instead of auto.")
    return 0.0


def _check_run_finished(path: Path, model_dir: Path) -> None:
    """RunLoadError for a run directory whose run has not finished (so it has no model/):
    one that a live job is still training, or one that ended unfinished."""
    if model_dir != path:
        return
    owner = live_owner(path)
    if owner is not None:
        who = f" (pid {owner.pid})" if owner.pid is not None else ""
        raise RunLoadError(f"The run in {str(path)!r} is still being trained by a running "
                           f"job{who}, so it has no model yet; wait for that job to finish, or "
                           "give a finished run.")
    status_doc = layout.read_json_object(path / layout.STATUS)
    if status_doc is None:
        return
    status = status_doc.get("status")
    if status != layout.FINISHED:
        newest = last_checkpoint(path / layout.CHECKPOINTS_DIR)
        hint = (f"use its newest checkpoint ({newest!r}) or continue it with resume=true"
                if newest else "it saved no usable checkpoint; train it again")
        raise RunLoadError(f"The run in {str(path)!r} has not finished (status.json: {status}), "
                           f"so it has no complete model; {hint}.")


def _has_weights(model_dir: Path) -> bool:
    return any((model_dir / name).is_file() for name in WEIGHT_FILES)


def _refuse_pickled_weights(model_dir: Path) -> None:
    """RunLoadError for a model whose weights are only in PyTorch's pickle format."""
    pickled = [name for name in PICKLED_WEIGHT_FILES if (model_dir / name).is_file()]
    if pickled and not _has_weights(model_dir):
        raise RunLoadError(
            f"The weights in {str(model_dir / pickled[0])!r} are in PyTorch's pickle format, "
            "which can run code when loaded, so they are not read; convert them to "
            "safetensors (model.safetensors) with the code that made them.")


def _run_config(path: Path, model_dir: Path) -> tuple[dict[str, Any], Path]:
    """The resolved training config of the run the model belongs to ({} if none), and the file
    it came from.

    A run directory keeps it next to `model/`; a Trainer checkpoint inside a run
    (`RUN/checkpoints/checkpoint-N`) two levels up. A model's own config.json has no "data";
    a model directory a run wrote has its window and decoding settings in qa_settings.json.
    """
    candidates = [path / layout.CONFIG] if model_dir != path else [path / layout.MODEL_SETTINGS]
    if path.parent.name == layout.CHECKPOINTS_DIR:
        candidates.append(path.parent.parent / layout.CONFIG)
    for candidate in candidates:
        config = layout.read_json_object(candidate)
        if config is not None and isinstance(config.get("data"), dict):
            return _plain_settings(config, candidate), candidate
    if model_dir != path:
        raise RunLoadError(f"{str(path / layout.CONFIG)!r} is missing or not a run config.")
    if (path / layout.MODEL_SETTINGS).exists():
        raise RunLoadError(f"{str(path / layout.MODEL_SETTINGS)!r} is not the settings file "
                           "qa-train writes (a JSON object with \"data\"); restore it or delete "
                           "it to decode with the defaults.")
    return {}, path


def _plain_settings(settings: Any, source: Path) -> Any:
    """`settings` (read from `source`) as they are, or RunLoadError for a text OmegaConf would
    not keep as it is: one holding `${` (an interpolation: `${oc.env:NAME}` would copy an
    environment variable into exports and error lines) or `???` (a value not set). Stored
    settings are plain values, never interpolated."""
    for key, value in leaves(settings):
        if isinstance(value, str) and ("${" in value or value == MISSING):
            raise RunLoadError(
                f"{str(source)!r}: {key[:80]!r} is {value[:40]!r}, which OmegaConf would read as "
                "an interpolation or a value not set; settings read from a file are plain "
                "values, never interpolated: write the value itself.")
    return settings


def _section(config: dict[str, Any], key: str, source: Path) -> dict[str, Any]:
    """The `key` object of a run config ({} when absent); RunLoadError for another value."""
    section = config.get(key, {})
    if not isinstance(section, dict):
        raise RunLoadError(f"{str(source)!r}: {key} is {type(section).__name__}, not an object "
                           "of settings; restore the file qa-train wrote.")
    return section


def _hardware(trained: dict[str, Any], source: Path) -> dict[str, Any]:
    """The run's hardware settings, typed by schema.HardwareConfig (unknown keys left out)."""
    known = {f.name for f in dataclasses.fields(HardwareConfig)}
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(HardwareConfig),
                              {k: v for k, v in trained.items() if k in known})
    except OmegaConfBaseException as error:
        raise RunLoadError(f"Invalid hardware settings in {str(source)!r}: {one_line(error)}"
                           ) from error
    return OmegaConf.to_container(cfg)


def _eval_batch_size(trainer: dict[str, Any], hardware: dict[str, Any], source: Path) -> int:
    """The run's evaluation batch size: trainer.per_device_eval_batch_size, else the
    hardware's; RunLoadError unless it is a whole number >= 1."""
    size = trainer.get("per_device_eval_batch_size") or hardware["eval_batch_size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise RunLoadError(f"Invalid evaluation batch size in {str(source)!r}: {size!r:.40} "
                           "is not a whole number >= 1; restore the file qa-train wrote.")
    return size


def _model_config(model_dir: Path, trained: dict[str, Any]) -> DictConfig:
    """A schema.ModelConfig for the saved model (tokenizer from the base model if not saved)."""
    has_tokenizer = any((model_dir / name).is_file() for name in TOKENIZER_FILES)
    names = [trained.get(key) for key in ("tokenizer_name_or_path", "name_or_path")]
    tokenizer = None if has_tokenizer else next(
        (name for name in names if isinstance(name, str) and name), None)
    if not has_tokenizer and not tokenizer:
        raise RunLoadError(f"{str(model_dir)!r} holds no tokenizer (tokenizer.json).")
    cfg = OmegaConf.structured(ModelConfig(name="inference", name_or_path=str(model_dir)))
    cfg.tokenizer_name_or_path = tokenizer
    # Never trust_remote_code from a run's config.json: a file read back is untrusted, and it
    # would run Python code from the model directory.
    for key in ("revision", "attn_implementation"):
        if isinstance(trained.get(key), str):
            cfg[key] = trained[key]  # revision only matters for a tokenizer from the Hub
    return cfg


def _data_config(trained: Any, source: Path) -> DictConfig:
    """schema.DataConfig defaults overridden by the run's data settings (read from `source`,
    plain values: see _plain_settings)."""
    if not isinstance(trained, dict):
        raise RunLoadError(f"Invalid data settings in {str(source)!r}: data is "
                           f"{type(trained).__name__}, not an object of settings.")
    known = {f.name for f in dataclasses.fields(DataConfig)}
    cfg = OmegaConf.structured(DataConfig(name="inference"))
    try:
        cfg = OmegaConf.merge(cfg, {k: v for k, v in trained.items() if k in known})
        validate_data_settings(cfg)
    except (OmegaConfBaseException, ConfigError) as error:
        raise RunLoadError(f"Invalid data settings in {str(source)!r}: {one_line(error)}"
                           ) from error
    return cfg


def load_examples(
    run: LoadedRun | DictConfig, data_file: str | Path, *, max_samples: int | None = None,
    require_answers: bool = True,
) -> tuple[datasets.Dataset, SplitReport]:
    """The usable records of a SQuAD file (nested or flat), read like a run's eval split with
    the run's data settings (`run`: a loaded run, or its data settings before it is loaded).

    With `require_answers=False` (questions to answer rather than to score) a record needs
    only id, question and context. Records left out are named in one line on stderr.
    """
    data_cfg = run.data_cfg if isinstance(run, LoadedRun) else run
    reading = {"dataset_name": None, "eval_file": str(data_file), "max_eval_samples": max_samples}
    examples, report = load_split(OmegaConf.merge(data_cfg, reading), "eval",
                                  require_answers=require_answers)
    if report.dropped:  # left out, never silently: one line naming the first of each problem
        print(f"note: {report.summary()}", file=sys.stderr)
    return examples, report


def predict_file(
    run: LoadedRun, data_file: str | Path, *, max_samples: int | None = None,
    batch_size: int | None = None, progress: bool = False,
    examples: tuple[datasets.Dataset, SplitReport] | None = None,
) -> tuple[datasets.Dataset, list[Prediction]]:
    """Answer every question of a SQuAD file (or its `examples`, already read by
    `load_examples` with `require_answers=False`); return its examples and their answers."""
    examples, _ = examples or load_examples(run, data_file, max_samples=max_samples,
                                            require_answers=False)
    features = prepare_eval_features(examples, run.tokenizer, run.data_cfg)
    with prediction_trainer(run, batch_size, progress=progress) as trainer:
        start_logits, end_logits = predict_logits(trainer, features)
    answers = decode_answers(start_logits, end_logits, features, examples, run.data_cfg,
                             null_score_diff_threshold=run.data_cfg.null_score_diff_threshold)
    return examples, answers


def confidence(run: LoadedRun, prediction: Prediction) -> float | None:
    """Calibrated P(exact match) of an answer; None without a stored calibration."""
    if run.calibration is None:
        return None
    return float(run.calibration.confidence(prediction.probability or 0.0))


def evaluate_file(
    run: LoadedRun, data_file: str | Path, *, max_samples: int | None = None,
    batch_size: int | None = None, progress: bool = False,
    examples: tuple[datasets.Dataset, SplitReport] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Official EM/F1 (plus the v2 breakdown) on a SQuAD file (or its `examples`, already
    read by `load_examples`), computed as after training, and the per-question records
    (`scoring.question_records`)."""
    started = time.perf_counter()
    examples, report = examples or load_examples(run, data_file, max_samples=max_samples)
    features = prepare_eval_features(examples, run.tokenizer, run.data_cfg)
    with prediction_trainer(run, batch_size, progress=progress) as trainer:
        evaluation = evaluate_features(trainer, features, examples, run.data_cfg)
    stored = stored_calibration_figures(run, evaluation.answers, evaluation.records)
    results = {
        **evaluation.metrics,
        **stored,
        "eval_examples": len(examples),
        "eval_features": len(features),
        "eval_runtime": evaluation.runtime,
        "total_seconds": time.perf_counter() - started,
        "data_file": str(Path(data_file).expanduser().resolve()),
        "model_dir": str(run.model_dir.resolve()),
        "data_report": report.to_dict(),
    }
    return results, evaluation.records


def stored_calibration_figures(run: LoadedRun, answers: list[Prediction],
                               records: list[dict[str, Any]]) -> dict[str, Any]:
    """ECE and Brier score of the calibration stored with the model on these answers
    ({} without one)."""
    if run.calibration is None:
        return {}
    confidences = [confidence(run, a) for a in answers]
    exact = [r["exact_match"] for r in records]
    return {"stored_calibration": {
        "ece": expected_calibration_error(confidences, exact),
        "brier": brier_score(confidences, exact),
        "how": "the calibration stored with the model (fitted on all eval questions of its "
               "run) applied to these questions: a held-out figure only when they are not "
               "the run's eval questions",
    }}


@contextlib.contextmanager
def prediction_trainer(
    run: LoadedRun, batch_size: int | None = None, *, progress: bool = False
) -> Iterator[Trainer]:
    """A Trainer for `predict` only: CPU unless CUDA, the run's precision, no reporting (for
    an ONNX export, its ONNX Runtime session, which has the same `predict`)."""
    if isinstance(run.model, OnnxModel):  # runs its windows one by one (no batch size)
        yield run.model
        return
    with tempfile.TemporaryDirectory(prefix="qa-predict-") as scratch:
        args = TrainingArguments(
            output_dir=scratch,
            report_to="none",
            per_device_eval_batch_size=batch_size or run.eval_batch_size,
            disable_tqdm=not progress,
            **prediction_device_arguments(run.hardware),
        )
        set_tf32(args.tf32)
        collator = padding_collator(run.tokenizer, args)
        yield Trainer(model=run.model, args=args, data_collator=collator,
                      processing_class=run.tokenizer)


def prediction_device_arguments(hardware: dict[str, Any]) -> dict[str, Any]:
    """The run's device settings (model.device.device_arguments) for this machine: CUDA when
    available, else the CPU: in bf16 for a run that itself used bf16 on the CPU, for a run in
    `auto` as `auto` decides here (bf16 where this CPU has bf16 units), else fp32."""
    settings = {**dataclasses.asdict(HardwareConfig()), **hardware}
    ran_on_cpu = settings["device"] == "cpu"
    if torch.cuda.is_available():
        settings["device"] = "cuda"
        if ran_on_cpu and settings["precision"] == "auto":
            settings["precision"] = "fp32"  # what auto meant for that run
    else:
        settings["device"] = "cpu"
        if not (ran_on_cpu and settings["precision"] == "bf16" or settings["precision"] == "auto"):
            settings["precision"] = "fp32"
    return device_arguments(OmegaConf.create(settings))


def data_file_stem(data_file: str | Path) -> str:
    """`dev-v1.1` for dev-v1.1.json.gz: the file name without its data suffixes."""
    name = Path(data_file).name
    for suffix in DATA_SUFFIXES:
        name = name.removesuffix(suffix)
    return name or "data"
