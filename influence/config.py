"""Analysis configuration: one frozen dataclass per stage, validated at load.

Each parameter is declared once, here, with :func:`~influence.params.param`:
its type and constraint, default and doc together. From that declaration come
the check (a :class:`~influence.errors.ConfigError` naming the dotted key, what
was expected and what was got), the ``Parameters`` section of each class's
docstring, the range of the command-line option bound to the key and the
reference in ``docs/config.md`` (see :mod:`influence.params`). The ``[spark]``
section is declared in :mod:`influence.spark.config`, beside its engine.

The TOML file (``--config``) overrides the defaults, CLI flags override the
file; :func:`load_config` rejects unknown keys and bad values.

Example
-------
>>> cfg = config_from_dict({"communities": {"resolution": 0.5}})
>>> cfg.communities.resolution
0.5
>>> config_from_dict({"communities": {"resolution": -1}})
Traceback (most recent call last):
...
influence.errors.ConfigError: config key 'communities.resolution' must be a number > 0; got -1
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .errors import ConfigError, ConfigTypeError
from .params import (
    Constraint,
    Exactly,
    Flag,
    Interval,
    OneOf,
    Param,
    Pattern,
    Relation,
    param,
    parameters,
    section,
)
from .schema import (
    BUILTIN_RULES,
    BUILTIN_TYPES,
    DATE_COLUMNS,
    EVENT_COLUMNS,
    FLOWS,
    KNOWN_VALUES,
    RULE_COLUMNS,
    TEXT_COLUMNS,
    EventType,
)
from .spark.config import SparkConfig

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "TIMESTAMP_UNITS", "InputConfig", "WindowConfig", "CommunityConfig", "CentralityConfig",
    "RoleConfig", "SegmentConfig", "SegmentRule", "PrivacyConfig", "LifecycleConfig",
    "ReachConfig", "PropagatorConfig", "ScoreConfig", "SparkConfig", "AnalysisConfig",
    "SECTIONS",
    "load_config", "config_from_dict", "as_config", "parameter",
]


#: The largest weight of an event type: with row weights up to 1e15, an event weighs at
#: most 1e21 and sums over billions of events stay finite.
MAX_TYPE_WEIGHT = 1e6

#: Units of an epoch timestamp (a bare number), with nanoseconds per unit.
TIMESTAMP_UNITS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}

_POSITIVE = Interval(float, 0, None, closed="neither")   # a number > 0
_OPEN_UNIT = Interval(float, 0, 1, closed="neither")     # a number in (0, 1)
_COUNT = Interval(int, 0)                                # an integer >= 0
_DAYS = Interval(int, 0, None, closed="neither")         # an integer > 0
_SHARE = Interval(float, 0, 1, closed="right")           # a number in (0, 1]


def _is_date_only(value: Any) -> bool:
    """True for a calendar date without a time of day (``2026-01-31``)."""
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return True
    return isinstance(value, str) and len(value.strip()) <= 10


class Date(Constraint):
    """An ISO 8601 date or date-time, kept as a UTC :class:`pandas.Timestamp`
    (text without a zone is UTC). With ``end_of_day``, a date alone means the
    last microsecond of that day."""

    expected = "an ISO 8601 date like 2026-01-31"
    type_name = "date"

    def __init__(self, *, end_of_day: bool = False) -> None:
        self.end_of_day = end_of_day

    def convert(self, key: str, value: Any) -> pd.Timestamp:
        import pandas as pd

        if not isinstance(value, (str, datetime.date)):  # not 3 (ns after 1970)
            raise TypeError(value)
        stamp = pd.Timestamp(value)  # ValueError, TypeError: the usual message
        if stamp is pd.NaT:
            raise ValueError(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        if self.end_of_day and _is_date_only(value):
            stamp = stamp + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        return stamp

    def accepts(self, value: Any) -> bool:
        return getattr(value, "tzinfo", None) is not None


@section("input")
class InputConfig:
    """How input values are read."""

    timestamp_unit: str = param(
        "s", OneOf(*TIMESTAMP_UNITS),
        "Unit of timestamps written as a bare number (epoch time): seconds, milliseconds, "
        "microseconds or nanoseconds since 1970-01-01 UTC. ISO 8601 text is read as it "
        "is, whatever this says.")


@section("window", relations=(Relation("since", "<=", "until", words="on or before"),))
class WindowConfig:
    """Which events count, and how old ones fade."""

    since: pd.Timestamp | None = param(
        None, Date(), "Keep events at or after this instant (UTC; a date alone means "
        "midnight at its start). Events outside the window are counted in the manifest "
        "as ``outside_window``.", optional=True)
    until: pd.Timestamp | None = param(
        None, Date(end_of_day=True), "Keep events at or before this instant (UTC; a date "
        "alone means the end of that day).", optional=True)
    half_life_days: float | None = param(
        None, _POSITIVE, "If set, an event's weight is multiplied by ``0.5 ** (age_days / "
        "half_life_days)``, its age measured to the analysis end date.", optional=True)


@section("communities")
class CommunityConfig:
    """Leiden community detection (modularity objective)."""

    resolution: float = param(
        1.0, _POSITIVE, "Modularity resolution gamma; larger gives more, smaller "
        "communities.")
    seed: int = param(0, _COUNT, "Seed of the Leiden run.")
    backend: str = param(
        "igraph", OneOf("igraph", "leidenalg"),
        "Which Leiden implementation runs: igraph's built-in ``community_leiden`` (fast) "
        "or the ``leidenalg`` package (the reference implementation).")
    stability_runs: int = param(
        0, _COUNT, "Extra Leiden runs (seeds ``seed + 1 ... seed + stability_runs``) used "
        "to compute ``community_confidence``; 0 turns it off.")
    iterations: int = param(
        2, Interval(int, 1) | Exactly(-1, "until stable"),
        "Leiden iterations (each one a full pass of moving, refining and aggregating); -1 "
        "iterates until the partition is stable. Two is the reference implementation's "
        "default: on generated data with 100k customers, 2 and -1 reach the same "
        "modularity to 4 decimals, and -1 costs 2x the time there and 10x at 1M "
        "customers.")
    parallel: bool = param(
        True, Flag(), "On Linux, for graphs of at least 100,000 edges, run Leiden (and the "
        "stability runs) in a forked process while centrality, activity, referrals and "
        "reach run in the main one: the results are identical, the wall time shorter on 2 "
        "or more cores. ``false`` runs everything in one process.")


@section("centrality")
class CentralityConfig:
    """Centrality parameters."""

    damping: float = param(0.85, _OPEN_UNIT, "PageRank damping factor.")
    betweenness: bool = param(
        True, Flag(), "Compute betweenness; ``false`` skips it (the column is then empty).")
    betweenness_budget: float = param(
        1e7, _POSITIVE, "Betweenness work allowed, in edge visits: exact when customers x "
        "edges is at most this, otherwise ``max(betweenness_min_pivots, budget // edges)`` "
        "sampled source pivots (see :func:`influence.metrics.betweenness`).")
    betweenness_min_pivots: int = param(
        8, Interval(int, 1), "Fewest pivots a sampled estimate uses.")
    seed: int = param(
        0, _COUNT, "Seed of the sampled betweenness pivots: its own (``--seed`` and "
        "``[communities] seed`` do not move it).")


@section("roles", relations=(Relation("peripheral_z", "<", "hub_z"),))
class RoleConfig:
    """Thresholds of ``community_role`` (Guimera-Amaral z-score / participation).

    ``z`` is a customer's within-community strength as a z-score inside its
    community; ``P`` (participation coefficient) is how evenly their strength
    spreads over communities (0: all in their own). See
    :func:`influence.communities.community_roles`.
    """

    hub_z: float = param(
        2.5, Interval(float), "``z >= hub_z`` makes a community hub (Guimera and Amaral's "
        "cut).")
    hub_participation: float = param(
        0.30, Interval(float, 0, 1), "A hub with ``P < hub_participation`` is a "
        "``local_leader``; above, a ``connector``.")
    connector_participation: float = param(
        0.62, Interval(float, 0, 1), "A non-hub with ``P >= connector_participation`` is a "
        "``connector``.")
    peripheral_z: float = param(
        -0.5, Interval(float), "A non-hub, non-connector with ``z < peripheral_z`` is "
        "``peripheral``, else ``member``.")


_RULE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def check_condition(text: Any, key: str, rule: str):
    """Parse a rule condition and check it against the known output columns.

    Names that are not declared output columns (``sent_<type>``, customer
    attributes such as ``plan``) are accepted here and checked against the
    analysis' columns when it runs (:func:`influence.segments.check_rule_columns`:
    an unknown one is a :class:`ConfigError` there).

    Raises
    ------
    ConfigError
        Naming the rule and the key, on a syntax error, an unknown operator, a
        date column, a text column compared with a number (or the reverse), or
        a value a fixed-valued column never takes.
    """
    from .conditions import Column, ConditionSyntaxError, Literal, parse_condition

    if not (isinstance(text, str) and text.strip() != ""):
        raise ConfigError.invalid(key, "a condition (text)", text)
    try:
        condition = parse_condition(text)
    except ConditionSyntaxError as exc:
        raise ConfigError(f"segment rule {rule!r} ({key} = {text!r}): {exc}") from None
    for name in condition.columns:
        # other names (sent_<type>, customer attributes) are checked when the
        # analysis knows its columns: influence.segments.check_rule_columns
        if name in DATE_COLUMNS:
            raise ConfigError(
                f"segment rule {rule!r} ({key}): column {name!r} is a date and cannot be "
                "compared; use recency_days or tenure_days")
    for comparison in condition.comparisons:
        sides = [comparison.left]
        sides += (list(comparison.right) if isinstance(comparison.right, tuple)
                  else [comparison.right])
        columns = [x for x in sides if isinstance(x, Column)]
        literals = [x for x in sides if isinstance(x, Literal)]
        for column in columns:
            if column.name not in RULE_COLUMNS:
                continue  # an attribute or sent_<type>: its kind is known at run time
            text_column = column.name in TEXT_COLUMNS and not column.percentile
            if column.percentile and column.name in TEXT_COLUMNS:
                raise ConfigError(f"segment rule {rule!r} ({key}): pct() needs a numeric "
                                  f"column; {column.name!r} holds text")
            for literal in literals:
                if text_column != isinstance(literal.value, str):
                    kind = "text" if text_column else "a number"
                    raise ConfigError(
                        f"segment rule {rule!r} ({key}): column {column.name!r} holds "
                        f"{kind} but is compared with {literal.text()}")
                allowed = KNOWN_VALUES.get(column.name)
                if (text_column and allowed is not None and not column.percentile
                        and literal.value not in allowed):
                    raise ConfigError(
                        f"segment rule {rule!r} ({key}): {column.name!r} is never "
                        f"{literal.text()}; its values are {list(allowed)}")
    return condition


_NAME_TEXT = "lower case letters, digits and '_' (a letter first)"


@dataclass(frozen=True)
class SegmentRule:
    """One named segment rule: who is in ``segment``.

    Parameters
    ----------
    name : str
        Rule name: lower case letters, digits and ``_``. A name of a built-in
        rule overrides that rule's condition (it keeps its place).
    when : str
        Condition over output columns (:mod:`influence.conditions`), checked at
        load against the known column names.
    segment : str or None, default=None
        Segment the rule names; defaults to ``name``. Several rules may name
        the same segment.
    """

    name: str
    when: str
    segment: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str) and _RULE_NAME.match(self.name)):
            raise ConfigError.invalid("segments.rules.name", _NAME_TEXT, self.name)
        check_condition(self.when, f"segments.rules[{self.name}].when", self.name)
        if self.segment is None:
            object.__setattr__(self, "segment", self.name)
        if not (isinstance(self.segment, str) and _RULE_NAME.match(self.segment)):
            raise ConfigError.invalid(f"segments.rules[{self.name}].segment", _NAME_TEXT,
                                      self.segment)


class _Rules(Constraint):
    """``[[segments.rules]]``: an array of tables, each made a :class:`SegmentRule`."""

    expected = "an array of tables ([[segments.rules]])"
    type_name = "tuple of SegmentRule"

    def convert(self, key: str, value: Any) -> tuple[SegmentRule, ...]:
        if not isinstance(value, (list, tuple)):
            raise TypeError(value)
        rules = []
        for i, rule in enumerate(value):
            if isinstance(rule, dict):
                unknown = sorted(set(rule) - {"name", "when", "segment"})
                if unknown:
                    raise ConfigError(f"unknown config key '{key}[{i}].{unknown[0]}'; "
                                      "known keys: ['name', 'segment', 'when']",
                                      key=f"{key}[{i}].{unknown[0]}")
                for part in ("name", "when"):
                    if part not in rule:
                        raise ConfigError.invalid(f"{key}[{i}].{part}", "set")
                rule = SegmentRule(**rule)
            if not isinstance(rule, SegmentRule):
                raise ConfigError.invalid(f"{key}[{i}]", "a SegmentRule", rule)
            rules.append(rule)
        names = [r.name for r in rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError.invalid(key, "rules with distinct names", repeated)
        return tuple(rules)

    def accepts(self, value: Any) -> bool:
        return isinstance(value, tuple)


class _RuleNames(Constraint):
    """An array of rule names (which must name rules: ``SegmentConfig._check``)."""

    expected = "an array of rule names"
    type_name = "tuple of str"

    def convert(self, key: str, value: Any) -> tuple[str, ...]:
        if not (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
            raise TypeError(value)
        return tuple(value)

    def accepts(self, value: Any) -> bool:
        return isinstance(value, tuple)


@section("segments", relations=(
    Relation("mid_share", "<=", "1 - high_share", value=lambda c: 1 - c.high_share,
             test=lambda c: c.high_share + c.mid_share <= 1),))
class SegmentConfig:
    """Tiers, the built-in segment rules' thresholds, and custom rules."""

    high_share: float = param(
        0.10, _OPEN_UNIT, "Share of customers (by rank) in the ``high`` tier of each axis.")
    mid_share: float = param(
        0.40, Interval(float, 0, 1, closed="left"),
        "Share of customers in the ``mid`` tier, below ``high``.")
    dormant_days: int = param(
        60, _DAYS, "A customer with no event sent in the last ``dormant_days`` days before "
        "the analysis end date is inactive (only with timestamps).")
    dormant_min_events: int = param(
        3, _DAYS, "Unused since the dormant-advocate rule became relative (issue 16); still "
        "accepted so that older configs load.")
    new_days: int = param(
        30, _DAYS, "A customer first active at most this many days before the end date is "
        "new (rising stars, newcomers).")
    max_share: float = param(
        0.10, _SHARE, "Cap of each action segment (champions, dormant_advocates, "
        "connectors, local_leaders, rising_stars, quiet_influencers): at most this share "
        "of the customers with events, the best by the segment's ranking (influence rank; "
        "dormant advocates by influence rate while active, connectors by cross-community "
        "influence); the others fall through to the next rules. Applies to custom rules "
        "naming these segments too: a rule can narrow a segment, never widen it past the "
        "cap.")
    dormant_share: float = param(
        0.50, _SHARE, "Dormant advocates: influence rate while active in the top "
        "``dormant_share`` of the customers with events.")
    rising_share: float = param(
        0.20, _SHARE, "Rising stars: influence score in the top ``rising_share``.")
    connector_share: float = param(
        0.10, _SHARE, "Connectors: cross-community influence in the top "
        "``connector_share``.")
    rules: tuple = param(
        (), _Rules(), "Custom rules (``[[segments.rules]]``, each with ``name``, ``when`` "
        "and optionally ``segment``). A rule named like a built-in one replaces its "
        "condition in place; other rules go before the built-in ones, in the order "
        "written.")
    order: tuple = param(
        (), _RuleNames(), "Rule names in the priority wanted; listed rules go first, in "
        "this order, the rest follow in their default order.")
    disable: tuple = param((), _RuleNames(), "Rule names to leave out.")
    default: str = param(
        "passive_audience", Pattern(_RULE_NAME.pattern, _NAME_TEXT),
        "Segment of customers no rule matches.")

    def _check(self) -> None:
        builtin = [rule[0] for rule in BUILTIN_RULES]
        known = builtin + [r.name for r in self.rules if r.name not in builtin]
        for key in ("order", "disable"):
            for name in getattr(self, key):
                if name not in known:
                    raise ConfigError(f"config key 'segments.{key}' names no rule {name!r}; "
                                      f"rules are {known}", key=f"segments.{key}",
                                      expected=f"an array of the rule names {known}",
                                      got=getattr(self, key))


