"""Progress bars off while a library call loads, writes or runs a model: it shows none on its
user's terminal (a command prints only its own lines)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import datasets
from transformers.utils import logging as transformers_logging


@contextlib.contextmanager
def no_progress_bars() -> Iterator[None]:
    """Datasets' (tokenizing) and Transformers' (loading weights) progress bars off for the
    block, then back as they were (training keeps its own)."""
    datasets_on = datasets.is_progress_bar_enabled()
    transformers_on = transformers_logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if datasets_on:
            datasets.enable_progress_bars()
        if transformers_on:
            transformers_logging.enable_progress_bar()
