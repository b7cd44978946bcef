"""Two-process CPU data parallelism under torchrun: one job directory, written by rank 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import FAST


def test_torchrun_two_cpu_processes_share_one_run_dir(tmp_path):
    done = subprocess.run(  # `python -m torch.distributed.run` is torchrun, found without PATH
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
         "-m", "qa_experiments.train", *FAST, "model=tiny_bert", "logger=wandb",
         "logger.mode=offline"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_dirs = [p.parent for p in (tmp_path / "outputs").glob("*/*/.hydra")]
    assert len(run_dirs) == 1
    results = json.loads((run_dirs[0] / "results.json").read_text())
    assert results["world_size"] == 2
    assert len(list((run_dirs[0] / "wandb").glob("offline-run-*"))) == 1  # rank 0 only
    assert json.loads((run_dirs[0] / "status.json").read_text())["status"] == "finished"
