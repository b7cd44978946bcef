"""What the jobs of a sweep on a Ray cluster take from the qa-train command that launched them
(`hydra/launcher=ray_cluster`, conf/hydra/launcher/ray_cluster.yaml).

A Ray worker starts in the directory and with the environment of its node's `ray start`, not
qa-train's: a relative `hydra.sweep.dir` (the default, multirun/<date>/<time>) would put the
jobs where neither qa-train's sweep summary nor qa-compare looks, and HF_HUB_OFFLINE, WANDB_MODE
and the like set for qa-train would not reach them. The preset therefore gives the Ray job
`${ray_job_env:[NAME,...],[NAME,...]}` as its `runtime_env.env_vars` (resolved by qa-train)
and `enter_launch_dir` as its `worker_process_setup_hook` (run by each worker before any job).
"""

from __future__ import annotations

import logging
import os
from fnmatch import fnmatchcase

log = logging.getLogger(__name__)

LAUNCH_DIR = "QA_EXPERIMENTS_LAUNCH_DIR"


def ray_job_env(names, leave_out=()) -> dict[str, str]:
    """The variables of this process whose names match one of `names` and none of
    `leave_out` (shell-style patterns: `*` for any characters), plus LAUNCH_DIR: the directory
    this process runs in."""
    env = {
        name: value for name, value in os.environ.items()
        if any(fnmatchcase(name, p) for p in names)
        and not any(fnmatchcase(name, p) for p in leave_out)
    }
    env[LAUNCH_DIR] = os.getcwd()
    return env


def enter_launch_dir() -> None:
    """Ray worker setup hook: work in the directory qa-train was started in (LAUNCH_DIR), as the
    jobs of the other launchers do; where this node has no such directory (no shared file
    system), say so in the worker's log and stay where Ray started the worker."""
    directory = os.environ.get(LAUNCH_DIR)
    if not directory:
        return
    try:
        os.chdir(directory)
    except OSError as error:
        log.warning("Ray worker: cannot work in %s, the directory qa-train was started in (%s); "
                    "relative paths of the job resolve in %s instead.", directory, error,
                    os.getcwd())
