"""Knowledge distillation from a teacher's start/end logits (`distill=logits`).

The teacher is loaded and checked before any work (`load_teacher`: a finished run, a model
directory or a Hub id, sharing the student's vocabulary and windows), runs once over the
training windows (`teacher_logits`, cached by its weights and the windows), and its logits
travel with each window into `DistillationTrainer`'s loss:

    alpha * T^2 * KL(teacher/T || student/T) + (1 - alpha) * cross-entropy on the SQuAD labels

averaged over start and end positions. A SQuAD v2 teacher's no-answer score is its CLS logit,
part of the start/end logits, so the student learns abstention with nothing special.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import datasets
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf

from qa_experiments.config.paths import cache_dir
from qa_experiments.config.schema import ModelConfig
from qa_experiments.data.feature_cache import cached_dataset, store_dataset
from qa_experiments.errors import UserError
from qa_experiments.inference.predictor import load_run
from qa_experiments.model.loading import load_model, load_tokenizer
from qa_experiments.runs import layout
from qa_experiments.training.trainer import QATrainer

log = logging.getLogger(__name__)

TEACHER_COLUMNS = ("teacher_start_logits", "teacher_end_logits")
WINDOW_SETTINGS = ("max_seq_length", "doc_stride", "max_question_length")
MASKED = -1e4  # the logit of a padding position: no probability, finite in bf16
LOGITS_VERSION = "1"  # bump when teacher_logits changes what it stores


class DistillationError(UserError, ValueError):
    """A teacher the student cannot learn from; the message names both."""


@dataclass
class Teacher:
    """A loaded teacher: its model, where it came from and its recorded dev F1 (if any)."""

    source: str
    model: torch.nn.Module
    f1: float | None


def load_teacher(cfg: DictConfig) -> Teacher:
    """The teacher of `cfg.distill`, checked against the student (`cfg.model`, `cfg.data`);
    DistillationError (an ONNX export, another vocabulary or other windows) or
    RunLoadError/ModelLoadError (one line each) otherwise."""
    source = cfg.distill.teacher
    path = Path(source).expanduser()
    if (path / layout.EXPORT_SETTINGS).is_file():
        raise DistillationError(
            f"distill.teacher={source!r} is an ONNX export (qa-export), which can only answer; "
            "a teacher must be a PyTorch model whose logits the student learns from: give the "
            "trained run (or its model/ directory) that was exported, or a Hub model id.")
    if path.exists():
        run = load_run(path)
        model, tokenizer, settings = run.model, run.tokenizer, _recorded_windows(path)
    else:  # a Hub id
        model_cfg = OmegaConf.structured(ModelConfig(name="teacher", name_or_path=source))
        tokenizer = load_tokenizer(model_cfg)
        model, settings = load_model(model_cfg, trained=True), None
    student = load_tokenizer(cfg.model)
    if tokenizer.get_vocab() != student.get_vocab():
        raise DistillationError(
            f"The teacher {source!r} and the student {cfg.model.name_or_path!r} have different "
            "tokenizer vocabularies, so their logits cover different tokens; choose a student "
            "of the teacher's family (same tokenizer).")
    for key, value in (settings or {}).items():
        if value != cfg.data[key]:
            raise DistillationError(
                f"The teacher {source!r} was trained with data.{key}={value}, the student "
                f"{cfg.model.name_or_path!r} with data.{key}={cfg.data[key]}: they must share "
                f"their windows; set data.{key}={value}.")
    model.eval()
    return Teacher(source, model, _recorded_f1(path))


def _recorded_windows(path: Path) -> dict | None:
    """The window settings the teacher was trained with, None when not recorded."""
    for candidate in (path / layout.CONFIG, path / layout.MODEL_SETTINGS):
        config = layout.read_json_object(candidate)
        if config is not None and isinstance(config.get("data"), dict):
            return {key: config["data"][key] for key in WINDOW_SETTINGS
                    if key in config["data"]}
    return None


def _recorded_f1(path: Path) -> float | None:
    """The teacher run's dev F1 from its results.json (a run directory or its model/)."""
    for candidate in (path / layout.RESULTS, path.parent / layout.RESULTS):
        results = layout.read_json_object(candidate)
        if results is not None and isinstance(results.get("f1"), (int, float)):
            return float(results["f1"])
    return None


def weights_digest(model: torch.nn.Module) -> str:
    """A hash of every weight of `model` (names, shapes and values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def windows_digest(features: datasets.Dataset) -> str:
    """A hash of the training windows' tokens (what the teacher reads)."""
    digest = hashlib.sha256()
    for column in ("input_ids", "token_type_ids", "attention_mask"):
        if column in features.column_names:
            digest.update(column.encode())
            for window in features[column]:
                digest.update(torch.tensor(window, dtype=torch.int64).numpy().tobytes())
    return digest.hexdigest()


