"""Change between two periods: segment migration, who rose and who faded, and
how communities continued, merged, split, were born or died.

Both periods are :class:`~influence.analysis.Analysis` results (computed, or
loaded from results folders: nothing is recomputed here). Customers are
matched by ``customer_id``; a customer missing from one period's table is in
the pseudo-segment ``absent`` there.

Lists growth teams ask for
--------------------------
``rising_star``
    Influence score went up (``new - old > 0``, absent counting as 0); the
    lists rank by the gain. The score is a within-period percentile (see
    ``docs/concepts.md``), so the gain is "how many customers they now beat,
    as a share".
``dormant_advocate``
    In the ``high`` influence tier before and sent no event in the new period
    (absent counts as sending none).
``new_propagator``
    Not in the ``high`` influence tier before (or absent), ``high`` now.
``lost_champion``
    In the ``champions`` segment before, in another segment (or absent) now.

The influence tier is the saved ``influence_tier`` column; a table without it
(an older results folder) gets it from ``influence_rank``: the top
``ceil(0.10 * n)`` customers are ``high``.

Community matching
------------------
Communities are sets of *active* members (customers with at least one event
sent or received in the period; isolated customers are singleton communities
that carry no signal). Old community ``A`` and new community ``B`` are linked
when their Jaccard index ``|A & B| / |A | B|`` is at least ``threshold``
(default 0.3), following Greene, Doyle and Cunningham (2010). Then a link is
``continued`` when both ends have one link, ``merge`` when the new community
has several, ``split`` when the old one has several (``merge+split`` both);
an old community with no link is a ``death``, a new one a ``birth``.
Communities with fewer than ``min_size`` active members are left out.

References
----------
Greene, D., Doyle, D., Cunningham, P. (2010). Tracking the evolution of
communities in dynamic social networks. ASONAM 2010, 176-183.
https://doi.org/10.1109/ASONAM.2010.17
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .io import write_table
from .schema import CUSTOMER_ID

__all__ = ["Comparison", "compare", "match_communities", "CHANGE_LISTS", "ABSENT"]

#: Pseudo-segment of a customer missing from one period's table.
ABSENT = "absent"
#: The named lists of :class:`Comparison`, in display order.
CHANGE_LISTS = ("rising_star", "dormant_advocate", "new_propagator", "lost_champion")

_NEEDED = ("customer_id", "segment", "influence_score", "influence_rank")


@dataclass
class Comparison:
    """Result of :func:`compare`.

    Attributes
    ----------
    customers : pandas.DataFrame
        One row per customer of either period, sorted by ``influence_change``
        descending then ``customer_id``: ``customer_id``, ``old_segment``,
        ``new_segment`` (str, ``absent`` when missing), ``old_influence_score``,
        ``new_influence_score``, ``influence_change`` (float64, absent = 0),
        ``old_influence_rank``, ``new_influence_rank`` (Int64, NA when absent),
        ``old_influence_tier``, ``new_influence_tier`` (str), ``old_events_sent``,
        ``new_events_sent`` (int64, absent = 0), ``old_community``,
        ``new_community`` (Int64), ``changes`` (str: the lists the customer is
        on, ``;``-separated, empty if none).
    migration : pandas.DataFrame
        One row per (old_segment, new_segment) pair that occurs: ``customers``
        (int64), ``share_of_old`` (float64: share of the old segment's
        customers), ``share_of_all`` (float64).
    communities : pandas.DataFrame
        See :func:`match_communities`.
    summary : dict
        Counts: customers in each period, in both, list sizes, community events.
    """

    customers: pd.DataFrame
    migration: pd.DataFrame
    communities: pd.DataFrame
    summary: dict

    def migration_matrix(self, values: str = "customers") -> pd.DataFrame:
        """The migration as a matrix: old segments as rows, new segments as columns.

        Parameters
        ----------
        values : {"customers", "share_of_old", "share_of_all"}, default="customers"
        """
        matrix = self.migration.pivot(index="old_segment", columns="new_segment",
                                      values=values)
        return matrix.fillna(0).astype(self.migration[values].dtype)

    def changes(self, name: str, n: int | None = None) -> pd.DataFrame:
        """Customers on one list, best first (``n`` of them, or all).

        ``rising_star`` and ``new_propagator`` rank by gain / new score,
        ``dormant_advocate`` and ``lost_champion`` by old score; ties by
        ``customer_id``.
        """
        if name not in CHANGE_LISTS:
            raise ValueError(f"name must be one of {CHANGE_LISTS}; got {name!r}")
        table = self.customers
        on = table["changes"].str.split(";").apply(lambda names: name in names)
        table = table[on.to_numpy(dtype=bool)]
        key = {"rising_star": "influence_change", "new_propagator": "new_influence_score",
               "dormant_advocate": "old_influence_score",
               "lost_champion": "old_influence_score"}[name]
        table = table.sort_values([key, CUSTOMER_ID], ascending=[False, True],
                                  kind="mergesort").reset_index(drop=True)
        return table if n is None else table.head(n)

    def save(self, out: str | Path) -> Path:
        """Write ``migration.csv``, ``customer_changes.csv`` and
        ``community_matches.csv`` into ``out`` (created)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_table(self.migration, out / "migration.csv")
        write_table(self.customers, out / "customer_changes.csv")
        write_table(self.communities, out / "community_matches.csv")
        return out

    def to_dict(self, n: int = 20) -> dict:
        """JSON-ready: summary, migration rows and the first ``n`` of each list."""
        columns = ["customer_id", "old_segment", "new_segment", "old_influence_score",
                   "new_influence_score", "influence_change"]
        lists = {name: _records(self.changes(name, n)[columns]) for name in CHANGE_LISTS}
        return {"summary": self.summary, "migration": _records(self.migration),
                "lists": lists, "communities": _records(self.communities)}


