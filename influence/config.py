"""Analysis configuration: one frozen dataclass per stage, validated at load.

Each parameter is declared once, here, with its type, default and constraint.
The TOML file (``--config``) overrides the defaults, CLI flags override the
file; :func:`load_config` rejects unknown keys and bad values with a
:class:`~influence.errors.ConfigError` that names the key.

Example
-------
>>> cfg = config_from_dict({"communities": {"resolution": 0.5}})
>>> cfg.communities.resolution
0.5
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ConfigError, ConfigTypeError
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

__all__ = [
    "TIMESTAMP_UNITS", "InputConfig", "WindowConfig", "CommunityConfig", "CentralityConfig",
    "RoleConfig", "SegmentConfig",
    "SegmentRule", "PrivacyConfig", "LifecycleConfig", "ReachConfig", "PropagatorConfig",
    "SparkConfig", "AnalysisConfig", "load_config", "config_from_dict", "as_config",
]


def _check(condition: bool, key: str, expected: str, got: Any) -> None:
    if not condition:
        raise ConfigError(f"config key '{key}' must be {expected}; got {got!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_date(key: str, value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = None
    _check(stamp is not None and stamp is not pd.NaT, key,
           "an ISO 8601 date like 2026-01-31", value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _is_date_only(value: Any) -> bool:
    """True for a calendar date without a time of day (``2026-01-31``)."""
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return True
    return isinstance(value, str) and len(value.strip()) <= 10


#: The largest weight of an event type: with row weights up to 1e15, an event weighs at
#: most 1e21 and sums over billions of events stay finite.
MAX_TYPE_WEIGHT = 1e6

#: Units of an epoch timestamp (a bare number), with nanoseconds per unit.
TIMESTAMP_UNITS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


@dataclass(frozen=True)
class InputConfig:
    """How input values are read.

    Parameters
    ----------
    timestamp_unit : {"s", "ms", "us", "ns"}, default="s"
        Unit of timestamps written as a bare number (epoch time): seconds,
        milliseconds, microseconds or nanoseconds since 1970-01-01 UTC. ISO 8601
        text is read as it is, whatever this says. ``--timestamp-unit`` on the
        command line.
    """

    timestamp_unit: str = "s"

    def __post_init__(self) -> None:
        _check(self.timestamp_unit in TIMESTAMP_UNITS, "input.timestamp_unit",
               f"one of {list(TIMESTAMP_UNITS)}", self.timestamp_unit)


@dataclass(frozen=True)
class WindowConfig:
    """Which events count, and how old ones fade.

    Parameters
    ----------
    since, until : pandas.Timestamp or None, default=None
        Keep events with ``since <= timestamp <= until`` (UTC; a date alone means
        midnight at its start for ``since`` and the end of that day for ``until``).
        Events outside are counted in the manifest as ``outside_window``.
    half_life_days : float or None, default=None
        If set, an event's weight is multiplied by ``0.5 ** (age_days / half_life_days)``,
        its age measured to the analysis end date. > 0.
    """

    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
    half_life_days: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "since", _parse_date("window.since", self.since))
        until = _parse_date("window.until", self.until)
        if until is not None and _is_date_only(self.until):
            until = until + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        object.__setattr__(self, "until", until)
        if self.since is not None and self.until is not None:
            _check(self.since <= self.until, "window.since", "on or before window.until",
                   str(self.since.date()))
        if self.half_life_days is not None:
            _check(_is_number(self.half_life_days) and self.half_life_days > 0,
                   "window.half_life_days", "a number > 0", self.half_life_days)


@dataclass(frozen=True)
class CommunityConfig:
    """Leiden community detection (modularity objective).

    Parameters
    ----------
    resolution : float, default=1.0
        Modularity resolution gamma; larger gives more, smaller communities. > 0.
    seed : int, default=0
        Seed of the Leiden run. >= 0.
    backend : {"igraph", "leidenalg"}, default="igraph"
        Which Leiden implementation runs: igraph's built-in ``community_leiden``
        (fast) or the ``leidenalg`` package (the reference implementation).
    stability_runs : int, default=0
        Extra Leiden runs (seeds ``seed + 1 ... seed + stability_runs``) used to
        compute ``community_confidence``; 0 turns it off. >= 0.
    iterations : int, default=2
        Leiden iterations (each one a full pass of moving, refining and
        aggregating); -1 iterates until the partition is stable. Two is the
        reference implementation's default: on generated data with 100k
        customers, 2 and -1 reach the same modularity to 4 decimals, and -1 costs
        2x the time there and 10x at 1M customers. >= 1 or -1.
    parallel : bool, default=True
        On Linux, for graphs of at least 100,000 edges, run Leiden (and the
        stability runs) in a forked process while centrality, activity,
        referrals and reach run in the main one: the results are identical,
        the wall time shorter on 2 or more cores. ``false`` runs everything in
        one process.
    """

    resolution: float = 1.0
    seed: int = 0
    backend: str = "igraph"
    stability_runs: int = 0
    iterations: int = 2
    parallel: bool = True

    def __post_init__(self) -> None:
        _check(isinstance(self.iterations, int) and not isinstance(self.iterations, bool)
               and (self.iterations >= 1 or self.iterations == -1), "communities.iterations",
               "an integer >= 1, or -1 (until stable)", self.iterations)
        _check(isinstance(self.parallel, bool), "communities.parallel", "true or false",
               self.parallel)
        _check(isinstance(self.stability_runs, int) and not isinstance(self.stability_runs, bool)
               and self.stability_runs >= 0, "communities.stability_runs",
               "an integer >= 0", self.stability_runs)
        _check(self.backend in ("igraph", "leidenalg"), "communities.backend",
               "'igraph' or 'leidenalg'", self.backend)
        _check(_is_number(self.resolution) and self.resolution > 0,
               "communities.resolution", "a number > 0", self.resolution)
        _check(isinstance(self.seed, int) and not isinstance(self.seed, bool) and self.seed >= 0,
               "communities.seed", "an integer >= 0", self.seed)


@dataclass(frozen=True)
class CentralityConfig:
    """Centrality parameters.

    Parameters
    ----------
    damping : float, default=0.85
        PageRank damping factor, in (0, 1).
    betweenness : bool, default=True
        Compute betweenness; ``false`` skips it (the column is then empty).
    betweenness_budget : float, default=1e7
        Betweenness work allowed, in edge visits: exact when customers x edges
        is at most this, otherwise ``max(betweenness_min_pivots, budget //
        edges)`` sampled source pivots (see
        :func:`influence.metrics.betweenness`). > 0.
    betweenness_min_pivots : int, default=8
        Fewest pivots a sampled estimate uses. >= 1.
    seed : int, default=0
        Seed of the sampled betweenness pivots: its own (``--seed`` and
        ``[communities] seed`` do not move it). >= 0.
    """

    damping: float = 0.85
    betweenness: bool = True
    betweenness_budget: float = 1e7
    betweenness_min_pivots: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        _check(_is_number(self.damping) and 0 < self.damping < 1,
               "centrality.damping", "a number in (0, 1)", self.damping)
        _check(isinstance(self.betweenness, bool), "centrality.betweenness", "true or false",
               self.betweenness)
        _check(_is_number(self.betweenness_budget) and self.betweenness_budget > 0,
               "centrality.betweenness_budget", "a number > 0", self.betweenness_budget)
        _check(isinstance(self.betweenness_min_pivots, int)
               and not isinstance(self.betweenness_min_pivots, bool)
               and self.betweenness_min_pivots >= 1, "centrality.betweenness_min_pivots",
               "an integer >= 1", self.betweenness_min_pivots)
        _check(_is_int(self.seed) and self.seed >= 0, "centrality.seed", "an integer >= 0",
               self.seed)


@dataclass(frozen=True)
class RoleConfig:
    """Thresholds of ``community_role`` (Guimera-Amaral z-score / participation).

    ``z`` is a customer's within-community strength as a z-score inside its
    community; ``P`` (participation coefficient) is how evenly their strength
    spreads over communities (0: all in their own). See
    :func:`influence.communities.community_roles`.

    Parameters
    ----------
    hub_z : float, default=2.5
        ``z >= hub_z`` makes a community hub (Guimera and Amaral's cut).
    hub_participation : float, default=0.30
        A hub with ``P < hub_participation`` is a ``local_leader``; above, a
        ``connector``. In [0, 1].
    connector_participation : float, default=0.62
        A non-hub with ``P >= connector_participation`` is a ``connector``. In [0, 1].
    peripheral_z : float, default=-0.5
        A non-hub, non-connector with ``z < peripheral_z`` is ``peripheral``,
        else ``member``. Must be < ``hub_z``.
    """

    hub_z: float = 2.5
    hub_participation: float = 0.30
    connector_participation: float = 0.62
    peripheral_z: float = -0.5

    def __post_init__(self) -> None:
        _check(_is_number(self.hub_z), "roles.hub_z", "a number", self.hub_z)
        for key in ("hub_participation", "connector_participation"):
            value = getattr(self, key)
            _check(_is_number(value) and 0 <= value <= 1, f"roles.{key}",
                   "a number in [0, 1]", value)
        _check(_is_number(self.peripheral_z) and self.peripheral_z < self.hub_z,
               "roles.peripheral_z", "a number < roles.hub_z", self.peripheral_z)


_RULE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def check_condition(text: Any, key: str, rule: str):
    """Parse a rule condition and check it against the known output columns.

    Raises
    ------
    ConfigError
        Naming the rule and the key, on a syntax error, an unknown column or
        operator, a date column, a text column compared with a number (or the
        reverse), or a value a fixed-valued column never takes.
    """
    from .conditions import Column, ConditionSyntaxError, Literal, parse_condition

    _check(isinstance(text, str) and text.strip() != "", key, "a condition (text)", text)
    try:
        condition = parse_condition(text)
    except ConditionSyntaxError as exc:
        raise ConfigError(f"segment rule {rule!r} ({key} = {text!r}): {exc}") from None
    for name in condition.columns:
        if name not in RULE_COLUMNS:
            raise ConfigError(
                f"segment rule {rule!r} ({key} = {text!r}): unknown column {name!r}; "
                f"rules can read {list(RULE_COLUMNS)}")
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
        _check(isinstance(self.name, str) and _RULE_NAME.match(self.name) is not None,
               "segments.rules.name", "lower case letters, digits and '_' (a letter first)",
               self.name)
        key = f"segments.rules[{self.name}].when"
        check_condition(self.when, key, self.name)
        if self.segment is None:
            object.__setattr__(self, "segment", self.name)
        _check(isinstance(self.segment, str) and _RULE_NAME.match(self.segment) is not None,
               f"segments.rules[{self.name}].segment",
               "lower case letters, digits and '_' (a letter first)", self.segment)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass(frozen=True)
class SegmentConfig:
    """Tiers, the built-in segment rules' thresholds, and custom rules.

    Parameters
    ----------
    high_share : float, default=0.10
        Share of customers (by rank) in the ``high`` tier of each axis. In (0, 1).
    mid_share : float, default=0.40
        Share of customers in the ``mid`` tier, below ``high``. ``high_share +
        mid_share`` must be <= 1.
    dormant_days : int, default=60
        A customer with no event sent in the last ``dormant_days`` days before the
        analysis end date is inactive (only with timestamps). > 0.
    dormant_min_events : int, default=3
        A low-influence inactive customer is a dormant advocate only with at least
        this many events sent. > 0.
    new_days : int, default=30
        A customer first active at most this many days before the end date is new
        (rising stars, newcomers). > 0.
    rules : tuple of SegmentRule, default=()
        Custom rules (``[[segments.rules]]``). A rule named like a built-in one
        replaces its condition in place; other rules go before the built-in ones,
        in the order written.
    order : tuple of str, default=()
        Rule names in the priority wanted; listed rules go first, in this order,
        the rest follow in their default order.
    disable : tuple of str, default=()
        Rule names to leave out.
    default : str, default="passive_audience"
        Segment of customers no rule matches.
    """

    high_share: float = 0.10
    mid_share: float = 0.40
    dormant_days: int = 60
    dormant_min_events: int = 3
    new_days: int = 30
    rules: tuple = ()
    order: tuple = ()
    disable: tuple = ()
    default: str = "passive_audience"

    def __post_init__(self) -> None:
        _check(_is_number(self.high_share) and 0 < self.high_share < 1,
               "segments.high_share", "a number in (0, 1)", self.high_share)
        _check(_is_number(self.mid_share) and 0 <= self.mid_share < 1
               and self.high_share + self.mid_share <= 1,
               "segments.mid_share", "a number >= 0 with high_share + mid_share <= 1",
               self.mid_share)
        for key in ("dormant_days", "dormant_min_events", "new_days"):
            _check(_positive_int(getattr(self, key)), f"segments.{key}", "an integer > 0",
                   getattr(self, key))
        _check(isinstance(self.rules, (list, tuple)), "segments.rules",
               "an array of tables ([[segments.rules]])", self.rules)
        rules = []
        for i, rule in enumerate(self.rules):
            if isinstance(rule, dict):
                unknown = sorted(set(rule) - {"name", "when", "segment"})
                if unknown:
                    raise ConfigError(f"unknown config key 'segments.rules[{i}].{unknown[0]}'; "
                                      "known keys: ['name', 'segment', 'when']")
                for key in ("name", "when"):
                    _check(key in rule, f"segments.rules[{i}].{key}", "set", None)
                rule = SegmentRule(**rule)
            _check(isinstance(rule, SegmentRule), f"segments.rules[{i}]", "a SegmentRule",
                   rule)
            rules.append(rule)
        names = [r.name for r in rules]
        dup = sorted({n for n in names if names.count(n) > 1})
        _check(not dup, "segments.rules", "rules with distinct names", dup)
        object.__setattr__(self, "rules", tuple(rules))
        builtin = [rule[0] for rule in BUILTIN_RULES]
        known = builtin + [n for n in names if n not in builtin]
        for key in ("order", "disable"):
            value = getattr(self, key)
            _check(isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value),
                   f"segments.{key}", "an array of rule names", value)
            for name in value:
                if name not in known:
                    raise ConfigError(f"config key 'segments.{key}' names no rule {name!r}; "
                                      f"rules are {known}")
            object.__setattr__(self, key, tuple(value))
        _check(isinstance(self.default, str) and _RULE_NAME.match(self.default) is not None,
               "segments.default", "lower case letters, digits and '_'", self.default)


@dataclass(frozen=True)
class PrivacyConfig:
    """What is held back in outputs meant to be shared.

    Parameters
    ----------
    min_segment_size : int, default=10
        Segments with fewer customers are suppressed in ``segments.csv`` (their
        metrics left empty, ``suppressed`` true), ``kfactor.csv`` (row left
        out), ``communities.csv`` (``share_<segment>`` empty) and
        ``report.html`` (figures, example reason, scatter points), and dropped
        from ``influence top --pseudonymize`` (docs/segments.md, Privacy).
        >= 1 (1 suppresses nothing).
    """

    min_segment_size: int = 10

    def __post_init__(self) -> None:
        _check(_positive_int(self.min_segment_size), "privacy.min_segment_size",
               "an integer >= 1", self.min_segment_size)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class LifecycleConfig:
    """Windows of the lifecycle stages (see ``docs/reach.md``), in days before the
    analysis end date. Only used with timestamps.

    Parameters
    ----------
    new_days : int, default=30
        A customer whose first event sent is fewer than ``new_days`` whole days
        before the end date is ``new``. > 0.
    recent_days : int, default=30
        Length of the two windows compared to call a customer ``declining``:
        the recent one ``(end - recent_days, end]`` and the one before it. > 0.
    decline_ratio : float, default=0.5
        ``declining`` when events sent in the recent window < ``decline_ratio`` x
        events sent in the window before it. In (0, 1].
    dormant_days : int, default=60
        ``dormant`` when the last event sent is more than ``dormant_days`` whole
        days before the end date. > 0.
    churned_days : int, default=180
        ``churned`` when the last event sent is more than ``churned_days`` whole
        days before the end date. > ``dormant_days``.
    """

    new_days: int = 30
    recent_days: int = 30
    decline_ratio: float = 0.5
    dormant_days: int = 60
    churned_days: int = 180

    def __post_init__(self) -> None:
        for key in ("new_days", "recent_days", "dormant_days", "churned_days"):
            value = getattr(self, key)
            _check(_is_int(value) and value > 0, f"lifecycle.{key}", "an integer > 0", value)
        _check(_is_number(self.decline_ratio) and 0 < self.decline_ratio <= 1,
               "lifecycle.decline_ratio", "a number in (0, 1]", self.decline_ratio)
        _check(self.churned_days > self.dormant_days, "lifecycle.churned_days",
               f"greater than lifecycle.dormant_days ({self.dormant_days})", self.churned_days)


@dataclass(frozen=True)
class ReachConfig:
    """k-hop reach.

    Parameters
    ----------
    max_edges_exact : int, default=50_000_000
        ``reach_2`` is computed exactly (igraph ``neighborhood_size``) when the
        graph has at most this many edges; above it ``reach_2`` is left empty
        (NaN) and the manifest says so. >= 0.
    """

    max_edges_exact: int = 50_000_000

    def __post_init__(self) -> None:
        _check(_is_int(self.max_edges_exact) and self.max_edges_exact >= 0,
               "reach.max_edges_exact", "an integer >= 0", self.max_edges_exact)


@dataclass(frozen=True)
class PropagatorConfig:
    """Independent cascade model and key-propagator (IMM) selection.

    Parameters
    ----------
    k : int, default=50
        Size of the seed set written as ``propagator_rank``; 0 skips the
        selection (and ``expected_spread``). >= 0.
    epsilon : float, default=0.5
        IMM approximation slack: the seed set's expected spread is at least
        ``(1 - 1/e - epsilon)`` x the optimum with probability ``1 - 1/n``. In (0, 1).
    p0 : float, default=0.02
        Activation probability of one unit of edge weight: an edge of weight
        ``w`` fires with ``p = 1 - (1 - p0) ** w``. In (0, 1). The default keeps
        diffusion subcritical on typical data (see ``docs/reach.md``).
    probabilities : {"weight", "learned"}, default="weight"
        ``weight``: the ``p0`` rule above. ``learned``: per-type probabilities
        estimated from history (needs timestamps; see ``docs/reach.md``).
    horizon_days : float, default=7.0
        For ``learned``: an event counts as a success when its influenced
        customer passes something on (sends a forward-flow event) within this
        many days. > 0.
    seed : int, default=0
        Seed of the RR-set sampling and of the Monte Carlo simulations. >= 0.
    simulations : int, default=100
        Monte Carlo runs per seed set for ``expected_spread`` and the baseline
        comparison. > 0.
    candidates : int, default=1000
        ``expected_spread`` is simulated for the top ``candidates`` customers by
        influence rank and the seed set (NaN for the others). >= 0.
    """

    k: int = 50
    epsilon: float = 0.5
    p0: float = 0.02
    probabilities: str = "weight"
    horizon_days: float = 7.0
    seed: int = 0
    simulations: int = 100
    candidates: int = 1000

    def __post_init__(self) -> None:
        _check(_is_int(self.k) and self.k >= 0, "propagators.k", "an integer >= 0", self.k)
        _check(_is_number(self.epsilon) and 0 < self.epsilon < 1, "propagators.epsilon",
               "a number in (0, 1)", self.epsilon)
        _check(_is_number(self.p0) and 0 < self.p0 < 1, "propagators.p0",
               "a number in (0, 1)", self.p0)
        _check(self.probabilities in ("weight", "learned"), "propagators.probabilities",
               "'weight' or 'learned'", self.probabilities)
        _check(_is_number(self.horizon_days) and self.horizon_days > 0,
               "propagators.horizon_days", "a number > 0", self.horizon_days)
        _check(_is_int(self.seed) and self.seed >= 0, "propagators.seed", "an integer >= 0",
               self.seed)
        _check(_is_int(self.simulations) and self.simulations > 0,
               "propagators.simulations", "an integer > 0", self.simulations)
        _check(_is_int(self.candidates) and self.candidates >= 0, "propagators.candidates",
               "an integer >= 0", self.candidates)


@dataclass(frozen=True)
class SparkConfig:
    """The Spark engine (``influence analyze --engine spark``, :mod:`influence.spark`).

    Read only by the Spark engine; the local engine ignores it. See
    ``docs/scale-out.md``.

    Parameters
    ----------
    master : str or None, default=None
        Spark master URL for a session the engine starts itself (``local[*]``
        when not set; ``--spark-master`` overrides it). Ignored when a
        SparkSession is already running or given.
    driver_memory : str or None, default=None
        ``spark.driver.memory`` of a session the engine starts (e.g. ``"6g"``).
    shuffle_partitions : int or None, default=None
        ``spark.sql.shuffle.partitions`` for the run. ``None``: a session that
        sets it (not Spark's default 200) keeps its own; otherwise 4 per core
        of the cluster (``4 * defaultParallelism``, 8 in ``local[2]``). The
        effective number is in ``manifest["engine"]["shuffle_partitions"]``. >= 1.
    driver_edges_max : int, default=50_000_000
        The whole-graph algorithms (communities, roles, coreness, betweenness,
        HITS, key propagators) run on the driver, with the local engine, when
        the aggregated influence graph has at most this many edges; above it,
        communities come from label propagation on the executors and the
        metrics that need the whole graph in one place are left empty. >= 0.
    checkpoint_dir : str or None, default=None
        Reliable checkpoint folder (a path every executor can reach: HDFS, S3,
        DBFS, ...). ``None`` uses local checkpoints (executor storage), which
        are fine in local mode and on clusters without executor loss.
    checkpoint_every : int, default=5
        Iterative stages (PageRank, referral forest, label propagation) cut their
        lineage with a local checkpoint every iteration, and write a reliable
        checkpoint to ``checkpoint_dir`` (when set) every this many. >= 1.
    pagerank_on_driver : bool, default=True
        When the graph is handed to the driver, PageRank is the local engine's
        (igraph PRPACK on the handed-off graph: the local numbers exactly, and
        far cheaper than distributed iterations there); ``false`` runs the
        distributed power iteration at any size. Above ``driver_edges_max`` it
        always runs on the executors.
    pagerank_iterations : int, default=100
        Most power iterations of the distributed PageRank. >= 1.
    pagerank_tolerance : float, default=1e-9
        The distributed PageRank stops when the L1 change of the score vector is
        below this. > 0.
    reach_rsd : float, default=0.05
        Relative standard deviation of the HyperLogLog++ sketches that
        estimate ``reach_2`` (``approx_count_distinct``). In [0.005, 0.39].
    label_propagation_iterations : int, default=20
        Most rounds of label propagation above ``driver_edges_max``. >= 1.
    """

    master: str | None = None
    driver_memory: str | None = None
    shuffle_partitions: int | None = None
    driver_edges_max: int = 50_000_000
    checkpoint_dir: str | None = None
    checkpoint_every: int = 5
    pagerank_on_driver: bool = True
    pagerank_iterations: int = 100
    pagerank_tolerance: float = 1e-9
    reach_rsd: float = 0.05
    label_propagation_iterations: int = 20

    def __post_init__(self) -> None:
        for key in ("master", "driver_memory", "checkpoint_dir"):
            value = getattr(self, key)
            _check(value is None or (isinstance(value, str) and value.strip() != ""),
                   f"spark.{key}", "a non-empty string", value)
        _check(self.shuffle_partitions is None
               or (_is_int(self.shuffle_partitions) and self.shuffle_partitions >= 1),
               "spark.shuffle_partitions", "an integer >= 1", self.shuffle_partitions)
        _check(_is_int(self.driver_edges_max) and self.driver_edges_max >= 0,
               "spark.driver_edges_max", "an integer >= 0", self.driver_edges_max)
        for key in ("checkpoint_every", "pagerank_iterations", "label_propagation_iterations"):
            value = getattr(self, key)
            _check(_is_int(value) and value >= 1, f"spark.{key}", "an integer >= 1", value)
        _check(isinstance(self.pagerank_on_driver, bool), "spark.pagerank_on_driver",
               "true or false", self.pagerank_on_driver)
        _check(_is_number(self.pagerank_tolerance) and self.pagerank_tolerance > 0,
               "spark.pagerank_tolerance", "a number > 0", self.pagerank_tolerance)
        _check(_is_number(self.reach_rsd) and 0.005 <= self.reach_rsd <= 0.39,
               "spark.reach_rsd", "a number in [0.005, 0.39]", self.reach_rsd)


def _default_types() -> dict[str, EventType]:
    return dict(BUILTIN_TYPES)


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
    spark : SparkConfig
        Only read by the Spark engine.
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
    spark: SparkConfig = field(default_factory=SparkConfig)

    def __post_init__(self) -> None:
        for canonical, name in self.columns.items():
            _check(canonical in EVENT_COLUMNS, f"columns.{canonical}",
                   f"one of the canonical columns {list(EVENT_COLUMNS)}", canonical)
            _check(isinstance(name, str) and name != "", f"columns.{canonical}",
                   "a non-empty column name", name)
        for name, spec in self.types.items():
            _check(isinstance(spec, EventType), f"types.{name}", "an EventType", spec)
            _check(spec.flow in FLOWS, f"types.{name}.flow", f"one of {list(FLOWS)}", spec.flow)
            _check(_is_number(spec.weight) and 0 < spec.weight <= MAX_TYPE_WEIGHT,
                   f"types.{name}.weight", f"a number in (0, {MAX_TYPE_WEIGHT:g}]", spec.weight)

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
                section, sub = key.split("__", 1)
                sections.setdefault(section, {})[sub] = value
            else:
                top[key] = value
        for section, values in sections.items():
            current = getattr(self, section)
            fields = {f.name: getattr(current, f.name) for f in dataclasses.fields(current)}
            fields.update(values)
            top[section] = type(current)(**fields)
        return dataclasses.replace(self, **top)

    def to_dict(self) -> dict[str, Any]:
        """The effective configuration as plain JSON-ready values."""
        out: dict[str, Any] = {
            "columns": dict(sorted(self.columns.items())),
            "types": {name: {"flow": t.flow, "weight": float(t.weight)}
                      for name, t in sorted(self.types.items())},
        }
        for section in _SECTIONS:
            value = getattr(self, section)
            out[section] = {f.name: _plain(getattr(value, f.name))
                            for f in dataclasses.fields(value)}
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, SegmentRule):
        return {"name": value.name, "when": value.when, "segment": value.segment}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


_SECTIONS = {
    "input": InputConfig,
    "window": WindowConfig,
    "communities": CommunityConfig,
    "centrality": CentralityConfig,
    "roles": RoleConfig,
    "segments": SegmentConfig,
    "privacy": PrivacyConfig,
    "lifecycle": LifecycleConfig,
    "reach": ReachConfig,
    "propagators": PropagatorConfig,
    "spark": SparkConfig,
}


def _section(name: str, cls: type, values: Any) -> Any:
    _check(isinstance(values, dict), name, "a table", values)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(
                f"unknown config key '{name}.{key}'; known keys in [{name}]: {sorted(known)}")
    return cls(**values)


def config_from_dict(values: Mapping[str, Any]) -> AnalysisConfig:
    """Build an :class:`AnalysisConfig` from a parsed TOML mapping.

    Raises
    ------
    ConfigError
        On an unknown key or a value of the wrong type or range; the message
        names the key.
    """
    known = {"columns", "types", *_SECTIONS}
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown config key '{key}'; known sections: {sorted(known)}")
    kwargs: dict[str, Any] = {}
    if "columns" in values:
        columns = values["columns"]
        _check(isinstance(columns, dict), "columns", "a table", columns)
        kwargs["columns"] = {str(k): v for k, v in columns.items()}
    if "types" in values:
        declared = values["types"]
        _check(isinstance(declared, dict), "types", "a table", declared)
        types = dict(BUILTIN_TYPES)
        for name, spec in declared.items():
            _check(isinstance(spec, dict), f"types.{name}", "a table with flow and weight", spec)
            for key in spec:
                if key not in ("flow", "weight"):
                    raise ConfigError(f"unknown config key 'types.{name}.{key}'; "
                                      "known keys: ['flow', 'weight']")
            base = BUILTIN_TYPES.get(name)
            if base is None:
                for key in ("flow", "weight"):
                    _check(key in spec, f"types.{name}.{key}", "set for a new type", None)
            flow = spec.get("flow", base.flow if base else None)
            weight = spec.get("weight", base.weight if base else None)
            _check(flow in FLOWS, f"types.{name}.flow", f"one of {list(FLOWS)}", flow)
            _check(_is_number(weight) and 0 < weight <= MAX_TYPE_WEIGHT, f"types.{name}.weight",
                   f"a number in (0, {MAX_TYPE_WEIGHT:g}]", weight)
            types[str(name)] = EventType(flow=flow, weight=float(weight))
        kwargs["types"] = types
    for name, cls in _SECTIONS.items():
        if name in values:
            kwargs[name] = _section(name, cls, values[name])
    return AnalysisConfig(**kwargs)


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
