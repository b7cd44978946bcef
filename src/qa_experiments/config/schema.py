"""Structured-config schema: every key a composed config may have, with its type.

Hydra merges the YAML config groups into these dataclasses, so a misspelt key or a value of the
wrong type fails at composition time, before any model or data is loaded. The free-form
`trainer` node is checked against `transformers.TrainingArguments` by `validate_config`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from qa_experiments.errors import UserError


@dataclass
class LoraConfig:
    """LoRA fine-tuning (PEFT): adapters on the attention, the QA head fully trained; the
    run's model/ holds the merged weights."""

    enabled: bool = False  # true: LoRA; false: every weight trained
    rank: int = 8  # of the adapters' low-rank update
    alpha: float = 16.0  # the update is scaled by alpha / rank
    dropout: float = 0.1  # on the adapters' input
    target_modules: list[str] | None = None  # null: the family's query and value projections


@dataclass
class ModelConfig:
    """The backbone: any Hub name or local checkpoint directory."""

    name: str = MISSING  # short label used in run names and W&B tags
    name_or_path: str = MISSING
    tokenizer_name_or_path: str | None = None  # defaults to name_or_path
    revision: str = "main"
    trust_remote_code: bool = False
    attn_implementation: str | None = "sdpa"  # PyTorch scaled-dot-product attention
    lora: LoraConfig = field(default_factory=LoraConfig)
    # Keep this many evenly spaced layers of the checkpoint (a student shrunk from a pretrained
    # model, as DistilBERT was from BERT); null: all of them.
    num_hidden_layers: int | None = None


@dataclass
class DataConfig:
    """Where the SQuAD data comes from and how it is cut into windows and decoded."""

    name: str = MISSING
    dataset_name: str | None = None  # a Hub dataset; otherwise train_file/eval_file are read
    dataset_config_name: str | None = None
    train_split: str = "train"
    eval_split: str = "validation"
    train_file: str | None = None  # nested official JSON or flat records (.json, .jsonl, .gz)
    eval_file: str | None = None
    eval_note: str | None = None  # what the eval split is, copied into results.json
    version_2_with_negative: bool = False
    max_seq_length: int = 384
    doc_stride: int = 128
    max_question_length: int = 64
    pad_to_max_length: bool = False  # true: the references' fixed padding (for comparison)
    length_bucket_width: int | None = 32  # batch windows of similar length; null: random order
    max_train_samples: int | None = None  # examples (questions), like the notebook's select(range)
    max_train_features: int | None = None  # tokenized windows, applied after max_train_samples
    max_eval_samples: int | None = None  # questions; every window of a kept question is kept
    preprocessing_num_workers: int | None = None  # null: one per core for >= 10,000 examples
    cache_features: bool = True  # reuse tokenized windows across runs (qa-experiments cache)
    n_best_size: int = 20
    max_answer_length: int = 30
    # SQuAD v2: answer "" when null score - best span score > this; "auto": the tuned one
    null_score_diff_threshold: Any = 0.0  # a number or "auto" (checked in validate_config)
    nbest_predictions_size: int = 5  # candidates per question in nbest_predictions.json
    invalid_records: str = "skip"  # skip (count and report) or fail


@dataclass
class OptimizerConfig:
    """Optimizer and learning-rate schedule (fed into TrainingArguments by TRAINER_DEFAULTS)."""

    name: str = "adamw_torch"  # a TrainingArguments.optim value
    lr: float = 5e-5
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    warmup: float = 0.1  # fraction of the training steps when < 1, else a step count
    scheduler: str = "linear"
    # The new span-prediction head (qa_outputs) learns at lr x this; the backbone at lr.
    head_lr_multiplier: float = 1.0