def _records(table: pd.DataFrame) -> list[dict]:
    import json

    return json.loads(table.to_json(orient="records", force_ascii=False))


def _as_analysis(value):
    from .result import Analysis

    if isinstance(value, Analysis):
        return value
    if isinstance(value, (str, Path)):
        return Analysis.load(value)
    raise TypeError(f"expected an Analysis or a results folder; got {type(value).__name__}")


def _tier(customers: pd.DataFrame) -> pd.Series:
    if "influence_tier" in customers:
        return customers["influence_tier"].astype("str")
    n_high = math.ceil(0.10 * len(customers) - 1e-9)
    high = customers["influence_rank"].to_numpy() <= n_high
    return pd.Series(np.where(high, "high", "other"), index=customers.index, dtype="str")


def _side(customers: pd.DataFrame, prefix: str) -> pd.DataFrame:
    missing = [c for c in _NEEDED if c not in customers]
    if missing:
        raise InputError(f"{prefix} customers table is missing column(s) {missing}; "
                         "compare needs the output of 'influence analyze'")
    active = (customers.get("events_sent", 0) + customers.get("events_received", 0)) > 0
    side = pd.DataFrame({
        CUSTOMER_ID: customers[CUSTOMER_ID].astype("str").to_numpy(),
        "segment": customers["segment"].astype("str").to_numpy(),
        "influence_score": customers["influence_score"].astype("float64").to_numpy(),
        "influence_rank": customers["influence_rank"].astype("Int64").to_numpy(),
        "influence_tier": _tier(customers).to_numpy(),
        "events_sent": (customers["events_sent"].astype("int64").to_numpy()
                        if "events_sent" in customers else 0),
        "community": (customers["community"].astype("Int64").to_numpy()
                      if "community" in customers else pd.NA),
        "active": np.asarray(active, dtype=bool) if not np.isscalar(active)
        else np.ones(len(customers), dtype=bool),
    })
    if side[CUSTOMER_ID].duplicated().any():
        raise InputError(f"{prefix} customers table has duplicate customer_id values")
    return side.add_prefix(f"{prefix}_").rename(columns={f"{prefix}_{CUSTOMER_ID}": CUSTOMER_ID})


