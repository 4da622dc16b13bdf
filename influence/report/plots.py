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
import re
import warnings
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure

from .network import Neighbourhood
from .palette import OTHER, SUPPRESSED, SegmentStyle, community_color, text_color

__all__ = ["segment_sizes_figure", "network_figure", "community_map_figure", "degree_figure",
           "influence_activity_figure", "kfactor_figure", "cascade_tree_figure"]

_RC: dict[Any, Any] = {"svg.hashsalt": "influence-report", "svg.fonttype": "path", "font.size": 9,
       "axes.spines.top": False, "axes.spines.right": False}


def label(text: object, width: int = 18) -> str:
    """A customer id as literal matplotlib text: ``$`` escaped (no mathtext), shortened."""
    text = str(text)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("\\", "\\\\").replace("$", r"\$")


def _figure(width: float, height: float) -> Figure:
    with rc_context(_RC):
        return Figure(figsize=(width, height), dpi=100, layout="constrained")


#: Characters the pictures' font lacks, collected while a report renders (see
#: :func:`collect_missing_glyphs`); None when nobody collects.
_MISSING_GLYPHS: ContextVar[set[str] | None] = ContextVar("missing_glyphs", default=None)
_GLYPH_WARNING = re.compile(r"Glyph (\d+) \(.*\) missing from font")


@contextmanager
def collect_missing_glyphs():
    """Collect, instead of warning once per glyph, the characters of labels (customer ids)
    that the pictures' font cannot draw; yields the set they are added to."""
    missing: set[str] = set()
    token = _MISSING_GLYPHS.set(missing)
    try:
        yield missing
    finally:
        _MISSING_GLYPHS.reset(token)


def to_data_uri(fig: Figure) -> str:
    """SVG bytes of ``fig`` as a base64 ``data:`` URI (deterministic).

    A character of a label that the font lacks is drawn as an empty box;
    matplotlib's warning about it is caught here and the character added to
    :func:`collect_missing_glyphs`' set (the report says so once).
    """
    buffer = io.BytesIO()
    with rc_context(_RC), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(buffer, format="svg", metadata={"Date": None}, dpi=150)
    missing = _MISSING_GLYPHS.get()
    for warning in caught:
        found = _GLYPH_WARNING.search(str(warning.message))
        if found is not None and missing is not None:
            missing.add(chr(int(found.group(1))))
        elif found is None:  # anything else is not ours to hide
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def segment_sizes_figure(sizes: pd.Series, styles: dict[str, SegmentStyle]) -> str:
    """Horizontal bars: customers per segment, in rule order, in each segment's style."""
    with rc_context(_RC):
        fig = _figure(6.5, 0.35 * len(sizes) + 0.8)
        ax = fig.add_subplot()
        names = list(sizes.index)[::-1]
        values = sizes.to_numpy()[::-1]
        bars = ax.barh(range(len(names)), values, color=[styles[s].color for s in names],
                       edgecolor="#444444", linewidth=0.4)
        for bar, name in zip(bars, names):
            bar.set_hatch(styles[name].hatch)
        ax.set_yticks(range(len(names)), [label(s, 24) for s in names])
        total = max(values.sum(), 1)
        for i, v in enumerate(values):
            ax.text(v, i, f"  {v:,} ({100 * v / total:.1f}%)", va="center", fontsize=8)
        ax.set_xlim(0, max(values.max(), 1) * 1.3)
        ax.set_xlabel("customers")
        return to_data_uri(fig)


def _place_labels(points: np.ndarray, texts: list[str], fontsize: float,
                  width_pt: float, height_pt: float) -> list[tuple[float, float] | None]:
    """Offsets (points) for labels beside ``points`` (already in points) that overlap
    neither each other nor the picture's edge; ``None`` where no place is free.

    Greedy, in the order given (best first): each label tries the four corners
    around its point and keeps the first whose box is free.
    """
    placed: list[tuple[float, float, float, float]] = []
    out: list[tuple[float, float] | None] = []
    gap = 5.0
    for (x, y), text in zip(points, texts):
        w = 0.62 * fontsize * len(text) + 4
        h = fontsize * 1.35
        choice = None
        for dx, dy in ((gap, gap), (-gap - w, gap), (gap, -gap - h), (-gap - w, -gap - h)):
            box = (x + dx, y + dy, x + dx + w, y + dy + h)
            inside = box[0] >= 0 and box[1] >= 0 and box[2] <= width_pt and box[3] <= height_pt
            if inside and all(box[2] <= p[0] or box[0] >= p[2] or box[3] <= p[1]
                              or box[1] >= p[3] for p in placed):
                placed.append(box)
                choice = (dx, dy)
                break
        out.append(choice)
    return out


