"""``manifest.json``: built here, once, for every engine.

The manifest is assembled from an engine's :class:`~influence.engine.Accounting`
(what was read, used and dropped), its :class:`~influence.engine.Stage` records
(each supplies its own sections: ``pagerank``, ``communities``, ...) and what the
shared pipeline finished (segments, K-factor, propagators). Every top-level key
is written in this module only (``tests/test_layering.py`` checks it); the
``outputs`` key is the results folder's (:mod:`influence.folder`) and
``snapshots`` comes with :func:`influence.analyze`'s ``snapshots=``.
"""

from __future__ import annotations

import functools
import math
import os
import platform
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from . import __version__

__all__ = ["build_manifest", "versions", "plain", "STAGE_SECTIONS", "HITS_SECTION",
           "communities_section", "customers_input", "add_snapshots", "pseudonymized",
           "score_section", "score_check"]

#: Libraries whose versions the manifest records.
_VERSIONED = ("pandas", "numpy", "pyarrow", "igraph", "leidenalg", "networkx")

#: Sections supplied by stage records, in manifest order (around the shared keys).
STAGE_SECTIONS = ("communities", "betweenness", "hits", "pagerank", "reach")


#: The ``hits`` section wherever HITS runs (on the whole graph, in one process).
HITS_SECTION = {"graph": "influence flow, weighted", "normalised": "each sums to 1",
                "solver": "scipy power iteration from the uniform vector, tol 1e-10"}