def compare(old, new, *, threshold: float = 0.3, min_size: int = 2) -> Comparison:
    """Compare two periods' analyses: migration, change lists, community matches.

    Parameters
    ----------
    old, new : Analysis or path
        Results of :func:`influence.analyze`, or results folders (read with
        :meth:`Analysis.load`, no recomputation).
    threshold : float, default=0.3
        Jaccard index at or above which two communities are linked. In (0, 1].
    min_size : int, default=2
        Communities with fewer active members are not matched. >= 1.

    Returns
    -------
    Comparison

    Raises
    ------
    InputError
        A folder that is not a results folder, or a customers table without the
        columns of ``influence analyze``.

    Examples
    --------
    >>> import pandas as pd, influence
    >>> before = pd.DataFrame({"source": ["a", "a", "b"], "target": ["b", "c", "c"],
    ...                        "type": ["share"] * 3})
    >>> after = pd.DataFrame({"source": ["c", "c", "b"], "target": ["a", "b", "a"],
    ...                       "type": ["share"] * 3})
    >>> result = influence.compare(influence.analyze(before), influence.analyze(after))
    >>> result.changes("rising_star")["customer_id"].tolist()
    ['c']
    """
    if not (isinstance(threshold, (int, float)) and 0 < threshold <= 1):
        raise ValueError(f"threshold must be a number in (0, 1]; got {threshold!r}")
    if not (isinstance(min_size, int) and min_size >= 1):
        raise ValueError(f"min_size must be an integer >= 1; got {min_size!r}")
    old, new = _as_analysis(old), _as_analysis(new)
    a, b = _side(old.customers, "old"), _side(new.customers, "new")
    table = a.merge(b, on=CUSTOMER_ID, how="outer", indicator=True, sort=False)
    in_old = table["_merge"].isin(["both", "left_only"]).to_numpy()
    in_new = table["_merge"].isin(["both", "right_only"]).to_numpy()
    table = table.drop(columns="_merge")
    for p in ("old", "new"):
        table[f"{p}_segment"] = table[f"{p}_segment"].fillna(ABSENT).astype("str")
        table[f"{p}_influence_tier"] = table[f"{p}_influence_tier"].fillna(ABSENT).astype("str")
        table[f"{p}_influence_score"] = table[f"{p}_influence_score"].astype("float64")
        table[f"{p}_events_sent"] = table[f"{p}_events_sent"].fillna(0).astype("int64")
        table[f"{p}_active"] = table[f"{p}_active"].fillna(False).astype(bool)
    change = (table["new_influence_score"].fillna(0.0)
              - table["old_influence_score"].fillna(0.0)).round(6)
    table["influence_change"] = change.astype("float64")

    flags = {
        "rising_star": (change > 0).to_numpy(),
        "dormant_advocate": ((table["old_influence_tier"] == "high")
                             & (table["new_events_sent"] == 0)).to_numpy(),
        "new_propagator": ((table["old_influence_tier"] != "high")
                           & (table["new_influence_tier"] == "high")).to_numpy(),
        "lost_champion": ((table["old_segment"] == "champions")
                          & (table["new_segment"] != "champions")).to_numpy(),
    }
    labels = np.full(len(table), "", dtype=object)
    for name in CHANGE_LISTS:
        mark = flags[name]
        labels[mark] = np.where(labels[mark] == "", name, labels[mark] + ";" + name)
    table["changes"] = pd.array(labels.astype(str), dtype="str")

    columns = [CUSTOMER_ID, "old_segment", "new_segment", "old_influence_score",
               "new_influence_score", "influence_change", "old_influence_rank",
               "new_influence_rank", "old_influence_tier", "new_influence_tier",
               "old_events_sent", "new_events_sent", "old_community", "new_community",
               "changes"]
    customers = table.sort_values(["influence_change", CUSTOMER_ID], ascending=[False, True],
                                  kind="mergesort")
    active_old = customers["old_active"].to_numpy()
    active_new = customers["new_active"].to_numpy()
    customers = customers[columns].reset_index(drop=True)

    migration = (customers.groupby(["old_segment", "new_segment"], sort=True)
                 .size().rename("customers").reset_index())
    migration["customers"] = migration["customers"].astype("int64")
    old_totals = migration.groupby("old_segment")["customers"].transform("sum")
    migration["share_of_old"] = (migration["customers"] / old_totals).round(6)
    migration["share_of_all"] = (migration["customers"] / len(customers)).round(6)

    old_members = customers.loc[active_old, [CUSTOMER_ID, "old_community"]]
    new_members = customers.loc[active_new, [CUSTOMER_ID, "new_community"]]
    matches = match_communities(old_members.set_index(CUSTOMER_ID)["old_community"],
                                new_members.set_index(CUSTOMER_ID)["new_community"],
                                threshold=threshold, min_size=min_size)
    events = matches["event"].value_counts()
    summary = {
        "customers_old": int(in_old.sum()),
        "customers_new": int(in_new.sum()),
        "customers_both": int((in_old & in_new).sum()),
        "lists": {name: int(flags[name].sum()) for name in CHANGE_LISTS},
        "community_events": {k: int(events.get(k, 0)) for k in
                             ("continued", "merge", "split", "merge+split", "birth", "death")},
        "threshold": threshold,
        "min_size": min_size,
    }
    return Comparison(customers=customers, migration=migration, communities=matches,
                      summary=summary)