@section("privacy")
class PrivacyConfig:
    """What is held back in outputs meant to be shared."""

    min_segment_size: int = param(
        10, Interval(int, 1), "Segments with fewer customers are suppressed in "
        "``segments.csv`` (their metrics left empty, ``suppressed`` true), ``kfactor.csv`` "
        "(row left out), ``communities.csv`` (``share_<segment>`` empty) and "
        "``report.html`` (figures, example reason, scatter points), and dropped from "
        "``influence top --pseudonymize`` (docs/segments.md, Privacy). 1 suppresses "
        "nothing.")


@section("lifecycle", relations=(Relation("churned_days", ">", "dormant_days"),))
class LifecycleConfig:
    """Windows of the lifecycle stages (see ``docs/reach.md``), in days before the
    analysis end date. Only used with timestamps."""

    new_days: int = param(
        30, _DAYS, "A customer whose first event sent is fewer than ``new_days`` whole days "
        "before the end date is ``new``.")
    recent_days: int = param(
        30, _DAYS, "Length of the two windows compared to call a customer ``declining``: "
        "the recent one ``(end - recent_days, end]`` and the one before it.")
    decline_ratio: float = param(
        0.5, Interval(float, 0, 1, closed="right"), "``declining`` when events sent in the "
        "recent window < ``decline_ratio`` x events sent in the window before it.")
    dormant_days: int = param(
        60, _DAYS, "``dormant`` when the last event sent is more than ``dormant_days`` whole "
        "days before the end date.")
    churned_days: int = param(
        180, _DAYS, "``churned`` when the last event sent is more than ``churned_days`` "
        "whole days before the end date.")


