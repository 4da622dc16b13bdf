"""Parameters declared once: every declared constraint is enforced with a message that
names the key, reaches the command-line options bound to the key, and the generated
reference (docs/config.md) matches the declarations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import pytest

from influence.cli import cli
from influence.cli.options import ConfigOption
from influence.cli.reference import config_reference
from influence.config import SECTIONS, AnalysisConfig, config_from_dict, parameter
from influence.errors import ConfigError
from influence.params import (
    AnyOf,
    Exactly,
    Flag,
    Interval,
    OneOf,
    Pattern,
    Text,
    parameters,
    relations_of,
)

DECLARED = [(name, p) for name, cls in SECTIONS.items() for p in parameters(cls)]


def _bad_values(constraint) -> list:
    """Values the constraint must refuse (each kind of violation it can have)."""
    if isinstance(constraint, Interval):
        bad = ["3", True, None if constraint.kind is float else 1.5]
        if constraint.kind is float:
            bad += [float("nan"), float("inf")]
        if constraint.low is not None:
            bad.append(constraint.low - 1 if constraint.low_closed else constraint.low)
        if constraint.high is not None:
            bad.append(constraint.high + 1 if constraint.high_closed else constraint.high)
        return [b for b in bad if b is not None]
    if isinstance(constraint, OneOf):
        return ["no-such-option", 1]
    if isinstance(constraint, Flag):
        return ["yes", 1]
    if isinstance(constraint, (Text, Pattern)):
        return ["", 3]
    if isinstance(constraint, AnyOf):
        return [v for c in constraint.choices for v in _bad_values(c)
                if not constraint.accepts(v)]
    if isinstance(constraint, Exactly):
        return ["x"]
    return ["not-a-valid-value-of-any-kind", 3]  # Date, rules, rule names


def test_every_section_field_is_declared():
    for name, cls in SECTIONS.items():
        declared = {p.name for p in parameters(cls)}
        assert declared == {f.name for f in dataclasses.fields(cls)}, name
        for p in parameters(cls):
            assert p.key == f"{name}.{p.name}" and p.doc
            assert f"    {p.name} : " in cls.__doc__  # the rendered numpydoc entry
            # the declared default is the dataclass default and passes its own check
            assert getattr(cls(), p.name) == p.default


@pytest.mark.parametrize("section, declared", DECLARED, ids=[p.key for _, p in DECLARED])
def test_declared_constraints_are_enforced_naming_the_key(section, declared):
    for bad in _bad_values(declared.constraint):
        if bad is None and declared.optional:
            continue
        with pytest.raises(ConfigError) as info:
            config_from_dict({section: {declared.name: bad}})
        error = info.value
        assert error.key.startswith(declared.key)
        assert str(error).startswith(f"config key '{error.key}'"), str(error)
        if error.key == declared.key:
            assert error.expected == declared.constraint.expected
            assert str(error).endswith(f"must be {error.expected}; got {bad!r}")


@pytest.mark.parametrize("values, message", [
    ({"roles": {"peripheral_z": 3.0}},
     "config key 'roles.peripheral_z' must be < roles.hub_z (2.5); got 3.0"),
    ({"lifecycle": {"churned_days": 60}},
     "config key 'lifecycle.churned_days' must be > lifecycle.dormant_days (60); got 60"),
    ({"segments": {"high_share": 0.5, "mid_share": 0.6}},
     "config key 'segments.mid_share' must be <= 1 - segments.high_share (0.5); got 0.6"),
    ({"window": {"since": "2026-02-01", "until": "2026-01-31"}},
     "config key 'window.since' must be on or before window.until (2026-01-31); "
     "got '2026-02-01'"),
])
def test_relations_name_the_key_and_the_bound(values, message):
    with pytest.raises(ConfigError) as info:
        config_from_dict(values)
    assert str(info.value) == message


def test_relations_hold_at_their_edges():
    config_from_dict({"segments": {"high_share": 0.3, "mid_share": 0.7},
                      "lifecycle": {"dormant_days": 60, "churned_days": 61},
                      "window": {"since": "2026-01-31", "until": "2026-01-31"}})
    assert {r.name for cls in SECTIONS.values() for r in relations_of(cls)} == {
        "peripheral_z", "churned_days", "mid_share", "since"}


@pytest.mark.parametrize("constraint, expected", [
    (Interval(float, 0, None, closed="neither"), "a number > 0"),
    (Interval(int, 0), "an integer >= 0"),
    (Interval(float, 0, 1, closed="right"), "a number in (0, 1]"),
    (Interval(float, 0.005, 0.39), "a number in [0.005, 0.39]"),
    (Interval(int, None, 5, closed="neither"), "an integer < 5"),
    (Interval(int, 1) | Exactly(-1, "until stable"), "an integer >= 1, or -1 (until stable)"),
    (OneOf("s", "ms", "us"), "one of ['s', 'ms', 'us']"),
])
def test_constraints_say_what_they_accept(constraint, expected):
    assert constraint.expected == expected


def _options():
    for name, command in sorted(cli.commands.items()):
        for option in command.params:
            if isinstance(option, ConfigOption):
                yield name, option


def test_options_bound_to_keys_take_the_declared_range():
    """The click type of every option bound to a config key is the declaration's, so a
    range is stated once; only propagators -k is narrower (a seed set needs a seed)."""
    seen = set()
    for command, option in _options():
        declared = parameter(option.config_key).click_type()
        seen.add(option.config_key)
        if (command, option.name) == ("propagators", "k"):
            assert isinstance(option.type, click.IntRange) and option.type.min == 1
            continue
        if declared is None:
            assert option.type == click.STRING, (command, option.name)
            continue
        assert type(option.type) is type(declared), (command, option.name)
        assert vars(option.type) == vars(declared), (command, option.name)
    assert {"window.since", "window.until", "communities.seed", "communities.resolution",
            "input.timestamp_unit", "spark.master", "propagators.p0"} <= seen


@pytest.mark.parametrize("args", [["--resolution", "0"], ["--seed", "-1"],
                                  ["--timestamp-unit", "h"]])
def test_out_of_range_option_is_a_usage_error(args, tmp_path):
    from click.testing import CliRunner

    events = tmp_path / "e.csv"
    events.write_text("source,target,type\na,b,share\n")
    result = CliRunner().invoke(cli, ["analyze", str(events), "--out", str(tmp_path / "o"),
                                      *args])
    assert result.exit_code == 2 and args[0] in result.stderr


def test_config_reference_is_up_to_date():
    path = Path(__file__).resolve().parents[1] / "docs" / "config.md"
    assert path.read_text(encoding="utf-8") == config_reference(), (
        "docs/config.md is out of date: python -m influence.cli.reference > docs/config.md")


def test_config_reference_names_every_key_and_option():
    text = config_reference()
    for _, p in DECLARED:
        assert f"| `{p.name}` |" in text
    assert "`--resolution` (analyze)" in text and "`--old-since` (compare)" in text


def test_replace_checks_like_the_file():
    with pytest.raises(ConfigError, match=r"config key 'communities\.seed' must be an "
                                          r"integer >= 0; got -3"):
        AnalysisConfig().replace(communities__seed=-3)
    assert AnalysisConfig().replace(spark__shuffle_partitions=4).spark.shuffle_partitions == 4


def test_spark_config_needs_neither_pyspark_nor_pandas():
    import subprocess
    import sys

    code = ("import sys; import influence.config; "
            "print(sorted(m for m in ('pyspark', 'pandas', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
