"""What an engine hands the shared pipeline: the records between computing and finishing.

An *engine* (:mod:`influence.local`, :mod:`influence.spark.engine`) reads
events and computes what only it can compute: customer ids, per-customer
aggregates, the referral forest, communities, the graph (or the edge sums). It
returns one frozen :class:`EngineRun`. :func:`influence.pipeline.finish` then
does the rest the same way for every engine (rank, spread, segments, RFM,
K-factor, profiles) and :func:`influence.manifest.build_manifest` writes the
manifest from the run's :class:`Accounting` and :class:`Stage` records.

A new engine returns an :class:`EngineRun`; nothing downstream changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Accounting", "Stage", "Propagation", "EngineRun", "customer_table"]


@dataclass(frozen=True)
class Accounting:
    """What was read, used and dropped: the input half of the manifest.

    ``rows_read == rows_used + sum(dropped.values())``. Times are UTC
    timestamps (``None`` without timestamps); ``end`` is the analysis end date.
    """

    input: dict[str, Any]
    rows_read: int
    rows_used: int
    dropped: dict[str, int]
    events_by_type: dict[str, int]
    has_timestamps: bool
    has_converted: bool
    has_value: bool
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    warnings: tuple[str, ...] = ()

    @classmethod
    def of(cls, info: Mapping[str, Any], clean) -> Accounting:
        """From :func:`influence.validation.clean_events`' result (the local engine)."""
        from .schema import CONVERTED, TYPE, VALUE

        counts = clean.events[TYPE].value_counts()
        return cls(input=dict(info), rows_read=clean.rows_read, rows_used=clean.rows_used,
                   dropped=dict(clean.dropped),
                   events_by_type={k: int(counts[k]) for k in sorted(counts.index)},
                   has_timestamps=clean.has_timestamps,
                   has_converted=CONVERTED in clean.events.columns,
                   has_value=VALUE in clean.events.columns,
                   start=clean.start, end=clean.end, warnings=tuple(clean.warnings))

    def window(self, config) -> dict[str, str | None]:
        """The manifest's ``window``: the configured bounds and the data's."""
        w = config.window
        return {"since": None if w.since is None else w.since.isoformat(),
                "until": None if w.until is None else w.until.isoformat(),
                "first_event": None if self.start is None else self.start.isoformat(),
                "end_date": None if self.end is None else self.end.isoformat()}


@dataclass(frozen=True)
class Stage:
    """One stage of an engine run.

    Parameters
    ----------
    name : str
        The progress and timing name (one per stage).
    where : str
        Where it ran, in words (``"main"``, ``"executors (...)"``); the Spark
        engine writes these into ``manifest["engine"]["stages"]``.
    sections : dict
        The manifest sections this stage supplies (``{"pagerank": {...}}``);
        a section is written by exactly one stage.
    method : str, optional
        How, in a few words, where an engine can choose.
    """

    name: str
    where: str = "main"
    sections: Mapping[str, Any] = field(default_factory=dict)
    method: str | None = None


@dataclass(frozen=True)
class Propagation:
    """The IMM seed set and what the spread simulation needs, or why it was skipped.

    ``result`` is :func:`influence.reach.propagators.run_propagators`' value,
    ``forward`` the forward adjacency with edge probabilities, ``prob_info``
    how the probabilities were set. ``skipped`` (a reason) leaves the columns
    empty.
    """

    result: Any = None
    forward: Any = None
    prob_info: dict[str, Any] | None = None
    skipped: str | None = None