@functools.cache
def _installed(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def versions() -> dict[str, str]:
    """Versions of Python, ``influence`` and the libraries that move the numbers
    (looked up once per process: ``importlib.metadata`` scans ``sys.path``)."""
    found = {"influence": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        found[name] = _installed("python-igraph" if name == "igraph" else name)
    return found


def plain(value: Any) -> Any:
    """JSON-ready scalar (NaN -> None, numpy -> Python, floats rounded to 10 places).

    >>> plain(np.float64("nan")), plain(np.int64(3)), plain(0.1 + 0.2)
    (None, 3, 0.3)
    """
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else round(float(value), 10)
    return value


def build_manifest(run, config, *, plans, segments: pd.DataFrame, kfactor: pd.DataFrame,
                   attribute_columns: list[str], propagators: dict[str, Any] | None,
                   timings: dict[str, float], caps: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    """The manifest of one analysis.

    Parameters
    ----------
    run : influence.engine.EngineRun
    config : AnalysisConfig
    plans : list of influence.segments.RulePlan
    segments : pandas.DataFrame
        Segment profiles (sizes, suppression).
    kfactor : pandas.DataFrame
        Its first row (overall) goes into ``kfactor``.
    attribute_columns : list of str
        The customers-table columns carried through.
    propagators : dict or None
        The ``propagators`` section (None when no seed set was asked for).
    timings : dict of str to float
        Seconds per stage.
    caps : dict, optional
        How the action segments were capped (``assign_segments``' ``attrs["caps"]``).
    """
    acc = run.accounting
    forest, cascades = run.forest, run.cascades
    section = run.section
    manifest = {
        "influence_version": __version__,
        "input": acc.input,
        "customers_input": run.customers_input,
        "rows_read": acc.rows_read,
        "rows_used": acc.rows_used,
        "dropped": acc.dropped,
        "events_by_type": acc.events_by_type,
        "customers": len(run.ids),
        "customers_from_table": 0 if run.attributes is None else len(run.attributes),
        "edges": run.n_edges,
        # one definition for every engine: the out-strengths summed exactly (math.fsum:
        # correctly rounded, so the same number in any order and on any engine)
        "total_weight": (run.total_weight if run.total_weight is not None else
                         math.fsum(run.metrics["out_strength"].to_numpy(dtype=np.float64))),
        "has_timestamps": acc.has_timestamps,
        "window": acc.window(config),
        "seed": config.communities.seed,
        "communities": section("communities"),
        "betweenness": section("betweenness"),
        "hits": section("hits"),
        "segments": {
            "rules": [plan.to_dict() for plan in plans],
            "default": config.segments.default,
            "sizes": {row.segment: int(row.size) for row in segments.itertuples()},
            "suppressed": [row.segment for row in segments.itertuples() if row.suppressed],
            "caps": caps,
        },
        "attribute_columns": attribute_columns,
        "pagerank": section("pagerank"),
        "referrals": {
            "events": forest.referral_events, "referred": forest.referred,
            "referred_more_than_once": forest.double_referred,
            "referrer_rule": "earliest referral in time, ties by smallest referrer id",
            "cycles_broken": forest.cycles_broken,
            "cascades": int(len(cascades)),
            "largest_cascade": int(cascades["size"].max()) if len(cascades) else 0,
            "deepest_cascade": int(cascades["depth"].max()) if len(cascades) else 0,
            "has_converted": acc.has_converted, "has_value": acc.has_value,
        },
        "kfactor": {k: plain(v) for k, v in kfactor.iloc[0].items()
                    if k not in ("group", "key")},
        "reach": section("reach"),
        "lifecycle": ("rules relative to the end date, see docs/reach.md"
                      if acc.has_timestamps else "absent: no timestamps"),
        "propagators": propagators,
        "config": config.to_dict(),
        "versions": dict(run.versions),
        "warnings": list(acc.warnings),
        "timings": {k: round(v, 4) for k, v in timings.items()},
    }
    manifest["score"] = score_section(run.score, config)
    check = score_check(run.score, config)
    if check is not None:
        manifest["score_check"] = check
    if run.engine_section is not None:
        manifest["engine"] = run.engine_section
    return manifest


def _day_text(days: float) -> str:
    """ISO timestamp (UTC) of a time in float days since the epoch, to the second."""
    return pd.Timestamp(round(days * 86_400), unit="s", tz="UTC").isoformat()


def score_section(score_run, config) -> dict[str, Any]:
    """The ``score`` section: how ``influence_score`` was set in this run."""
    if score_run is None:
        return {"method": "composite",
                "formula": "(pct(pagerank) + pct(out_strength)) / 2",
                "why": "no timestamps: nothing to calibrate the expected influence on"}
    model = score_run.model.to_dict()
    if model.get("split") is not None:
        model["split"] = _day_text(model["split"])
    method = ("expected influence, weights fitted on your history"
              if model["method"] == "fitted" else
              "expected influence, prior weights (too little history to fit)")
    return {"method": method, "horizon_days": config.score.horizon_days,
            "formula": "expected_influence = sum_h w_h sum over influence events credited "
                       "and followed by activity 0.5 ** (age / h) + sum_g v_g sum over "
                       "distinct customers influenced 0.5 ** (age of the last contact / g); "
                       "influence_score = its percentile",
            "model": {k: plain(v) if not isinstance(v, list) else v
                      for k, v in model.items()},
            "self_check": ({"skipped": score_run.check_summary["skipped"]}
                           if "skipped" in score_run.check_summary else "score_check")}


#: Names of the self-check's rows in ``score_check`` (the product's score first).
_CHECK_NAMES = {"expected_influence": "influence_score",
                "received": "received (influence events credited)",
                "received_7d": "received, 7-day half-life",
                "out_degree": "out_degree (distinct customers influenced)",
                "events": "events (sent + received)",
                "oracle": "best possible (the top k by later influence)"}


def score_check(score_run, config) -> dict[str, Any] | None:
    """``manifest["score_check"]``: the inner backtest, in the report's shape.

    ``None`` when there is no self-check (no timestamps, too little history,
    turned off, or nobody exerted influence in the last period).
    """
    if score_run is None or "skipped" in score_run.check_summary or score_run.check.empty:
        return None
    summary = score_run.check_summary
    table = score_run.check
    ks = [int(k) for k in dict.fromkeys(table["k"].tolist())]
    rows = []
    for name in dict.fromkeys(table["score"].tolist()):
        part = table[table["score"] == name]
        row = {"score": _CHECK_NAMES.get(name, name),
               "precision_at_k": {str(int(r.k)): plain(r.precision) for r in part.itertuples()},
               "captured": {str(int(r.k)): plain(r.capture) for r in part.itertuples()}}
        if name == "oracle":
            row["reference"] = True
        rows.append(row)
    model = dict(summary["model"])
    if model.get("split") is not None:
        model["split"] = _day_text(model["split"])
    return {"horizon": f"{summary['horizon_days']:g} days", "k": ks, "rows": rows,
            "split": _day_text(summary["check"]), "judged": int(summary["judged"]),
            "spreaders": int(summary["spreaders"]),
            "later_influence": int(summary["later_total"]),
            "target": "influence events of the period credited to their influencer and "
                      "followed by activity (docs/backtest.md), unweighted",
            "model": {k: plain(v) if not isinstance(v, list) else v for k, v in model.items()}}


def communities_section(config, membership: np.ndarray, q: float, roles: pd.DataFrame, *,
                        backend: str, objective: str, stability_runs: int,
                        process: str) -> dict[str, Any]:
    """The ``communities`` section, supplied by an engine's communities stage."""
    cc = config.communities
    return {"count": int(membership.max()) + 1 if len(membership) else 0,
            "modularity": round(q, 10), "backend": backend, "objective": objective,
            "resolution": cc.resolution, "stability_runs": stability_runs,
            "iterations": cc.iterations, "process": process,
            "roles": {role: int(count) for role, count in sorted(
                roles["community_role"].value_counts().items())}}


def customers_input(customers: Any, table: pd.DataFrame | None) -> dict[str, Any] | None:
    """The ``customers_input`` section: the path given (None for a DataFrame) and the
    rows of the customers table."""
    if customers is None:
        return None
    assert table is not None  # read from ``customers``
    return {"path": str(customers) if isinstance(customers, (str, os.PathLike)) else None,
            "rows": len(table)}


def add_snapshots(manifest: dict[str, Any], info: dict[str, Any], *, seconds: float) -> None:
    """Record snapshots (:func:`influence.snapshots.snapshot_series`' info) in ``manifest``."""
    manifest["snapshots"] = {k: v for k, v in info.items() if k != "seconds"}
    manifest["timings"]["snapshots"] = info.get("seconds", round(seconds, 4))


def pseudonymized(manifest: dict[str, Any], attributes: list[str]) -> dict[str, Any]:
    """A copy of ``manifest`` for pseudonymised results: ``privacy`` says so (never the
    key) and which customers-table ``attributes`` were dropped."""
    manifest = dict(manifest)
    manifest["privacy"] = {"pseudonymized": True, "method": "HMAC-SHA256, 24 hex digits",
                           "attributes_dropped": attributes}
    manifest["attribute_columns"] = []
    if manifest.get("customers_input"):
        manifest["customers_input"] = dict(manifest["customers_input"])
    return manifest