def _draw_links(ax, starts: Any, ends: Any, weight: np.ndarray, levels: int = 6) -> None:
    """Links as a few compound paths, one per width level (log of the weight).

    One ``<path>`` per level instead of one per link keeps the SVG small (about
    40 bytes a link instead of 200) whatever the number of links.
    """
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    if not len(weight):
        return
    scaled = np.log1p(weight) / max(np.log1p(weight).max(), 1e-9)
    level = np.minimum((scaled * levels).astype(np.int64), levels - 1)
    starts, ends = np.asarray(starts, dtype=float), np.asarray(ends, dtype=float)
    for k in range(levels):
        chosen = level == k
        if not chosen.any():
            continue
        vertices = np.empty((2 * int(chosen.sum()), 2))
        vertices[0::2], vertices[1::2] = starts[chosen], ends[chosen]
        codes = np.tile([MplPath.MOVETO, MplPath.LINETO], int(chosen.sum()))
        ax.add_patch(PathPatch(MplPath(vertices, codes), fill=False, edgecolor="#9aa0a6",
                               alpha=0.5, linewidth=0.4 + 2.6 * (k + 0.5) / levels,
                               capstyle="round", zorder=1))


def network_figure(hood: Neighbourhood, styles: dict[str, SegmentStyle], *,
                   n_labels: int = 12) -> tuple[str, dict]:
    """The static (print) picture of :func:`influence.report.network.neighbourhood`.

    Same customers, links and positions as the interactive network; colour and
    marker are the segment's (:mod:`influence.report.palette`), node size grows
    with the influence score, top propagators are ringed, and the first
    ``n_labels`` of them are labelled where a label fits without overlapping
    another. Returns the picture and what it shows (counts for the caption).
    """
    nodes, links = hood.nodes, hood.links
    with rc_context(_RC):
        width, height = 10.0, 7.5
        # a fixed layout (no constrained layout): positions in points are known before
        # drawing, so labels can be placed where they do not overlap
        fig = Figure(figsize=(width, height), dpi=100)
        fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.1)
        ax = fig.add_subplot()
        ax.set_axis_off()
        if not len(nodes):
            ax.text(0.5, 0.5, "no edges to draw", ha="center", transform=ax.transAxes)
            return to_data_uri(fig), {"nodes": 0, "edges": 0, "top": 0, "labels": 0}
        where = {c: (x, y) for c, x, y in zip(nodes["customer_id"], nodes["x"], nodes["y"])}
        _draw_links(ax, [where[a] for a in links["a"]], [where[b] for b in links["b"]],
                    links["weight"].to_numpy(dtype=float))
        score = np.nan_to_num(nodes["influence_score"].to_numpy(dtype=float))
        sizes = 25 + 260 * score ** 3
        segment = nodes["segment"].astype("str").to_numpy()
        top = nodes["top"].to_numpy(dtype=bool)
        xy = nodes[["x", "y"]].to_numpy(dtype=float)
        for name in dict.fromkeys(segment):
            style = styles.get(name, SegmentStyle(SUPPRESSED))
            for is_top, edge, lw, z in ((False, "white", 0.6, 2), (True, "#202124", 1.3, 3)):
                mask = (segment == name) & (top == is_top)
                if name not in styles and not is_top:
                    edge = "#777777"
                if mask.any():
                    ax.scatter(xy[mask, 0], xy[mask, 1], s=sizes[mask], color=style.color,
                               marker=style.marker, edgecolors=edge, linewidths=lw, zorder=z)
        from matplotlib.lines import Line2D

        shown = [s for s in styles if s in set(segment)]
        handles = [Line2D([], [], marker=styles[s].marker, linestyle="", color=styles[s].color,
                          label=label(s, 24)) for s in shown]
        if any(s not in styles for s in set(segment)):
            handles.append(Line2D([], [], marker="o", linestyle="", color=SUPPRESSED,
                                  markeredgecolor="#777777",
                                  label="small segments (suppressed)"))
        handles.append(Line2D([], [], marker="o", linestyle="", color="white",
                              markeredgecolor="#202124",
                              label=f"top {len(hood.top_ids)} (ringed)"))
        fig.legend(handles=handles, loc="lower center", ncols=min(len(handles), 6),
                   frameon=False, fontsize=8)
        ax.set_xlim(-1.06, 1.06)  # the layout is scaled into [-1, 1]
        ax.set_ylim(-1.06, 1.06)
        wanted = [c for c in hood.top_ids[:n_labels]]
        to_points = ax.transData + fig.dpi_scale_trans.inverted()
        points = (np.array([to_points.transform(where[c]) for c in wanted]) * 72.0
                  if wanted else np.zeros((0, 2)))
        texts = [label(c) for c in wanted]
        offsets = _place_labels(points, texts, 8, width * 72.0, height * 72.0)
        labelled = 0
        for c, text, offset in zip(wanted, texts, offsets):
            if offset is None:
                continue
            labelled += 1
            ax.annotate(text, where[c], xytext=offset, textcoords="offset points",
                        fontsize=8, zorder=4, ha="left", va="bottom",
                        bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none",
                              "alpha": 0.85})
        return to_data_uri(fig), {"nodes": len(nodes), "edges": len(links),
                                  "top": len(hood.top_ids), "labels": labelled}


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
                        color=text_color(community_color(c)), fontweight="bold")
            away = math.sqrt(a / math.pi) + 16  # circle radius in points, plus a gap
            ax.annotate(f"{int(n):,} customer{'s' if n != 1 else ''}\n"
                        f"leader {label(leader, 14)}", (x, y),
                        xytext=(x * away, y * away), textcoords="offset points",
                        ha="left" if x > 0.3 else "right" if x < -0.3 else "center",
                        va="center", fontsize=7.5, zorder=3, color="#202124")
        ax.set_xlim(-1.7, 1.7)
        ax.set_ylim(-1.5, 1.5)
        return to_data_uri(fig)