@dataclass
class HardwareConfig:
    """Device, precision and batch shapes."""

    device: str = "auto"  # auto, cpu or cuda
    # auto: bf16 where supported (a GPU's bf16, a CPU's bf16 units), else fp16 on a GPU and fp32
    # on the CPU; or bf16, fp16 (CUDA only), fp32 (turns bf16 off)
    precision: str = "auto"
    tf32: bool = True  # TF32 matmuls on Ampere or newer GPUs
    train_batch_size: int = 16
    eval_batch_size: int = 64
    gradient_accumulation_steps: int = 1
    dataloader_num_workers: int = 0
    pin_memory: bool = True
    torch_compile: bool = False
    fused_optimizer: bool = True  # on CUDA, adamw_torch becomes adamw_torch_fused
    # Sweeps whose jobs run in parallel on one machine (hydra/launcher=joblib|submitit_local):
    # the GPUs each job gets to itself (its CUDA_VISIBLE_DEVICES; 0: every job sees every GPU),
    # and how many jobs may share one GPU. Jobs wait for a free slot (lifecycle/device_slots.py).
    gpus_per_job: int = 1
    jobs_per_gpu: int = 1


@dataclass
class WandbConfig:
    """Weights & Biases (`logger=wandb`)."""

    project: str = "qa-experiments"
    entity: str | None = None
    mode: str = "auto"  # auto (online with credentials, else offline), online, offline, disabled
    group: str | None = None  # default: the sweep directory
    tags: list[str] = field(default_factory=list)


@dataclass
class MlflowConfig:
    """MLflow (`logger=mlflow`); unset keys fall back to MLFLOW_TRACKING_URI and
    MLFLOW_EXPERIMENT_NAME, then to MLflow's default store and `qa-experiments`."""

    tracking_uri: str | None = None
    experiment: str | None = None


@dataclass
class TensorBoardConfig:
    """TensorBoard (`logger=tensorboard`): event files in RUN_DIR/tensorboard/."""


@dataclass
class LoggerConfig:
    """Experiment tracking: each tracker chosen (`logger=wandb`, `logger=[wandb,mlflow]`) has
    its node set; `logger=none` sets none."""

    wandb: WandbConfig | None = None  # set by logger=wandb (the default)
    mlflow: MlflowConfig | None = None  # set by logger=mlflow
    tensorboard: TensorBoardConfig | None = None  # set by logger=tensorboard


@dataclass
class PruningConfig:
    """When and on what a job measures intermediate dev F1: in an Optuna search with a pruner
    (each trial reports it to the study and stops when pruned), or in any job with
    intermediate_eval. A job with a W&B run logs each of these slice scores as eval/f1, then
    the full-set eval/f1 last."""

    report_every: str = "epoch"  # "epoch" or a number of optimizer steps
    eval_questions: int = 200  # the first questions of the eval set (all their windows)
    intermediate_eval: bool = False  # also outside a pruned Optuna search (qa-wandb-sweep sets it)


# The trainer node's defaults, passed to transformers.TrainingArguments unchanged: any other
# field of it can be added (+trainer.FIELD=VALUE). The ${...} entries are wiring, not defaults:
# they feed the groups above into TrainingArguments, so set those (optimizer.lr, not
# trainer.learning_rate). A field missing here has TrainingArguments' own default.
TRAINER_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 2,
    "max_steps": -1,  # > 0 overrides num_train_epochs
    "max_grad_norm": 1.0,
    "activation_checkpointing": False,  # recompute activations in backward: less memory, slower
    "learning_rate": "${optimizer.lr}",
    "weight_decay": "${optimizer.weight_decay}",
    "adam_beta1": "${optimizer.betas[0]}",
    "adam_beta2": "${optimizer.betas[1]}",
    "adam_epsilon": "${optimizer.eps}",
    "optim": "${optimizer.name}",
    "warmup_steps": "${optimizer.warmup}",
    "lr_scheduler_type": "${optimizer.scheduler}",
    "per_device_train_batch_size": "${hardware.train_batch_size}",
    "per_device_eval_batch_size": "${hardware.eval_batch_size}",
    "gradient_accumulation_steps": "${hardware.gradient_accumulation_steps}",
    "dataloader_num_workers": "${hardware.dataloader_num_workers}",
    "dataloader_pin_memory": "${hardware.pin_memory}",
    "torch_compile": "${hardware.torch_compile}",
    "include_num_input_tokens_seen": "non_padding",  # for train_tokens_per_second
    "eval_strategy": "no",  # SQuAD EM/F1 is computed once, after training
    "save_strategy": "steps",  # checkpoints under <run dir>/checkpoints, for resume=true
    "save_steps": 500,
    "save_total_limit": 2,
    "logging_steps": 25,
    "logging_first_step": True,
    "logging_nan_inf_filter": False,  # show a NaN loss (the run then stops) instead of hiding it
    "disable_tqdm": False,
}


