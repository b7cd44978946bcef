"""Weights & Biases runs: one per job, offline automatically without credentials.

A W&B run that cannot start (no network or API key in online mode, a bad WANDB_MODE) fails the
job within about INIT_TIMEOUT_S seconds with one line (TrackingError), never silently
falls back to offline: the user asked for the run to be online.

One W&B run per job across restarts: the run directory's wandb_run.json holds the run's id and
the last optimizer step logged to it. A resumed attempt (resume=true, or a SLURM requeue)
continues that run from the last step the run itself holds (`wandb_history`): a killed attempt
may have logged steps W&B never wrote, and a record claiming more than the run holds is
reported in one line and otherwise ignored. The resumed attempt logs the checkpoint's rows
after that step again, then each history row at its optimizer step (W&B's step) past it, so
the history holds every step once. Offline, each attempt writes its own `offline-run-*`
directory under the same id; `wandb sync` uploads them in order into the one run.
"""

from __future__ import annotations

import logging
import netrc
import os
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa_experiments.runs import layout
from qa_experiments.runs.atomic import write_json
from qa_experiments.tracking.tracker import FINISHED, TrackingError
from qa_experiments.tracking.wandb_history import last_written_step

log = logging.getLogger(__name__)

WANDB_MODES = ("online", "offline", "disabled", "shared", "dryrun", "run")
INIT_TIMEOUT_S = 15.0  # wandb's default is 90 s (plus retries); WANDB_INIT_TIMEOUT overrides


def wandb_mode(requested: str) -> str:
    """The W&B mode to use: `auto` means online with credentials and offline without."""
    env = os.environ.get("WANDB_MODE")
    if env and env not in WANDB_MODES:  # wandb reads it even when given a mode
        raise TrackingError(
            f"WANDB_MODE={env!r} is not a W&B mode ({', '.join(WANDB_MODES)}); unset it or "
            "fix it, or run with logger=none."
        )
    if requested != "auto":
        return requested
    if env:
        return env
    return "online" if _has_credentials() else "offline"


def _has_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("://")[-1]
    try:
        return netrc.netrc().authenticators(host.rstrip("/")) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")  # what wandb_run.json may name (it is read back)


@dataclass
class JobRun:
    """The job's W&B run (`run`) and where its history stands: `floor` is the last optimizer
    step the run held when this attempt started; rows up to it are in the run already."""

    name = "W&B"  # not a field: how warnings name the tracker
    run: Any
    state_file: Path
    floor: int = 0
    pending: bool = False  # a row logged at the current step, not yet written
    step: int = 0  # the step of the last row logged

    def log(self, row: dict[str, Any], step: int) -> None:
        """Log `row` at optimizer step `step`, unless an earlier attempt logged that step."""
        if step <= self.floor:
            return
        self.run.log(row, step=step)  # W&B writes the row once a later step comes (or flush)
        self.pending, self.step = True, step
        write_json(self.state_file, {"id": self.run.id, "last_step": step})

    def flush(self) -> None:
        """Write the row of the last step now, so that the summary is edited after it."""
        if self.pending:
            self.run.log({}, commit=True)
            self.pending = False

    def trainer_callbacks(self) -> list:
        """Transformers' W&B set-up: the Trainer's and model's config, the x-axis, watching."""
        from qa_experiments.tracking.wandb_callback import WandbSetup

        return [WandbSetup()]

    def log_report(self, summary: dict[str, Any], charts: dict[str, Path],
                   table: tuple[list[str], list[list[Any]]]) -> None:
        """The report's flat slice scores into the summary, its charts as images and its
        predictions table to filter errors by, in the last step's row (the report describes
        the trained model)."""
        import wandb

        self.run.summary.update(summary)
        columns, rows = table
        self.log({
            **{f"report/{name}": wandb.Image(str(path)) for name, path in charts.items()},
            "report/predictions": wandb.Table(columns=columns, data=rows),
        }, self.step)

    def attach(self, files: dict[str, Path]) -> None:
        """Nothing: the report goes as media (`log_report`), the config as the run's config."""

    def finish(self, status: str, summary: dict[str, Any] | None,
               tags: tuple[str, ...] = (), unset: tuple[str, ...] = ()) -> None:
        """Record the final metrics (and extra `tags`), remove the summary keys `unset`, and
        close the run with exit code 0 when it finished, 1 otherwise."""
        self.flush()
        if tags:
            self.run.tags = tuple(sorted({*self.run.tags, *tags}))
        if summary:
            self.run.summary.update(summary)
        for key in unset:
            if key in self.run.summary.keys():
                del self.run.summary[key]
        self.run.finish(exit_code=0 if status == FINISHED else 1)


def earlier_run(state_file: Path) -> tuple[str, int] | None:
    """(W&B run id, last step logged) of the job's earlier attempt, from `state_file`; None
    when there is none or the file is not one this module writes (a new run starts then)."""
    state = layout.read_json(state_file)
    if not isinstance(state, dict):
        return None
    run_id, step = state.get("id"), state.get("last_step")
    if (not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id)
            or isinstance(step, bool) or not isinstance(step, int) or step < 0):
        log.warning("%s is not a W&B run record (id and last_step); starting a new W&B run.",
                    state_file)
        return None
    return run_id, step