@section("reach")
class ReachConfig:
    """k-hop reach."""

    max_edges_exact: int = param(
        50_000_000, _COUNT, "``reach_2`` is computed exactly (igraph ``neighborhood_size``) "
        "when the graph has at most this many edges; above it ``reach_2`` is left empty "
        "(NaN) and the manifest says so.")


@section("propagators")
class PropagatorConfig:
    """Independent cascade model and key-propagator (IMM) selection."""

    k: int = param(
        50, _COUNT, "Size of the seed set written as ``propagator_rank``; 0 skips the "
        "selection (and ``expected_spread``).")
    epsilon: float = param(
        0.5, _OPEN_UNIT, "IMM approximation slack: the seed set's expected spread is at "
        "least ``(1 - 1/e - epsilon)`` x the optimum with probability ``1 - 1/n``.")
    p0: float = param(
        0.02, _OPEN_UNIT, "Activation probability of one unit of edge weight: an edge of "
        "weight ``w`` fires with ``p = 1 - (1 - p0) ** w``. The default keeps diffusion "
        "subcritical on typical data (see ``docs/reach.md``).")
    probabilities: str = param(
        "weight", OneOf("weight", "learned"), "``weight``: the ``p0`` rule above. "
        "``learned``: per-type probabilities estimated from history (needs timestamps; "
        "see ``docs/reach.md``).")
    horizon_days: float = param(
        7.0, _POSITIVE, "For ``learned``: an event counts as a success when its influenced "
        "customer passes something on (sends a forward-flow event) within this many days.")
    seed: int = param(0, _COUNT, "Seed of the RR-set sampling and of the Monte Carlo "
                      "simulations.")
    simulations: int = param(
        100, _DAYS, "Monte Carlo runs per seed set for ``expected_spread`` and the "
        "baseline comparison.")
    candidates: int = param(
        1000, _COUNT, "``expected_spread`` is estimated for the top ``candidates`` "
        "customers by influence rank and the seed set (NaN for the others).")
    spread_method: str = param(
        "rr_sets", OneOf("rr_sets", "simulation"), "How ``expected_spread`` is estimated: "
        "from the RR sets IMM drew for the seed set (no extra cost), or by ``simulations`` "
        "Monte Carlo cascades per candidate (the slow first version; ``docs/reach.md``).")


