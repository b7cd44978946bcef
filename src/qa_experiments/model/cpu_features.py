"""Whether this CPU has bf16 units: the instructions that make bf16 autocast faster than fp32
on the CPU (AVX-512 BF16 dot products, as on AMD EPYC Zen 4 and later; AMX tiles, as on Intel
Xeon Sapphire Rapids and later).

Read from the `flags` lines of /proc/cpuinfo, the kernel's documented list of the x86 features
the CPU has *and* the kernel lets programs use (Documentation/arch/x86/cpuinfo.rst: a feature the
kernel disabled, or one a hypervisor hides, is not listed, and AMX is listed only when the kernel
saves its tile state). PyTorch's documented `torch.backends.cpu.get_cpu_capability()` names only
the vector width ("AVX512" both on CPUs with and without bf16), and its `torch.cpu._is_*`
probes are private, undocumented functions that may change between releases. Without
/proc/cpuinfo (not Linux) or on other architectures no flag is found: fp32, the safe choice.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# avx512_bf16: AVX-512 BF16 (vdpbf16ps); amx_bf16: AMX tiles with bf16 products.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def flags_of(cpuinfo: str) -> frozenset[str]:
    """The feature flags of a /proc/cpuinfo text: those every listed core has."""
    per_core = [frozenset(line.split(":", 1)[1].split()) for line in cpuinfo.splitlines()
                if line.split(":", 1)[0].strip() == "flags" and ":" in line]
    return frozenset.intersection(*per_core) if per_core else frozenset()


@functools.cache
def cpu_flags() -> frozenset[str]:
    """This machine's CPU feature flags (empty where /proc/cpuinfo cannot be read)."""
    try:
        return flags_of(CPUINFO.read_text(errors="replace"))
    except OSError:
        return frozenset()


def bf16_units(flags: Iterable[str]) -> list[str]:
    """The bf16 flags among `flags`, sorted (empty: no bf16 units)."""
    return sorted(BF16_FLAGS.intersection(flags))