def start_run(
    logger_cfg, *, config: dict[str, Any], run_dir: Path, name: str, group: str | None,
    tags: list[str], resume: bool = False,
) -> JobRun:
    """Start the job's W&B run (`logger_cfg` is logger.wandb) before the Trainer, which then
    logs into it. With `resume`, continue the run an earlier attempt of the job started, if any.

    `group` (the sweep) applies unless logger.wandb.group is set.
    """
    import wandb

    mode = wandb_mode(logger_cfg.mode)
    own_service()
    timeout = float(os.environ.get("WANDB_INIT_TIMEOUT", INIT_TIMEOUT_S))
    state_file = run_dir / layout.WANDB_RUN
    earlier = earlier_run(state_file) if resume else None

    try:
        run = wandb.init(
            id=earlier[0] if earlier else None,
            resume="allow" if earlier else None,
            project=logger_cfg.project,
            entity=logger_cfg.entity,
            group=logger_cfg.group or group,
            name=name,
            tags=sorted({*logger_cfg.tags, *tags}),
            job_type="train",
            config=config,
            dir=str(run_dir),
            mode=mode,
            reinit="finish_previous",
            # quiet: no version banner and no ~30-line history/summary block per job (the run
            # ends with our own summary; `wandb sync` and the dashboard show the history)
            settings=wandb.Settings(init_timeout=timeout, quiet=True),
        )
    except Exception as error:  # wandb raises UsageError, CommError, pydantic errors, ...
        raise start_failure(error, mode, timeout) from error
    floor = held_step(run, mode) if earlier else 0
    if earlier:
        continuing(run.id, floor, earlier[1], state_file)
    write_json(state_file, {"id": run.id, "last_step": floor})
    if mode == "offline":  # every attempt's directory, in order: they sync into one run
        log.info("W&B is offline; upload the run later with: wandb sync %s",
                 " ".join(map(str, offline_attempts(run) or [sync_dir(run)])))
    return JobRun(run, state_file, floor, step=floor)


def offline_attempts(run) -> list[Path]:
    """The offline run directories of every attempt of `run` in this directory, oldest first."""
    return sorted(Path(sync_dir(run)).parent.glob(f"offline-run-*-{run.id}"))


def held_step(run, mode: str) -> int:
    """The last step the resumed `run` holds: offline, as the earlier attempts' logs hold it;
    online, as W&B reports it (its next step, less one)."""
    if mode == "disabled":
        return 0
    if mode in ("offline", "dryrun"):
        this_attempt = Path(sync_dir(run))
        return last_written_step(d for d in offline_attempts(run) if d != this_attempt)
    return max(run.starting_step - 1, 0)


def continuing(run_id: str, held: int, recorded: int, state_file: Path) -> None:
    """Say from which step the W&B run continues; one warning when `state_file` recorded more
    than the run holds (rows a killed attempt logged but W&B never wrote, or a record that
    is not this job's)."""
    if recorded > held:
        log.warning("W&B run %s holds steps up to %d, not %d as %s says (an attempt stopped "
                    "before W&B wrote them, or a damaged record): continuing from step %d, "
                    "with the checkpoint's rows after it logged again.",
                    run_id, held, recorded, state_file, held)
    else:
        log.info("Continuing W&B run %s from step %d.", run_id, held)


# wandb's WANDB_SERVICE token: "<version>-<pid>-unix-<socket path>" or "...-tcp-localhost-<port>".
SERVICE_TOKEN = re.compile(r"\d+-(?P<pid>\d+)-(?:unix-.+|tcp-localhost-\d+)")


def own_service(environ: MutableMapping[str, str] = os.environ, pid: int | None = None) -> None:
    """Drop a WANDB_SERVICE that another process started, so that the job starts its own
    wandb-core service (`pid`: this process).

    A process that used W&B (a notebook, a script, a sweep driver) passes the variable to the
    jobs it starts, and sbatch exports it to jobs that may run on another node or after that
    process ended. Sharing that service, a job killed with SIGKILL leaves its run registered
    there for as long as the service lives, and the resumed job then cannot continue the run
    ("run ID ... is in use"). A token wandb cannot parse is left for wandb to report.
    """
    token = environ.get("WANDB_SERVICE", "")
    match = SERVICE_TOKEN.fullmatch(token)
    if match is None or int(match["pid"]) == (os.getpid() if pid is None else pid):
        return
    log.debug("W&B: not using the service in WANDB_SERVICE=%s (started by process %s); this "
              "job starts its own.", token, match["pid"])
    del environ["WANDB_SERVICE"]


def start_failure(error: Exception, mode: str, timeout: float) -> TrackingError:
    """The one-line TrackingError for a wandb.init that failed with `error`."""
    reason = " ".join(str(error).split(" Consider increasing")[0].split()) or type(error).__name__
    if "timed out" in reason.lower():
        reason += f" after {timeout:.0f} s; WANDB_INIT_TIMEOUT=SECONDS waits longer"
    return TrackingError(
        f"W&B could not start its run in {mode} mode ({reason[:400]}); run with "
        "logger.wandb.mode=offline (sync later) or logger=none, or fix the W&B login/network."
    )


def sync_dir(run) -> str:
    """The run's `offline-run-*` directory: what `wandb sync` takes (run.dir is its files/)."""
    return str(getattr(run.settings, "sync_dir", None) or Path(run.dir).parent)
