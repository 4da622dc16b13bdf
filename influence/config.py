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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .errors import ConfigError
from .schema import BUILTIN_TYPES, EVENT_COLUMNS, FLOWS, EventType

__all__ = [
    "WindowConfig", "CommunityConfig", "CentralityConfig", "SegmentConfig",
    "LifecycleConfig", "ReachConfig", "PropagatorConfig",
    "AnalysisConfig", "load_config", "config_from_dict",
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
    """

    resolution: float = 1.0
    seed: int = 0
    backend: str = "igraph"

    def __post_init__(self) -> None:
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
    """

    damping: float = 0.85

    def __post_init__(self) -> None:
        _check(_is_number(self.damping) and 0 < self.damping < 1,
               "centrality.damping", "a number in (0, 1)", self.damping)


@dataclass(frozen=True)
class SegmentConfig:
    """Tier cut points and the dormancy window of the first segmentation.

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
    """

    high_share: float = 0.10
    mid_share: float = 0.40
    dormant_days: int = 60

    def __post_init__(self) -> None:
        _check(_is_number(self.high_share) and 0 < self.high_share < 1,
               "segments.high_share", "a number in (0, 1)", self.high_share)
        _check(_is_number(self.mid_share) and 0 <= self.mid_share < 1
               and self.high_share + self.mid_share <= 1,
               "segments.mid_share", "a number >= 0 with high_share + mid_share <= 1",
               self.mid_share)
        _check(isinstance(self.dormant_days, int) and not isinstance(self.dormant_days, bool)
               and self.dormant_days > 0, "segments.dormant_days", "an integer > 0",
               self.dormant_days)


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
    window : WindowConfig
    communities : CommunityConfig
    centrality : CentralityConfig
    segments : SegmentConfig
    lifecycle : LifecycleConfig
    reach : ReachConfig
    propagators : PropagatorConfig
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    types: Mapping[str, EventType] = field(default_factory=_default_types)
    window: WindowConfig = field(default_factory=WindowConfig)
    communities: CommunityConfig = field(default_factory=CommunityConfig)
    centrality: CentralityConfig = field(default_factory=CentralityConfig)
    segments: SegmentConfig = field(default_factory=SegmentConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    reach: ReachConfig = field(default_factory=ReachConfig)
    propagators: PropagatorConfig = field(default_factory=PropagatorConfig)

    def __post_init__(self) -> None:
        for canonical, name in self.columns.items():
            _check(canonical in EVENT_COLUMNS, f"columns.{canonical}",
                   f"one of the canonical columns {list(EVENT_COLUMNS)}", canonical)
            _check(isinstance(name, str) and name != "", f"columns.{canonical}",
                   "a non-empty column name", name)
        for name, spec in self.types.items():
            _check(isinstance(spec, EventType), f"types.{name}", "an EventType", spec)
            _check(spec.flow in FLOWS, f"types.{name}.flow", f"one of {list(FLOWS)}", spec.flow)
            _check(_is_number(spec.weight) and spec.weight > 0, f"types.{name}.weight",
                   "a number > 0", spec.weight)

    def replace(self, **changes: Any) -> "AnalysisConfig":
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
            out[section] = {
                f.name: (getattr(value, f.name).isoformat()
                         if isinstance(getattr(value, f.name), pd.Timestamp)
                         else getattr(value, f.name))
                for f in dataclasses.fields(value)
            }
        return out


_SECTIONS = {
    "window": WindowConfig,
    "communities": CommunityConfig,
    "centrality": CentralityConfig,
    "segments": SegmentConfig,
    "lifecycle": LifecycleConfig,
    "reach": ReachConfig,
    "propagators": PropagatorConfig,
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
            _check(_is_number(weight) and weight > 0, f"types.{name}.weight", "a number > 0",
                   weight)
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
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    return config_from_dict(values)