class _Numbers(Constraint):
    """An array of numbers within an :class:`Interval`, kept as a tuple (non-empty
    unless ``empty``)."""

    def __init__(self, each: Interval, *, empty: bool = False) -> None:
        self.each = each
        self.empty = empty
        self.expected = f"{'an' if empty else 'a non-empty'} array, each {each.expected}"
        self.type_name = f"tuple of {each.type_name}"

    def convert(self, key: str, value: Any) -> tuple:
        if not isinstance(value, (list, tuple)) or isinstance(value, str):
            raise TypeError(value)
        return tuple(value)

    def accepts(self, value: Any) -> bool:
        return (self.empty or len(value) > 0) and all(self.each.accepts(v) for v in value)


@section("score")
class ScoreConfig:
    """The expected-influence score and its self-check (timestamps only; see
    ``docs/concepts.md``)."""

    horizon_days: float = param(
        30.0, _POSITIVE, "What the score predicts (influence events in the next "
        "``horizon_days``), and the length of the calibration and self-check periods.")
    half_lives: tuple = param(
        (7.0, 30.0, 90.0, 365.0), _Numbers(_POSITIVE), "Memories (days) of the decayed "
        "influence counts the score combines.")
    reach_half_lives: tuple = param(
        (7.0,), _Numbers(_POSITIVE, empty=True), "Memories (days) of the decayed counts of "
        "distinct customers each customer influenced (each aged by its last contact), "
        "combined with the influence counts; ``[]`` leaves them out.")
    shrinkage: float = param(
        10.0, Interval(float, 0), "Calibrated weights are shrunk toward the prior weights by "
        "``lambda = S / (S + shrinkage)``, ``S`` = customers who exerted influence in the "
        "calibration period.")
    self_check: bool = param(
        True, Flag(), "Run the inner backtest (``manifest['score_check']`` and the "
        "report's \"Does the score work on your data?\"; needs three horizons of history).")
    check_k: tuple = param(
        (100, 1000), _Numbers(Interval(int, 1)), "The cut-offs k of the self-check.")


