"""last_checkpoint: the newest complete, readable checkpoint, or none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from qa_experiments.model.checkpoints import last_checkpoint


def make_checkpoint(output_dir: Path, step: int, state: str | None = None) -> Path:
    checkpoint = output_dir / f"checkpoint-{step}"
    checkpoint.mkdir(parents=True)
    save_file({"w": torch.ones(64, 64)}, checkpoint / "model.safetensors")
    for name in ("optimizer.pt", "scheduler.pt"):
        (checkpoint / name).write_bytes(b"state")
    (checkpoint / "trainer_state.json").write_text(
        json.dumps({"global_step": step}) if state is None else state)
    return checkpoint


@pytest.mark.parametrize("damage", ["empty state", "unreadable state", "state without step",
                                    "truncated weights", "no optimizer", "no weights"])
def test_resume_falls_back_to_the_newest_complete_readable_checkpoint(tmp_path, damage):
    good = make_checkpoint(tmp_path, 20)
    newest = make_checkpoint(tmp_path, 30)
    make_checkpoint(tmp_path, 5)
    weights = newest / "model.safetensors"
    {
        "empty state": lambda: (newest / "trainer_state.json").write_text(""),
        "unreadable state": lambda: (newest / "trainer_state.json").write_bytes(b"\xff{"),
        "state without step": lambda: (newest / "trainer_state.json").write_text("[]"),
        "truncated weights": lambda: weights.write_bytes(weights.read_bytes()[:1000]),
        "no optimizer": lambda: (newest / "optimizer.pt").unlink(),
        "no weights": lambda: weights.unlink(),
    }[damage]()
    assert last_checkpoint(tmp_path) == str(good)


def test_no_usable_checkpoint_means_none(tmp_path):
    make_checkpoint(tmp_path, 10, state="")
    assert last_checkpoint(tmp_path) is None and last_checkpoint(tmp_path / "absent") is None