@dataclass
class DistillConfig:
    """Knowledge distillation (`distill=logits`): the student also learns the teacher's answers."""

    method: str = "none"  # none, or logits: match the teacher's start/end logits
    teacher: str | None = None  # a finished run directory, a model directory or a Hub id
    temperature: float = 2.0  # > 0; softens both distributions (the soft loss is scaled by T^2)
    alpha: float = 0.5  # in [0, 1]: weight of the soft (teacher) loss; 1 - alpha: SQuAD labels


@dataclass
class Config:
    """The whole run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    pruning: PruningConfig = field(default_factory=PruningConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    trainer: dict[str, Any] = field(default_factory=lambda: dict(TRAINER_DEFAULTS))
    seed: int = 42
    resume: bool = False  # continue an interrupted run from its newest checkpoint (same run dir)


CHOICES = {
    "data.invalid_records": ("skip", "fail"),
    "hardware.device": ("auto", "cpu", "cuda"),
    "hardware.precision": ("auto", "bf16", "fp16", "fp32"),
    "logger.wandb.mode": ("auto", "online", "offline", "disabled"),
    "distill.method": ("none", "logits"),
}


# Numeric settings and the values they allow: (test, the allowed range as the message says it).
# The trainer keys catch values set there directly instead of through the groups above them;
# every trainer key is also checked against the type TrainingArguments declares for it
# (`_validate_trainer_values`).
MAX_EPOCHS = 10_000  # far past any SQuAD run; larger values overflow the Trainer's step count
MAX_STEPS = 10**9  # optimizer steps: far past any run
POSITIVE = (lambda v: v > 0, "> 0")
COUNT = (lambda v: v >= 1, ">= 1")
NON_NEGATIVE = (lambda v: v >= 0, ">= 0")
BETA = (lambda v: 0 <= v < 1, "in [0, 1)")
SEED = (lambda v: 0 <= v < 2**32, "in [0, 2**32)")
WARMUP = (lambda v: 0 <= v <= MAX_STEPS, f"in [0, {MAX_STEPS:,}] (< 1: a fraction of the steps)")
# save/logging/eval steps: a whole number of steps, or a fraction (< 1) of the training steps
STEPS = (lambda v: 0 < v < 1 or (1 <= v <= MAX_STEPS and float(v).is_integer()),
         f"a whole number of steps in [1, {MAX_STEPS:,}], or a fraction in (0, 1) of the "
         "training steps")
RANGES = {
    "optimizer.lr": POSITIVE,
    "optimizer.head_lr_multiplier": POSITIVE,
    "model.lora.rank": COUNT,
    "model.lora.alpha": POSITIVE,
    "model.lora.dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "optimizer.weight_decay": NON_NEGATIVE,
    "optimizer.eps": POSITIVE,
    "optimizer.warmup": WARMUP,
    "optimizer.betas[0]": BETA,
    "optimizer.betas[1]": BETA,
    "hardware.train_batch_size": COUNT,
    "hardware.eval_batch_size": COUNT,
    "hardware.gradient_accumulation_steps": COUNT,
    "hardware.dataloader_num_workers": NON_NEGATIVE,
    "hardware.gpus_per_job": NON_NEGATIVE,
    "hardware.jobs_per_gpu": COUNT,
    "data.max_seq_length": COUNT,
    "data.doc_stride": COUNT,
    "data.max_question_length": COUNT,
    "data.n_best_size": COUNT,
    "data.nbest_predictions_size": COUNT,
    "data.max_answer_length": COUNT,
    "pruning.eval_questions": COUNT,
    "distill.temperature": POSITIVE,
    "distill.alpha": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "seed": SEED,
    "trainer.learning_rate": POSITIVE,
    "trainer.weight_decay": NON_NEGATIVE,
    "trainer.adam_epsilon": POSITIVE,
    "trainer.warmup_steps": WARMUP,
    "trainer.max_grad_norm": NON_NEGATIVE,
    "trainer.adam_beta1": BETA,
    "trainer.adam_beta2": BETA,
    "trainer.per_device_train_batch_size": COUNT,
    "trainer.per_device_eval_batch_size": COUNT,
    "trainer.gradient_accumulation_steps": COUNT,
    "trainer.dataloader_num_workers": NON_NEGATIVE,
    "trainer.num_train_epochs": (lambda v: 0 <= v <= MAX_EPOCHS, f"in [0, {MAX_EPOCHS}]"),
    "trainer.max_steps": (lambda v: v == -1 or 1 <= v <= MAX_STEPS,
                          f"-1 (train for trainer.num_train_epochs) or in [1, {MAX_STEPS:,}]"),
    "trainer.save_steps": STEPS,
    "trainer.logging_steps": STEPS,
    "trainer.eval_steps": STEPS,
    "trainer.save_total_limit": (lambda v: v >= 1, ">= 1, or null (keep every checkpoint)"),
    "trainer.label_smoothing_factor": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "trainer.seed": SEED,
    "trainer.data_seed": SEED,
    "trainer.eval_accumulation_steps": COUNT,
    "trainer.torch_empty_cache_steps": COUNT,
    "trainer.dataloader_prefetch_factor": COUNT,
    "trainer.ddp_timeout": COUNT,
    "trainer.eval_delay": NON_NEGATIVE,
    "trainer.neftune_noise_alpha": POSITIVE,
}
# Trainer keys with a closed list of values that their TrainingArguments type does not say (an
# enum-typed field, such as save_strategy, takes its enum's values): (allowed values, why).
TRAINER_CHOICES = {
    "eval_strategy": (("no",), "SQuAD EM/F1 is computed after training, from the whole eval "
                               "set; for scores during training use pruning.intermediate_eval="
                               "true"),
    "save_strategy": (("steps", "epoch", "no"), "best needs an evaluation during training, "
                                                "which a run does not do"),
    "load_best_model_at_end": ((False,), "a run does not evaluate during training; it keeps "
                                         "its final weights"),
    "include_num_input_tokens_seen": ((True, False, "all", "non_padding", "no"), ""),
}
# Trainer keys another setting owns: the value set there, not in trainer, is what the run uses
# and what config.json records. Key -> what the message says instead.
_PRECISION = "is set by hardware.precision; remove it and use hardware.precision=fp32|bf16|fp16"
_RUN_DIR = "is the run directory's (hydra.run.dir); remove it and choose the run directory"
TRAINER_OWNED = {
    "fp16": _PRECISION,
    "bf16": _PRECISION,
    "half_precision_backend": _PRECISION,
    "output_dir": _RUN_DIR,  # checkpoints belong inside the run directory
    "logging_dir": _RUN_DIR,
    "seed": "is set by seed; remove it and use seed=N",
    "report_to": "is set by logger; remove it and use logger=wandb|mlflow|tensorboard|none",
}
OPTIONAL_COUNTS = ("model.num_hidden_layers", "data.max_train_samples",
                   "data.max_train_features", "data.max_eval_samples",
                   "data.preprocessing_num_workers", "data.length_bucket_width")


AUTO_THRESHOLD = "auto"


class ConfigError(UserError, ValueError):
    """A configuration the run cannot start with; the message says what to change."""


def register_schema() -> None:
    """Register the schema so config.yaml can list it first in its defaults."""
    ConfigStore.instance().store(name="schema", node=Config)


def validate_config(cfg: DictConfig) -> None:
    """Check what the structured schema cannot express; raise ConfigError with the fix."""
    if len(cfg.optimizer.betas) != 2:  # before anything resolves ${optimizer.betas[1]}
        raise ConfigError(f"optimizer.betas={list(cfg.optimizer.betas)} must be two numbers "
                          "[beta1, beta2], each in [0, 1).")
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(
            "Required value(s) not set: " + ", ".join(missing)
            + ". Pass them on the command line, e.g. " + " ".join(f"{k}=..." for k in missing)
        )
    for key, allowed in CHOICES.items():
        value = OmegaConf.select(cfg, key)
        if OmegaConf.select(cfg, key.rpartition(".")[0]) is None:
            continue  # a tracker not chosen
        if value not in allowed:
            raise ConfigError(f"{key}={value!r} is not one of {', '.join(allowed)}.")
    _reject_added_keys(cfg)
    _validate_trainer_keys(cfg.trainer)
    _reject_owned_trainer_keys(cfg.trainer)
    _validate_trainer_values(OmegaConf.to_container(cfg.trainer, resolve=True))
    _reject_non_finite(cfg)
    _validate_training_length(cfg.trainer)
    _validate_ranges(cfg)
    every = cfg.pruning.report_every
    if every != "epoch" and not (every.isdigit() and int(every) > 0):
        raise ConfigError(f"pruning.report_every={every!r} must be epoch or a number of steps > 0.")
    data = cfg.data
    _check_distill(cfg.distill)
    _check_threshold(data.null_score_diff_threshold)
    if data.null_score_diff_threshold == AUTO_THRESHOLD and not data.version_2_with_negative:
        raise ConfigError(
            "data.null_score_diff_threshold=auto tunes the SQuAD v2.0 no-answer threshold, but "
            "data.version_2_with_negative=false (SQuAD v1.1: every question has an answer); "
            "set data.version_2_with_negative=true for v2.0 data, or leave the threshold out.")
    if data.dataset_name is None:
        for key in ("train_file", "eval_file"):
            if not data[key]:
                raise ConfigError(
                    f"data.{key} is not set and data.dataset_name is empty: pass "
                    f"data.{key}=PATH (a SQuAD JSON file) or choose data=squad / data=sample."
                )
    _check_window_room(data)


def _check_distill(distill: DictConfig) -> None:
    if distill.method != "none" and not distill.teacher:
        raise ConfigError(f"distill={distill.method} needs a teacher: pass distill.teacher=RUN_DIR "
                          "(a finished qa-train run), a model directory or a Hub id.")


def validate_data_settings(data: DictConfig) -> None:
    """Check data settings read back from a run (its windows and decoding): counts in range and
    room for context in a window, no NaN or infinite number; raise ConfigError with the fix."""
    _reject_non_finite(data)
    for key in RANGES:
        if key.startswith("data."):
            _check_range(key, data[key.removeprefix("data.")])
    _check_threshold(data.null_score_diff_threshold)
    _check_window_room(data)


def _check_threshold(threshold: Any) -> None:
    if threshold != AUTO_THRESHOLD and not _is_number(threshold):
        raise ConfigError(f"data.null_score_diff_threshold={threshold!r} must be a number or "
                          f"{AUTO_THRESHOLD} (the threshold tuned on the run's eval questions).")


def _check_window_room(data: DictConfig) -> None:
    # The exact room depends on the tokenizer's special tokens (model.loading.check_window_room).
    if data.doc_stride >= data.max_seq_length - data.max_question_length:
        raise ConfigError(
            f"data.doc_stride={data.doc_stride} leaves no room for new context in a window of "
            f"data.max_seq_length={data.max_seq_length} with data.max_question_length="
            f"{data.max_question_length}; lower the stride or raise the length."
        )


def _reject_non_finite(cfg: DictConfig) -> None:
    """ConfigError for a NaN or infinite number anywhere in the config: no setting allows one,
    and strict JSON (config.json, results.json) cannot hold it."""
    for key, value in leaves(OmegaConf.to_container(cfg, resolve=True)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key}={value} is not a finite number; give a finite value.")


def leaves(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) of every value in a tree of dicts and lists (`a.b[0]`)."""
    if isinstance(tree, dict):
        return [leaf for k, v in tree.items() for leaf in leaves(v, f"{prefix}{k}.")]
    if isinstance(tree, list):
        return [leaf for i, v in enumerate(tree)
                for leaf in leaves(v, f"{prefix.rstrip('.')}[{i}].")]
    return [(prefix.rstrip("."), tree)]