@dataclass(frozen=True)
class EngineRun:
    """Everything an engine computed, in vertex order (vertex ``i`` is ``ids[i]``;
    vertices are numbered in customer-id order, which the rank's ties rely on).

    Parameters
    ----------
    engine : str
        ``"local"`` or ``"spark"``.
    ids : pandas.Index
        Customer ids (str), sorted.
    metrics : pandas.DataFrame
        One row per vertex: ``customer_id``, ``pagerank``, ``in_strength``,
        ``out_strength``, ``coreness``, ``betweenness``, ``hub``, ``authority``,
        ``community``, ``community_role``, ``reach_1``, ``reach_2``, the activity
        and referral columns, ``sent_<type>``; NA where a stage was skipped.
    by_type : tuple of str
        The ``sent_<type>`` columns, in order.
    attributes : pandas.DataFrame or None
        The customers table (``customer_id`` plus attributes).
    customers_input : dict or None
        The manifest's ``customers_input``.
    forest : influence.reach.ReferralForest
    cascades : pandas.DataFrame
    membership : numpy.ndarray
        Community of each vertex (0 = largest).
    modularity : float
    community_sums : pandas.DataFrame
        Per community: ``internal_weight``, ``external_weight``,
        ``internal_edges``, ``dominant_type``
        (:func:`influence.communities.community_edge_sums`).
    graph : InfluenceGraph or None
        ``None`` when the graph did not come to one machine.
    n_edges : int
    invites, conversions, cycle_days : numpy.ndarray
        Per vertex: referrals sent, of them converted (``None`` without a
        ``converted`` column), days of the viral cycle (NaN where none): the
        K-factor's inputs.
    cohort_month : numpy.ndarray or None
        ``YYYY-MM`` of each customer's first event (timestamps only).
    propagation : Propagation or None
        ``None`` when no seed set was asked for (``[propagators] k = 0``) or
        the graph has no edge.
    accounting : Accounting
    stages : tuple of Stage
    timings : dict of str to float
        Seconds per stage (and engine-specific details).
    versions : dict of str to str
    engine_section : dict or None
        ``manifest["engine"]`` (engines other than local).
    score : influence.metrics.score.ScoreRun or None
        The expected-influence features, their calibrated weights and the
        self-check (:func:`influence.metrics.score.fit_and_check`); ``None``
        without timestamps (the rank then uses the composite score).
    total_weight : float, optional
        The out-strengths' exact sum, where ``metrics`` is empty because the
        per-customer table stayed on the executors (:mod:`influence.spark.outputs`).
    """

    engine: str
    ids: pd.Index
    metrics: pd.DataFrame
    by_type: tuple[str, ...]
    attributes: pd.DataFrame | None
    customers_input: dict[str, Any] | None
    forest: Any
    cascades: pd.DataFrame
    membership: np.ndarray
    modularity: float
    community_sums: pd.DataFrame
    graph: Any
    n_edges: int
    invites: np.ndarray
    conversions: np.ndarray | None
    cycle_days: np.ndarray
    cohort_month: np.ndarray | None
    propagation: Propagation | None
    accounting: Accounting
    stages: tuple[Stage, ...]
    timings: dict[str, float]
    versions: dict[str, str]
    engine_section: dict[str, Any] | None = None
    score: Any = None
    total_weight: float | None = None

    def section(self, key: str) -> Any:
        """The manifest section ``key`` supplied by one of the stages (``None`` if none)."""
        for stage in self.stages:
            if key in stage.sections:
                return stage.sections[key]
        return None


def customer_table(ids: pd.Index, *, pagerank, in_strength, out_strength, coreness,
                   betweenness, hub, authority, membership, roles: pd.DataFrame, reach_1,
                   reach_2, confidence=None, cross_influence=None,
                   parts: tuple[pd.DataFrame, ...] = ()) -> pd.DataFrame:
    """:attr:`EngineRun.metrics` from an engine's per-vertex arrays (every engine
    builds it here): the columns in one order, HITS rounded to 15 places (their
    last bits depend on the summation order), then ``parts`` (activity, referral
    and per-type columns) side by side."""
    table = pd.DataFrame({
        "customer_id": pd.array(ids.to_numpy(), dtype="str"),
        "pagerank": pagerank,
        "in_strength": in_strength,
        "out_strength": out_strength,
        "coreness": coreness,
        "betweenness": betweenness,
        "hub": np.round(hub, 15),
        "authority": np.round(authority, 15),
        "community": membership,
        "community_role": roles["community_role"].to_numpy(),
        "reach_1": reach_1,
        "reach_2": reach_2,
    })
    if confidence is not None:
        table["community_confidence"] = confidence
    table["cross_influence"] = (np.full(len(ids), np.nan) if cross_influence is None
                                else cross_influence)
    return pd.concat([table, *parts], axis=1)
