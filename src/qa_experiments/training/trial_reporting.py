"""A trial's intermediate dev F1 while training: reported to its Optuna trial (stopping when
the study's pruner says so; see search/trial_protocol.py for how the job finds its trial) and
logged as `eval/f1` to the job's tracker runs (in W&B, the history W&B Sweeps' Hyperband early
termination reads).

A trial that is a multi-process (DDP) job: every rank evaluates (the evaluation is a
collective), only rank 0 reports to the trial and the tracker runs, and rank 0's prune decision is
broadcast, so that every rank stops at the same step: a rank that stopped alone would leave the
others waiting forever in their next gradient all-reduce.
"""

from __future__ import annotations

import logging

import datasets
import torch
from omegaconf import DictConfig
from transformers import TrainerCallback

from qa_experiments.evaluation.model_eval import evaluate_features
from qa_experiments.runs.layout import is_writer
from qa_experiments.scoring.metric_names import F1_METRIC
from qa_experiments.search.trial_protocol import (
    PRUNED_ATTR,
    PRUNER_ATTR,
    StudyAttributeError,
    pruner_from_description,
    trial_location,
)

log = logging.getLogger(__name__)


class TrialReporter(TrainerCallback):
    """Evaluates every `every_steps` steps (None: each epoch) and sends the F1 at the global
    step to the Optuna `trial` (stopping training when it should be pruned) and the tracker
    runs `run`, each where given (rank 0 only under DDP: the other ranks get neither and follow
    rank 0's decision)."""

    def __init__(self, trial, run, evaluate, every_steps: int | None) -> None:
        self.trial, self.run = trial, run
        self.evaluate, self.every_steps = evaluate, every_steps
        self.scores: list[dict[str, float]] = []
        self.pruned = False

    def on_step_end(self, args, state, control, **kwargs):
        if self.every_steps and state.global_step % self.every_steps == 0:
            self.report(state, control)

    def on_epoch_end(self, args, state, control, **kwargs):
        if not self.every_steps:
            self.report(state, control)

    def report(self, state, control) -> None:
        """Evaluate on the slice and report the F1 at the global step. The last step's score
        is recorded but never pruned on: training is over and the full evaluation follows."""
        step, last = state.global_step, state.global_step >= state.max_steps
        # Evaluating draws from the random state (each DataLoader iterator takes a seed), which
        # would change dropout and batches from here on: a reporting job would train another
        # model than the same job without reports.
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            f1 = float(self.evaluate())
        self.scores.append({"step": step, "f1": f1})
        if self.run is not None:
            self.run.log({F1_METRIC: f1, "train/global_step": step}, step)
        prune = False
        if self.trial is not None:
            self.trial.report(f1, step)
            prune = not last and self.trial.should_prune()
            if prune:
                self.trial.set_user_attr(PRUNED_ATTR, True)
        if rank_zero_decides(prune):
            self.pruned = True
            control.should_training_stop = True
        log.info("Step %d: F1 %.2f on the pruning slice%s", step, f1,
                 ", pruned" if self.pruned else "")


def rank_zero_decides(decision: bool) -> bool:
    """Rank 0's `decision` on every rank of a distributed job (a collective: every rank calls
    it at the same step); `decision` itself in a single process."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return decision
    shared = [decision]
    torch.distributed.broadcast_object_list(shared, src=0)  # gloo or NCCL alike
    return bool(shared[0])


def trial_reporter(cfg: DictConfig, trainer, features: datasets.Dataset,
                   examples: datasets.Dataset, run=None) -> TrialReporter | None:
    """The reporter of this job: when it is an Optuna trial that prunes, or when
    `pruning.intermediate_eval` asks for intermediate scores (a W&B sweep's jobs); None
    otherwise. `run` is the job's tracker runs (None without any)."""
    location = trial_location()
    if location is None and not cfg.pruning.intermediate_eval:
        return None
    keep = min(cfg.pruning.eval_questions, len(examples))
    slice_examples = examples.select(range(keep))
    slice_features = features.filter(lambda index: index < keep, input_columns="example_index")

    def evaluate() -> float:
        return evaluate_features(trainer, slice_features, slice_examples, cfg.data,
                                 tune_answers=False).metrics["f1"]

    every = cfg.pruning.report_every
    trial = None if location is None or not is_writer() else open_trial(*location)
    return TrialReporter(trial, run, evaluate, None if every == "epoch" else int(every))


def open_trial(study_name: str, storage_spec: str, trial_number: int):
    """The running trial number `trial_number`, with the study's pruner as the sweeper
    described it (the storage maps the number to its trial id: public Optuna API). What the
    study holds is data: the pruner is rebuilt from its checked description, from the closed
    list of pruners, and anything else is refused (StudyAttributeError) before training
    reports a single step."""
    import optuna

    from qa_experiments.search.optuna_storage import open_storage, shown_url

    storage = open_storage(storage_spec)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError as error:  # Optuna: no study of that name in the storage
        raise StudyAttributeError(f"study {study_name!r} is not in {shown_url(storage_spec)}; "
                                  "was it deleted while the search ran?") from error
    source = f"study {study_name!r} in {shown_url(storage_spec)}, attribute {PRUNER_ATTR}"
    if PRUNER_ATTR not in study.user_attrs:
        raise StudyAttributeError(f"{source}: missing; the study was not started by this "
                                  "project's Optuna sweeper")
    study.pruner = pruner_from_description(study.user_attrs[PRUNER_ATTR], source)
    trial_id = storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name(study_name), trial_number)
    return optuna.trial.Trial(study, trial_id)
