"""Importing the package registers nothing with Hydra or OmegaConf: the entry points do it
(`hydra_runtime.resolvers.register_config`), and the tests through a fixture."""

from __future__ import annotations

import subprocess
import sys

CHECK = (
    "import qa_experiments.train, qa_experiments.wandb_sweep\n"
    "from hydra.core.config_store import ConfigStore\n"
    "from omegaconf import OmegaConf\n"
    "print('schema.yaml' in ConfigStore.instance().list(''),"
    " OmegaConf.has_resolver('bundled_data'))\n"
)


def test_importing_the_entry_points_registers_nothing():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