def _validate_training_length(trainer: DictConfig) -> None:
    """ConfigError for a run that would not train at all: it would save the untrained model as
    a finished run."""
    # Both typed by _validate_trainer_values; removed (~trainer.KEY), TrainingArguments' default.
    max_steps = trainer.get("max_steps", _training_arguments_default("max_steps"))
    epochs = trainer.get("num_train_epochs", _training_arguments_default("num_train_epochs"))
    if not 0 <= epochs <= MAX_EPOCHS:
        raise ConfigError(f"trainer.num_train_epochs={epochs!r} must be a number of epochs in "
                          f"[0, {MAX_EPOCHS}].")
    if max_steps == 0:
        raise ConfigError("trainer.max_steps=0 trains nothing; give a number of steps > 0, or "
                          "-1 to train for trainer.num_train_epochs.")
    if max_steps < 0 and epochs <= 0:
        raise ConfigError(f"trainer.num_train_epochs={epochs} trains nothing; give a number of "
                          "epochs > 0 (or trainer.max_steps > 0).")


def _training_arguments_default(key: str) -> Any:
    from transformers import TrainingArguments

    return next(f.default for f in dataclasses.fields(TrainingArguments) if f.name == key)


def _reject_owned_trainer_keys(trainer: DictConfig) -> None:
    """ConfigError for a trainer key that another setting owns (TRAINER_OWNED): set there, it
    would silently win over that setting, e.g. trainer.fp16 on a CPU would train while
    config.json says fp32, and trainer.output_dir would write checkpoints into another run."""
    for key, instead in TRAINER_OWNED.items():
        if key in trainer:
            raise ConfigError(f"trainer.{key} {instead} instead.")


