"""TensorBoard event files (`logger=tensorboard`): the job's in RUN_DIR/tensorboard/.

Each attempt writes its own event file there; a resumed attempt continues from the last step
the files hold (TensorBoard's own reader says which), so each step is in them once. A job
started over (no resume) removes an earlier attempt's files first. The final figures are
scalars at the last step; the report's charts are images; text logs the run directory.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa_experiments.errors import extra, needs_package
from qa_experiments.runs import layout

log = logging.getLogger(__name__)

STEP_TAG = "train/global_step"  # logged in every training row: the steps the files hold


@dataclass
class TensorBoardTracker:
    """The job's event writer (`writer`, a SummaryWriter)."""

    writer: Any
    floor: int = 0
    step: int = 0
    name: str = "TensorBoard"

    def trainer_callbacks(self) -> list:
        return []

    def log(self, row: dict[str, Any], step: int) -> None:
        if step <= self.floor:
            return
        for key, value in row.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(key, value, step)
        self.step = step

    def log_report(self, summary: dict[str, Any], charts: dict[str, Path], table) -> None:
        import numpy as np
        from PIL import Image

        step = max(self.step, self.floor)
        for key, value in summary.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(key, value, step)
        for chart, path in charts.items():
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))
            self.writer.add_image(f"report/{chart}", pixels, step, dataformats="HWC")

    def attach(self, files: dict[str, Path]) -> None:
        """Event files hold no files: the run directory beside them does."""

    def finish(self, status: str, summary: dict[str, Any] | None,
               tags: tuple[str, ...] = (), unset: tuple[str, ...] = ()) -> None:
        self.writer.add_text("status", status if not tags else f"{status} ({', '.join(tags)})",
                             max(self.step, self.floor))
        self.writer.close()


def start_run(_tensorboard_cfg, *, run_dir: Path, resume: bool = False,
              **_job: Any) -> TensorBoardTracker:
    """The job's event writer in RUN_DIR/tensorboard/, continuing the files there with `resume`."""
    with needs_package("logger=tensorboard", extra("tensorboard")):
        import tensorboard  # noqa: F401  (torch's SummaryWriter needs it)
        from torch.utils.tensorboard import SummaryWriter

    events = run_dir / layout.TENSORBOARD_DIR
    if not resume:
        shutil.rmtree(events, ignore_errors=True)
    floor = held_step(events) if resume else 0
    if floor:
        log.info("Continuing the TensorBoard events in %s from step %d.", events, floor)
    return TensorBoardTracker(SummaryWriter(str(events)), floor, floor)


def held_step(events: Path) -> int:
    """The last step of STEP_TAG in the event files in `events` (0 when there are none)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if not events.is_dir():
        return 0
    accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
    accumulator.Reload()
    if STEP_TAG not in accumulator.Tags()["scalars"]:
        return 0
    return max(event.step for event in accumulator.Scalars(STEP_TAG))

