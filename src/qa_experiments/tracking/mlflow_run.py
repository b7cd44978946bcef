"""MLflow runs (`logger=mlflow`): one per job, under one parent run per sweep, continued across
resume and requeue.

The tracking URI and experiment come from logger.mlflow (else MLflow's MLFLOW_TRACKING_URI and
MLFLOW_EXPERIMENT_NAME, else MLflow's defaults). The server is asked once at start with a short
timeout and no retries: one that does not answer is one line (TrackingError) before training.
Later requests retry briefly; a server that stays away is dropped by `Trackers` with a warning.

The run directory's mlflow_run.json names the job's run; a resumed attempt continues it from
the last step it holds (its `train/global_step` history: MLflow writes each request before it
answers), so each step is logged once. A sweep's jobs share a parent run, found by a tag
holding the sweep directory's digest; jobs that create one at the same moment agree on the
oldest and delete the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa_experiments.errors import extra, needs_package
from qa_experiments.runs import layout
from qa_experiments.runs.atomic import write_json
from qa_experiments.tracking.tracker import FINISHED, TrackingError

log = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "qa-experiments"
PROBE_TIMEOUT_S = "10"  # the start's one request: no retries (MLflow retries for minutes)
# Later requests, unless the user set these: a server away for longer is dropped, not waited on.
REQUEST_SETTINGS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
TAG = "qa-experiments."  # the prefix of this project's tags
SWEEP_TAG = f"{TAG}sweep"  # the sweep directory's SHA-256 (hex): a filter-safe value
SWEEP_DIR_TAG = f"{TAG}sweep_dir"
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
STEP_METRIC = "train/global_step"  # logged in every training row: the steps the run holds
MAX_PARAM_VALUE = 6000  # MLflow's limits (mlflow.utils.validation)
MAX_KEY = 250
BATCH = 100  # params per log_batch request
NOT_A_KEY_CHARACTER = re.compile(r"[^A-Za-z0-9_\-. /]")
RUN_ID = re.compile(r"[0-9a-f]{32}")


@dataclass
class MlflowTracker:
    """The job's MLflow run (`run_id` through `client`)."""

    client: Any
    run_id: str
    state_file: Path
    floor: int = 0
    name: str = "MLflow"

    def trainer_callbacks(self) -> list:
        return []

    def log(self, row: dict[str, Any], step: int) -> None:
        from mlflow.entities import Metric

        metrics = numbers(row)
        if step <= self.floor or not metrics:
            return
        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[
            Metric(key, value, now, step) for key, value in metrics.items()])
        write_json(self.state_file, {"id": self.run_id, "last_step": step})

    def log_report(self, summary: dict[str, Any], charts: dict[str, Path], table) -> None:
        """The slice scores as metrics at the last step; the report (charts beside its page)
        is attached at the end with the run's other files."""
        self.log_now(summary)

    def log_now(self, metrics: dict[str, Any]) -> None:
        """Log `metrics` at the last step logged (or the floor): figures of the whole run."""
        from mlflow.entities import Metric

        now, step = int(time.time() * 1000), self.last_step()
        if numbers(metrics):
            self.client.log_batch(self.run_id, metrics=[
                Metric(key, value, now, step) for key, value in numbers(metrics).items()])

    def last_step(self) -> int:
        record = layout.read_json(self.state_file)
        return record.get("last_step", self.floor) if isinstance(record, dict) else self.floor

    def attach(self, files: dict[str, Path]) -> None:
        for folder, path in files.items():
            if not path.exists():
                continue
            if path.is_dir():
                self.client.log_artifacts(self.run_id, str(path), folder)
            else:
                self.client.log_artifact(self.run_id, str(path), folder or None)

    def finish(self, status: str, summary: dict[str, Any] | None,
               tags: tuple[str, ...] = (), unset: tuple[str, ...] = ()) -> None:
        """Log the figures of `summary` the run lacks (the final ones are logged at the last
        step already, unless an earlier attempt logged that step), record `tags` and close the
        run with `status`.
        Metrics cannot be removed from an MLflow run: `unset` stays (a pruned trial's tag says
        its F1 is a slice's)."""
        held = self.client.get_run(self.run_id).data.metrics
        self.log_now({key: value for key, value in (summary or {}).items()
                      if metric_key(key) not in held})
        for tag in tags:
            self.client.set_tag(self.run_id, f"{TAG}{tag}", "true")
        self.client.set_terminated(self.run_id, status)


