"""Referral cascades: the referral forest, per-customer referral numbers, the
cascades table and the viral coefficient (K-factor).

The referral forest
-------------------
Each ``referral`` event ``a -> b`` says a brought b. A customer referred more
than once keeps **one** referrer: the earliest referral in time, ties (and
events without timestamps) broken by the smallest referrer id, then by a
converted referral before an unconverted one, then by the larger ``value``
(so the kept link never depends on the order of the rows). Real data can
hold cycles (a refers b, b refers a, each kept as the other's first referrer);
in each cycle the link made **last** (latest kept referral; ties or no
timestamps: the link into the largest id) is removed, so its target becomes a
root. The number of cycles broken goes into the manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import igraph as ig
import numpy as np
import pandas as pd

from ..arrays import sum_by_group
from ..schema import CONVERTED, TIMESTAMP, TYPE, VALUE

__all__ = ["ReferralForest", "referral_forest", "forest_from_links", "referral_metrics",
           "referral_columns", "cascades_table", "viral_coefficients", "kfactor_table",
           "kfactor_from_sums", "referral_counts", "cycle_days", "cycle_cuts", "cut_links",
           "CASCADE_COLUMNS", "KFACTOR_COLUMNS"]

#: Columns of ``cascades.csv``.
CASCADE_COLUMNS = ("root", "size", "depth", "referrals", "conversions", "value",
                   "first_referral", "last_referral")
#: Columns of ``kfactor.csv``.
KFACTOR_COLUMNS = ("group", "key", "referrers", "invites", "conversions",
                   "invites_per_referrer", "conversion_rate", "k_factor", "cycle_time_days")

_NAT = np.iinfo(np.int64).min


@dataclass
class ReferralForest:
    """Who brought whom, one referrer per customer at most.

    Attributes
    ----------
    parent : numpy.ndarray of int64
        Vertex of each customer's kept referrer; -1 for none (a root).
    converted, value : numpy.ndarray
        Of the kept referral into each customer (bool; float64, 0 if missing).
    time : numpy.ndarray of int64 or None
        Nanoseconds since the epoch of the kept referral (int64 min for roots);
        ``None`` without timestamps.
    generation : numpy.ndarray of int64
        Distance to the root of the customer's tree (0 for roots).
    root : numpy.ndarray of int64
        Root vertex of each customer's tree.
    downstream, height : numpy.ndarray of int64
        Descendants (all generations) and height of each customer's subtree.
    downstream_conversions : numpy.ndarray of int64
    downstream_value : numpy.ndarray of float64
        Converted kept referrals, and their value, in the subtree below each customer.
    referral_events, referred, double_referred, cycles_broken : int
        Referral events with a target; customers with a referrer; customers
        referred more than once; cycles removed.
    """

    parent: np.ndarray
    converted: np.ndarray
    value: np.ndarray
    time: np.ndarray | None
    generation: np.ndarray
    root: np.ndarray
    downstream: np.ndarray
    height: np.ndarray
    downstream_conversions: np.ndarray
    downstream_value: np.ndarray
    referral_events: int
    referred: int
    double_referred: int
    cycles_broken: int


def _referrals(events: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray]):
    source, target = codes
    mask = (events[TYPE] == "referral").to_numpy() & (target >= 0)
    idx = np.flatnonzero(mask)
    if CONVERTED in events.columns:
        conv = events[CONVERTED].astype("boolean").fillna(False).to_numpy(bool)[idx]
    else:
        conv = None
    value = (np.nan_to_num(events[VALUE].to_numpy(dtype=np.float64)[idx])
             if VALUE in events.columns else np.zeros(len(idx)))
    time = (events[TIMESTAMP].to_numpy(dtype="datetime64[ns]").view(np.int64)[idx]
            if TIMESTAMP in events.columns else None)
    return source[idx], target[idx], conv, value, time


def referral_forest(events: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray],
                    n_customers: int) -> ReferralForest:
    """Build the referral forest (rules in the module docstring).

    Parameters
    ----------
    events : pandas.DataFrame
        Clean events; rows of type ``referral`` with a target are used, with
        ``timestamp``, ``converted`` and ``value`` when present.
    codes : (ndarray, ndarray)
        Source and target vertex of each event (:func:`influence.graph.encode_events`).
    n_customers : int

    Returns
    -------
    ReferralForest

    Notes
    -----
    O(m log m + n log d) for m referral events and depth d: one sort, cycle
    detection with igraph's strongly connected components, pointer doubling
    for generations, one vectorised pass per generation for subtree totals.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> ev = pd.DataFrame({"type": ["referral"] * 3})
    >>> f = referral_forest(ev, (np.array([0, 1, 0]), np.array([1, 2, 2])), 3)
    >>> f.parent.tolist(), f.downstream.tolist(), f.height.tolist()
    ([-1, 0, 0], [2, 0, 0], [1, 0, 0])
    """
    n = n_customers
    src, dst, conv, value, time = _referrals(events, codes)
    # by target, then time, then source (= id order), then converted first,
    # then the larger value: exact ties left are identical links
    unconverted = ~conv if conv is not None else np.zeros(len(src), dtype=bool)
    keys = (-value, unconverted, src) + ((dst,) if time is None else (time, dst))
    order = np.lexsort(keys)
    dst_s = dst[order]
    first = np.flatnonzero(np.r_[True, dst_s[1:] != dst_s[:-1]]) if len(dst_s) else \
        np.zeros(0, np.int64)
    kept = order[first]
    counts = np.diff(np.r_[first, len(dst_s)])
    parent = np.full(n, -1, dtype=np.int64)
    parent[dst[kept]] = src[kept]
    converted = np.zeros(n, dtype=bool)
    if conv is not None:
        converted[dst[kept]] = conv[kept]
    edge_value = np.zeros(n)
    edge_value[dst[kept]] = value[kept]
    edge_time = None
    if time is not None:
        edge_time = np.full(n, _NAT, dtype=np.int64)
        edge_time[dst[kept]] = time[kept]
    return forest_from_links(parent, converted, edge_value, edge_time,
                             referral_events=len(src), double_referred=int((counts > 1).sum()))


def cycle_cuts(sources: np.ndarray, targets: np.ndarray, n: int, vertex: np.ndarray,
               time: np.ndarray | None) -> np.ndarray:
    """The kept referral links to cut so that no cycle is left: on each cycle (strongly
    connected component of more than one vertex of the graph ``sources -> targets`` on
    ``n`` vertices), the link made last, ties into the largest id.

    ``vertex`` maps the graph's vertices to customers (vertices of the analysis), whose
    link times ``time`` (nanoseconds, or None) break the ties. Returns the customers
    whose incoming link is cut (both engines: the Spark engine on the referred
    customers it collected, the local one on all)."""
    g = ig.Graph(n=n, edges=np.column_stack([sources, targets]), directed=True)
    membership = np.asarray(g.connected_components(mode="strong").membership)
    sizes = np.bincount(membership)
    on_cycle = np.flatnonzero(sizes[membership] > 1)
    if not len(on_cycle):
        return np.array([], dtype=np.int64)
    comp = membership[on_cycle]
    chosen = vertex[on_cycle]
    t = time[chosen] if time is not None else np.zeros(len(chosen))
    o = np.lexsort((chosen, t, comp))
    comp_s = comp[o]
    last = np.flatnonzero(np.r_[comp_s[1:] != comp_s[:-1], True])
    return chosen[o][last]


def cut_links(cut: np.ndarray, parent: np.ndarray, converted: np.ndarray, value: np.ndarray,
              time: np.ndarray | None) -> int:
    """Remove the kept links into ``cut`` (in place); returns how many."""
    parent[cut] = -1
    converted[cut] = False
    value[cut] = 0.0
    if time is not None:
        time[cut] = _NAT
    return len(cut)


def forest_from_links(parent: np.ndarray, converted: np.ndarray, value: np.ndarray,
                      time: np.ndarray | None, *, referral_events: int,
                      double_referred: int) -> ReferralForest:
    """The referral forest from each customer's kept referral (cycles not yet cut).

    The second half of :func:`referral_forest`, for callers that chose the kept
    referrals themselves (the Spark engine does it on its executors).

    Parameters
    ----------
    parent : numpy.ndarray of int64
        Kept referrer of each customer, -1 for none. Modified in place (cycles cut).
    converted, value : numpy.ndarray
        Of the kept referral into each customer (bool; float64, 0 if none).
        Modified in place.
    time : numpy.ndarray of int64 or None
        Nanoseconds of the kept referral (int64 min for none); None without
        timestamps. Modified in place.
    referral_events, double_referred : int
        Referral events with a target; customers referred more than once.

    Returns
    -------
    ReferralForest
    """
    n = len(parent)
    edge_value, edge_time = value, time

    # cycles: strongly connected components of size > 1 of the kept links
    child = np.flatnonzero(parent >= 0)
    cycles = 0
    if len(child):
        cut = cycle_cuts(parent[child], child, n, np.arange(n), edge_time)
        cycles = cut_links(cut, parent, converted, edge_value, edge_time)

    # generation and root by pointer doubling
    has_parent = parent >= 0
    anc = np.where(has_parent, parent, np.arange(n))
    generation = has_parent.astype(np.int64)
    while True:
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            break
        generation = generation + generation[anc]
        anc = nxt

    # subtree totals, deepest generation first
    size = np.ones(n, dtype=np.int64)
    conv_acc = converted.astype(np.int64)
    value_acc = edge_value.copy()
    height = np.zeros(n, dtype=np.int64)
    by_gen = np.argsort(generation, kind="stable")
    gen_sorted = generation[by_gen]
    bounds = np.searchsorted(gen_sorted, np.arange(gen_sorted[-1] + 2 if n else 1))
    for level in range(len(bounds) - 2, 0, -1):
        nodes = by_gen[bounds[level]:bounds[level + 1]]
        up = parent[nodes]
        np.add.at(size, up, size[nodes])
        np.add.at(conv_acc, up, conv_acc[nodes])
        np.add.at(value_acc, up, value_acc[nodes])
        np.maximum.at(height, up, height[nodes] + 1)
    return ReferralForest(
        parent=parent, converted=converted, value=edge_value, time=edge_time,
        generation=generation, root=anc, downstream=size - 1, height=height,
        downstream_conversions=conv_acc - converted, downstream_value=value_acc - edge_value,
        referral_events=referral_events, referred=int(has_parent.sum()),
        double_referred=double_referred, cycles_broken=cycles)


def referral_metrics(events: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray],
                     forest: ReferralForest, ids: pd.Index) -> pd.DataFrame:
    """Per-customer referral numbers, in vertex order.

    Returns
    -------
    pandas.DataFrame
        ``referrals_sent`` (int64: referral events sent with a target),
        ``referrals_converted`` (float64: of those, converted; NaN without a
        ``converted`` column), ``referral_downstream`` (int64: descendants in
        the referral forest, all generations), ``referral_depth`` (int64:
        height of the customer's subtree; 0 without referrals),
        ``referral_value`` (float64: sum of ``value`` over referrals sent,
        added in ascending order so that it does not depend on the row order;
        NaN without a ``value`` column), ``downstream_conversions`` (float64),
        ``downstream_value`` (float64), ``referred_by`` (str: kept referrer's
        id, empty for roots).
    """
    n = len(forest.parent)
    src, _, conv, value, _ = _referrals(events, codes)
    return referral_columns(
        forest, ids, sent=np.bincount(src, minlength=n),
        converted=np.bincount(src[conv], minlength=n) if conv is not None else None,
        value=sum_by_group(src, value, n) if VALUE in events.columns else None)


def referral_columns(forest: ReferralForest, ids: pd.Index, *, sent: np.ndarray,
                     converted: np.ndarray | None, value: np.ndarray | None) -> pd.DataFrame:
    """The :func:`referral_metrics` table from per-customer sums (both engines):
    referrals ``sent``, of them ``converted`` (None without a ``converted``
    column), their summed ``value`` (None without a ``value`` column)."""
    n = len(forest.parent)
    missing = np.full(n, np.nan)
    table = pd.DataFrame({
        "referrals_sent": np.asarray(sent).astype(np.int64),
        "referrals_converted": (np.asarray(converted).astype(np.float64)
                                if converted is not None else missing),
        "referral_downstream": forest.downstream,
        "referral_depth": forest.height,
        "referral_value": value if value is not None else missing.copy(),
        "downstream_conversions": (forest.downstream_conversions.astype(np.float64)
                                   if converted is not None else missing.copy()),
        "downstream_value": forest.downstream_value if value is not None else missing.copy(),
    })
    referrer = np.where(forest.parent >= 0, ids.to_numpy()[np.maximum(forest.parent, 0)],
                        None)
    table["referred_by"] = pd.array(referrer, dtype="str")
    return table


def _iso(nanos: np.ndarray) -> pd.Series:
    stamps = pd.to_datetime(nanos.view("datetime64[ns]"), utc=True)
    return pd.Series(stamps).dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype("str")


def cascades_table(forest: ReferralForest, ids: pd.Index, *, has_converted: bool = True,
                   has_value: bool = True) -> pd.DataFrame:
    """One row per cascade: a root of the referral forest with at least one referral.

    Returns
    -------
    pandas.DataFrame
        ``root`` (str), ``size`` (int64: members, root included), ``depth``
        (int64: generations below the root), ``referrals`` (int64: size - 1),
        ``conversions`` (float64: converted referrals in the tree; NaN without
        ``converted``), ``value`` (float64; NaN without ``value``),
        ``first_referral``, ``last_referral`` (ISO 8601 text; absent without
        timestamps). Sorted by size descending, then root id.
    """
    roots = np.flatnonzero((forest.parent < 0) & (forest.downstream > 0))
    table = pd.DataFrame({
        "root": pd.array(ids.to_numpy()[roots], dtype="str"),
        "size": forest.downstream[roots] + 1,
        "depth": forest.height[roots],
        "referrals": forest.downstream[roots],
        "conversions": (forest.downstream_conversions[roots].astype(np.float64)
                        if has_converted else np.full(len(roots), np.nan)),
        "value": forest.downstream_value[roots] if has_value else np.full(len(roots), np.nan),
    })
    if forest.time is not None:
        members = np.flatnonzero(forest.parent >= 0)
        n = len(forest.parent)
        first = np.full(n, np.iinfo(np.int64).max)
        last = np.full(n, _NAT)
        np.minimum.at(first, forest.root[members], forest.time[members])
        np.maximum.at(last, forest.root[members], forest.time[members])
        table["first_referral"] = _iso(first[roots]).to_numpy()
        table["last_referral"] = _iso(last[roots]).to_numpy()
    order = np.lexsort((roots, -table["size"].to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def viral_coefficients(events: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray],
                       forest: ReferralForest, groups: dict[str, np.ndarray],
                       ) -> pd.DataFrame:
    """Viral coefficient (K-factor) and viral cycle time, overall and per group.

    For a group of **referrers** (customers who sent at least one referral),
    ``invites_per_referrer = invites / referrers``, ``conversion_rate =
    conversions / invites`` and ``k_factor = invites_per_referrer x
    conversion_rate`` (= conversions per referrer). ``cycle_time_days`` is the
    median, over the group's referrers who were themselves referred, of the
    days from the kept referral that brought them to their own first referral
    (negative gaps, a referral before being referred, are left out).

    Parameters
    ----------
    events, codes, forest
        As for :func:`referral_forest`.
    groups : dict of str to numpy.ndarray
        Group name -> a key per vertex (e.g. ``{"community": membership}``);
        a missing key (None/NaN) leaves the customer out of that grouping.
        ``overall`` is always added first.

    Returns
    -------
    pandas.DataFrame
        :data:`KFACTOR_COLUMNS`; ``key`` is text. Rates are NaN where the
        denominator is 0 (``conversions`` and rates are NaN without a
        ``converted`` column; ``cycle_time_days`` NaN without timestamps).

    References
    ----------
    .. [1] Skok, D. (2009). Lessons Learned - Viral Marketing. For Entrepreneurs.
    """
    return kfactor_table(*referral_counts(events, codes, forest), groups)


def referral_counts(events: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray],
                    forest: ReferralForest
                    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The per-customer inputs of :func:`kfactor_table`: referrals sent, of them
    converted (None without a ``converted`` column), days of the viral cycle."""
    n = len(forest.parent)
    src, _, conv, _, time = _referrals(events, codes)
    invites = np.bincount(src, minlength=n)
    conversions = np.bincount(src[conv], minlength=n) if conv is not None else None
    cycle = np.full(n, np.nan)
    if time is not None and len(src):
        first_sent = np.full(n, np.iinfo(np.int64).max)
        np.minimum.at(first_sent, src, time)
        cycle = cycle_days(invites, first_sent, forest)
    return invites, conversions, cycle


def cycle_days(invites: np.ndarray, first_sent: np.ndarray,
               forest: ReferralForest) -> np.ndarray:
    """Days from the referral that brought each referrer to their own first referral
    (``first_sent``, nanoseconds); NaN for customers not referred, who sent none, or
    whose first referral came before it."""
    cycle = np.full(len(invites), np.nan)
    assert forest.time is not None  # first_sent is a time: the referrals have times
    ok = (invites > 0) & (forest.parent >= 0)
    gap = (first_sent[ok] - forest.time[ok]) / 86_400e9
    cycle[np.flatnonzero(ok)] = np.where(gap >= 0, gap, np.nan)
    return cycle


def _int_sums(code: np.ndarray, values: np.ndarray, m: int) -> np.ndarray:
    """Exact integer sums of ``values`` by group ``code`` (0 .. m-1)."""
    out = np.zeros(m, dtype=np.int64)
    np.add.at(out, code, values)
    return out


def _group_medians(code: np.ndarray, values: np.ndarray, m: int) -> np.ndarray:
    """Median of the non-NaN ``values`` of each group (NaN for a group without any), as
    pandas' groupby median computes it (the mean of the two middle values)."""
    out = np.full(m, np.nan)
    ok = ~np.isnan(values)
    code, values = code[ok], values[ok]
    if not len(values):
        return out
    order = np.lexsort((values, code))
    code, values = code[order], values[order]
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    ends = np.r_[starts[1:], len(code)]
    for start, end in zip(starts, ends):
        size = end - start
        middle = start + size // 2
        out[code[start]] = (values[middle] if size % 2 else
                            (values[middle - 1] + values[middle]) / 2)
    return out


def kfactor_table(invites: np.ndarray, conversions: np.ndarray | None,
                  cycle: np.ndarray, groups: dict[str, np.ndarray]) -> pd.DataFrame:
    """The :func:`viral_coefficients` table from per-customer counts (both engines).

    Parameters
    ----------
    invites : numpy.ndarray
        Referral events sent per customer.
    conversions : numpy.ndarray or None
        Of those, converted (None without a ``converted`` column: conversions
        and rates are then NaN).
    cycle : numpy.ndarray
        Days from the kept referral that brought each customer to their own
        first referral sent (NaN if none or negative).
    groups : dict of str to numpy.ndarray
        Group name -> key per customer; ``overall`` is added first.
    """
    n = len(invites)
    invites = np.asarray(invites).astype(np.int64, copy=False)
    conv = (np.asarray(conversions).astype(np.int64, copy=False) if conversions is not None
            else np.zeros(n, dtype=np.int64))
    referrer = invites > 0
    everything = {"overall": np.full(n, "all", dtype=object), **groups}
    parts: dict[str, list[Any]] = {name: [] for name in (
        "group", "key", "referrers", "invites", "conversions", "cycle_time_days")}
    for group, keys in everything.items():
        # numpy per group (pandas groupby costs ~10 ms a call on tiny inputs)
        keys = np.asarray(keys, dtype=object)[referrer]
        known = pd.notna(keys)
        text = np.array([str(k) for k in keys[known]], dtype=object)
        names, code = np.unique(text, return_inverse=True) if len(text) else (
            np.array([], dtype=object), np.array([], dtype=np.int64))
        m = len(names)
        cycles = cycle[referrer][known]
        if group == "overall" and m == 0:
            names, counts = np.array(["all"], dtype=object), np.zeros(1, dtype=np.int64)
            sums_i = sums_c = np.zeros(1, dtype=np.int64)
            medians = np.array([np.nan])
        else:
            counts = np.bincount(code, minlength=m).astype(np.int64)
            sums_i = _int_sums(code, invites[referrer][known], m)
            sums_c = _int_sums(code, conv[referrer][known], m)
            medians = _group_medians(code, cycles, m)
        parts["group"] += [group] * len(names)
        parts["key"] += list(names)
        parts["referrers"].append(counts)
        parts["invites"].append(sums_i)
        parts["conversions"].append(sums_c)
        parts["cycle_time_days"].append(medians)
    return kfactor_from_sums(
        parts["group"], parts["key"], np.concatenate(parts["referrers"]),
        np.concatenate(parts["invites"]), np.concatenate(parts["conversions"]),
        np.concatenate(parts["cycle_time_days"]), has_conversions=conversions is not None)


def kfactor_from_sums(group: Sequence[str], key: Sequence[str], referrers: np.ndarray,
                      invites: np.ndarray, conversions: np.ndarray, cycle: np.ndarray, *,
                      has_conversions: bool) -> pd.DataFrame:
    """The :func:`kfactor_table` from its sums, one row per (group, key) in the given order.

    Parameters
    ----------
    group, key : sequence of str
    referrers, invites, conversions : numpy.ndarray
        Customers who sent a referral, referrals they sent, of them converted
        (integers; ``conversions`` is ignored without ``has_conversions``).
    cycle : numpy.ndarray
        Median cycle time in days (NaN where none).
    has_conversions : bool
        False without a ``converted`` column: conversions and rates are then NaN.
    """
    table = pd.DataFrame({
        "group": pd.array(list(group), dtype="str"),
        "key": pd.array(list(key), dtype="str"),
        "referrers": np.asarray(referrers, dtype=np.int64),
        "invites": np.asarray(invites, dtype=np.int64),
        "conversions": np.asarray(conversions, dtype=np.int64),
        "cycle_time_days": np.asarray(cycle, dtype=np.float64)})
    refs = table["referrers"].to_numpy(float)
    inv = table["invites"].to_numpy(float)
    con = table["conversions"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["invites_per_referrer"] = np.where(refs > 0, inv / np.maximum(refs, 1), np.nan)
        table["conversion_rate"] = np.where(inv > 0, con / np.maximum(inv, 1), np.nan)
    if not has_conversions:
        table["conversions"] = np.nan
        table["conversion_rate"] = np.nan
    table["k_factor"] = table["invites_per_referrer"] * table["conversion_rate"]
    table["group"] = table["group"].astype("str")
    table["key"] = table["key"].astype("str")
    return table[list(KFACTOR_COLUMNS)]
