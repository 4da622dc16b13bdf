"""The analyst's report: one self-contained HTML file, plus short summaries.

Presentation only: everything shown was computed by the analysis and is read
from an :class:`~influence.analysis.Analysis` (in memory or loaded from a
results folder); this package selects, formats and draws, and never computes
a metric. Pictures are inline SVG ``data:`` URIs; the HTML comes from jinja2
templates with autoescaping, so every id, name and attribute from the input is
escaped. Same results -> same bytes (no dates, fixed SVG hash salt, seeded
layouts).

The page opens with what to do: one searchable, sortable list per action
(:mod:`influence.report.lists`), each with a CSV download built in the page.
Tables and the network are interactive offline: DataTables and Cytoscape.js
are inlined from :mod:`influence.report.vendor` (MIT, unmodified, hashes in
``assets.json``); the data travels as JSON in inert
``<script type="application/json">`` elements (:mod:`influence.report.embed`)
and a Content-Security-Policy allows only the page's own scripts, by hash,
and no network access. Static pictures stay for printing and for readers
without JavaScript. Lists, network and tables are capped, so the page's size
does not grow with the number of customers (``docs/report.md``).

Sections that depend on stages other issues add light up when their data is
there: ``propagator_rank`` (ranking of the top propagators), ``cascades``
(an ``Analysis.cascades`` table or ``cascades.csv``/``.parquet`` in the
folder), ``kfactor`` in the manifest and the ``Analysis.kfactor`` table (word
of mouth) and ``manifest["score_check"]`` (section "score-check", see
:func:`_score_check` for its shape).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from markupsafe import Markup

from ..columns import glossary
from ..progress import Advance, no_progress
from . import plots
from .embed import content_security_policy, json_text, json_value
from .lists import LIST_CAP, action_lists
from .network import MAX_LINKS, N_NEIGHBOURS, N_TOP, neighbourhood
from .palette import SegmentStyle, community_color, segment_styles
from .select import first_rows

logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # pragma: no cover
    from ..result import Analysis

__all__ = ["render_report", "write_report", "summary_html", "summary_text", "SECTIONS"]

#: Section ids of report.html, in order ("score-check" only when the manifest has
#: ``score_check``).
SECTIONS = ("actions", "score-check", "summary", "segments", "propagators", "network",
            "communities", "word-of-mouth", "distributions", "method")

#: What a growth team does with each built-in segment (docs/concepts.md).
SEGMENT_ACTIONS = {
    "isolated": "Nothing to act on yet: onboard them.",
    "dormant_advocates": "The wake-up list: they used to move others and went quiet.",
    "champions": "Ambassador programme and rewards: their word travels and they keep acting.",
    "quiet_influencers": "Few actions that travel far: ask them for more.",
    "engaged_members": "Active, but their word travels little: give them reach.",
    "contributors": "Nurture: mid influence, room to grow.",
    "connectors": "Bridges between communities: cross-community launches and partnerships.",
    "local_leaders": "The voice of one community: community-specific content, local events.",
    "rising_stars": "New and already carrying weight: fast-track into the ambassador programme.",
    "newcomers": "First weeks: onboarding and first-share nudges.",
    "passive_audience": "Broadcast audience: reach them through the segments above.",
}

DROP_REASONS = {
    "null_source": "no source id",
    "null_type": "no event type",
    "bad_timestamp": "timestamp missing or unparseable",
    "bad_weight": "weight not a number > 0",
    "bad_converted": "converted not true/false/1/0/yes/no",
    "bad_value": "value not a number >= 0",
    "self_loop": "source and target are the same customer",
    "duplicate": "exact copy of an earlier row",
    "outside_window": "outside the --since/--until window",
}

#: The glossary of scores: one line per column, from :mod:`influence.columns`.
SCORES = glossary()

_TOP_N = 25

#: Parts of the page :func:`render_report` reports as done through ``progress``.
REPORT_STEPS = 6
_CASCADE_COLUMNS = {
    "cascade": ("cascade", "cascade_id", "root", "root_id"),
    "node": ("customer_id", "node", "referred", "child", "target"),
    "parent": ("parent", "referred_by", "referrer", "parent_id", "source"),
}


# ------------------------------------------------------------------ helpers
def _segment_order(customers: pd.DataFrame) -> list[str]:
    from ..segments import SEGMENTS

    present = customers["segment"].dropna().astype("str").unique().tolist()
    return [s for s in SEGMENTS if s in present] + sorted(s for s in present
                                                          if s not in SEGMENTS)


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.{digits}f}"
    return str(value)


def _cell(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, (int, float, np.integer, np.floating, bool, np.bool_)):
        return _number(value)
    return str(value)


def _rows(table: pd.DataFrame) -> list[list[str]]:
    return [[_cell(v) for v in row] for row in table.astype(object).itertuples(index=False)]


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        out = []
        for key in value:
            out += _flatten(f"{prefix}.{key}" if prefix else str(key), value[key])
        return out
    if isinstance(value, list):
        return [(prefix, ", ".join(_cell(v) for v in value))]
    return [(prefix, _cell(value))]


def _rank_column(customers: pd.DataFrame) -> str:
    if "propagator_rank" in customers and customers["propagator_rank"].notna().any():
        return "propagator_rank"
    return "influence_rank"


def _find_cascades(analysis: Analysis, folder: Path | None) -> pd.DataFrame | None:
    table = getattr(analysis, "cascades", None)
    if isinstance(table, pd.DataFrame):
        return table
    if folder is not None:
        for name in ("cascades.csv", "cascades.parquet"):
            path = Path(folder) / name
            if path.is_file():
                if name.endswith(".csv"):
                    return pd.read_csv(path, dtype=str, keep_default_na=False,
                                       na_values=[""])
                return pd.read_parquet(path)
    return None


def _edge_ends(customers: pd.DataFrame, edges: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row of each edge's source and of its target in ``customers`` (int64 arrays).

    Found once for the network picture, the community map and the degree plot:
    Arrow hashes the customer ids once per column, far faster than looking up
    millions of strings in a pandas index.

    Raises
    ------
    ValueError
        If an edge names a customer that ``customers`` does not have.
    """
    ids = pa.array(customers["customer_id"].astype("str"))
    ends = []
    for column in ("source", "target"):
        rows = pc.index_in(pa.array(edges[column].astype("str")), value_set=ids)
        if rows.null_count:
            raise ValueError(f"edges name customers that are not in the customers table "
                             f"(column {column!r}, {rows.null_count} rows)")
        ends.append(rows.to_numpy().astype(np.int64))
    return ends[0], ends[1]