def thin_tail(values: np.ndarray, *, keep: int = 300, per_decade: int = 60) -> np.ndarray:
    """Positions of the sorted ``values`` to draw: the ``keep`` smallest, then at most
    ``per_decade`` per factor of ten (the first in each log-spaced bin), so a plot with
    one point per distinct value stays the same size at any number of customers.

    Examples
    --------
    >>> len(thin_tail(np.arange(1, 100_001))), len(thin_tail(np.arange(1, 1_000_001)))
    (453, 513)
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) <= keep:
        return np.arange(len(values))
    tail = np.log10(values[keep:]) * per_decade
    bins = np.floor(tail + 1e-9).astype(np.int64)
    first = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]]) + keep
    return np.r_[np.arange(keep), first]


def degree_figure(degrees: dict[str, np.ndarray]) -> str:
    """Share of customers with each degree, log-log (customers with degree 0 left out).

    One point per distinct degree, the long tail thinned by :func:`thin_tail`.
    """
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
            drawn = thin_tail(values)
            ax.scatter(values[drawn], counts[drawn] / counts.sum(), s=12, alpha=0.75,
                       label=name,
                       marker=markers.get(i, "o"))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("degree (distinct customers)")
        ax.set_ylabel("share of customers")
        if ax.collections:  # nothing to label when nobody has a contact
            ax.legend(frameon=False)
        return to_data_uri(fig)


def influence_activity_figure(customers: pd.DataFrame, styles: dict[str, SegmentStyle], *,
                              max_points: int = 20000) -> tuple[str, int]:
    """``influence_score`` against ``events_sent`` (symlog), in each segment's style.

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
        for segment, style in styles.items():
            part = table[table["segment"] == segment]
            if not len(part):
                continue
            ax.scatter(part["events_sent"].to_numpy(dtype=float),
                       part["influence_score"].to_numpy(dtype=float), s=9, alpha=0.6,
                       color=style.color, marker=style.marker, label=label(segment, 24),
                       linewidths=0, rasterized=True)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("events sent (activity)")
        ax.set_ylabel("influence score")
        ax.set_ylim(-0.03, 1.03)
        if ax.collections:  # every segment may be suppressed for its size
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8,
                      markerscale=1.8)
        return to_data_uri(fig), len(table)


