"""Key propagators: the public API around IMM, with baselines measured by the
same Monte Carlo simulator."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import AnalysisConfig, PropagatorConfig, as_config
from ..graph import InfluenceGraph
from ..progress import Advance, Reporter, StageClock, no_progress
from ..schema import CUSTOMER_ID
from .imm import imm
from .spread import (
    Adjacency,
    adjacency,
    learn_type_probabilities,
    learned_probabilities,
    simulate_spread,
    weight_probabilities,
)

__all__ = ["Propagators", "find_propagators", "edge_probabilities", "top_k", "seed_set",
           "candidate_spread"]

logger = logging.getLogger(__name__)


@dataclass
class Propagators:
    """Result of :func:`find_propagators`.

    Attributes
    ----------
    seeds : pandas.DataFrame
        At most ``k`` rows, fewer when no other customer would activate anyone
        but themselves (``info["stopped_early"]``): ``order`` (int64, 1 =
        picked first), ``customer_id`` (str),
        ``marginal_gain`` (float64: expected customers added by this seed,
        RR-set estimate), ``cumulative_spread`` (float64: RR-set estimate of
        the spread of the first ``order`` seeds).
    comparison : pandas.DataFrame
        One row per method (``imm``, ``degree``, ``pagerank``): ``method``,
        ``spread``, ``spread_se`` (Monte Carlo mean and standard error,
        seeds included, the same simulator and runs for each; each baseline
        takes as many customers as IMM found seeds) and
        ``vs_best_baseline`` (spread / best baseline spread).
    info : dict
        Model and algorithm parameters, RR-set counts, timings.
    """

    seeds: pd.DataFrame
    comparison: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)


def top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Vertices of the ``k`` largest scores, ties by smallest vertex (= customer id)."""
    order = np.lexsort((np.arange(len(score)), -np.asarray(score, dtype=float)))
    return order[:k].astype(np.int64)


def edge_probabilities(graph: InfluenceGraph, config: AnalysisConfig, *,
                       events: pd.DataFrame | None = None,
                       codes: tuple[np.ndarray, np.ndarray] | None = None,
                       ) -> tuple[np.ndarray, dict[str, Any]]:
    """IC probability of every edge, by ``config.propagators.probabilities``.

    Returns
    -------
    prob : numpy.ndarray of float64, in edge order
    info : dict
        The rule, and for ``learned`` the per-type estimates.
    """
    settings = config.propagators
    if settings.probabilities == "weight" or events is None:
        return weight_probabilities(graph, settings.p0), {"rule": "1 - (1 - p0) ** weight",
                                                          "p0": settings.p0}
    from ..errors import InputError
    from ..schema import TIMESTAMP

    if TIMESTAMP not in events.columns:
        raise InputError("propagators.probabilities = 'learned' needs timestamps; the events "
                         "have none. Use probabilities = 'weight'.")
    assert codes is not None  # given with the events
    types = learn_type_probabilities(events, codes, config, settings.horizon_days)
    prob = learned_probabilities(events, codes, graph, config, types["p"])
    return prob, {"rule": "1 - prod over the edge's events of (1 - p_type)",
                  "horizon_days": settings.horizon_days,
                  "p_type": {t: {"p": round(float(r.p), 6), "events": int(r.events),
                                 "successes": int(r.successes)} for t, r in types.iterrows()}}


def run_propagators(graph: InfluenceGraph, prob: np.ndarray, config: PropagatorConfig,
                    k: int, baselines: dict[str, np.ndarray] | None = None,
                    forward: Adjacency | None = None,
                    progress: Advance = no_progress) -> Propagators:
    """IMM on a built graph with given probabilities, then the MC comparison.

    ``forward`` is ``adjacency(graph, prob)`` if the caller has it already;
    ``progress`` hears of the RR sets drawn, then of the seed sets simulated.
    """
    began = time.perf_counter()
    seeds, info = imm(adjacency(graph, prob, reverse=True), k, config.epsilon,
                      seed=config.seed, progress=progress)
    info["imm_seconds"] = round(time.perf_counter() - began, 4)
    ids = graph.ids.to_numpy()
    seeds_table = pd.DataFrame({
        "order": seeds["order"].to_numpy(np.int64),
        CUSTOMER_ID: pd.array(ids[seeds["vertex"].to_numpy(np.int64)], dtype="str"),
        "marginal_gain": seeds["marginal_gain"].to_numpy(float),
        "cumulative_spread": seeds["cumulative_spread"].to_numpy(float),
    })
    sets = {"imm": seeds["vertex"].to_numpy(np.int64)}
    # IMM may stop short of k (zero marginal gain): compare sets of the same size
    sets.update({name: top_k(score, len(sets["imm"]))
                 for name, score in (baselines or {}).items()})
    began = time.perf_counter()
    if forward is None:
        forward = adjacency(graph, prob)
    mean, se = simulate_spread(forward, list(sets.values()),
                               config.simulations, seed=config.seed, progress=progress)
    info["simulation_seconds"] = round(time.perf_counter() - began, 4)
    comparison = pd.DataFrame({"method": list(sets), "spread": mean, "spread_se": se})
    others = comparison["spread"].to_numpy()[1:]
    best = others.max() if len(others) else np.nan
    comparison["vs_best_baseline"] = comparison["spread"] / best
    info.update({"k": k, "epsilon": config.epsilon, "seed": config.seed,
                 "simulations": config.simulations, "vertex": seeds["vertex"].to_numpy()})
    return Propagators(seeds=seeds_table, comparison=comparison, info=info)