def _edges_near_top(customers: pd.DataFrame, edges: pd.DataFrame,
                    ends: tuple[np.ndarray, np.ndarray], rank: str, n_top: int) -> pd.DataFrame:
    """The edges with both ends among the top ``n_top`` customers by ``rank`` and their
    neighbours, in their original order.

    :func:`plots.network_figure` only looks at edges that touch its top customers and
    at edges between the customers it keeps (top customers and some of their
    neighbours): all of them are here, so it draws the same picture from these few
    edges as from all of them.
    """
    keys = customers[[rank, "customer_id"]].reset_index(drop=True)
    top = first_rows(keys, [rank, "customer_id"], n_top).index.to_numpy()
    source, target = ends
    near = np.zeros(len(customers), dtype=bool)
    near[top] = True
    touching = near[source] | near[target]
    near[source[touching]] = True
    near[target[touching]] = True
    return edges[near[source] & near[target]]


def _pick(columns: list[str], names: tuple[str, ...], taken: set[str]) -> str | None:
    for name in names:
        if name in columns and name not in taken:
            return name
    return None


# ------------------------------------------------------------------ sections
def _summary(analysis: Analysis) -> dict:
    m = analysis.manifest
    dropped = [(reason, count, DROP_REASONS.get(reason, ""))
               for reason, count in m.get("dropped", {}).items() if count]
    info = m.get("input", {}) or {}
    window = m.get("window", {}) or {}
    return {
        "input_path": info.get("path") or "a DataFrame in memory",
        "input_format": info.get("format", ""),
        "sha256": (info.get("sha256") or "")[:16],
        "rows_read": _number(m.get("rows_read")),
        "rows_used": _number(m.get("rows_used")),
        "rows_dropped": _number(sum(m.get("dropped", {}).values())),
        "dropped": [(r, _number(c), why) for r, c, why in dropped],
        "events_by_type": [(k, _number(v)) for k, v in m.get("events_by_type", {}).items()],
        "customers": _number(m.get("customers", len(analysis.customers))),
        "customers_from_table": _number(m.get("customers_from_table", 0)),
        "edges": _number(m.get("edges")),
        "communities": _number((m.get("communities") or {}).get("count",
                                                                 len(analysis.communities))),
        "modularity": _number((m.get("communities") or {}).get("modularity")),
        "period": (f"{(window.get('first_event') or '')[:10]} to "
                   f"{(window.get('end_date') or '')[:10]}"
                   if window.get("first_event") else "no timestamps"),
        "warnings": list(m.get("warnings", [])),
    }


