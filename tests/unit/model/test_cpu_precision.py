"""bf16 autocast on the CPU only where it has bf16 units: the flags read from /proc/cpuinfo,
what `hardware.precision` resolves to for them, and the fp32 setting that turns bf16 off."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import compose_config
from qa_experiments.config.schema import ConfigError
from qa_experiments.inference.predictor import prediction_device_arguments
from qa_experiments.model import cpu_features
from qa_experiments.model.cpu_features import bf16_units, cpu_flags, flags_of
from qa_experiments.model.device import device_arguments, resolve_precision

# The flags lines of three kinds of machine (shortened; the features that matter kept).
XEON_ICELAKE = "fpu sse2 avx2 avx512f avx512bw avx512vl avx512_vnni"  # this machine's kind
EPYC_ZEN4 = XEON_ICELAKE + " avx512_bf16"
XEON_SAPPHIRE_RAPIDS = EPYC_ZEN4 + " amx_bf16 amx_tile amx_int8"


def cpuinfo(*flag_lines: str) -> str:
    """A /proc/cpuinfo text with one core per flags line."""
    return "\n\n".join(f"processor\t: {n}\nmodel name\t: x\nflags\t\t: {flags}\n"
                       for n, flags in enumerate(flag_lines))


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """Point the detection at a cpuinfo file written by the test (a real file read as on
    Linux); returns a function that writes it."""
    path = tmp_path / "cpuinfo"
    monkeypatch.setattr(cpu_features, "CPUINFO", path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cpu_flags.cache_clear()

    def write(text: str) -> None:
        path.write_text(text)
        cpu_flags.cache_clear()

    yield write
    cpu_flags.cache_clear()


@pytest.mark.parametrize(("flags", "units"), [
    (XEON_ICELAKE, []),
    (EPYC_ZEN4, ["avx512_bf16"]),
    (XEON_SAPPHIRE_RAPIDS, ["amx_bf16", "avx512_bf16"]),
])
def test_bf16_units_are_read_from_the_flags_lines(flags, units):
    assert bf16_units(flags_of(cpuinfo(flags, flags))) == units


def test_a_unit_counts_only_when_every_core_lists_it():
    assert bf16_units(flags_of(cpuinfo(EPYC_ZEN4, XEON_ICELAKE))) == []


def test_no_cpuinfo_means_no_units(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu_features, "CPUINFO", tmp_path / "absent")
    cpu_flags.cache_clear()
    try:
        assert cpu_flags() == frozenset() and bf16_units(cpu_flags()) == []
    finally:
        cpu_flags.cache_clear()


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_any_cpuinfo_text_gives_flags_without_failing(text):
    assert isinstance(flags_of(text), frozenset)


@pytest.mark.parametrize(("setting", "cuda", "bf16", "expected"), [
    ("auto", False, True, "bf16"),   # a CPU with bf16 units
    ("auto", False, False, "fp32"),  # a CPU without
    ("fp32", False, True, "fp32"),   # the off-setting wins over the units
    ("bf16", False, False, "bf16"),  # asked for: autocast even without units
    ("auto", True, True, "bf16"),
    ("auto", True, False, "fp16"),
])
def test_what_each_precision_setting_resolves_to(setting, cuda, bf16, expected):
    assert resolve_precision(setting, cuda, bf16_supported=bf16) == expected


def test_fp16_on_the_cpu_is_refused():
    with pytest.raises(ConfigError, match="fp16 needs a CUDA GPU"):
        resolve_precision("fp16", False, bf16_supported=True)


@pytest.mark.parametrize(("flags", "bf16"), [(XEON_ICELAKE, False), (EPYC_ZEN4, True),
                                             (XEON_SAPPHIRE_RAPIDS, True)])
@pytest.mark.parametrize("preset", ["hardware=cpu", "hardware=auto"])
def test_the_cpu_presets_pick_bf16_only_with_units(machine, flags, bf16, preset):
    machine(cpuinfo(flags))
    arguments = device_arguments(compose_config([preset]).hardware)
    assert arguments["use_cpu"] and arguments["bf16"] is bf16 and not arguments["fp16"]


def test_hardware_precision_fp32_turns_bf16_off(machine):
    machine(cpuinfo(XEON_SAPPHIRE_RAPIDS))
    hardware = compose_config(["hardware=cpu", "hardware.precision=fp32"]).hardware
    assert not device_arguments(hardware)["bf16"]


@pytest.mark.parametrize(("run", "bf16"), [
    ({"device": "auto", "precision": "auto"}, True),  # as auto decides on this CPU
    ({"device": "cpu", "precision": "fp32"}, False),
    ({"device": "cuda", "precision": "bf16"}, False),  # a GPU's bf16 is no CPU choice
    ({"device": "cpu", "precision": "bf16"}, True),
])
def test_prediction_on_a_cpu_with_bf16_units(machine, run, bf16):
    machine(cpuinfo(EPYC_ZEN4))
    assert prediction_device_arguments(run)["bf16"] is bf16


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file() or platform.machine() != "x86_64",
                    reason="x86 Linux only")
def test_this_machine_agrees_with_torchs_own_probe():
    """The kernel's flags and PyTorch's cpuinfo probe (private, so only a cross-check) agree;
    on the development machine (Xeon without bf16 units) hardware=cpu trains in fp32."""
    cpu_flags.cache_clear()
    assert ("avx512_bf16" in cpu_flags()) == torch.cpu._is_avx512_bf16_supported()
    expected = bool(bf16_units(cpu_flags())) and not torch.cuda.is_available()
    assert device_arguments(compose_config(["hardware=cpu"]).hardware)["bf16"] is expected
