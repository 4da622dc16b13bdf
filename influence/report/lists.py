"""The report's opening: whom to contact, one list per action, with the reason.

Presentation only: the lists are the members of four built-in segments, read
from the customers table and ordered by ``influence_rank`` (ties by id), each
capped at :data:`LIST_CAP` rows so the page stays the same size at any number
of customers (the full segment is in the customers file). A segment that the
privacy setting suppressed (fewer than ``privacy.min_segment_size`` members)
gets no list: neither its members nor their reasons appear.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .embed import json_value
from .select import first_rows

__all__ = ["ActionList", "ACTION_LISTS", "LIST_CAP", "action_lists"]

#: Rows per list in the page (the full lists are in the customers file).
LIST_CAP = 500


@dataclass(frozen=True)
class ActionList:
    """One list: which segment, what to do with it and which columns to show."""

    key: str
    title: str
    segment: str
    action: str
    columns: tuple[str, ...]


_FIRST = ("influence_rank", "customer_id", "influence_score")
ACTION_LISTS = (
    ActionList("ambassadors", "Ambassador list", "champions",
               "Invite them to the ambassador programme and reward them: their word travels "
               "and they keep acting.",
               _FIRST + ("propagator_rank", "expected_spread", "out_strength", "events_sent",
                         "community")),
    ActionList("wake-up", "Wake-up list", "dormant_advocates",
               "Win them back: they used to move others and have gone quiet.",
               _FIRST + ("recency_days", "last_active", "out_strength", "events_sent",
                         "community")),
    ActionList("connectors", "Connectors for cross-community launches", "connectors",
               "Seed launches and partnerships through them: they bridge communities.",
               _FIRST + ("community", "distinct_contacts", "out_strength", "events_sent")),
    ActionList("rising-stars", "Rising stars", "rising_stars",
               "Fast-track them into the ambassador programme: new and already carrying "
               "weight.",
               _FIRST + ("tenure_days", "first_active", "out_strength", "events_sent",
                         "community")),
)

_TEXT = {"customer_id", "segment_reason", "last_active", "first_active"}
_DATES = {"last_active", "first_active"}


def action_lists(customers: pd.DataFrame, suppressed: set[str], *,
                 cap: int = LIST_CAP) -> list[dict]:
    """The four action lists as plain data for the page.

    Parameters
    ----------
    customers : pandas.DataFrame
        The customers table (``customer_id``, ``segment``, ``segment_reason``,
        ``influence_rank`` and whichever list columns it has).
    suppressed : set of str
        Segments not to list.
    cap : int, default=LIST_CAP
        Rows per list.

    Returns
    -------
    list of dict
        Per list: ``key``, ``title``, ``segment``, ``action``, ``total``
        (members), ``suppressed`` (bool), ``shown`` (rows in the page) and
        ``data``: ``{"columns": [{"name", "kind"}], "rows": [[...], ...]}``
        with ``kind`` "num" or "text" and JSON-ready values
        (:func:`~influence.report.embed.json_value`).
    """
    segment = customers["segment"].astype("str")
    counts = segment.value_counts()
    out = []
    for spec in ACTION_LISTS:
        total = int(counts.get(spec.segment, 0))
        entry = {"key": spec.key, "title": spec.title, "segment": spec.segment,
                 "action": spec.action, "total": total,
                 "suppressed": spec.segment in suppressed, "shown": 0, "data": None}
        if total and not entry["suppressed"]:
            columns = [c for c in spec.columns if c in customers.columns
                       and (c in _FIRST or customers[c].notna().any())] + ["segment_reason"]
            members = customers[(segment == spec.segment).to_numpy()]
            members = first_rows(members, ["influence_rank", "customer_id"], cap)
            table = members[columns].astype(object)
            for column in _DATES.intersection(columns):  # the day is enough here
                table[column] = [None if pd.isna(v) else str(json_value(v))[:10]
                                 for v in table[column]]
            rows = [[json_value(v) for v in row] for row in table.itertuples(index=False)]
            entry["shown"] = len(rows)
            entry["data"] = {"columns": [{"name": c, "kind": "text" if c in _TEXT
                                          else "num"} for c in columns],
                             "rows": rows}
        out.append(entry)
    return out