def _active(customers: pd.DataFrame) -> np.ndarray:
    """Customers with at least one event, sent or received (bool per row)."""
    active = np.zeros(len(customers), dtype=bool)
    for column in ("events_sent", "events_received"):
        if column in customers.columns:
            active |= customers[column].fillna(0).to_numpy(dtype=np.float64) > 0
    return active


def _suppressed(analysis: Analysis) -> tuple[list[str], int]:
    """Segments suppressed for their size, and ``[privacy] min_segment_size``.

    From ``segments.csv`` (its ``suppressed`` column) when the analysis has it;
    for older results, every segment with fewer customers than the saved
    ``min_segment_size`` (default 10).
    """
    from ..config import PrivacyConfig

    saved = (analysis.manifest.get("config") or {}).get("privacy") or {}
    min_size = int(saved.get("min_segment_size", PrivacyConfig().min_segment_size))
    segments = analysis.segments
    if segments is not None and "suppressed" in segments.columns:
        hidden = segments.loc[segments["suppressed"].astype(bool), "segment"]
        return sorted(hidden.astype(str)), min_size
    sizes = analysis.customers["segment"].astype("str").value_counts()
    return sorted(s for s, size in sizes.items() if size < min_size), min_size


def _segments(customers: pd.DataFrame, order: list[str], styles: dict[str, SegmentStyle],
              suppressed: Collection[str] = (), min_size: int = 1) -> dict:
    sizes = customers["segment"].astype("str").value_counts().reindex(order).fillna(0)
    sizes = sizes.astype(np.int64)
    total = max(len(customers), 1)
    active = _active(customers)
    active_sizes = (customers["segment"].astype("str")[active].value_counts()
                    .reindex(order).fillna(0).astype(np.int64))
    n_active = int(active.sum())
    rows = []
    shown = [c for c in ("influence_rank", "influence_score", "events_sent", "out_strength",
                         "recency_days", "segment_reason") if c in customers.columns]
    # one group per segment (not groupby().get_group(): pandas 3.1 raises KeyError on a
    # one-row frame, so a single-customer analysis failed here)
    parts = dict(iter(customers[shown].groupby(customers["segment"].astype("str"),
                                               sort=False)))
    for segment in order:
        if segment in suppressed:
            # size and share only: any figure of a handful of customers is theirs
            rows.append({"name": segment, "count": _number(int(sizes[segment])),
                         "share": f"{100 * sizes[segment] / total:.1f}%", "score": "",
                         "sent": "", "out_strength": "", "recency": "", "active_share": "",
                         "color": styles[segment].color, "pattern": styles[segment].pattern,
                         "action": SEGMENT_ACTIONS.get(segment, "Custom segment: see its "
                                                                "rule in the config."),
                         "example": f"suppressed: fewer than {min_size} customers"})
            continue
        part = parts[segment]
        first = first_rows(part, ["influence_rank"], 1).iloc[0]
        rows.append({
            "name": segment,
            "count": _number(int(sizes[segment])),
            "share": f"{100 * sizes[segment] / total:.1f}%",
            "active_share": (f"{100 * active_sizes[segment] / n_active:.1f}%"
                             if n_active and active_sizes[segment] else "–"),
            "color": styles[segment].color, "pattern": styles[segment].pattern,
            "score": _number(float(part["influence_score"].mean())),
            "sent": _number(float(part["events_sent"].median()), 1),
            "out_strength": _number(float(part["out_strength"].median()), 1),
            "recency": (_number(float(part["recency_days"].median()), 0)
                        if "recency_days" in part and part["recency_days"].notna().any()
                        else ""),
            "action": SEGMENT_ACTIONS.get(segment, "Custom segment: see its rule in the "
                                                   "config."),
            "example": _cell(first.get("segment_reason")),
        })
    return {"rows": rows, "has_recency": "recency_days" in customers,
            "active": _number(n_active), "has_activity": "events_sent" in customers,
            "figure": plots.segment_sizes_figure(sizes, styles),
            "suppressed": list(suppressed), "min_size": min_size}


