"""The train entrypoint: `python -m qa_experiments.train [group=choice ...] [key=value ...]`.

Hydra composes conf/config.yaml with the chosen config groups; each run writes its config,
results.json, predictions.json and trained model into its own run directory.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from qa_experiments import tracking
from qa_experiments.hub import HubUnavailableError
from qa_experiments.paths import config_dir, register_resolvers
from qa_experiments.schema import ConfigError, register_schema, validate_config
from qa_experiments.squad_data import DataError

log = logging.getLogger("qa_experiments.train")

# Mistakes in what the user asked for: reported in one line, without a traceback.
USER_ERRORS = (ConfigError, DataError, HubUnavailableError, FileNotFoundError)

register_resolvers()
register_schema()


def train(cfg: DictConfig) -> float:
    """Run one job and return its dev F1 (the metric sweepers maximise)."""
    from qa_experiments.training import run_experiment, summarize

    validate_config(cfg)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    run = tracking.start_run(
        cfg.logger,
        config=OmegaConf.to_container(cfg, resolve=True),
        run_dir=run_dir,
        name=HydraConfig.get().job.override_dirname or run_dir.name,
        tags=[cfg.model.name, cfg.data.name],
    )
    results, exit_code = None, 1
    try:
        results = run_experiment(cfg, run_dir)
        exit_code = 0
    finally:
        tracking.finish_run(run, results and _summary(results), exit_code)
    log.info("Done: %s. Run directory: %s", summarize(results), run_dir)
    return results["f1"]


def _summary(results: dict) -> dict:
    return {f"final/{k}": v for k, v in results.items() if isinstance(v, (int, float))}


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def main(cfg: DictConfig) -> float:
    """Hydra task function; user errors end the run with one clear line and exit status 2."""
    try:
        return train(cfg)
    except USER_ERRORS as error:
        log.error("%s: %s", type(error).__name__, error)
        sys.exit(2)


if __name__ == "__main__":
    main()