def match_communities(old: pd.Series, new: pd.Series, *, threshold: float = 0.3,
                      min_size: int = 2) -> pd.DataFrame:
    """Link communities of two periods by the Jaccard index of their members.

    Parameters
    ----------
    old, new : pandas.Series
        Community id (integer) indexed by customer id: the members to match
        (the caller decides who counts, e.g. active customers only).
    threshold : float, default=0.3
        Link when ``|A & B| / |A | B| >= threshold``.
    min_size : int, default=2
        Communities with fewer members are left out.

    Returns
    -------
    pandas.DataFrame
        One row per link, per birth and per death: ``old_community``,
        ``new_community`` (Int64, NA for births / deaths), ``old_size``,
        ``new_size`` (Int64), ``overlap`` (int64), ``jaccard`` (float64;
        for a birth or death, the best Jaccard index it had, below the
        threshold), ``event`` (str: continued, merge, split, merge+split,
        birth, death). Sorted by old community, then new community (births last).

    Examples
    --------
    >>> old = pd.Series([0, 0, 0, 1, 1, 1], index=list("abcdef"))
    >>> new = pd.Series([5, 5, 5, 5, 5, 5], index=list("abcdef"))
    >>> match_communities(old, new)["event"].tolist()
    ['merge', 'merge']
    """
    old = old.dropna().astype("int64")
    new = new.dropna().astype("int64")
    old_size = old.value_counts()
    new_size = new.value_counts()
    old = old[old.map(old_size).to_numpy() >= min_size]
    new = new[new.map(new_size).to_numpy() >= min_size]
    old_size = old_size[old_size >= min_size]
    new_size = new_size[new_size >= min_size]
    common = old.index.intersection(new.index)
    pairs = (pd.DataFrame({"old_community": old.loc[common].to_numpy(),
                           "new_community": new.loc[common].to_numpy()})
             .groupby(["old_community", "new_community"]).size().rename("overlap")
             .reset_index())
    pairs["overlap"] = pairs["overlap"].astype("int64")
    pairs["old_size"] = pairs["old_community"].map(old_size).astype("int64")
    pairs["new_size"] = pairs["new_community"].map(new_size).astype("int64")
    pairs["jaccard"] = (pairs["overlap"] / (pairs["old_size"] + pairs["new_size"]
                                            - pairs["overlap"])).round(6)
    best_old = pairs.groupby("old_community")["jaccard"].max()
    best_new = pairs.groupby("new_community")["jaccard"].max()
    links = pairs[pairs["jaccard"] >= threshold].copy()
    links_of_old = links["old_community"].map(links["old_community"].value_counts())
    links_of_new = links["new_community"].map(links["new_community"].value_counts())
    merge, split = links_of_new.to_numpy() > 1, links_of_old.to_numpy() > 1
    links["event"] = np.select([merge & split, merge, split], ["merge+split", "merge", "split"],
                               default="continued")
    dead = old_size.index.difference(links["old_community"]).sort_values()
    born = new_size.index.difference(links["new_community"]).sort_values()
    deaths = pd.DataFrame({"old_community": dead, "new_community": pd.NA,
                           "old_size": old_size.loc[dead].to_numpy(), "new_size": pd.NA,
                           "overlap": 0,
                           "jaccard": best_old.reindex(dead).fillna(0.0).to_numpy(),
                           "event": "death"})
    births = pd.DataFrame({"old_community": pd.NA, "new_community": born,
                           "old_size": pd.NA, "new_size": new_size.loc[born].to_numpy(),
                           "overlap": 0,
                           "jaccard": best_new.reindex(born).fillna(0.0).to_numpy(),
                           "event": "birth"})
    columns = ["old_community", "new_community", "old_size", "new_size", "overlap", "jaccard",
               "event"]
    parts = [p[columns] for p in (links, deaths, births) if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            columns, ["Int64", "Int64", "Int64", "Int64", "int64", "float64", "str"])})
    result = pd.concat(parts, ignore_index=True)
    for column in ("old_community", "new_community", "old_size", "new_size"):
        result[column] = result[column].astype("Int64")
    result["overlap"] = result["overlap"].astype("int64")
    result["jaccard"] = result["jaccard"].astype("float64")
    result["event"] = result["event"].astype("str")
    # old community first (births, which have none, last), then new community
    last = np.iinfo(np.int64).max
    result = result.iloc[np.lexsort((result["new_community"].fillna(-1).to_numpy(),
                                     result["old_community"].fillna(last).to_numpy()))]
    return result.reset_index(drop=True)