def _propagators(customers: pd.DataFrame) -> dict:
    rank = _rank_column(customers)
    table = first_rows(customers, [rank, "customer_id"], _TOP_N)
    columns = [c for c in (rank, "customer_id", "segment", "influence_score",
                           "expected_spread", "out_strength", "community")
               if c in table.columns]
    if rank != "influence_rank":
        columns.insert(1, "influence_rank")
    return {"rank": rank, "columns": columns + ["segment_reason"],
            "rows": _rows(table[columns + ["segment_reason"]])}


def _network(analysis: Analysis, rank: str, seed: int,
             ends: tuple[np.ndarray, np.ndarray] | None, styles: dict[str, SegmentStyle],
             suppressed: set[str]) -> dict:
    if ends is None:  # no edges
        return {"figure": None, "data": None}
    edges = _edges_near_top(analysis.customers, analysis.edges, ends, rank, N_TOP)
    hood = neighbourhood(analysis.customers, edges, rank, seed=seed)
    figure, info = plots.network_figure(hood, {s: st for s, st in styles.items()
                                               if s not in suppressed})
    nodes = hood.nodes
    index = {c: i for i, c in enumerate(nodes["customer_id"])}
    segment = nodes["segment"].astype("str")
    data = {
        "nodes": [{"id": c, "label": c if len(c) <= 24 else c[:23] + "…",
                   "x": round(float(x), 4), "y": round(float(y), 4), "top": bool(top),
                   "order": json_value(order),
                   "rank": json_value(r), "score": json_value(sc, 4),
                   "segment": "suppressed" if sg in suppressed else sg,
                   "community": json_value(cm),
                   "community_color": community_color(int(cm)) if pd.notna(cm) else "#BBBBBB"}
                  for c, x, y, top, order, r, sc, sg, cm in zip(
                      nodes["customer_id"], nodes["x"], nodes["y"], nodes["top"],
                      nodes["top_order"],
                      nodes["influence_rank"], nodes["influence_score"], segment,
                      nodes["community"])],
        "links": [[index[a], index[b], json_value(w, 4)]
                  for a, b, w in zip(hood.links["a"], hood.links["b"], hood.links["weight"])],
        "segments": {s: {"color": st.color, "pattern": st.pattern}
                     for s, st in styles.items() if s not in suppressed},
    }
    shown = [s for s in styles if s in set(segment) and s not in suppressed]
    communities = sorted({int(c) for c in nodes["community"].dropna()})
    return {"figure": figure, **info, "data": json_text(data),
            "legend_segments": [(s, styles[s].color) for s in shown],
            "legend_suppressed": bool(set(segment) & suppressed),
            "legend_communities": [(c, community_color(c)) for c in communities if c < 8],
            "legend_other_communities": any(c >= 8 for c in communities),
            "neighbours": N_NEIGHBOURS, "max_links": MAX_LINKS}


def _communities(analysis: Analysis, seed: int,
                 ends: tuple[np.ndarray, np.ndarray] | None) -> dict:
    from ..communities import community_link_weights

    communities = analysis.communities.sort_values("community", kind="mergesort")
    columns = [c for c in ("community", "size", "internal_weight", "external_weight",
                           "density", "leader", "top_members") if c in communities.columns]
    shown = communities.head(15)
    rows = _rows(shown[columns])
    for row in rows:  # top members: "a;b;c" -> "a, b, c"
        if "top_members" in columns:
            i = columns.index("top_members")
            row[i] = row[i].replace(";", ", ")
    figure = None
    if ends is not None and (communities["size"] > 1).sum() > 1:
        # community_links(edges, customers), from the edge ends found once
        community = analysis.customers["community"].to_numpy(dtype=np.int64)
        assert analysis.edges is not None  # ends are found in the edges
        links = community_link_weights(community[ends[0]], community[ends[1]],
                                       analysis.edges["weight"].to_numpy(dtype=np.float64))
        figure = plots.community_map_figure(links, communities)
    singletons = int((communities["size"] == 1).sum())
    return {"columns": columns, "rows": rows, "figure": figure, "total": len(communities),
            "has_edges": analysis.edges is not None,
            "more": max(len(communities) - len(shown), 0), "singletons": singletons}


