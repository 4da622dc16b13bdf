"""Every output column, declared once: name, dtype, kind, the stage that makes it.

``customers.csv`` column order (:data:`CUSTOMER_COLUMNS` and the rest), the
dtypes a results folder is read back with (:func:`restore_dtypes`), the
computed-or-attribute test of the exports (:func:`is_computed`) and the
report's glossary (:func:`glossary`) are all derived from the tables below.
A new per-customer column is one :class:`Column` line in :data:`CUSTOMERS`
(or in :data:`COMPUTED`), at the place its order should be.

Kinds
-----
``contract``
    The stable columns of ``customers.csv`` (``docs/concepts.md``), in order.
``segment``
    What the segmentation adds after them (tiers, tenure).
``computed``
    Further per-customer numbers, after the per-type counts ``sent_<type>``.
Customers-table attributes come last, as they were given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Column", "CUSTOMERS", "COMPUTED", "CUSTOMER_COLUMNS", "SEGMENT_COLUMNS",
           "COMPUTED_COLUMNS", "TABLES", "customer_order", "is_computed", "restore_dtypes",
           "text_columns", "glossary", "TIME_COLUMNS", "dtype_of"]


@dataclass(frozen=True)
class Column:
    """One output column.

    Parameters
    ----------
    name : str
    dtype : str or None
        The pandas dtype :func:`influence.analyze` returns and
        :meth:`Analysis.load` gives back (``None``: it depends on the input,
        e.g. integers with a ``converted`` column and NaN without; kept as read).
    kind : {"contract", "segment", "computed", "table"}
    stage : str
        The stage (progress/timing name) that makes it.
    doc : str, default=""
        One line for the report's glossary (empty: not in the glossary).
    """

    name: str
    dtype: str | None
    kind: str
    stage: str
    doc: str = ""


_UTC = "datetime64[ns, UTC]"

#: The per-customer columns of ``customers.csv``, in the order written.
CUSTOMERS = (
    Column("customer_id", "str", "contract", "validate"),
    Column("segment", "str", "contract", "segments"),
    Column("segment_reason", "str", "contract", "segments"),
    Column("influence_score", "float64", "contract", "rank",
           "In [0, 1]: the share of customers with a smaller expected influence (with "
           "timestamps); without timestamps, half the PageRank percentile, half the "
           "out-strength percentile."),
    Column("influence_rank", "int64", "contract", "rank",
           "1 = most influential; ties broken by customer id."),
    Column("pagerank", "float64", "contract", "centrality",
           "PageRank on the reversed influence graph: high when you influence customers "
           "who themselves influence many."),
    Column("in_strength", "float64", "contract", "centrality",
           "Influence received: total weight of influence edges arriving."),
    Column("out_strength", "float64", "contract", "centrality",
           "Influence exerted: total weight of influence edges leaving the customer."),
    Column("coreness", None, "contract", "centrality",
           "k-core number: how deep in the dense core of the network the customer sits."),
    Column("betweenness", "float64", "contract", "centrality"),
    Column("hub", "float64", "contract", "centrality"),
    Column("authority", "float64", "contract", "centrality"),
    Column("community", "int64", "contract", "communities",
           "Leiden community (modularity) on the undirected view of the graph; numbered by "
           "decreasing size."),
    Column("community_role", "str", "contract", "communities"),
    Column("events_sent", "int64", "contract", "activity",
           "Activity: events with the customer as source, whatever their weight."),
    Column("events_received", "int64", "contract", "activity"),
    Column("distinct_contacts", "int64", "contract", "activity"),
    Column("active_days", "int64", "contract", "activity"),
    Column("first_active", _UTC, "contract", "activity"),
    Column("last_active", _UTC, "contract", "activity"),
    Column("recency_days", "float64", "contract", "activity",
           "Whole days from the last event sent to the analysis end date."),
    Column("lifecycle_stage", "str", "contract", "activity"),
    Column("reach_1", "int64", "contract", "reach"),
    Column("reach_2", None, "contract", "reach"),
    Column("referrals_sent", "int64", "contract", "referrals"),
    Column("referrals_converted", "float64", "contract", "referrals"),
    Column("referral_downstream", "int64", "contract", "referrals"),
    Column("referral_depth", "int64", "contract", "referrals"),
    Column("expected_spread", "float64", "contract", "propagators",
           "Expected number of customers reached under the diffusion model."),
    Column("propagator_rank", "Int64", "contract", "propagators",
           "Rank in the seed set that maximises expected spread (independent cascade)."),
    Column("influence_tier", "str", "segment", "segments"),
    Column("activity_tier", "str", "segment", "segments"),
    Column("reach_tier", "str", "segment", "segments"),
    Column("tenure_days", "float64", "segment", "segments"),
)

#: Computed per-customer columns written after the per-type counts ``sent_<type>``.
COMPUTED = (
    Column("expected_influence", "float64", "computed", "rank",
           "Influence events the customer is expected to be credited with in the next "
           "30 days (horizon: [score] horizon_days): recent influence weighted as your "
           "own history says it predicts. Timestamps only."),
    Column("community_confidence", "float64", "computed", "communities"),
    Column("cross_influence", "float64", "computed", "communities",
           "Influence exerted on customers of other communities (edge weight)."),
    Column("influence_rate", "float64", "computed", "segments",
           "Influence exerted per 30 days of active life (out-strength x 30 / days from "
           "first to last event sent, at least 30): what waking a dormant customer brings "
           "back."),
    Column("frequency", "float64", "computed", "activity"),
    Column("rfm_recency", "str", "computed", "segments"),
    Column("rfm_frequency", "str", "computed", "segments"),
    Column("rfm_value", "str", "computed", "segments"),
    Column("rfm_code", "str", "computed", "segments"),
    Column("referral_value", "float64", "computed", "referrals"),
    Column("downstream_conversions", "float64", "computed", "referrals"),
    Column("downstream_value", "float64", "computed", "referrals"),
    Column("referred_by", "str", "computed", "referrals"),
    Column("expected_spread_se", "float64", "computed", "propagators"),
)

#: Where the glossary of the report takes its lines from, in its order.
_GLOSSARY = ("influence_score", "expected_influence", "influence_rank", "pagerank",
             "out_strength", "in_strength", "coreness", "events_sent", "recency_days",
             "community", "propagator_rank", "expected_spread")

#: The other tables: column -> dtype where a CSV round trip would change it
#: (the rest read back as written).
TABLES = {
    "communities": {"community": "int64", "size": "int64", "internal_weight": "float64",
                    "external_weight": "float64", "density": "float64", "leader": "str",
                    "top_members": "str", "dominant_type": "str"},
    "segments": {"segment": "str", "size": "int64", "share": "float64", "referrers": "Int64",
                 "invites_per_referrer": "float64", "conversion_rate": "float64",
                 "k_factor": "float64"},
    "cascades": {"root": "str", "first_referral": "str", "last_referral": "str",
                 "size": "int64", "depth": "int64", "referrals": "int64",
                 "conversions": "float64", "value": "float64"},
    "kfactor": {"group": "str", "key": "str", "referrers": "int64", "invites": "int64",
                "invites_per_referrer": "float64", "conversion_rate": "float64",
                "k_factor": "float64", "cycle_time_days": "float64"},
    "edges": {"source": "str", "target": "str", "weight": "float64"},
    "snapshots": {"segment": "str"},
}

#: Families of columns named by a prefix: ``share_<segment>``, ``sent_<type>``.
_PREFIXED = {"communities": {"share_": "float64"}, "customers": {"sent_": "int64"},
             "segments": {"median_": "float64"}}

_BY_NAME = {c.name: c for c in CUSTOMERS + COMPUTED}

#: Columns of ``customers.csv`` in contract order (stages not run leave theirs out).
CUSTOMER_COLUMNS = tuple(c.name for c in CUSTOMERS if c.kind == "contract")
#: Columns the segmentation adds after the contract ones.
SEGMENT_COLUMNS = tuple(c.name for c in CUSTOMERS if c.kind == "segment")
#: Computed columns after the per-type counts.
COMPUTED_COLUMNS = tuple(c.name for c in COMPUTED)
#: Datetime columns (written as ISO text in CSV).
TIME_COLUMNS = tuple(c.name for c in CUSTOMERS + COMPUTED if c.dtype == _UTC)


def customer_order(columns, *, by_type=()) -> list[str]:
    """Output order of the per-customer ``columns``: contract, segment, ``by_type``
    (the ``sent_<type>`` counts, in the order given), computed.

    >>> customer_order(["frequency", "sent_share", "pagerank", "customer_id"],
    ...                by_type=["sent_share"])
    ['customer_id', 'pagerank', 'sent_share', 'frequency']
    """
    present = set(columns)
    order = [c.name for c in CUSTOMERS if c.name in present]
    order += [c for c in by_type if c in present]
    order += [c.name for c in COMPUTED if c.name in present]
    return order


def dtype_of(name: str) -> str | None:
    """The declared dtype of per-customer column ``name`` (None: as the input makes it)."""
    return _BY_NAME[name].dtype


def is_computed(name: str) -> bool:
    """Whether ``name`` is a column the analysis computes (not a customers-table attribute).

    >>> is_computed("pagerank"), is_computed("sent_share"), is_computed("plan")
    (True, True, False)
    """
    return name in _BY_NAME or name.startswith("sent_")


def text_columns(table: str) -> tuple[str, ...]:
    """The columns of ``table`` read as text from CSV (ids keep leading zeros)."""
    if table == "customers":
        return tuple(c.name for c in CUSTOMERS + COMPUTED if c.dtype == "str")
    return tuple(name for name, dtype in TABLES.get(table, {}).items() if dtype == "str")


def restore_dtypes(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Give ``frame`` (a table read from CSV or Parquet) the dtypes the analysis made.

    CSV writes ``2.0`` as ``2`` and datetimes as ISO text; this puts back floats,
    nullable integers and UTC datetimes. Columns not declared (attributes,
    ``sent_<type>``, ``share_<segment>``) are left as read.
    """
    import pandas as pd  # here: the config and the command line read this module

    declared = ({c.name: c.dtype for c in CUSTOMERS + COMPUTED} if table == "customers"
                else TABLES.get(table, {}))
    prefixed = _PREFIXED.get(table, {})
    for name in frame.columns:
        dtype = declared.get(name)
        if dtype is None:
            dtype = next((d for p, d in prefixed.items() if name.startswith(p)), None)
        if dtype is None or str(frame[name].dtype) == dtype or dtype == "str":
            continue
        if dtype == _UTC:
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601"
                                         ).astype(_UTC)
        else:
            frame[name] = frame[name].astype(dtype)
    return frame


def glossary() -> tuple[tuple[str, str], ...]:
    """``(column, one-line meaning)`` for the report's glossary, in its order."""
    return tuple((name, _BY_NAME[name].doc) for name in _GLOSSARY)
