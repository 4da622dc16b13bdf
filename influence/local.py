"""The local engine: events -> :class:`~influence.engine.EngineRun` on this machine.

Stages, each timed once under its name: read -> validate -> graph ->
centrality -> activity -> referrals -> reach -> communities -> propagators.
On graphs of :data:`PARALLEL_MIN_EDGES` edges or more, Leiden (and the IMM
seed set) run in a forked worker (:class:`influence.parallel.Background`)
while centrality ... reach run here: the same results, in less wall time.
What comes after (rank, spread, segments, profiles, manifest) is the shared
pipeline's (:mod:`influence.pipeline`).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .communities import (
    community_confidence,
    community_edge_sums,
    community_roles,
    cross_community_influence,
    detect_communities,
    modularity,
)
from .config import AnalysisConfig
from .engine import Accounting, EngineRun, Propagation, Stage, customer_table
from .graph import InfluenceGraph, build_graph, encode_events
from .lifecycle import lifecycle_stages
from .manifest import HITS_SECTION, communities_section, customers_input, versions
from .metrics import (
    activity_metrics,
    betweenness,
    cohort_months,
    coreness,
    events_by_type,
    first_seen,
    hits,
    pagerank,
    strength,
)
from .metrics.score import expected_influence_run
from .parallel import Background, can_fork
from .progress import StageClock
from .reach import cascades_table, k_hop_reach, referral_forest, referral_metrics
from .reach.cascades import referral_counts
from .reach.propagators import edge_probabilities, run_propagators, seed_set
from .reach.spread import adjacency
from .segments import check_rule_columns
from .sources import read_customers, read_events
from .validation import add_customers, clean_events

__all__ = ["run_local", "PARALLEL_MIN_EDGES"]

#: Graphs with fewer edges run Leiden inline (forking costs more than it saves).
PARALLEL_MIN_EDGES = 100_000


def run_local(events, *, customers=None, config: AnalysisConfig, input_format=None,
              clock: StageClock) -> EngineRun:
    """Compute everything the local engine computes; see :func:`influence.analyze`."""
    with clock.stage("read"):
        raw, info = read_events(events, columns=config.columns, input_format=input_format)
        table = read_customers(customers) if customers is not None else None
        # a rule reading a column this input cannot have fails before the analysis
        check_rule_columns(config.segments, types=config.types,
                           attributes=() if table is None else table.columns)
    with clock.stage("validate"):
        clean = clean_events(raw, config)
        del raw
        ids = add_customers(clean.ids, table)
        accounting = Accounting.of(info, clean)
    with clock.stage("graph"):
        codes = encode_events(clean.events, ids)
        graph = build_graph(clean.events, ids, config, codes)
        graph.undirected()  # built once here (cached): coreness, Leiden and roles use it
    cc = config.communities
    fork = cc.parallel and graph.n_edges >= PARALLEL_MIN_EDGES and can_fork()
    propagate = config.propagators.k > 0 and graph.n_edges > 0
    imm_job = None
    if propagate and fork:
        with clock.stage("propagators"):  # the probabilities here, IMM in the worker
            prob, prob_info = edge_probabilities(graph, config, events=clean.events,
                                                 codes=codes)
            imm_job = (prob, prob_info, adjacency(graph, prob))
    leiden = Background(_background, (graph, cc, config.propagators, imm_job),
                        fork=True, name="Leiden worker") if fork else None
    n = len(ids)
    try:
        with clock.stage("centrality"):
            out_strength = strength(graph, "out")
            in_strength = strength(graph, "in")
            pr = pagerank(graph, damping=config.centrality.damping)
            core = coreness(graph)
            hub, authority = hits(graph)
            cen = config.centrality
            between = betweenness(graph, budget=cen.betweenness_budget,
                                  min_pivots=cen.betweenness_min_pivots,
                                  seed=cen.seed, enabled=cen.betweenness)
        with clock.stage("activity"):
            activity = activity_metrics(clean.events, n, codes, clean.end)
            by_type = events_by_type(clean.events, n, codes[0], sorted(config.types))
            if clean.has_timestamps:
                activity["lifecycle_stage"] = pd.array(
                    lifecycle_stages(clean.events, codes[0], activity, clean.end,
                                     config.lifecycle).astype(str), dtype="str")
        score_run = None
        if clean.has_timestamps:
            with clock.stage("score"):
                score_run = expected_influence_run(clean.events, codes, config, clean.end, n)
        with clock.stage("referrals"):
            forest = referral_forest(clean.events, codes, n)
            referrals = referral_metrics(clean.events, codes, forest, ids)
            cascades = cascades_table(forest, ids, has_converted=accounting.has_converted,
                                      has_value=accounting.has_value)
            invites, conversions, cycle = referral_counts(clean.events, codes, forest)
            cohort = (cohort_months(first_seen(clean.events, codes, n))
                      if clean.has_timestamps else None)
        with clock.stage("reach"):
            reach_1, reach_2 = k_hop_reach(graph, max_edges_exact=config.reach.max_edges_exact)
        with clock.stage("communities"):
            if leiden is None:
                membership, confidence, imm_result, job_seconds = _background(
                    graph, cc, config.propagators, None)
                # Leiden's own seconds, and how long the main process spent on it (all)
                clock.timings["leiden"] = job_seconds["leiden"]
                clock.timings["leiden_wait"] = job_seconds["leiden"]
            else:
                began = time.perf_counter()
                membership, confidence, imm_result, job_seconds = leiden.result()
                # Leiden's own seconds in the worker, and how long the wait was
                clock.timings["leiden"] = job_seconds["leiden"]
                clock.timings["leiden_wait"] = time.perf_counter() - began
                if "imm" in job_seconds:
                    clock.timings["imm_in_worker"] = job_seconds["imm"]
            q = modularity(graph, membership, resolution=cc.resolution)
            rc = config.roles
            roles = community_roles(graph, membership, hub_z=rc.hub_z,
                                    hub_participation=rc.hub_participation,
                                    connector_participation=rc.connector_participation,
                                    peripheral_z=rc.peripheral_z)
            sums = community_edge_sums(graph, membership)
            cross = cross_community_influence(graph, membership)
    finally:
        if leiden is not None:
            leiden.cancel()
    propagation = None
    if propagate:
        if imm_job is not None:
            propagation = Propagation(result=imm_result, forward=imm_job[2],
                                      prob_info=imm_job[1])
        else:
            with clock.stage("propagators"):
                result, forward, prob_info = seed_set(graph, config, events=clean.events,
                                                      codes=codes,
                                                      progress=clock.steps("propagators"))
            propagation = Propagation(result=result, forward=forward, prob_info=prob_info)

    metrics = customer_table(
        ids, pagerank=pr, in_strength=in_strength, out_strength=out_strength, coreness=core,
        betweenness=between.scores, hub=hub, authority=authority, membership=membership,
        roles=roles, reach_1=reach_1,
        reach_2=reach_2 if reach_2 is not None else np.full(n, np.nan),
        confidence=confidence, cross_influence=cross, parts=(activity, referrals, by_type))
    process = "forked worker" if fork else "main"
    stages = (
        Stage("read"), Stage("validate"), Stage("graph"),
        Stage("centrality", sections={
            "betweenness": between.describe(n),
            "hits": HITS_SECTION,
            "pagerank": {"graph": "reversed influence flow",
                         "damping": config.centrality.damping,
                         "solver": "igraph prpack, 1 thread"}}),
        Stage("activity"), *((Stage("score"),) if score_run is not None else ()),
        Stage("referrals"),
        Stage("reach", sections={"reach": {
            "reach_2": "exact" if reach_2 is not None else
            f"skipped: {graph.n_edges} edges > reach.max_edges_exact "
            f"({config.reach.max_edges_exact})"}}),
        Stage("communities", where=process, sections={"communities": communities_section(
            config, membership, q, roles, backend=cc.backend, objective="modularity",
            stability_runs=cc.stability_runs, process=process)}),
        Stage("propagators", where=process if fork else "main"),
    )
    return EngineRun(
        engine="local", ids=ids, metrics=metrics, by_type=tuple(by_type.columns),
        attributes=table, customers_input=customers_input(customers, table),
        forest=forest, cascades=cascades, membership=membership, modularity=q,
        community_sums=sums, graph=graph, n_edges=graph.n_edges, invites=invites,
        conversions=conversions, cycle_days=cycle, cohort_month=cohort,
        propagation=propagation, accounting=accounting, stages=stages,
        timings=clock.timings, versions=versions(), score=score_run)


def _background(graph: InfluenceGraph, cc, propagators, imm_job) -> tuple:
    """What runs beside centrality: Leiden membership and, with stability runs,
    confidence; with ``imm_job`` = (prob, info, forward adjacency) also the IMM
    seed set. Returns them with the seconds of each part."""
    began = time.perf_counter()
    membership = detect_communities(graph, resolution=cc.resolution, seed=cc.seed,
                                    iterations=cc.iterations, backend=cc.backend)
    confidence = None
    if cc.stability_runs:
        confidence = community_confidence(graph, membership, runs=cc.stability_runs,
                                          resolution=cc.resolution, seed=cc.seed,
                                          iterations=cc.iterations, backend=cc.backend)
    seconds = {"leiden": time.perf_counter() - began}
    result = None
    if imm_job is not None:
        began = time.perf_counter()
        prob, _, forward = imm_job
        result = run_propagators(graph, prob, propagators, propagators.k, forward=forward)
        seconds["imm"] = time.perf_counter() - began
    return membership, confidence, result, seconds