def _validate_ranges(cfg: DictConfig) -> None:
    """Every numeric setting inside its allowed range (RANGES, OPTIONAL_COUNTS)."""
    for key in RANGES:
        _check_range(key, OmegaConf.select(cfg, key))
    for key in OPTIONAL_COUNTS:
        value = OmegaConf.select(cfg, key)
        if value is not None and value < 1:
            raise ConfigError(f"{key}={value} is out of range: allowed >= 1, or null (no limit).")


def _check_range(key: str, value: Any) -> None:
    allowed, text = RANGES[key]
    if _is_number(value) and not allowed(value):
        raise ConfigError(f"{key}={value} is out of range: allowed {text}.")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _reject_added_keys(node: DictConfig, prefix: str = "") -> None:
    """No key outside the schema: Hydra's `+key=value` adds one even to a structured node, and
    the run would silently ignore it (`+trainer.FIELD=...` stays allowed, checked below)."""
    schema = OmegaConf.get_type(node)
    if not dataclasses.is_dataclass(schema):
        return
    known = [f.name for f in dataclasses.fields(schema)]
    for key in node:
        if key not in known:
            import difflib

            matches = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {prefix}{matches[0]}?" if matches else (
                f"allowed keys{' of ' + prefix.rstrip('.') if prefix else ''}: {', '.join(known)}")
            raise ConfigError(f"{prefix}{key} is not a setting of qa-experiments (added with "
                              f"+{prefix}{key}=...?); {hint}")
        child = node._get_node(key)
        if isinstance(child, DictConfig):
            _reject_added_keys(child, f"{prefix}{key}.")


