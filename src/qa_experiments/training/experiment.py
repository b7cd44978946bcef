"""One experiment: check, prepare, fine-tune with the Hugging Face Trainer, evaluate, save."""

from __future__ import annotations

import logging
import resource
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from transformers import TrainingArguments, set_seed
from transformers.utils import logging as transformers_logging

from qa_experiments.config.schema import ConfigError
from qa_experiments.data.feature_cache import cached_features
from qa_experiments.data.splits import load_split
from qa_experiments.data.windows import (
    alignment_report,
    check_alignment,
    prepare_eval_features,
    prepare_train_features,
)
from qa_experiments.evaluation.model_eval import evaluate_features
from qa_experiments.model.checkpoints import last_checkpoint
from qa_experiments.model.device import (
    device_arguments,
    padding_collator,
    precision_line,
    precision_of,
    set_tf32,
)
from qa_experiments.model.loading import load_model, load_tokenizer
from qa_experiments.model.lora import merged, trainable_share, with_lora
from qa_experiments.runs import layout
from qa_experiments.runs.atomic import write_directory, write_json
from qa_experiments.runs.model_card import write_model_card
from qa_experiments.scoring.answer_files import nbest_predictions, no_answer_probabilities
from qa_experiments.scoring.question_records import write_question_records
from qa_experiments.search.trial_protocol import TrialPruned
from qa_experiments.tracking.callback import TrackersCallback
from qa_experiments.tracking.tracker import Trackers
from qa_experiments.training.distillation import (
    DistillationTrainer,
    Teacher,
    distillation_collator,
    distillation_record,
    teacher_logits,
    with_teacher_logits,
)
from qa_experiments.training.finite_guard import FiniteGuard
from qa_experiments.training.ledger import RunLedger
from qa_experiments.training.trainer import QATrainer
from qa_experiments.training.trial_reporting import trial_reporter

log = logging.getLogger(__name__)


def run_experiment(cfg: DictConfig, run_dir: Path, trackers: Trackers | None = None,
                   teacher: Teacher | None = None) -> dict[str, Any]:
    """Train and evaluate a validated `cfg`; write the run's files into `run_dir`; return
    its metrics. `trackers` (the job's tracker runs, if any) get the rows and intermediate
    scores; a `teacher` (distill=logits, checked by `load_teacher`) is distilled into the
    student."""
    args = build_training_arguments(cfg, run_dir)  # refuses bad trainer/hardware values now
    warning = data_parallel_warning(args.n_gpu, args.world_size)
    if warning:
        log.warning(warning)
    writer = layout.is_writer()
    if writer:
        write_json(run_dir / layout.CONFIG, OmegaConf.to_container(cfg, resolve=True))

    transformers_logging.disable_progress_bar()  # "Loading weights" / "Writing model shards"
    started = time.perf_counter()
    train_examples, train_report = load_split(cfg.data, "train")
    eval_examples, eval_report = load_split(cfg.data, "eval")
    for report in (train_report, eval_report):
        log.info("Data %s", report.summary())
    tokenizer = load_tokenizer(cfg.model)
    train_features = cached_features(
        "train", train_examples, tokenizer, cfg.data, prepare_train_features
    )
    alignment = alignment_report(train_features)
    log.info("Answers checked against the tokenizer's offsets: %d of %d misaligned",
             alignment.misaligned, alignment.answers)
    check_alignment(alignment, tokenizer.name_or_path)
    eval_features = cached_features(
        "eval", eval_examples, tokenizer, cfg.data, prepare_eval_features
    )

    collate = padding_collator(tokenizer, args)
    trainer_class, distill_arguments = QATrainer, {}
    if teacher is not None:
        teacher.model.to(args.device)
        logits = teacher_logits(teacher, train_features, collate, args.per_device_eval_batch_size)
        train_features = with_teacher_logits(train_features, logits)
        collate = distillation_collator(collate)
        trainer_class = DistillationTrainer
        distill_arguments = {"temperature": cfg.distill.temperature, "alpha": cfg.distill.alpha}
        teacher.model.to("cpu")  # its logits are cached: free the device for the student
    preprocess_seconds = time.perf_counter() - started

    log.info(precision_line(args))  # after the data checks: a refused input prints only its line
    set_seed(cfg.seed)  # the new QA head is initialised from the seed
    model = load_model(cfg.model)
    if cfg.model.lora.enabled:
        model = with_lora(model, cfg.model.lora)
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=train_features,
        data_collator=collate,
        processing_class=tokenizer,
        length_bucket_width=cfg.data.length_bucket_width,
        head_lr_multiplier=cfg.optimizer.head_lr_multiplier,
        **distill_arguments,
    )
    checkpoint = resume_checkpoint(cfg, args)
    ledger = RunLedger()
    trainer.add_callback(FiniteGuard(resumed_from=checkpoint))
    if trackers:
        for callback in trackers.trainer_callbacks():  # set-up before the first row
            trainer.add_callback(callback)
        trainer.add_callback(TrackersCallback(trackers))
    trainer.add_callback(ledger)
    reporter = trial_reporter(cfg, trainer, eval_features, eval_examples, trackers or None)
    if reporter is not None:
        trainer.add_callback(reporter)
    trainer.train(resume_from_checkpoint=checkpoint)
    if reporter is not None and writer:
        write_json(run_dir / layout.INTERMEDIATE, reporter.scores)  # kept when pruned too
    if reporter is not None and reporter.pruned:
        raise TrialPruned(reporter.scores)
    evaluation = evaluate_features(trainer, eval_features, eval_examples, cfg.data)

    results = {
        **evaluation.metrics,
        **training_figures(trainer, ledger),
        "eval_runtime": evaluation.runtime,
        "preprocess_seconds": preprocess_seconds,
        "train_examples": len(train_examples),
        "train_features": len(train_features),
        "eval_examples": len(eval_examples),
        "eval_features": len(eval_features),
        "peak_memory_mb": peak_memory_mb(),
        "world_size": args.world_size,
        "device": str(args.device),
        "precision": precision_of(args),  # what ran: hardware.precision=auto resolved
        "model": cfg.model.name_or_path,
        **trainable_share(model),
        "data_report": {"train": {**train_report.to_dict(), **alignment.to_dict()},
                        "eval": eval_report.to_dict()},
    }
    if cfg.data.eval_note:
        results["eval_note"] = cfg.data.eval_note
    if teacher is not None:
        results["distillation"] = distillation_record(cfg, teacher)
    if writer:  # the model first: results.json means it is complete
        card = (OmegaConf.to_container(cfg, resolve=True), results,
                f"{cfg.model.name}-{cfg.data.name}")
        write_directory(run_dir / layout.MODEL_DIR,
                        lambda path: save_model(trainer, evaluation, path, card))
        write_answer_files(run_dir, eval_examples["id"], evaluation,
                           cfg.data.version_2_with_negative)
        write_json(run_dir / layout.RESULTS, results)
    return results