def kfactor_figure(kfactor: pd.DataFrame, styles: dict[str, SegmentStyle], *,
                   n_communities: int = 12) -> tuple[str | None, str]:
    """K-factor by cohort month, by segment and by community (from ``kfactor.csv``).

    Parameters
    ----------
    kfactor : pandas.DataFrame
        :func:`influence.reach.viral_coefficients` rows (``group``, ``key``,
        ``referrers``, ``invites_per_referrer``, ``k_factor``, ...).
    styles : dict
        Segment styles; segments not in it (suppressed ones) are left out.
    n_communities : int, default=12
        Communities drawn: those with the most referrers (ties by number).

    Returns
    -------
    (str or None, str)
        The picture (``None`` when no group has a referrer) and the quantity
        drawn: ``"k_factor"``, or ``"invites_per_referrer"`` when the events
        have no ``converted`` column (no conversions, so no K-factor).
    """
    table = kfactor[kfactor["referrers"].fillna(0).astype(float) > 0]
    metric = "k_factor" if table["k_factor"].notna().any() else "invites_per_referrer"
    table = table[table[metric].notna()]
    months = table[table["group"] == "cohort_month"].sort_values("key", kind="mergesort")
    segments = table[(table["group"] == "segment") & table["key"].isin(list(styles))]
    segments = segments.set_index("key").reindex([s for s in styles
                                                  if s in set(segments["key"])])
    communities = table[table["group"] == "community"].assign(
        number=lambda t: pd.to_numeric(t["key"], errors="coerce"))
    communities = communities.sort_values(["referrers", "number"], ascending=[False, True],
                                          kind="mergesort").head(n_communities)
    communities = communities.sort_values("number", kind="mergesort")
    panels = [p for p, part in (("month", months), ("segment", segments),
                                ("community", communities)) if len(part)]
    if not panels:
        return None, metric
    title = "K-factor" if metric == "k_factor" else "invites per referrer"
    with rc_context(_RC):
        fig = _figure(10.0, 3.2 * (1 + ("month" in panels and len(panels) > 1)))
        grid = fig.add_gridspec(2 if "month" in panels and len(panels) > 1 else 1,
                                max(len([p for p in panels if p != "month"]), 1))
        column = 0
        for panel in panels:
            if panel == "month":
                ax = fig.add_subplot(grid[0, :])
                values = months[metric].to_numpy(dtype=float)
                ax.bar(range(len(values)), values, color="#332288")
                step = max(1, int(math.ceil(len(values) / 24)))
                ax.set_xticks(range(0, len(values), step),
                              [label(k, 8) for k in months["key"].iloc[::step]],
                              rotation=60, ha="right", fontsize=7)
                ax.set_xlabel("cohort: month of first event")
                ax.set_title(f"{title} by cohort month", fontsize=9, loc="left")
            else:
                row = 1 if "month" in panels and len(panels) > 1 else 0
                ax = fig.add_subplot(grid[row, column])
                column += 1
                if panel == "segment":
                    names = list(segments.index)[::-1]
                    values = segments[metric].to_numpy(dtype=float)[::-1]
                    bars = ax.barh(range(len(names)), values,
                                   color=[styles[n].color for n in names],
                                   edgecolor="#444444", linewidth=0.4)
                    for bar, name in zip(bars, names):
                        bar.set_hatch(styles[name].hatch)
                    ax.set_yticks(range(len(names)), [label(n, 20) for n in names],
                                  fontsize=7.5)
                    ax.set_title(f"{title} by segment", fontsize=9, loc="left")
                else:
                    numbers = communities["number"].to_numpy()
                    values = communities[metric].to_numpy(dtype=float)
                    colors = [community_color(int(c)) if not math.isnan(c) else OTHER
                              for c in numbers]
                    ax.bar(range(len(values)), values, color=colors,
                           edgecolor="#444444", linewidth=0.4)
                    ax.set_xticks(range(len(values)),
                                  [label(k, 6) for k in communities["key"]], fontsize=7.5)
                    ax.set_xlabel("community")
                    ax.set_title(f"{title} by community (most referrers)", fontsize=9,
                                 loc="left")
            if metric == "k_factor":
                (ax.axvline if panel == "segment" else ax.axhline)(
                    1.0, color="#5f6368", linewidth=0.8, linestyle="--")
        return to_data_uri(fig), metric


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
        ax.scatter(xs[1:], ys[1:], s=16, color="#CC6677", zorder=2, linewidths=0)
        ax.scatter([x[root]], [0], s=60, color="#882255", zorder=3, linewidths=0)
        ax.annotate(label(root), (x[root], 0), xytext=(0, 7), textcoords="offset points",
                    ha="center", fontsize=8)
        ax.margins(0.05, 0.2)
        return to_data_uri(fig)