def numbers(row: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of `row` (MLflow metrics are numbers), under MLflow-safe keys."""
    return {metric_key(key): float(value) for key, value in row.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


def metric_key(key: str) -> str:
    """`key` with the characters MLflow refuses in a name replaced by `_`, cut to its limit."""
    return NOT_A_KEY_CHARACTER.sub("_", key)[:MAX_KEY]


def flat_params(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """The nested `config` as MLflow params: dotted, sanitized keys; values as text, cut to
    MLflow's limit."""
    params: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            params.update(flat_params(value, f"{name}."))
        else:
            params[metric_key(name)] = str(value)[:MAX_PARAM_VALUE]
    return params


@contextlib.contextmanager
def environment(settings: dict[str, str]) -> Iterator[None]:
    """`settings` in os.environ inside the block, the earlier values back after it."""
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def start_run(
    mlflow_cfg, *, config: dict[str, Any], run_dir: Path, name: str, group: str | None,
    tags: list[str], resume: bool = False,
) -> MlflowTracker:
    """Start (or with `resume`, continue) the job's MLflow run; TrackingError in one line when
    the tracking server does not answer."""
    with needs_package("logger=mlflow", extra("mlflow")):
        from mlflow.tracking import MlflowClient

    uri = mlflow_cfg.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
    client = MlflowClient(tracking_uri=uri)
    experiment = (mlflow_cfg.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME")
                  or DEFAULT_EXPERIMENT)
    with environment({"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
                      "MLFLOW_HTTP_REQUEST_TIMEOUT": PROBE_TIMEOUT_S}):
        try:
            experiment_id = experiment_id_of(client, experiment)
        except Exception as error:
            raise TrackingError(
                f"MLflow tracking server {client.tracking_uri} did not answer "
                f"({type(error).__name__}: {' '.join(str(error).split())[:300]}); start it, "
                "set logger.mlflow.tracking_uri (or MLFLOW_TRACKING_URI), or run with "
                "logger=none.") from error
    os.environ.update({k: v for k, v in REQUEST_SETTINGS.items() if k not in os.environ})
    state_file = run_dir / layout.MLFLOW_RUN
    earlier = earlier_run(client, state_file) if resume else None
    if earlier:
        client.update_run(earlier, status="RUNNING")
        floor = held_step(client, earlier)
        log.info("Continuing MLflow run %s from step %d.", earlier, floor)
        run_id = earlier
    else:
        run_id, floor = new_run(client, experiment_id, config, name, group, tags, run_dir), 0
    write_json(state_file, {"id": run_id, "last_step": floor})
    return MlflowTracker(client, run_id, state_file, floor)


def experiment_id_of(client, name: str) -> str:
    """The id of experiment `name`, created if missing (also when another job creates it now)."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException:  # created meanwhile by a concurrent job
        return client.get_experiment_by_name(name).experiment_id


def new_run(client, experiment_id: str, config: dict[str, Any], name: str,
            group: str | None, tags: list[str], run_dir: Path) -> str:
    """A new run for the job, its config as params, under the sweep's parent run if any."""
    from mlflow.entities import Param

    run_tags = {RUN_NAME_TAG: name, f"{TAG}run_dir": str(run_dir.resolve()),
                **{f"{TAG}{tag}": "true" for tag in tags}}
    if group:
        run_tags[PARENT_TAG] = parent_run(client, experiment_id, group)
    run_id = client.create_run(experiment_id, tags=run_tags).info.run_id
    params = [Param(key, value) for key, value in flat_params(config).items()]
    for start in range(0, len(params), BATCH):
        client.log_batch(run_id, params=params[start:start + BATCH])
    return run_id


def parent_run(client, experiment_id: str, sweep: str) -> str:
    """The sweep's parent run: the oldest one tagged with `sweep`'s digest, created if there is
    none; a parent this job created while another job did too is deleted."""
    digest = hashlib.sha256(sweep.encode()).hexdigest()
    query = f"tags.`{SWEEP_TAG}` = '{digest}'"

    def oldest() -> str | None:
        runs = client.search_runs([experiment_id], query, max_results=1,
                                  order_by=["attributes.start_time ASC", "attributes.run_id ASC"])
        return runs[0].info.run_id if runs else None

    found = oldest()
    if found:
        return found
    created = client.create_run(experiment_id, tags={
        SWEEP_TAG: digest, SWEEP_DIR_TAG: sweep, RUN_NAME_TAG: f"sweep {sweep}"}).info.run_id
    client.set_terminated(created, FINISHED)  # a container: its jobs are the runs
    chosen = oldest()
    if chosen != created:
        client.delete_run(created)
    return chosen


def earlier_run(client, state_file: Path) -> str | None:
    """The run id of the job's earlier attempt from `state_file`, if it names a run the server
    has; None (a new run, with a warning) otherwise."""
    state = layout.read_json(state_file)
    if state is None:
        return None
    run_id = state.get("id") if isinstance(state, dict) else None
    if isinstance(run_id, str) and RUN_ID.fullmatch(run_id):
        with contextlib.suppress(Exception):  # RESOURCE_DOES_NOT_EXIST: another server
            if client.get_run(run_id).info.lifecycle_stage == "active":
                return run_id
    log.warning("%s names no MLflow run on %s; starting a new MLflow run.", state_file,
                client.tracking_uri)
    return None


def held_step(client, run_id: str) -> int:
    """The last optimizer step run `run_id` holds."""
    return max((metric.step for metric in client.get_metric_history(run_id, STEP_METRIC)),
               default=0)
