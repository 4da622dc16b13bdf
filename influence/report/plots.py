"""The report's pictures: matplotlib figures as self-contained ``data:`` URIs.

Presentation only: every number drawn here was computed by the analysis; this
module only selects, lays out and draws. Figures are built with
:class:`matplotlib.figure.Figure` (no pyplot, no global backend switch) and
saved as SVG with text as paths, a fixed ``svg.hashsalt`` and no date, so the
same results always give the same bytes and the picture needs no font.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from .select import first_rows

__all__ = ["community_color", "segment_color", "segment_sizes_figure", "network_figure",
           "community_map_figure", "degree_figure", "influence_activity_figure",
           "cascade_tree_figure"]

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#17becf", "#bcbd22", "#7f7f7f")
_OTHER = "#c7c7c7"
_SEGMENT_COLORS = {
    "champions": "#d62728", "quiet_influencers": "#9467bd", "dormant_advocates": "#ff7f0e",
    "engaged_members": "#2ca02c", "contributors": "#1f77b4", "passive_audience": "#bcbd22",
    "isolated": "#7f7f7f",
}
_RC = {"svg.hashsalt": "influence-report", "svg.fonttype": "path", "font.size": 9,
       "axes.spines.top": False, "axes.spines.right": False}


def community_color(community: int) -> str:
    """The ten largest communities (numbered 0-9) get a colour each; others grey."""
    return _PALETTE[community] if 0 <= community < len(_PALETTE) else _OTHER


def _picture_palette(community: np.ndarray) -> dict[int, str]:
    """Colours for the communities in one picture: the ten largest overall keep their
    colour (as in the community map); the others most present in the picture get the
    colours left, in order of how many customers they have there; the rest stay grey."""
    values, counts = np.unique(np.asarray(community, dtype=np.int64), return_counts=True)
    order = values[np.lexsort((values, -counts))]
    palette = {int(c): _PALETTE[c] for c in order if 0 <= c < len(_PALETTE)}
    free = [color for i, color in enumerate(_PALETTE) if i not in palette]
    for c in order:
        if int(c) not in palette and free:
            palette[int(c)] = free.pop(0)
    return palette


def segment_color(segment: str, order: list[str]) -> str:
    if segment in _SEGMENT_COLORS:
        return _SEGMENT_COLORS[segment]
    extra = [s for s in order if s not in _SEGMENT_COLORS]
    return _PALETTE[extra.index(segment) % len(_PALETTE)] if segment in extra else _OTHER


def label(text: object, width: int = 18) -> str:
    """A customer id as literal matplotlib text: ``$`` escaped (no mathtext), shortened."""
    text = str(text)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("\\", "\\\\").replace("$", r"\$")


def _figure(width: float, height: float) -> Figure:
    with rc_context(_RC):
        return Figure(figsize=(width, height), dpi=100, layout="constrained")


def to_data_uri(fig: Figure) -> str:
    """SVG bytes of ``fig`` as a base64 ``data:`` URI (deterministic)."""
    buffer = io.BytesIO()
    with rc_context(_RC):
        fig.savefig(buffer, format="svg", metadata={"Date": None}, dpi=150)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def segment_sizes_figure(sizes: pd.Series, order: list[str]) -> str:
    """Horizontal bars: customers per segment, in rule order."""
    with rc_context(_RC):
        fig = _figure(6.5, 0.35 * len(sizes) + 0.8)
        ax = fig.add_subplot()
        names = list(sizes.index)[::-1]
        values = sizes.to_numpy()[::-1]
        ax.barh(range(len(names)), values,
                color=[segment_color(s, order) for s in names])
        ax.set_yticks(range(len(names)), [label(s, 24) for s in names])
        total = max(values.sum(), 1)
        for i, v in enumerate(values):
            ax.text(v, i, f"  {v:,} ({100 * v / total:.1f}%)", va="center", fontsize=8)
        ax.set_xlim(0, max(values.max(), 1) * 1.3)
        ax.set_xlabel("customers")
        return to_data_uri(fig)


def network_figure(customers: pd.DataFrame, edges: pd.DataFrame, rank_column: str, *,
                   seed: int = 0, n_top: int = 30, n_neighbours: int = 3,
                   n_labels: int = 12, max_edges: int = 250) -> tuple[str, dict]:
    """The top propagators and their strongest neighbours, coloured by community.

    Keeps the ``n_top`` customers by ``rank_column`` and, for each, the
    ``n_neighbours`` neighbours with the heaviest edge (either direction; ties
    by id); draws the ``max_edges`` heaviest edges among them with a seeded
    spring layout. Returns the picture and what it shows (counts for the caption).
    """
    import networkx as nx

    ranked = first_rows(customers, [rank_column, "customer_id"], n_top)
    top_ids = ranked["customer_id"].astype("str").tolist()
    top_set = set(top_ids)
    source = edges["source"].astype("str")
    target = edges["target"].astype("str")
    touching = edges[source.isin(top_set) | target.isin(top_set)]
    pairs = pd.concat([
        pd.DataFrame({"node": touching["source"].astype("str"),
                      "other": touching["target"].astype("str"),
                      "weight": touching["weight"]}),
        pd.DataFrame({"node": touching["target"].astype("str"),
                      "other": touching["source"].astype("str"),
                      "weight": touching["weight"]}),
    ], ignore_index=True)
    pairs = pairs[pairs["node"].isin(top_set)]
    pairs = pairs.groupby(["node", "other"], sort=True)["weight"].sum().reset_index()
    pairs = pairs.sort_values(["node", "weight", "other"], ascending=[True, False, True],
                              kind="mergesort")
    strongest = pairs.groupby("node", sort=True).head(n_neighbours)
    nodes = sorted(top_set | set(strongest["other"]))
    node_set = set(nodes)
    inside = edges[source.isin(node_set) & target.isin(node_set)]
    low = np.minimum(inside["source"].astype("str"), inside["target"].astype("str"))
    high = np.maximum(inside["source"].astype("str"), inside["target"].astype("str"))
    undirected = (pd.DataFrame({"a": low, "b": high, "weight": inside["weight"].to_numpy()})
                  .groupby(["a", "b"], sort=True)["weight"].sum().reset_index())
    undirected = undirected.sort_values(["weight", "a", "b"], ascending=[False, True, True],
                                        kind="mergesort").head(max_edges)
    undirected = undirected.sort_values(["a", "b"], kind="mergesort")

    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(zip(undirected["a"], undirected["b"]))
    layout = nx.spring_layout(graph, seed=seed, k=2.5 / math.sqrt(max(len(nodes), 1)),
                              iterations=200) if nodes else {}

    ids = customers["customer_id"].astype("str")
    kept = ids.isin(node_set)
    info = customers[kept].set_index(ids[kept])
    with rc_context(_RC):
        fig = _figure(10.0, 7.5)
        ax = fig.add_subplot()
        ax.set_axis_off()
        if not nodes:
            ax.text(0.5, 0.5, "no edges to draw", ha="center", transform=ax.transAxes)
            return to_data_uri(fig), {"nodes": 0, "edges": 0, "communities": []}
        w = undirected["weight"].to_numpy(dtype=float)
        widths = 0.4 + 2.6 * np.log1p(w) / max(np.log1p(w).max(), 1e-9) if len(w) else []
        segments = [(layout[a], layout[b]) for a, b in zip(undirected["a"], undirected["b"])]
        ax.add_collection(LineCollection(segments, colors="#9aa0a6", linewidths=widths,
                                         alpha=0.55, zorder=1, capstyle="round"))
        community = info.loc[nodes, "community"].to_numpy(dtype=np.int64)
        score = info.loc[nodes, "influence_score"].to_numpy(dtype=float)
        is_top = np.array([n in top_set for n in nodes])
        xy = np.array([layout[n] for n in nodes])
        sizes = 25 + 260 * np.nan_to_num(score) ** 3
        palette = _picture_palette(community)
        colors = [palette.get(int(c), _OTHER) for c in community]
        ax.scatter(xy[~is_top, 0], xy[~is_top, 1], s=sizes[~is_top],
                   c=[c for c, t in zip(colors, is_top) if not t], edgecolors="white",
                   linewidths=0.6, zorder=2)
        ax.scatter(xy[is_top, 0], xy[is_top, 1], s=sizes[is_top],
                   c=[c for c, t in zip(colors, is_top) if t], edgecolors="#202124",
                   linewidths=1.2, zorder=3)
        for node in top_ids[:n_labels]:
            x, y = layout[node]
            ax.annotate(label(node), (x, y), xytext=(6, 6), textcoords="offset points",
                        fontsize=8, zorder=4,
                        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                              "alpha": 0.85})
        shown = sorted(set(int(c) for c in community))
        handles = []
        from matplotlib.lines import Line2D

        for c in [c for c in shown if c in palette]:
            handles.append(Line2D([], [], marker="o", linestyle="", color=palette[c],
                                  label=f"community {c}"))
        if any(c not in palette for c in shown):
            handles.append(Line2D([], [], marker="o", linestyle="", color=_OTHER,
                                  label="smaller communities"))
        handles.append(Line2D([], [], marker="o", linestyle="", color="white",
                              markeredgecolor="#202124", label=f"top {len(top_ids)} (ringed)"))
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6),
                   frameon=False, fontsize=8)
        ax.margins(0.04)
        return to_data_uri(fig), {"nodes": len(nodes), "edges": len(undirected),
                                  "top": len(top_ids), "labels": min(n_labels, len(top_ids))}


def community_map_figure(links: pd.DataFrame, communities: pd.DataFrame, *,
                         n_communities: int = 12) -> str:
    """The largest communities on a circle (area = size), lines = weight between them.

    Communities sit clockwise from the top in order of size (community 0 first), so
    the picture needs no random layout and never overlaps.
    """
    shown = communities[communities["size"] > 1].sort_values("community").head(n_communities)
    keep = shown["community"].astype(int).tolist()
    links = links[links["community_a"].isin(keep) & links["community_b"].isin(keep)]
    angle = np.pi / 2 - 2 * np.pi * np.arange(len(keep)) / max(len(keep), 1)
    layout = {c: (math.cos(a), math.sin(a)) for c, a in zip(keep, angle)}
    with rc_context(_RC):
        fig = _figure(7.0, 6.2)
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.set_aspect("equal")
        if len(links):
            w = links["weight"].to_numpy(dtype=float)
            widths = 0.4 + 11.6 * w / w.max()
            for a, b, width in zip(links["community_a"], links["community_b"], widths):
                (xa, ya), (xb, yb) = layout[int(a)], layout[int(b)]
                ax.plot([xa, xb], [ya, yb], color="#5f6368", linewidth=width, alpha=0.4,
                        zorder=1, solid_capstyle="round")
        size = shown["size"].to_numpy(dtype=float)
        area = 150 + 1800 * size / max(size.max(), 1)
        xy = np.array([layout[c] for c in keep])
        ax.scatter(xy[:, 0], xy[:, 1], s=area, c=[community_color(c) for c in keep],
                   edgecolors="white", linewidths=1.5, zorder=2)
        for (x, y), c, n, leader, a in zip(xy, keep, shown["size"], shown["leader"], area):
            ax.annotate(f"{c}", (x, y), ha="center", va="center", fontsize=8, zorder=3,
                        color="white", fontweight="bold")
            away = math.sqrt(a / math.pi) + 16  # circle radius in points, plus a gap
            ax.annotate(f"{int(n):,} customer{'s' if n != 1 else ''}\n"
                        f"leader {label(leader, 14)}", (x, y),
                        xytext=(x * away, y * away), textcoords="offset points",
                        ha="left" if x > 0.3 else "right" if x < -0.3 else "center",
                        va="center", fontsize=7.5, zorder=3, color="#202124")
        ax.set_xlim(-1.7, 1.7)
        ax.set_ylim(-1.5, 1.5)
        return to_data_uri(fig)


def degree_figure(degrees: dict[str, np.ndarray]) -> str:
    """Share of customers with each degree, log-log (customers with degree 0 left out)."""
    with rc_context(_RC):
        fig = _figure(6.0, 4.2)
        ax = fig.add_subplot()
        markers = {0: "o", 1: "s", 2: "^"}
        for i, (name, degree) in enumerate(degrees.items()):
            degree = np.asarray(degree, dtype=np.int64)
            degree = degree[degree > 0]
            if not len(degree):
                continue
            values, counts = np.unique(degree, return_counts=True)
            ax.scatter(values, counts / counts.sum(), s=12, alpha=0.75, label=name,
                       marker=markers.get(i, "o"))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("degree (distinct customers)")
        ax.set_ylabel("share of customers")
        ax.legend(frameon=False)
        return to_data_uri(fig)


def influence_activity_figure(customers: pd.DataFrame, order: list[str], *,
                              max_points: int = 20000) -> tuple[str, int]:
    """``influence_score`` against ``events_sent`` (symlog), one colour per segment.

    With more than ``max_points`` customers, every k-th customer in rank order is
    drawn (the top 1,000 always). Returns the picture and the number drawn.
    """
    table = customers
    if len(table) > max_points:
        step = int(math.ceil(len(table) / max_points))
        keep = np.zeros(len(table), dtype=bool)
        keep[::step] = True
        keep[:1000] = True
        table = table[keep]
    with rc_context(_RC):
        fig = _figure(7.0, 4.6)
        ax = fig.add_subplot()
        for segment in order:
            part = table[table["segment"] == segment]
            if not len(part):
                continue
            ax.scatter(part["events_sent"].to_numpy(dtype=float),
                       part["influence_score"].to_numpy(dtype=float), s=9, alpha=0.6,
                       color=segment_color(segment, order), label=label(segment, 24),
                       linewidths=0, rasterized=True)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("events sent (activity)")
        ax.set_ylabel("influence score")
        ax.set_ylim(-0.03, 1.03)
        if ax.collections:  # every segment may be suppressed for its size
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8,
                      markerscale=1.8)
        return to_data_uri(fig), len(table)


def cascade_tree_figure(parent: dict[str, str | None], root: str) -> str:
    """One referral cascade as a tree: root on top, each referral one level down."""
    children: dict[str, list[str]] = {}
    for child, par in parent.items():
        if par is not None and child != root:
            children.setdefault(par, []).append(child)
    for kids in children.values():
        kids.sort()
    # leaves left to right in depth-first order; a parent sits above its children's middle
    x: dict[str, float] = {}
    depth = {root: 0}
    order: list[str] = []
    stack = [root]
    seen = {root}
    while stack:
        node = stack.pop()
        order.append(node)
        for kid in reversed(children.get(node, [])):
            if kid not in seen:
                seen.add(kid)
                depth[kid] = depth[node] + 1
                stack.append(kid)
    tree = {node: [k for k in children.get(node, []) if depth.get(k) == depth[node] + 1]
            for node in order}
    next_leaf = 0
    for node in order:  # leaves, in depth-first order
        if not tree[node]:
            x[node] = next_leaf
            next_leaf += 1
    for node in reversed(order):  # every parent after its descendants
        kids = tree[node]
        if kids:
            x[node] = (min(x[k] for k in kids) + max(x[k] for k in kids)) / 2
    width = max(next_leaf, 1)
    max_depth = max(depth.values())
    with rc_context(_RC):
        fig = _figure(min(3.0 + 0.18 * width, 9.5), 1.2 + 0.55 * (max_depth + 1))
        ax = fig.add_subplot()
        ax.set_axis_off()
        for node in order:
            for kid in tree[node]:
                ax.plot([x[node], x[kid]], [-depth[node], -depth[kid]], color="#9aa0a6",
                        linewidth=0.8, zorder=1)
        xs = np.array([x[n] for n in order], dtype=float)
        ys = np.array([-depth[n] for n in order], dtype=float)
        ax.scatter(xs[1:], ys[1:], s=16, color="#ff7f0e", zorder=2, linewidths=0)
        ax.scatter([x[root]], [0], s=60, color="#d62728", zorder=3, linewidths=0)
        ax.annotate(label(root), (x[root], 0), xytext=(0, 7), textcoords="offset points",
                    ha="center", fontsize=8)
        ax.margins(0.05, 0.2)
        return to_data_uri(fig)
