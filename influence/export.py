"""Influencer lists for scripts and CRMs (presentation only: never computes a metric)."""

from __future__ import annotations

import pandas as pd

from .errors import InputError

__all__ = ["TOP_COLUMNS", "top_customers"]

#: Columns of a ``top`` list, in order (those present in the results).
TOP_COLUMNS = ("influence_rank", "customer_id", "segment", "influence_score", "pagerank",
               "out_strength", "community", "events_sent", "segment_reason")


def top_customers(customers: pd.DataFrame, *, n: int = 20, by: str = "influence_rank",
                  segment: str | None = None, community: int | None = None) -> pd.DataFrame:
    """The ``n`` best customers by a column, deterministically ordered.

    Parameters
    ----------
    customers : pandas.DataFrame
        ``Analysis.customers``.
    n : int, default=20
    by : str, default="influence_rank"
        ``influence_rank`` ranks ascending (1 first); any other numeric column
        ranks descending. Ties by ``customer_id``.
    segment : str, optional
        Keep only this segment.
    community : int, optional
        Keep only this community.

    Returns
    -------
    pandas.DataFrame
        :data:`TOP_COLUMNS` (those present), plus ``by`` if it is not among them.

    Raises
    ------
    InputError
        If ``by`` is not a numeric column, or ``segment`` names no segment.
    """
    if by not in customers.columns or not pd.api.types.is_numeric_dtype(customers[by]):
        numeric = [c for c in customers.columns if pd.api.types.is_numeric_dtype(customers[c])]
        raise InputError(f"cannot rank by {by!r}; numeric columns are {numeric}")
    table = customers
    if segment is not None:
        known = sorted(customers["segment"].dropna().unique())
        if segment not in known:
            raise InputError(f"no segment named {segment!r}; segments are {known}")
        table = table[table["segment"] == segment]
    if community is not None:
        table = table[table["community"] == community]
    ascending = by == "influence_rank"
    table = table.sort_values([by, "customer_id"], ascending=[ascending, True],
                              kind="mergesort")
    columns = [c for c in TOP_COLUMNS if c in table.columns]
    if by not in columns:
        columns.insert(3, by)
    return table.head(n)[columns].reset_index(drop=True)