def _cascade_trees(cascades: pd.DataFrame, customers: pd.DataFrame, count: int = 3,
                   limit: int = 80) -> list[dict]:
    """The ``count`` largest cascades as trees, each cut to its first ``limit``
    customers in breadth-first order (by id within a level), from ``referred_by``."""
    referred = customers.loc[customers["referred_by"].notna(), ["customer_id", "referred_by"]]
    children: dict[str, list[str]] = {}
    for child, par in zip(referred["customer_id"].astype(str).tolist(),
                          referred["referred_by"].astype(str).tolist()):
        children.setdefault(par, []).append(child)
    for kids in children.values():
        kids.sort()
    largest = first_rows(cascades, ["size", "root"], count, ascending=[False, True])
    trees = []
    for root, size in zip(largest["root"].astype(str), largest["size"]):
        parent: dict[str, str | None] = {root: None}
        frontier = [root]
        while frontier and len(parent) < limit:
            following = []
            for node in frontier:
                for kid in children.get(node, []):
                    if kid not in parent and len(parent) < limit:
                        parent[kid] = node
                        following.append(kid)
            frontier = following
        shown = "" if len(parent) >= int(size) else f" (first {len(parent)} shown)"
        trees.append({"title": f"cascade of {root}: {int(size):,} customers{shown}",
                      "figure": plots.cascade_tree_figure(parent, root)})
    return trees


#: The K-factor glossary shown under the chart (kfactor.csv's columns).
KFACTOR_TERMS = (
    ("referrers", "Customers who sent at least one referral."),
    ("invites per referrer", "Referral events sent, per referrer."),
    ("conversion rate", "Share of referral events that converted (needs a converted "
     "column in the events)."),
    ("K-factor", "Invites per referrer times conversion rate: new customers each referrer "
     "brings. Above 1 (dashed line) every referrer brings more than one, and word of mouth "
     "grows by itself."),
    ("cycle time", "Median days from the referral that brought a customer in to their own "
     "first referral."),
    ("cohort month", "The month of a customer's first event."),
)


def _kfactor_chart(analysis: Analysis, styles: dict[str, SegmentStyle],
                   suppressed: set[str]) -> dict | None:
    table = getattr(analysis, "kfactor", None)
    if not isinstance(table, pd.DataFrame) or not len(table) or "referrers" not in table:
        return None
    figure, metric = plots.kfactor_figure(
        table, {s: st for s, st in styles.items() if s not in suppressed})
    if figure is None:
        return None
    return {"figure": figure, "metric": metric, "terms": KFACTOR_TERMS}


def _word_of_mouth(analysis: Analysis, folder: Path | None,
                   styles: dict[str, SegmentStyle], suppressed: set[str]) -> dict:
    m = analysis.manifest
    kfactor = m.get("kfactor", m.get("k_factor"))
    customers = analysis.customers
    out: dict[str, Any] = {"kfactor": None, "kfactor_rows": [], "trees": [], "table": None,
                           "referrers": None,
                           "chart": _kfactor_chart(analysis, styles, suppressed)}
    if isinstance(kfactor, dict) and kfactor.get("referrers", 1) == 0:
        kfactor = None  # computed, but nobody referred anyone
    if isinstance(kfactor, dict):
        out["kfactor_rows"] = _flatten("", kfactor)
    elif kfactor is not None:
        out["kfactor"] = _cell(kfactor)
    cascades = _find_cascades(analysis, folder)
    if cascades is not None and len(cascades):
        columns = list(cascades.columns)
        taken: set[str] = set()
        found: dict[str, str | None] = {}
        for role in ("cascade", "parent", "node"):
            picked = found[role] = _pick(columns, _CASCADE_COLUMNS[role], taken)
            if picked:
                taken.add(picked)
        if "root" in columns and "referred_by" in customers.columns:
            # cascades.csv has one row per cascade; the tree comes from referred_by
            out["trees"] = _cascade_trees(cascades, customers)
        elif all(found.values()):
            tables = cascades.astype({found["cascade"]: "str", found["node"]: "str"})
            sizes = tables.groupby(found["cascade"], sort=True).size()
            largest = sizes.sort_values(ascending=False, kind="mergesort").head(3)
            for cascade_id, size in largest.items():
                part = tables[tables[found["cascade"]] == cascade_id]
                parent = {str(n): (None if pd.isna(p) or p == "" else str(p))
                          for n, p in zip(part[found["node"]], part[found["parent"]])}
                roots = sorted(n for n, p in parent.items() if p is None or p not in parent)
                root = str(cascade_id) if str(cascade_id) in parent else (
                    roots[0] if roots else next(iter(parent)))
                depth_note = f"cascade {cascade_id}: {int(size):,} customers"
                out["trees"].append({"title": depth_note,
                                     "figure": plots.cascade_tree_figure(parent, root)})
        else:
            size_col = next((c for c in ("size", "cascade_size", "downstream")
                             if c in columns), None)
            shown = cascades
            if size_col is not None:
                shown = cascades.sort_values(size_col, ascending=False, kind="mergesort")
            out["table"] = {"columns": columns, "rows": _rows(shown.head(10))}
    referral_columns = [c for c in ("referrals_sent", "referrals_converted",
                                    "referral_downstream", "referral_depth")
                        if c in customers.columns]
    if referral_columns and customers[referral_columns[0]].fillna(0).astype(float).sum() > 0:
        by = "referral_downstream" if "referral_downstream" in referral_columns \
            else referral_columns[0]
        table = first_rows(customers, [by, "customer_id"], 10, ascending=[False, True])
        columns = ["customer_id", "segment"] + referral_columns
        out["referrers"] = {"columns": columns, "rows": _rows(table[columns])}
    out["any"] = bool(out["kfactor"] is not None or out["kfactor_rows"] or out["trees"]
                      or out["table"] or out["referrers"] or out["chart"])
    return out