def _default_types() -> dict[str, EventType]:
    return dict(BUILTIN_TYPES)


#: The sections of a config file, by name, in the order of :class:`AnalysisConfig`
#: (and of the manifest's ``config``). Each is a :func:`~influence.params.section`.
# (section() returns a plain `type` to mypy: the attribute it sets is not seen)
SECTIONS: dict[str, type] = {cls.__config_section__: cls for cls in (  # type: ignore[union-attr]
    InputConfig, WindowConfig, CommunityConfig, CentralityConfig, RoleConfig, SegmentConfig,
    PrivacyConfig, LifecycleConfig, ReachConfig, PropagatorConfig, ScoreConfig, SparkConfig)}


def _check_type(name: str, spec: Any) -> None:
    if not isinstance(spec, EventType):
        raise ConfigError.invalid(f"types.{name}", "an EventType", spec)
    if spec.flow not in FLOWS:
        raise ConfigError.invalid(f"types.{name}.flow", f"one of {list(FLOWS)}", spec.flow)
    if not _TYPE_WEIGHT.accepts(spec.weight):
        raise ConfigError.invalid(f"types.{name}.weight", _TYPE_WEIGHT.expected, spec.weight)


_TYPE_WEIGHT = Interval(float, 0, MAX_TYPE_WEIGHT, closed="right")


