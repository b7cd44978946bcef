"""Which Trainer checkpoints a run can continue from: complete and readable ones only."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from qa_experiments.model.loading import weights_problem

log = logging.getLogger(__name__)

# What a resume loads besides the weights; the Trainer writes trainer_state.json last.
RESUME_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt")


def last_checkpoint(output_dir: str | Path) -> str | None:
    """The newest `checkpoint-N` in `output_dir` that is complete and readable, if any.

    A run killed while saving leaves a partial newest checkpoint, and a damaged disk an
    empty or unreadable file: such checkpoints are skipped (and named in the log).
    """
    for checkpoint in sorted(Path(output_dir).glob("checkpoint-*"), key=_step, reverse=True):
        problem = checkpoint_problem(checkpoint)
        if problem is None:
            return str(checkpoint)
        log.warning("Skipping %s: %s", checkpoint, problem)
    return None


def checkpoint_problem(checkpoint: Path) -> str | None:
    """Why `checkpoint` cannot be resumed from, or None when it can."""
    missing = [name for name in RESUME_FILES if not (checkpoint / name).is_file()]
    if missing:
        return f"incomplete (no {', '.join(missing)})"
    try:
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return f"trainer_state.json is unreadable ({type(error).__name__})"
    if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
        return "trainer_state.json holds no global_step"
    if not any(checkpoint.glob("*.safetensors")):
        return "no model.safetensors"
    return weights_problem(checkpoint)


def _step(path: Path) -> int:
    suffix = path.name.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else -1