def _validate_trainer_keys(trainer: DictConfig) -> None:
    from transformers import TrainingArguments

    known = {f.name for f in dataclasses.fields(TrainingArguments)}
    unknown = sorted(set(trainer) - known)
    if unknown:
        import difflib

        hints = [
            f"trainer.{key}" + _did_you_mean(difflib.get_close_matches(key, known, n=1))
            for key in unknown
        ]
        raise ConfigError(
            "Unknown TrainingArguments field(s): "
            + "; ".join(hints)
            + ". The trainer node passes its keys to transformers.TrainingArguments unchanged."
        )


def _validate_trainer_values(trainer: dict[str, Any]) -> None:
    """ConfigError for a trainer value that is not of the type TrainingArguments declares for
    its field (true/false for a bool, a whole number for an int, a finite number for a float,
    null only where the field is optional, one of the enum's values for a strategy) or not
    in its closed list (TRAINER_CHOICES); ranges follow in `_validate_ranges`. Without this a
    wrong value failed after the data was loaded, or was silently used (save_steps=-3)."""
    types = _trainer_field_types()
    for key, value in trainer.items():
        expected = types.get(key)
        if key in TRAINER_CHOICES:
            allowed, why = TRAINER_CHOICES[key]
            if not any(value == a and type(value) is type(a) for a in allowed):
                names = [_shown(a) for a in allowed]
                which = f"must be {names[0]}" if len(names) == 1 else \
                    f"is not one of {', '.join(names)}"
                raise ConfigError(f"trainer.{key}={_shown(value)} {which}"
                                  + (f": {why}." if why else "."))
        elif expected is not None and not _has_type(value, expected):
            raise ConfigError(f"trainer.{key}={_shown(value)} must be {_type_text(expected)}.")