def _distributions(analysis: Analysis, styles: dict[str, SegmentStyle],
                   ends: tuple[np.ndarray, np.ndarray] | None,
                   suppressed: Collection[str] = ()) -> dict:
    customers = analysis.customers
    if ends is not None:
        out_degree = np.bincount(ends[0], minlength=len(customers))
        in_degree = np.bincount(ends[1], minlength=len(customers))
        degrees = {"out-degree (customers influenced)": out_degree,
                   "in-degree (influenced by)": in_degree}
    else:
        degrees = {"distinct contacts": customers["distinct_contacts"].to_numpy()}
    # the points of a suppressed segment, in its own colour, would be its members' figures
    hidden = customers["segment"].astype("str").isin(list(suppressed)).to_numpy()
    scatter, drawn = plots.influence_activity_figure(customers[~hidden], styles)
    left_out = int(hidden.sum())
    return {"degree": plots.degree_figure(degrees), "scatter": scatter, "drawn": drawn,
            "total": len(customers) - left_out, "left_out": left_out}


def _score_check(manifest: dict) -> dict | None:
    """The "does the score work on your data" section, from ``manifest["score_check"]``.

    The shape, filled by the analysis' inner backtest (issue 16)::

        manifest["score_check"] = {
            "horizon": "28 days",          # str or number of days: the judged period
            "k": [100, 1000],              # the cut-offs, in order
            "rows": [                      # one per score, the product's first
                {"score": "influence_score",
                 "precision_at_k": {"100": 0.44, "1000": 0.31},
                 "captured": {"100": 0.18, "1000": 0.52}},
                {"score": "out_degree", ...},
                {"score": "best possible", ..., "reference": true},
            ],
            "split": "2026-03-01",         # optional: scored on events before it
            "judged": 5321,                # optional: customers judged
        }

    ``precision_at_k`` is the share of the top k by the score that are among
    the top k by later influence; ``captured`` the share of all later
    influence that the top k carry (``docs/backtest.md``). Keys of the two
    dicts are the k values as text (JSON object keys); a missing one shows
    empty. A row with ``"reference": true`` (the oracle: the best any list could
    do) is shown last, in italics, and never marked best. Returns ``None`` (no
    section) when the key is absent or malformed.
    """
    check = manifest.get("score_check")
    if not isinstance(check, dict) or not isinstance(check.get("rows"), list):
        return None
    ks = [str(k) for k in check.get("k") or []]
    if not ks:
        return None
    horizon = check.get("horizon")
    if isinstance(horizon, (int, float)) and not isinstance(horizon, bool):
        horizon = f"{_number(horizon, 0)} days"
    rows: list[dict[str, Any]] = []
    for row in check["rows"]:
        if not isinstance(row, dict):
            continue
        values = []
        for measure in ("precision_at_k", "captured"):
            measured = row.get(measure)
            found = measured if isinstance(measured, dict) else {}
            values += [found.get(k) if isinstance(found.get(k), (int, float)) else None
                       for k in ks]
        rows.append({"score": _cell(row.get("score")), "values": values,
                     "reference": row.get("reference") is True})
    if not rows:
        return None
    rows.sort(key=lambda r: r["reference"])  # stable: references last
    best = []
    for i in range(2 * len(ks)):
        present = [r["values"][i] for r in rows
                   if r["values"][i] is not None and not r["reference"]]
        best.append(max(present) if present else None)
    for row in rows:
        row["cells"] = [(_number(v, 3) if v is not None else "",
                         v is not None and not row["reference"] and v == best[i])
                        for i, v in enumerate(row["values"])]
    return {"horizon": _cell(horizon) if horizon is not None else "",
            "split": _cell(check.get("split"))[:10] if check.get("split") else "",
            "judged": _number(check.get("judged")) if check.get("judged") is not None else "",
            "k": ks, "rows": rows}