def save_model(trainer, evaluation, path: str, card: tuple[dict, dict, str]) -> None:
    """The model, its window and decoding settings (qa_settings.json), what was tuned on the
    eval questions (calibration.json; not in checkpoints, which are saved before the
    evaluation) and its model card (README.md). LoRA adapters are merged first: model/ always
    holds a plain model."""
    trainer.model = merged(trainer.model)
    trainer.save_model(path)
    data = card[0]["data"]
    write_json(Path(path) / layout.MODEL_SETTINGS,
               {"data": {key: data[key] for key in layout.DECODING_SETTINGS}})
    if evaluation.stored:
        write_json(Path(path) / layout.CALIBRATION, evaluation.stored)
    write_model_card(Path(path), *card)


def write_answer_files(run_dir: Path, ids: list[str], evaluation, version_2: bool) -> None:
    """predictions.json, nbest_predictions.json, eval_questions.jsonl and, for SQuAD v2,
    na_prob.json (the official script's no-answer probability file)."""
    write_json(run_dir / layout.PREDICTIONS, evaluation.predictions)
    write_json(run_dir / layout.NBEST_PREDICTIONS, nbest_predictions(ids, evaluation.answers))
    if version_2:
        write_json(run_dir / layout.NO_ANSWER_PROBABILITIES,
                   no_answer_probabilities(ids, evaluation.answers))
    write_question_records(run_dir / layout.QUESTIONS, evaluation.records)


def resume_checkpoint(cfg: DictConfig, args: TrainingArguments) -> str | None:
    """The newest complete checkpoint to continue from when `resume=true`, else None."""
    if not cfg.resume:
        return None
    checkpoint = last_checkpoint(args.output_dir)
    if checkpoint is None:
        log.warning("resume=true but %s holds no usable checkpoint: training from the start",
                    args.output_dir)
    else:
        log.info("Resuming from %s", checkpoint)
    return checkpoint


def training_figures(trainer, ledger: RunLedger) -> dict[str, Any]:
    """Runtime, rates and loss of the whole run, also after a resume (see ledger.py)."""
    seconds = ledger.seconds
    return {
        "train_runtime": seconds,
        "train_samples_per_second": ledger.samples / seconds if seconds else 0.0,
        "train_tokens_per_second": trainer.state.num_input_tokens_seen / seconds if seconds
        else 0.0,
        "train_loss": ledger.loss_sum / max(trainer.state.global_step, 1),
        "train_steps": trainer.state.global_step,
        "resumed": ledger.resumed_from_step is not None,
        "resumed_from_step": ledger.resumed_from_step,
    }


def build_training_arguments(cfg: DictConfig, run_dir: Path) -> TrainingArguments:
    """TrainingArguments from the device choice plus the `trainer` node, which wins on conflict."""
    overrides = OmegaConf.to_container(cfg.trainer, resolve=True)
    device = device_arguments(cfg.hardware)
    if not device["use_cpu"] and cfg.hardware.fused_optimizer and overrides.get("optim") == (
        "adamw_torch"
    ):
        overrides["optim"] = "adamw_torch_fused"  # one kernel for all parameters on the GPU
    try:
        args = TrainingArguments(
            **{
                **device,
                "output_dir": str(run_dir / layout.CHECKPOINTS_DIR),
                "seed": cfg.seed,
                "report_to": "none",  # the job's trackers get a TrackersCallback instead
                "run_name": run_dir.name,
                **overrides,
            }
        )
    except (ValueError, TypeError) as error:
        raise ConfigError(f"Invalid TrainingArguments from the trainer node: {error}") from error
    set_tf32(args.tf32)
    return args


def data_parallel_warning(n_gpu: int, world_size: int) -> str | None:
    """What to do instead when one process would drive several GPUs: the Trainer then wraps the
    model in torch.nn.DataParallel, slower than one process per GPU (DDP)."""
    if n_gpu <= 1 or world_size > 1:
        return None
    return (
        f"{n_gpu} GPUs are visible to one process, so the Trainer falls back to DataParallel, "
        f"which is slower than one process per GPU. Launch the ranks with torchrun instead: "
        f"torchrun --nproc_per_node={n_gpu} -m qa_experiments.train ... (or use one GPU: "
        "CUDA_VISIBLE_DEVICES=0)."
    )


def peak_memory_mb() -> float:
    """Peak GPU memory allocated by PyTorch on CUDA, else the process's peak resident memory."""
    if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # Linux reports KiB