# What a TrainingArguments annotation allows, in the terms _has_type and the messages use:
# bool, int, float, str, None (optional), or a tuple of choices (an enum's values).
_SIMPLE = {bool: "bool", int: "int", float: "float", str: "str", type(None): "none"}


@functools.cache
def _trainer_field_types() -> dict[str, frozenset]:
    """Each TrainingArguments field whose annotation is made of bool, int, float, str, None and
    enums -> those kinds (an enum as the tuple of its values); fields of other types (dicts,
    lists, objects) are left to TrainingArguments."""
    import enum
    import types as builtin_types
    import typing

    from transformers import TrainingArguments

    hints = typing.get_type_hints(TrainingArguments)
    types: dict[str, frozenset] = {}
    for fld in dataclasses.fields(TrainingArguments):
        hint = hints[fld.name]
        union = typing.get_origin(hint) in (typing.Union, builtin_types.UnionType)
        parts = typing.get_args(hint) if union else (hint,)
        kinds: set = set()
        for part in parts:
            if part in _SIMPLE:
                kinds.add(_SIMPLE[part])
            elif isinstance(part, type) and issubclass(part, enum.Enum):
                kinds.add(tuple(member.value for member in part))
            else:
                kinds = set()
                break
        if kinds:
            if any(isinstance(kind, tuple) for kind in kinds):
                kinds.discard("str")  # `Strategy | str`: the string must name a member
            types[fld.name] = frozenset(kinds)
    return types


def _has_type(value: Any, kinds: frozenset) -> bool:
    if value is None:
        return "none" in kinds
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, int):
        return bool(kinds & {"int", "float"})
    if isinstance(value, float):
        return "float" in kinds
    if isinstance(value, str):
        return "str" in kinds or any(isinstance(k, tuple) and value in k for k in kinds)
    return False


def _type_text(kinds: frozenset) -> str:
    texts = ["true", "false"] if "bool" in kinds else []
    texts += ["a number" if "float" in kinds else "a whole number"] if kinds & {"int", "float"} \
        else []
    texts += ["text"] if "str" in kinds else []
    texts += ["one of " + ", ".join(k) for k in kinds if isinstance(k, tuple)]
    if "none" in kinds:
        texts.append("null")
    return " or ".join(texts) if len(texts) < 3 else ", ".join(texts[:-1]) + " or " + texts[-1]


def _shown(value: Any) -> str:
    """A value as the user writes it on the command line (text quoted, to show it is text)."""
    if isinstance(value, bool):
        return str(value).lower()
    return "null" if value is None else repr(value)


def _did_you_mean(matches: list[str]) -> str:
    return f" (did you mean trainer.{matches[0]}?)" if matches else ""
