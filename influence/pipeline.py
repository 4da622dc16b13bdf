"""The shared finish of every engine: an :class:`~influence.engine.EngineRun` in,
an :class:`~influence.result.Analysis` out.

Stages, each timed once: ``rank`` -> ``spread`` -> ``segments`` -> ``profiles``.

* ``rank`` (:func:`rank_customers`) is **where the score and the rank are
  computed**: ``influence_score`` from PageRank and out-strength, and
  ``influence_rank`` from it. A new score (e.g.
  :func:`influence.metrics.score.expected_influence`) is added there: a column
  computed from the run's per-customer table, declared in
  :mod:`influence.columns`; whether it drives the rank is decided in that one
  function, and every later stage (spread candidates, tiers, segments, lists,
  profiles' leaders) follows the rank.
* ``spread``: propagator ranks of the engine's IMM seed set and the Monte
  Carlo spread of the top candidates by rank (the rank is needed first).
* ``segments``: tiers, rules and reasons, RFM tiers, K-factor by group.
* ``profiles``: the community and segment profiles, small segments suppressed.

The manifest is then built once (:func:`influence.manifest.build_manifest`).
"""

from __future__ import annotations

import logging
from typing import cast

import numpy as np
import pandas as pd

from .columns import customer_order, is_computed
from .communities import profiles_from_sums
from .config import AnalysisConfig
from .engine import EngineRun
from .lifecycle import rfm_tiers, rfm_value_basis
from .manifest import build_manifest
from .metrics import influence_score
from .metrics.score import contributions, expected_influence, reason_text, score_percentile
from .progress import StageClock
from .reach.cascades import kfactor_table
from .reach.propagators import candidate_spread
from .result import Analysis
from .schema import COMMUNITY_COLUMNS, CUSTOMER_ID
from .segments import (
    assign_segments,
    check_rule_columns,
    plan_rules,
    segment_profiles,
    suppress_segments,
)

__all__ = ["finish", "finished_manifest", "rank_customers", "ranked_metrics",
           "with_attributes"]

logger = logging.getLogger(__name__)

#: Filled when a seed set was asked for but the engine could not compute it.
_EMPTY_SPREAD = ("expected_spread", "expected_spread_se", "propagator_rank")


