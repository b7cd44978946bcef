"""What every Hydra entry point registers before composing a config (`register_config`): the
structured schema and the resolvers the YAML groups use. The resolvers reach into several layers
(bundled data, models, devices), so they are wired here, above all of them. Nothing registers
at import: an entry point calls `register_config` (qa-train, qa-wandb-sweep; the tests through
a fixture). Hydra's launchers hand both on to the jobs they start with their singleton state."""

from __future__ import annotations

from omegaconf import OmegaConf

from qa_experiments.config.paths import (
    bundled_data_path,
    device_choice,
    minilm_path,
    run_timestamp,
)
from qa_experiments.config.schema import register_schema
from qa_experiments.hydra_runtime.ray_jobs import ray_job_env
from qa_experiments.model.tiny_models import cached_tiny_model


def register_config() -> None:
    """Register the schema (`schema` in config.yaml's defaults) and the resolvers."""
    register_schema()
    register_resolvers()


def register_resolvers() -> None:
    """Make ${bundled_data:NAME}, ${minilm_path:}, ${tiny_model:ARCH},
    ${run_timestamp:PATTERN}, ${device_choice:DEVICE,CUDA_VALUE,CPU_VALUE} and
    ${ray_job_env:[NAME,...],[NAME,...]} usable in the YAML configs."""
    OmegaConf.register_new_resolver("device_choice", device_choice, replace=True)
    OmegaConf.register_new_resolver("bundled_data", bundled_data_path, replace=True)
    OmegaConf.register_new_resolver("minilm_path", minilm_path, replace=True)
    OmegaConf.register_new_resolver("tiny_model", cached_tiny_model, replace=True)
    # Cached like Hydra's ${now:}: every job of a sweep resolves the same sweep directory.
    OmegaConf.register_new_resolver("run_timestamp", run_timestamp, replace=True, use_cache=True)
    # The environment a Ray job takes from qa-train (conf/hydra/launcher/ray_cluster.yaml).
    OmegaConf.register_new_resolver("ray_job_env", ray_job_env, replace=True)
