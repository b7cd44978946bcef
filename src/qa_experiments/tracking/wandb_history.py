"""What a resumed job's W&B run already holds, and which history rows it must be given again.

An attempt killed hard (SIGKILL, out of memory) loses the rows W&B had not yet written, so the
run's own history, not what the killed attempt logged, says where it stands: offline, the
earlier attempts' `.wandb` logs are read back (`last_written_step`); online, W&B reports the
run's next step when it resumes. The resumed attempt then logs again, from the checkpoint's
`log_history`, the rows after that step up to the checkpoint's (`rows_to_relog`); training
logs the rest, so every step appears once.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# W&B's transaction log (`run-<id>.wandb`): a 7-byte file header, then LevelDB-log records in
# 32 KiB blocks, each a header (CRC-32 of type and data, length, type) and a protobuf Record.
FILE_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK = 32768
RECORD_HEADER = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def last_written_step(run_dirs: Iterable[Path]) -> int:
    """The last history step written to the `.wandb` logs in the offline run directories
    `run_dirs` (0 when they hold none): a log cut off by a kill is read up to its last whole
    record."""
    from wandb.proto.wandb_internal_pb2 import Record

    steps = [0]
    for path in (log for run_dir in run_dirs for log in sorted(run_dir.glob("*.wandb"))):
        for data in log_records(path.read_bytes()):
            record = Record()
            record.ParseFromString(data)
            if record.HasField("history"):
                steps.append(record.history.step.num)
    return max(steps)


def log_records(log: bytes) -> list[bytes]:
    """The whole records of a W&B transaction log, up to the first damaged or cut-off one."""
    if not log.startswith(FILE_HEADER):
        return []
    records, parts, position = [], [], len(FILE_HEADER)
    while position + RECORD_HEADER.size <= len(log):
        room = BLOCK - position % BLOCK
        if room < RECORD_HEADER.size:  # a block's end too short for a header is padding
            position += room
            continue
        checksum, length, kind = RECORD_HEADER.unpack_from(log, position)
        start = position + RECORD_HEADER.size
        data = log[start:start + length]
        if len(data) < length or zlib.crc32(data, zlib.crc32(bytes([kind]))) != checksum:
            break
        position = start + length
        if kind in (FULL, FIRST):
            parts = []
        parts.append(data)
        if kind in (FULL, LAST):
            records.append(b"".join(parts))
    return records


def rows_to_relog(log_history: list[dict[str, Any]], held: int,
                  checkpoint_step: int) -> list[tuple[int, dict[str, Any]]]:
    """(step, logs) for each step after `held` (the last step the W&B run holds) up to
    `checkpoint_step` in a checkpoint's `log_history` (the Trainer's logs, each with its
    `step`), in step order; the logs of one step (training and evaluation) merged."""
    rows: dict[int, dict[str, Any]] = {}
    for entry in log_history:
        step = entry.get("step")
        if isinstance(step, int) and held < step <= checkpoint_step:
            rows.setdefault(step, {}).update({k: v for k, v in entry.items() if k != "step"})
    return sorted(rows.items())
