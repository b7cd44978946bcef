"""The end of a multi-process (DDP) job's process group.

Transformers starts the group (gloo on CPU, NCCL on CUDA) and never destroys it. Left to the
interpreter's finalization, Gloo's worker threads can still hold work whose tensors need the
GIL, and the process aborts at exit (SIGABRT, "terminate called without an active exception";
seen on a pruned two-rank trial, see pytorch/pytorch#179291). Destroying the group from an
atexit handler runs while the interpreter is still whole.
"""

from __future__ import annotations

import atexit
import functools
import sys


@functools.cache  # once per process, however many jobs it runs
def destroy_at_exit() -> None:
    """Destroy this process's default process group, if one was started, when it exits."""
    atexit.register(destroy)


def destroy() -> None:
    """Destroy the default process group if there is one (torch is never imported for it)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized():
        distributed.destroy_process_group()