def seed_set(graph: InfluenceGraph, config: AnalysisConfig, *,
             events: pd.DataFrame | None = None,
             codes: tuple[np.ndarray, np.ndarray] | None = None,
             progress: Advance = no_progress
             ) -> tuple[Propagators, Adjacency, dict[str, Any]]:
    """The analysis' IMM seed set of ``[propagators] k`` customers: edge
    probabilities (``events`` and ``codes`` only for learned ones), the forward
    adjacency the spread simulation reuses, and how the probabilities were set."""
    prob, prob_info = edge_probabilities(graph, config, events=events, codes=codes)
    forward = adjacency(graph, prob)
    settings = config.propagators
    return (run_propagators(graph, prob, settings, settings.k, forward=forward,
                            progress=progress), forward, prob_info)


def candidate_spread(forward: Adjacency, result: Propagators, rank: np.ndarray,
                     config: PropagatorConfig, prob_info: dict[str, Any] | None,
                     progress: Advance = no_progress
                     ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``propagator_rank`` of the seed set and the ``expected_spread`` (with its
    standard error) of the top ``candidates`` by influence rank plus the seeds.

    ``[propagators] spread_method``:

    * ``"rr_sets"`` (default): estimated from the RR sets IMM drew for the seed
      set, no new simulation. A vertex's spread alone is ``n x`` the share of
      the ``theta`` RR sets that hold it (Borgs et al. 2014: an RR set holds
      ``v`` with probability ``sigma({v}) / n``). The customer's own activation
      is known (1), so only the sets grown from others are counted:
      ``1 + n x c / theta`` with ``c`` the sets grown from another customer that
      hold ``v``; standard error ``n x sqrt(p (1 - p) / theta)``, ``p = c /
      theta``. Unbiased; relatively coarse for customers who reach only a few
      (about ``1 / sqrt(c)`` of what they add beyond themselves).
    * ``"simulation"``: ``simulations`` Monte Carlo cascades per candidate (the
      cost that dominated ``analyze`` on real graphs: 18 of 19 s on CollegeMsg).

    Returns
    -------
    columns : dict of str to array
        ``expected_spread``, ``expected_spread_se`` (float64, NaN for customers not
        estimated) and ``propagator_rank`` (Int64, NA outside the seed set), per vertex.
    info : dict
        The manifest's ``propagators`` section.
    """
    seeds = result.info["vertex"]
    n = len(rank)
    propagator_rank = np.full(n, np.nan)
    propagator_rank[seeds] = np.arange(1, len(seeds) + 1)
    candidates = np.union1d(np.flatnonzero(rank <= config.candidates), seeds).astype(np.int64)
    coverage = result.info.get("coverage")
    theta = int(result.info.get("rr_final", 0))
    method = config.spread_method
    if method == "rr_sets" and (coverage is None or theta == 0):
        method = "simulation"  # no RR sets to reuse (an empty graph, an older result)
    if method == "rr_sets":
        assert coverage is not None
        share = coverage[candidates] / theta
        mean = np.round(1.0 + n * share, 9)
        se = np.round(n * np.sqrt(share * (1.0 - share) / theta), 9)
        how = (f"RR-set estimate: 1 + n x share of IMM's {theta} final RR sets grown from "
               f"another customer that hold the customer (standard error n x "
               f"sqrt(p (1 - p) / {theta})); no simulation")
    else:
        mean, se = simulate_spread(forward, [np.array([v]) for v in candidates],
                                   config.simulations, seed=config.seed, progress=progress)
        how = f"Monte Carlo, {config.simulations} simulations per customer"
    spread = np.full(n, np.nan)
    spread_se = np.full(n, np.nan)
    spread[candidates] = mean
    spread_se[candidates] = se
    imm_row = result.comparison.iloc[0]
    found = int(len(seeds))
    info = {
        "k": config.k, "epsilon": config.epsilon, "seed": config.seed,
        "probabilities": prob_info,
        "theta": result.info["theta"], "rr_sets": result.info["rr_sets"],
        "seeds": found, "stopped_early": bool(result.info.get("stopped_early", False)),
        "seed_set_spread": round(float(imm_row["spread"]), 6),
        "seed_set_spread_se": round(float(imm_row["spread_se"]), 6),
        "seed_set_spread_rr_estimate": round(float(result.seeds["cumulative_spread"].iloc[-1]),
                                             6) if len(result.seeds) else 0.0,
        "expected_spread_for": f"top {config.candidates} by influence_rank and the seed set "
                               f"({len(candidates)} customers); NaN elsewhere",
        "expected_spread_method": how,
        "simulations": config.simulations,
    }
    if info["stopped_early"]:
        info["note"] = stopped_early_note(found, config.k)
    columns = {"expected_spread": spread, "expected_spread_se": spread_se,
               "propagator_rank": pd.array(propagator_rank, dtype="Int64")}
    return columns, info


def stopped_early_note(found: int, k: int) -> str:
    """What a run says when IMM found fewer than ``k`` key propagators."""
    return (f"{found} key propagators found, fewer than k = {k}: every other customer "
            "would only activate themselves (zero marginal gain)")


def find_propagators(events: Any, k: int | None = None,
                     *, customers: str | Path | pd.DataFrame | None = None,
                     config: AnalysisConfig | str | Path | None = None,
                     columns: Mapping[str, str] | None = None,
                     input_format: str | None = None, since: str | None = None,
                     until: str | None = None, epsilon: float | None = None,
                     p0: float | None = None, seed: int | None = None,
                     simulations: int | None = None,
                     reporter: Reporter | None = None) -> Propagators:
    """Find ``k`` key propagators: a seed set maximising expected spread (IMM).

    Parameters
    ----------
    events : path, str, Query, Arrow-compatible table, pandas.DataFrame or InfluenceGraph
        Events (anything :func:`influence.analyze` reads, validated as it
        validates them), or an
        already built graph (then ``probabilities = "learned"`` is not
        available and the ``p0`` rule is used).
    k : int, optional
        Seed set size; default ``config.propagators.k``. >= 1.
    customers, config, columns, input_format, since, until
        As for :func:`influence.analyze` (``config`` may be a TOML file's path).
    epsilon, p0, seed, simulations : optional
        Override ``config.propagators``.
    reporter : Reporter, optional
        Told when each stage starts and ends (:mod:`influence.progress`):
        ``read``, ``graph``, ``propagators`` (which says how many RR sets are
        drawn, then how many seed sets simulated).

    Returns
    -------
    Propagators
        Seeds with marginal gains, and the Monte Carlo spread of the seed set
        next to the top-k by out-degree and by PageRank.

    Notes
    -----
    Spread counts the seeds themselves. The IMM guarantee: expected spread
    >= ``(1 - 1/e - epsilon)`` x optimum, with probability >= ``1 - 1/n``.

    References
    ----------
    .. [1] Tang, Y., Shi, Y., & Xiao, X. (2015). Influence maximization in
       near-linear time: a martingale approach. SIGMOD '15.
       doi:10.1145/2723372.2723734

    Examples
    --------
    >>> import pandas as pd, influence
    >>> events = pd.DataFrame({"source": ["a", "a", "a", "b"], "target": ["b", "c", "d", "e"],
    ...                        "type": ["referral"] * 4})
    >>> result = influence.find_propagators(events, k=1, p0=0.5, simulations=50)
    >>> result.seeds["customer_id"].tolist()
    ['a']
    """
    from ..errors import ConfigError
    from ..metrics import pagerank

    config = as_config(config)
    if columns:
        config = config.replace(columns={**config.columns, **columns})
    config = config.replace(window__since=since, window__until=until, propagators__k=k,
                            propagators__epsilon=epsilon, propagators__p0=p0,
                            propagators__seed=seed, propagators__simulations=simulations)
    k = config.propagators.k
    if k < 1:
        raise ConfigError(f"k must be an integer >= 1; got {k!r}")
    began = time.perf_counter()
    clock = StageClock(reporter)
    if isinstance(events, InfluenceGraph):
        graph, clean_events, codes, source_info = events, None, None, {"graph": True}
    else:
        from ..graph import build_graph, encode_events
        from ..sources import read_customers, read_events
        from ..validation import clean_events as clean
        from ..validation import customer_universe

        with clock.stage("read"):
            raw, source_info = read_events(events, columns=config.columns,
                                           input_format=input_format)
            table = read_customers(customers) if customers is not None else None
        with clock.stage("graph"):
            cleaned = clean(raw, config)
            ids = customer_universe(raw, table)
            del raw
            codes = encode_events(cleaned.events, ids)
            graph = build_graph(cleaned.events, ids, config, codes)
            clean_events = cleaned.events
    with clock.stage("propagators"):
        prob, prob_info = edge_probabilities(graph, config, events=clean_events, codes=codes)
        baselines = {"degree": np.asarray(graph.graph.outdegree(), dtype=float),
                     "pagerank": pagerank(graph, damping=config.centrality.damping)}
        result = run_propagators(graph, prob, config.propagators, k, baselines,
                                 progress=clock.steps("propagators"))
    if result.info.get("stopped_early"):
        result.info["note"] = stopped_early_note(len(result.seeds), k)
        logger.warning(result.info["note"])
    result.info.pop("vertex", None)
    result.info.pop("coverage", None)
    result.info.update({"input": source_info, "customers": graph.n_customers,
                        "edges": graph.n_edges, "probabilities": prob_info,
                        "seconds": round(time.perf_counter() - began, 4)})
    return result