def teacher_logits(teacher: Teacher, features: datasets.Dataset, collate,
                   batch_size: int) -> datasets.Dataset:
    """The teacher's start and end logits over each window's tokens (TEACHER_COLUMNS, one row
    per window); computed once, then read from the qa-experiments cache."""
    key = hashlib.sha256(
        f"{LOGITS_VERSION}{weights_digest(teacher.model)}{windows_digest(features)}".encode()
    ).hexdigest()[:24]
    target = cache_dir() / "teacher_logits" / key
    cached = cached_dataset(target)
    if cached is not None:
        log.info("Reusing cached teacher logits from %s", target)
        return cached
    log.info("Teacher pass: computing %s's logits for %d training windows", teacher.source,
             len(features))
    return store_dataset(_run_teacher(teacher.model, features, collate, batch_size), target)


@torch.no_grad()
def _run_teacher(model, features: datasets.Dataset, collate, batch_size: int):
    inputs = [c for c in ("input_ids", "token_type_ids", "attention_mask")
              if c in features.column_names]
    device = next(model.parameters()).device
    rows: dict[str, list] = {column: [] for column in TEACHER_COLUMNS}
    for start in range(0, len(features), batch_size):
        windows = features.select_columns(inputs)[start:start + batch_size]
        batch = collate([dict(zip(windows, values)) for values in zip(*windows.values())])
        outputs = model(**{k: v.to(device) for k, v in batch.items()})
        lengths = [len(ids) for ids in windows["input_ids"]]
        for column, logits in zip(TEACHER_COLUMNS, (outputs.start_logits, outputs.end_logits)):
            rows[column] += [row[:n].float().tolist() for row, n in zip(logits.cpu(), lengths)]
    return datasets.Dataset.from_dict(rows)


def with_teacher_logits(features: datasets.Dataset, logits: datasets.Dataset):
    """The training windows with the teacher's logits as two more columns."""
    return datasets.concatenate_datasets([features, logits], axis=1)


def distillation_collator(collate):
    """`collate` for windows that carry teacher logits: those are padded to the batch's length
    with MASKED (padding positions get no probability); evaluation windows pass as they are."""

    def collate_with_teacher(rows: list[dict]) -> dict:
        if TEACHER_COLUMNS[0] not in rows[0]:  # evaluation windows
            return collate(rows)
        teacher = {column: [row.pop(column) for row in rows] for column in TEACHER_COLUMNS}
        batch = collate(rows)
        length = batch["input_ids"].shape[1]
        for column, values in teacher.items():
            padded = torch.full((len(values), length), MASKED)
            for i, row in enumerate(values):
                padded[i, :len(row)] = torch.tensor(row)
            batch[column] = padded
        return batch

    return collate_with_teacher


def soft_loss(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor,
              temperature: float) -> torch.Tensor:
    """KL(teacher/T || student/T) * T^2 over the window's tokens (mask 1), mean over windows."""
    student = student.float().masked_fill(mask == 0, MASKED)
    teacher = teacher.float().masked_fill(mask == 0, MASKED)
    return F.kl_div(F.log_softmax(student / temperature, dim=-1),
                    F.log_softmax(teacher / temperature, dim=-1),
                    reduction="batchmean", log_target=True) * temperature**2


class DistillationTrainer(QATrainer):
    """QATrainer whose loss mixes the SQuAD labels' cross-entropy with the teacher's soft
    targets; logs both losses (`hard_loss`, `soft_loss`) next to the Trainer's `loss`."""

    def __init__(self, *args, temperature: float, alpha: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.temperature, self.alpha = temperature, alpha
        self._sums = {"hard_loss": 0.0, "soft_loss": 0.0}
        self._count = 0

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        self._signature_columns += [c for c in TEACHER_COLUMNS if c not in self._signature_columns]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if TEACHER_COLUMNS[0] not in inputs:  # evaluation windows have no teacher logits
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        teacher = [inputs.pop(column) for column in TEACHER_COLUMNS]
        outputs = model(**inputs)
        mask = inputs["attention_mask"]
        soft = (soft_loss(outputs.start_logits, teacher[0], mask, self.temperature)
                + soft_loss(outputs.end_logits, teacher[1], mask, self.temperature)) / 2
        hard = outputs.loss
        if model.training:
            self._sums["hard_loss"] += hard.detach().item()
            self._sums["soft_loss"] += soft.detach().item()
            self._count += 1
        loss = self.alpha * soft + (1 - self.alpha) * hard
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict, *args, **kwargs) -> None:
        if "loss" in logs and self._count:
            logs.update({key: value / self._count for key, value in self._sums.items()})
            self._sums = dict.fromkeys(self._sums, 0.0)
            self._count = 0
        super().log(logs, *args, **kwargs)


def distillation_record(cfg: DictConfig, teacher: Teacher) -> dict:
    """What results.json and the model card say of the distillation."""
    return {"method": cfg.distill.method, "teacher": teacher.source, "teacher_f1": teacher.f1,
            "temperature": cfg.distill.temperature, "alpha": cfg.distill.alpha}