def _method(analysis: Analysis) -> dict:
    m = analysis.manifest
    present = set(analysis.customers.columns)
    return {
        "scores": [(name, text) for name, text in SCORES if name in present],
        "config": [(k, v if v != "" else "not set") for k, v in _flatten("", m.get("config",
                                                                                    {}))],
        "seed": _cell(m.get("seed")),
        "pagerank": _flatten("", m.get("pagerank", {})),
        "communities": _flatten("", {k: v for k, v in (m.get("communities") or {}).items()
                                     if k not in ("count", "modularity")}),
        "versions": _flatten("", m.get("versions", {})),
    }


# ------------------------------------------------------------------ entry points
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("influence.report", "templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _scripts(network: bool) -> list[str]:
    """The page's inline scripts, in order: vendored libraries, then its own code."""
    from importlib import resources

    from .vendor import asset

    own = resources.files(__name__).joinpath("static/report.js").read_text(encoding="utf-8")
    return [asset("dataTables.min.js")] + ([asset("cytoscape.min.js")] if network else []) \
        + [own]


def _vendored() -> list[dict]:
    from .vendor import manifest

    return [{"package": a["package"], "version": a["version"], "license": a["license"]}
            for a in manifest()["assets"]]


def _links(analysis: Analysis, folder: Path | None) -> dict[str, str | None]:
    """Links to the full results files, by table name, relative to the results folder."""
    links: dict[str, str | None] = {"customers": None, "edges": None, "kfactor": None}
    if folder is None:
        return links
    fmt = (analysis.manifest.get("outputs") or {}).get("format", "csv")
    for name in links:
        if (Path(folder) / f"{name}.{fmt}").is_file():
            links[name] = quote(f"{name}.{fmt}")
    return links


def _render(analysis: Analysis, folder: Path | None, progress: Advance = no_progress) -> str:
    from .. import __version__
    from .vendor import asset

    customers = analysis.customers
    seed = int(analysis.manifest.get("seed") or 0)
    order = _segment_order(customers)
    styles = segment_styles(order)
    hidden, min_size = _suppressed(analysis)
    suppressed = set(hidden)
    propagators = _propagators(customers)
    ends = _edge_ends(customers, analysis.edges) if analysis.edges is not None else None
    lists = action_lists(customers, suppressed)
    for entry in lists:
        entry["json"] = json_text(entry["data"]) if entry["data"] is not None else None
        entry["total_text"], entry["shown_text"] = _number(entry["total"]), _number(entry["shown"])
    progress(1, REPORT_STEPS)
    network = _network(analysis, propagators["rank"], seed, ends, styles, suppressed)
    progress(2, REPORT_STEPS)
    scripts = _scripts(network["data"] is not None)
    segments = _segments(customers, order, styles, hidden, min_size)
    communities = _communities(analysis, seed, ends)
    progress(3, REPORT_STEPS)
    wom = _word_of_mouth(analysis, folder, styles, suppressed)
    progress(4, REPORT_STEPS)
    distributions = _distributions(analysis, styles, ends, hidden)
    progress(5, REPORT_STEPS)
    context = {
        "version": analysis.manifest.get("influence_version", __version__),
        "csp": content_security_policy(scripts),
        "styles_vendored": Markup(asset("dataTables.dataTables.min.css")),
        "scripts": [Markup(script) for script in scripts],
        "vendored": _vendored(),
        "links": _links(analysis, folder),
        "lists": lists,
        "list_cap": _number(LIST_CAP),
        "score_check": _score_check(analysis.manifest),
        "summary": _summary(analysis),
        "segments": segments,
        "propagators": propagators,
        "network": network,
        "communities": communities,
        "wom": wom,
        "distributions": distributions,
        "method": _method(analysis),
        "sections": SECTIONS,
    }
    html = _environment().get_template("report.html").render(**context)
    progress(REPORT_STEPS, REPORT_STEPS)
    return html


def render_report(analysis: Analysis, *, folder: str | Path | None = None,
                  progress: Advance = no_progress) -> str:
    """The report as HTML text.

    Parameters
    ----------
    analysis : Analysis
        Computed (:func:`influence.analyze`) or loaded (:meth:`Analysis.load`).
        The network, community map and degree plot need ``analysis.edges``;
        without them those parts say so.
    folder : path, optional
        Results folder, searched for ``cascades.csv``/``.parquet``; the page
        links the full results files in it by name, as from a report inside
        that folder (so a report copied elsewhere keeps the same bytes).
    progress : callable, optional
        ``progress(done, total)`` after each of the :data:`REPORT_STEPS` parts
        (lists, network, segments and communities, word of mouth, distributions,
        the page) is built (:meth:`influence.progress.StageClock.steps`).

    Returns
    -------
    str
        One self-contained HTML document: its scripts, styles and pictures are
        inline and it loads nothing; byte-identical for the same results.
    """
    with plots.collect_missing_glyphs() as missing:
        html = _render(analysis, Path(folder) if folder is not None else None, progress)
    if missing:
        shown = ", ".join(sorted(missing)[:3]) + (", ..." if len(missing) > 3 else "")
        logger.warning("the report's pictures draw %d characters of customer ids as empty "
                       "boxes: their font (DejaVu Sans) lacks them (%s); the report's tables "
                       "show every id in full", len(missing), shown)
    return html


def write_report(analysis: Analysis, path: str | Path, *,
                 folder: str | Path | None = None, progress: Advance = no_progress) -> Path:
    """Write :func:`render_report` to ``path`` (UTF-8). Returns the path.

    The same bytes wherever it is written: links to the results files are
    relative to ``folder`` (the report's usual place, where ``analyze`` puts it).
    """
    path = Path(path)
    path.write_text(render_report(analysis, folder=folder, progress=progress),
                    encoding="utf-8", newline="\n")
    return path


def _top(analysis: Analysis, n: int = 5) -> pd.DataFrame:
    return first_rows(analysis.customers, ["influence_rank", "customer_id"], n)


def summary_html(analysis: Analysis) -> str:
    """Compact HTML summary (Jupyter's ``_repr_html_``); every value escaped."""
    customers = analysis.customers
    order = _segment_order(customers)
    sizes = customers["segment"].astype("str").value_counts()
    top = _top(analysis)
    context = {
        "summary": _summary(analysis),
        "segments": [(s, _number(int(sizes[s]))) for s in order],
        "top": _rows(top[["influence_rank", "customer_id", "segment", "influence_score"]]),
    }
    return _environment().get_template("summary.html").render(**context)


def summary_text(analysis: Analysis) -> str:
    """A few plain-text lines for a terminal (``str(analysis)``)."""
    s = _summary(analysis)
    customers = analysis.customers
    order = _segment_order(customers)
    sizes = customers["segment"].astype("str").value_counts()
    lines = [
        f"Influence analysis: {s['customers']} customers, {s['edges']} edges, "
        f"{s['communities']} communities (modularity {s['modularity']})",
        f"  rows      {s['rows_used']} used of {s['rows_read']} read, {s['rows_dropped']} "
        "dropped" + (" (" + ", ".join(f"{r} {c}" for r, c, _ in s["dropped"]) + ")"
                     if s["dropped"] else ""),
        f"  period    {s['period']}",
        "  segments  " + ", ".join(f"{name} {int(sizes[name]):,}" for name in order),
        "  top       " + ", ".join(
            f"{int(r)}. {c}" for r, c in zip(_top(analysis)["influence_rank"],
                                             _top(analysis)["customer_id"])),
    ]
    lines += [f"  warning   {w}" for w in s["warnings"]]
    return "\n".join(lines)
