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
    "WindowConfig", "CommunityConfig", "CentralityConfig", "RoleConfig", "SegmentConfig",
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
    stability_runs : int, default=0
        Extra Leiden runs (seeds ``seed + 1 ... seed + stability_runs``) used to
        compute ``community_confidence``; 0 turns it off. >= 0.
    """

    resolution: float = 1.0
    seed: int = 0
    backend: str = "igraph"
    stability_runs: int = 0

    def __post_init__(self) -> None:
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
    """

    damping: float = 0.85
    betweenness: bool = True
    betweenness_budget: float = 1e7
    betweenness_min_pivots: int = 8

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
    roles : RoleConfig
    segments : SegmentConfig
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    types: Mapping[str, EventType] = field(default_factory=_default_types)
    window: WindowConfig = field(default_factory=WindowConfig)
    communities: CommunityConfig = field(default_factory=CommunityConfig)
    centrality: CentralityConfig = field(default_factory=CentralityConfig)
    roles: RoleConfig = field(default_factory=RoleConfig)
    segments: SegmentConfig = field(default_factory=SegmentConfig)

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
        for section in ("window", "communities", "centrality", "roles", "segments"):
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
    "roles": RoleConfig,
    "segments": SegmentConfig,
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