@dataclass(frozen=True)
class AnalysisConfig:
    """Everything :func:`influence.analyze` needs besides the data.

    Parameters
    ----------
    columns : dict of str to str, default={}
        Canonical column name -> column name in the input (``{"source": "user_id"}``).
    types : dict of str to EventType
        Event types with their flow and weight; the built-in ``share``,
        ``referral`` and ``comment`` unless overridden.
    input : InputConfig
    window : WindowConfig
    communities : CommunityConfig
    centrality : CentralityConfig
    roles : RoleConfig
    segments : SegmentConfig
    privacy : PrivacyConfig
    lifecycle : LifecycleConfig
    reach : ReachConfig
    propagators : PropagatorConfig
    score : ScoreConfig
    spark : SparkConfig
        Only read by the Spark engine (:mod:`influence.spark.config`).
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    types: Mapping[str, EventType] = field(default_factory=_default_types)
    input: InputConfig = field(default_factory=InputConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    communities: CommunityConfig = field(default_factory=CommunityConfig)
    centrality: CentralityConfig = field(default_factory=CentralityConfig)
    roles: RoleConfig = field(default_factory=RoleConfig)
    segments: SegmentConfig = field(default_factory=SegmentConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    reach: ReachConfig = field(default_factory=ReachConfig)
    propagators: PropagatorConfig = field(default_factory=PropagatorConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    spark: SparkConfig = field(default_factory=SparkConfig)

    def __post_init__(self) -> None:
        for canonical, name in self.columns.items():
            if canonical not in EVENT_COLUMNS:
                raise ConfigError.invalid(
                    f"columns.{canonical}", f"one of the canonical columns "
                    f"{list(EVENT_COLUMNS)}", canonical)
            if not (isinstance(name, str) and name != ""):
                raise ConfigError.invalid(f"columns.{canonical}", "a non-empty column name",
                                          name)
        for name, spec in self.types.items():
            _check_type(name, spec)

    def replace(self, **changes: Any) -> AnalysisConfig:
        """Return a copy with top-level fields or ``section__key`` values changed.

        ``cfg.replace(communities__seed=3, window__since="2026-01-01")``; a value
        of ``None`` leaves that key as it is.
        """
        top: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {}
        for key, value in changes.items():
            if value is None:
                continue
            if "__" in key:
                name, sub = key.split("__", 1)
                sections.setdefault(name, {})[sub] = value
            else:
                top[key] = value
        for name, values in sections.items():
            top[name] = dataclasses.replace(getattr(self, name), **values)
        return dataclasses.replace(self, **top)

    def to_dict(self) -> dict[str, Any]:
        """The effective configuration as plain JSON-ready values."""
        out: dict[str, Any] = {
            "columns": dict(sorted(self.columns.items())),
            "types": {name: {"flow": t.flow, "weight": float(t.weight)}
                      for name, t in sorted(self.types.items())},
        }
        for name in SECTIONS:
            value = getattr(self, name)
            out[name] = {f.name: _plain(getattr(value, f.name))
                         for f in dataclasses.fields(value)}
        return out


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat") and hasattr(value, "tz_convert"):  # pandas.Timestamp
        return value.isoformat()
    if isinstance(value, SegmentRule):
        return {"name": value.name, "when": value.when, "segment": value.segment}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def parameter(key: str) -> Param:
    """The declaration of the dotted config key ``key`` (``"communities.seed"``).

    Raises
    ------
    KeyError
        If no section declares ``key``.

    Examples
    --------
    >>> parameter("communities.resolution").constraint.expected
    'a number > 0'
    """
    name, _, sub = key.partition(".")
    cls = SECTIONS.get(name)
    for declared in parameters(cls) if cls is not None else ():
        if declared.name == sub:
            return declared
    raise KeyError(key)


def _section(name: str, cls: type, values: Any) -> Any:
    if not isinstance(values, dict):
        raise ConfigError.invalid(name, "a table", values)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(
                f"unknown config key '{name}.{key}'; known keys in [{name}]: {sorted(known)}",
                key=f"{name}.{key}")
    return cls(**values)


def config_from_dict(values: Mapping[str, Any]) -> AnalysisConfig:
    """Build an :class:`AnalysisConfig` from a parsed TOML mapping.

    Raises
    ------
    ConfigError
        On an unknown key or a value of the wrong type or range; the message
        names the key.
    """
    known = {"columns", "types", *SECTIONS}
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown config key '{key}'; known sections: {sorted(known)}",
                              key=str(key))
    kwargs: dict[str, Any] = {}
    if "columns" in values:
        columns = values["columns"]
        if not isinstance(columns, dict):
            raise ConfigError.invalid("columns", "a table", columns)
        kwargs["columns"] = {str(k): v for k, v in columns.items()}
    if "types" in values:
        kwargs["types"] = _types(values["types"])
    for name, cls in SECTIONS.items():
        if name in values:
            kwargs[name] = _section(name, cls, values[name])
    return AnalysisConfig(**kwargs)


def _types(declared: Any) -> dict[str, EventType]:
    """``[types.NAME]`` tables over the built-in types."""
    if not isinstance(declared, dict):
        raise ConfigError.invalid("types", "a table", declared)
    types = dict(BUILTIN_TYPES)
    for name, spec in declared.items():
        if not isinstance(spec, dict):
            raise ConfigError.invalid(f"types.{name}", "a table with flow and weight", spec)
        for key in spec:
            if key not in ("flow", "weight"):
                raise ConfigError(f"unknown config key 'types.{name}.{key}'; "
                                  "known keys: ['flow', 'weight']", key=f"types.{name}.{key}")
        base = BUILTIN_TYPES.get(name)
        if base is None:
            for key in ("flow", "weight"):
                if key not in spec:
                    raise ConfigError.invalid(f"types.{name}.{key}", "set for a new type", None)
        flow = spec.get("flow", base.flow if base else None)
        weight = spec.get("weight", base.weight if base else None)
        if flow not in FLOWS:
            raise ConfigError.invalid(f"types.{name}.flow", f"one of {list(FLOWS)}", flow)
        if not _TYPE_WEIGHT.accepts(weight):
            raise ConfigError.invalid(f"types.{name}.weight", _TYPE_WEIGHT.expected, weight)
        types[str(name)] = EventType(flow=flow, weight=float(cast(float, weight)))  # accepted
    return types


def load_config(path: str | Path | None) -> AnalysisConfig:
    """Read a TOML config file; ``None`` gives the defaults.

    Raises
    ------
    ConfigError
        If the file cannot be read or parsed, or on any invalid key.
    """
    if path is None:
        return AnalysisConfig()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {str(path)!r} is not UTF-8 text: byte 0x{exc.object[exc.start]:02x} "
            f"at line {line}; TOML files are UTF-8 (save it as UTF-8)") from None
    import tomllib  # here, not at the top: influence --help reads no config

    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    return config_from_dict(values)


def as_config(config: AnalysisConfig | str | Path | Mapping[str, Any] | None, *,
              parameter: str = "config") -> AnalysisConfig:
    """The :class:`AnalysisConfig` a public function's ``config=`` argument stands for.

    Parameters
    ----------
    config : AnalysisConfig, path, mapping or None
        A config object (returned as it is), a TOML file's path as ``str`` or
        :class:`os.PathLike` (read by :func:`load_config`, as ``--config``
        does), a mapping with the TOML file's structure
        (:func:`config_from_dict`), or ``None`` (the defaults).
    parameter : str, default="config"
        The parameter's name, for the error message.

    Raises
    ------
    ConfigError
        If the file cannot be read or a key is invalid.
    ConfigTypeError
        If ``config`` is of none of these types (also a :class:`TypeError`).

    Examples
    --------
    >>> as_config({"communities": {"seed": 3}}).communities.seed
    3
    >>> as_config(None) == AnalysisConfig()
    True
    """
    if config is None:
        return AnalysisConfig()
    if isinstance(config, AnalysisConfig):
        return config
    if isinstance(config, (str, os.PathLike)):
        return load_config(config)
    if isinstance(config, Mapping):
        return config_from_dict(config)
    raise ConfigTypeError(f"{parameter} must be an AnalysisConfig, the path of a TOML config "
                          f"file (str or pathlib.Path) or a dict; got "
                          f"{type(config).__name__} {config!r:.60}. Hint: "
                          f"influence.load_config('my.toml') reads a file")