def rank_customers(metrics: pd.DataFrame, *, score_run=None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """``influence_score`` and ``influence_rank`` of each vertex, the vertex order by
    rank, and the expected influence behind them.

    With timestamps (``score_run``, :func:`influence.metrics.score.fit_and_check`'s
    result) the score is the **expected influence**: the influence events a
    customer is expected to be credited with in the next ``[score]
    horizon_days``, from decayed counts of the influence they exerted, with
    weights calibrated on the customer base's own history
    (:mod:`influence.metrics.score`). ``influence_score`` is its percentile
    (share of customers with a smaller value, 6 decimals) and the rank sorts by
    it, ties by the composite below, then by customer id. Without timestamps
    (nothing to calibrate or check) the score is the composite
    ``(pct(pagerank) + pct(out_strength)) / 2``
    (:func:`influence.metrics.influence_score`) and ties go to the smaller id.

    Vertices are numbered in customer-id order by every engine, so a stable sort
    breaks the last ties by id.

    Returns
    -------
    score : numpy.ndarray of float64
    rank : numpy.ndarray of int64
    order : numpy.ndarray of int64
        Vertices sorted by rank (``rank[order] == 1, 2, ...``).
    expected : numpy.ndarray of float64 or None
        Expected influence (``None`` without ``score_run``).

    >>> import pandas as pd
    >>> m = pd.DataFrame({"pagerank": [0.2, 0.5, 0.3], "out_strength": [1.0, 4.0, 1.0]})
    >>> rank_customers(m)[1].tolist()
    [3, 1, 2]
    """
    composite = influence_score(metrics["pagerank"].to_numpy(dtype=np.float64),
                                metrics["out_strength"].to_numpy(dtype=np.float64))
    expected = None
    if score_run is None:
        score = composite
        order = np.argsort(-score, kind="stable")
    else:
        expected = expected_influence(score_run.features, score_run.model.weights)
        score = score_percentile(expected)
        order = np.lexsort((np.arange(len(score)), -composite, -expected))
    rank = np.empty(len(score), dtype=np.int64)
    rank[order] = np.arange(1, len(score) + 1)
    return score, rank, order, expected


def ranked_metrics(run: EngineRun, config: AnalysisConfig, clock: StageClock):
    """The ``rank`` and ``spread`` stages: the per-customer table the segment rules run on.

    Returns
    -------
    metrics : pandas.DataFrame
        ``run.metrics`` (vertex order) with ``influence_score``, ``influence_rank``,
        ``expected_influence`` (with timestamps) and the spread columns.
    order : numpy.ndarray of int64
        Vertices by rank.
    score_text : numpy.ndarray of str or None
        What drove each customer's expected influence, for the reasons.
    propagators : dict or None
        The manifest's ``propagators`` section.
    """
    n = len(run.ids)
    with clock.stage("rank"):
        score, rank, order, expected = rank_customers(run.metrics, score_run=run.score)
        metrics = run.metrics.copy()
        metrics.insert(1, "influence_score", score)
        metrics["influence_rank"] = rank
        score_text = None
        if expected is not None:
            metrics["expected_influence"] = expected
            model = run.score.model
            score_text = reason_text(
                expected, contributions(run.score.features, model.weights),
                horizon_days=model.horizon_days, half_lives=model.half_lives,
                reach_half_lives=model.reach_half_lives)
    propagators = None
    if run.propagation is not None:
        with clock.stage("spread"):
            if run.propagation.skipped is None:
                columns, propagators = candidate_spread(
                    run.propagation.forward, run.propagation.result, rank,
                    config.propagators, run.propagation.prob_info,
                    progress=clock.steps("spread"))
            else:
                columns = {"expected_spread": np.full(n, np.nan),
                           "expected_spread_se": np.full(n, np.nan),
                           "propagator_rank": pd.array(np.full(n, pd.NA), dtype="Int64")}
                propagators = {"skipped": run.propagation.skipped}
            for name in _EMPTY_SPREAD:
                metrics[name] = columns[name]
            if propagators.get("note"):
                # said in the manifest; not a warning: small inputs often have few
                logger.info(propagators["note"])
    return metrics, order, score_text, propagators


def finish(run: EngineRun, config: AnalysisConfig, clock: StageClock) -> Analysis:
    """Rank, spread, segments, profiles and the manifest: the same for every engine."""
    check_rule_columns(config.segments, types=config.types,
                       attributes=() if run.attributes is None else run.attributes.columns)
    metrics, order, score_text, propagators = ranked_metrics(run, config, clock)
    rank = metrics["influence_rank"].to_numpy()
    has_time = run.accounting.has_timestamps
    with clock.stage("segments"):
        # RFM first: rules may read rfm_code; the key-propagator rule reads
        # propagator_rank: after the spread
        metrics = pd.concat([metrics, rfm_tiers(metrics, config.segments, has_time,
                                                value=rfm_value_basis(metrics))], axis=1)
        rule_table = with_attributes(metrics, run.attributes)
        assigned = assign_segments(rule_table, config.segments, has_time,
                                   end=run.accounting.end, score_text=score_text)
        caps = assigned.attrs.pop("caps", None)
        metrics = pd.concat([metrics, assigned], axis=1)
        plans = plan_rules(config.segments, set(rule_table.columns) | set(assigned.columns))
        groups = {"community": run.membership,
                  "segment": metrics["segment"].to_numpy(object)}
        if run.cohort_month is not None:
            groups["cohort_month"] = run.cohort_month
        kfactor = kfactor_table(run.invites, run.conversions, run.cycle_days, groups)
    with clock.stage("profiles"):
        segment_order = [cast(str, p.rule.segment) for p in plans] + [config.segments.default]
        segment_names = list(dict.fromkeys(segment_order))
        profiles = profiles_from_sums(run.membership, rank, run.ids, run.community_sums,
                                      segment=metrics["segment"].to_numpy(dtype=object),
                                      segment_names=segment_names)
        customers = _assemble(metrics, order, run.attributes, run.by_type)
        segments = segment_profiles(customers, min_segment_size=config.privacy.min_segment_size,
                                    order=segment_order)
        kfactor, profiles = suppress_segments(segments, kfactor=kfactor, communities=profiles)

    manifest = finished_manifest(
        run, config, plans=plans, segments=segments, kfactor=kfactor,
        attribute_columns=[c for c in customers.columns if c not in metrics.columns],
        propagators=propagators, caps=caps, timings=clock.timings)
    assert profiles is not None  # suppress_segments returns the communities it was given
    community_columns = list(COMMUNITY_COLUMNS) + [f"share_{name}" for name in segment_names]
    return Analysis(customers=customers, communities=profiles[community_columns],
                    manifest=manifest, graph=run.graph, segments=segments,
                    cascades=run.cascades, kfactor=kfactor)


def finished_manifest(run: EngineRun, config: AnalysisConfig, **parts) -> dict:
    """:func:`influence.manifest.build_manifest` of a finished run (``parts`` as there),
    and the run's warnings logged: the input's, and each custom segment rule skipped
    for a missing column (every finisher ends here)."""
    manifest = build_manifest(run, config, **parts)
    for message in run.accounting.warnings:
        logger.warning(message)
    for plan in parts["plans"]:
        if plan.skipped and not plan.builtin:
            logger.warning("segment rule %r skipped: the results have no column %s",
                           plan.rule.name, ", ".join(repr(c) for c in plan.missing))
    return manifest


def with_attributes(metrics: pd.DataFrame, attributes: pd.DataFrame | None) -> pd.DataFrame:
    """``metrics`` with the customers-table attributes beside it, for the segment rules
    (named as in the output: ``attribute_<name>`` where a name clashes)."""
    if attributes is None or attributes.shape[1] <= 1:
        return metrics
    attrs = attributes.set_index(CUSTOMER_ID)
    attrs = attrs.rename(columns={c: f"attribute_{c}" for c in attrs.columns
                                  if c in metrics.columns or is_computed(c)
                                  or c in ("segment", "segment_reason")})
    joined = attrs.reindex(metrics[CUSTOMER_ID].to_numpy())
    joined.index = metrics.index
    return pd.concat([metrics, joined], axis=1)


def _assemble(metrics: pd.DataFrame, order: np.ndarray, attributes: pd.DataFrame | None,
              by_type=()) -> pd.DataFrame:
    """Column order of :mod:`influence.columns`, sorted by rank, attributes joined last."""
    table = metrics.iloc[order][customer_order(metrics.columns, by_type=by_type)]
    table = table.reset_index(drop=True)
    if attributes is not None and attributes.shape[1] > 1:
        attrs = attributes.set_index(CUSTOMER_ID)
        clash = [c for c in attrs.columns if c in table.columns or is_computed(c)
                 or c in ("segment", "segment_reason")]
        attrs = attrs.rename(columns={c: f"attribute_{c}" for c in clash})
        if clash:
            logger.warning("customer attributes %s renamed with prefix 'attribute_' "
                           "(they clash with output columns)", clash)
        joined = attrs.reindex(table[CUSTOMER_ID].to_numpy())
        for column in joined.columns:
            table[column] = joined[column].to_numpy()
    return table
