"""Hydra sweep overrides as Optuna distributions, with the syntax of Hydra's Optuna sweeper:

    choice(a, b)            categorical
    range(1, 10, 2)         integers (floats: a stepped float range); shuffle(range()) categorical
    interval(0.0, 0.2)      uniform float (integer ends: uniform integer)
    int(interval(1, 8))     uniform integer
    tag(log, interval(...)) log-uniform

Any other override is a fixed value, passed to every trial unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
    Transformer,
)
from hydra.errors import OverrideParseException
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
    json_to_distribution,
)

from qa_experiments.errors import UserError, one_line
from qa_experiments.search.trial_protocol import shown


class SearchSpaceError(UserError, ValueError):
    """A search-space override that does not parse or describes no valid distribution."""


class StudyMismatchError(UserError, ValueError):
    """A stored study that a search would resume with another direction or search space."""


def parse_search_space(arguments: list[str]) -> tuple[dict[str, BaseDistribution], dict[str, str]]:
    """(distributions, fixed values) by key; a later override of a key wins."""
    distributions: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    try:
        overrides = OverridesParser.create().parse_overrides(arguments)
    except OverrideParseException as error:
        raise SearchSpaceError(f"cannot parse the search-space override {error.override!r}: "
                               f"{one_line(error)}") from error
    for override in overrides:
        key = override.get_key_element()
        distributions.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            try:
                distributions[key] = distribution(override)
            except ValueError as error:  # also Optuna's, e.g. an interval whose low > high
                raise SearchSpaceError(f"{override.input_line}: {one_line(error)}") from error
        else:
            fixed[key] = override.get_value_element_as_str()
    return distributions, fixed


def distribution(override: Override) -> BaseDistribution:
    """The Optuna distribution of one sweep override."""
    value = override.value()
    if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
        return CategoricalDistribution(choices(override))
    if isinstance(value, RangeSweep):
        return range_distribution(value)
    if isinstance(value, IntervalSweep):
        return interval_distribution(value)
    raise ValueError("the Optuna sweeper takes choice(), range() or interval() sweeps")


def choices(override: Override) -> list[Any]:
    """The choices as plain values (a config group option or a string stays a string)."""
    found = list(override.sweep_iterator(transformer=Transformer.encode))
    for item in found:
        if not isinstance(item, str | int | float | bool | type(None)):
            raise ValueError(f"a choice must be a plain value, got {item!r}")
    return found


def range_distribution(value: RangeSweep) -> BaseDistribution:
    """range(start, stop, step): stop excluded, as in Python and Hydra's basic sweeper."""
    numbers = (value.start, value.stop, value.step)
    if any(isinstance(n, float) for n in numbers):
        steps = int((value.stop - value.start) / value.step - 1e-9)
        return FloatDistribution(value.start, value.start + steps * value.step, step=value.step)
    steps = (int(value.stop) - int(value.start) - 1) // int(value.step)
    return IntDistribution(int(value.start), int(value.start) + steps * int(value.step),
                           step=int(value.step))


def interval_distribution(value: IntervalSweep) -> BaseDistribution:
    """interval(low, high), integer when both ends are integers (int(interval()) makes them so),
    log-uniform with tag(log)."""
    log = "log" in value.tags
    if isinstance(value.start, int) and isinstance(value.end, int):
        return IntDistribution(value.start, value.end, log=log)
    return FloatDistribution(float(value.start), float(value.end), log=log)


def describe_space(distributions: dict[str, BaseDistribution]) -> dict[str, dict[str, Any]]:
    """The search space as plain JSON data ({key: Optuna's JSON form of its distribution}),
    what a study keeps to tell whether a resumed search searches the same space."""
    return {key: json.loads(distribution_to_json(distributions[key]))
            for key in sorted(distributions)}


def space_change(stored: Any, current: dict[str, dict[str, Any]]) -> str | None:
    """How the search space `current` (describe_space) differs from `stored`, read back from a
    study (any value: it is compared, never built); None when they are the same."""
    if not isinstance(stored, dict):
        return f"the stored space is not a mapping of keys: {shown(stored)}"
    for key in sorted(set(stored) | set(current), key=str):
        if key not in current:
            return f"{key} is searched there ({readable(stored[key])}) but not here"
        if key not in stored:
            return f"{key} is searched here ({readable(current[key])}) but not there"
        if stored[key] != current[key]:
            return f"{key} is {readable(current[key])} here, {readable(stored[key])} there"
    return None


def readable(form: Any) -> str:
    """A distribution's JSON form (describe_space) as Optuna writes it, or the raw value cut
    short when it is no distribution."""
    try:
        text = repr(json_to_distribution(json.dumps(form)))
    except (TypeError, ValueError, KeyError, AttributeError):
        return shown(form)
    return text if len(text) <= 120 else text[:117] + "..."
