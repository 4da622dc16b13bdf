"""Canonical column names and event types: the one place they are fixed.

Influence flow
--------------
Every event type has a *flow*: the direction in which influence travels along
it. ``forward`` means source -> target (A shares with B, A refers B: A moved B);
``reverse`` means target -> source (C comments on A's post: A's content moved C
to act). An edge ``u -> v`` in the influence graph always means "u influenced v".
"""

from __future__ import annotations

from dataclasses import dataclass

from . import columns as _columns

__all__ = [
    "SOURCE", "TARGET", "TYPE", "TIMESTAMP", "CONVERTED", "VALUE", "WEIGHT",
    "EVENT_COLUMNS", "REQUIRED_COLUMNS", "CUSTOMER_ID", "BAD_ID",
    "EventType", "BUILTIN_TYPES", "FLOWS", "CUSTOMER_COLUMNS", "COMMUNITY_COLUMNS",
    "SEGMENT_COLUMNS", "RULE_COLUMNS", "TEXT_COLUMNS", "DATE_COLUMNS", "KNOWN_VALUES",
    "SEGMENT_PROFILE_COLUMNS", "BUILTIN_RULES", "SEGMENTS", "CAPPED_SEGMENTS",
]

SOURCE = "source"
TARGET = "target"
TYPE = "type"
TIMESTAMP = "timestamp"
CONVERTED = "converted"
VALUE = "value"
WEIGHT = "weight"
CUSTOMER_ID = "customer_id"
#: Internal boolean column of raw events: the row's source or target is no id (a list, a
#: dict, a boolean, an infinite number); set by reading, turned into a drop by validation.
BAD_ID = "_bad_id"

#: Canonical event columns, in the order they are kept.
EVENT_COLUMNS = (SOURCE, TARGET, TYPE, TIMESTAMP, CONVERTED, VALUE, WEIGHT)
#: Columns an events table must have (after mapping).
REQUIRED_COLUMNS = (SOURCE, TARGET, TYPE)

FLOWS = ("forward", "reverse")


@dataclass(frozen=True)
class EventType:
    """How one event type moves influence.

    Parameters
    ----------
    flow : {"forward", "reverse"}
        ``forward``: influence goes source -> target; ``reverse``: target -> source.
    weight : float
        Weight one event of this type adds to its influence edge; > 0.
    """

    flow: str
    weight: float


#: Built-in event types (contract.md). Others are declared in the config.
BUILTIN_TYPES = {
    "share": EventType(flow="forward", weight=2.0),
    "referral": EventType(flow="forward", weight=3.0),
    "comment": EventType(flow="reverse", weight=1.0),
}

#: Columns of ``customers.csv`` in contract order (declared in :mod:`influence.columns`).
#: Stages that are not built yet leave theirs out; the order of those present never changes.
CUSTOMER_COLUMNS = _columns.CUSTOMER_COLUMNS

#: Columns of ``communities.csv`` in order.
COMMUNITY_COLUMNS = (
    "community", "size", "internal_weight", "external_weight", "density", "leader",
    "top_members", "dominant_type",
)
#: ``communities.csv`` then has one ``share_<segment>`` column per name in
#: :data:`influence.segments.SEGMENTS`, in that order.

#: Columns the segmentation adds after the contract columns of ``customers.csv``:
#: tiers per axis (``reach_tier`` only when a reach column exists) and
#: ``tenure_days`` (days from ``first_active`` to the end date; timestamps only).
SEGMENT_COLUMNS = _columns.SEGMENT_COLUMNS

#: Columns a segment rule (``[[segments.rules]] when = ...``) may read: every declared
#: per-customer output (:mod:`influence.columns`), whether or not this build or this
#: input produces it. Rules may also read ``sent_<type>`` and the customers table's
#: attributes, checked when the analysis knows them (``segments.check_rule_columns``).
RULE_COLUMNS = tuple(c for c in CUSTOMER_COLUMNS if c not in ("segment", "segment_reason")) \
    + SEGMENT_COLUMNS + _columns.COMPUTED_COLUMNS

#: Rule columns that hold text (compared with quoted strings).
TEXT_COLUMNS = tuple(c for c in RULE_COLUMNS if _columns.dtype_of(c) == "str")

#: Rule columns that hold dates (not comparable in rules: use recency_days or tenure_days).
DATE_COLUMNS = tuple(c for c in RULE_COLUMNS if c in _columns.TIME_COLUMNS)

#: The values a text column can take, where they are fixed (typos in rules are errors).
KNOWN_VALUES = {
    "influence_tier": ("high", "mid", "low"),
    "activity_tier": ("high", "mid", "low"),
    "reach_tier": ("high", "mid", "low"),
    "community_role": ("local_leader", "connector", "member", "peripheral", "isolated"),
    "lifecycle_stage": ("new", "active", "declining", "dormant", "churned"),
}

#: Columns of ``segments.csv`` (segment profiles) in order; the ``median_*``,
#: ``referrers``, ``invites_per_referrer``, ``conversion_rate`` and
#: ``k_factor`` columns appear when their source columns exist.
SEGMENT_PROFILE_COLUMNS = (
    "segment", "size", "share", "suppressed", "median_influence_score", "median_pagerank",
    "median_out_strength", "median_events_sent", "median_recency_days", "median_reach_2",
    "median_referral_downstream", "referrers", "invites_per_referrer", "conversion_rate",
    "k_factor",
)

#: Built-in segment rules (:mod:`influence.segments`) in priority order:
#: (rule name, segment, condition template). ``pct()`` is among the customers with
#: events; "exerted influence" is ``events_sent > 0 and out_strength > 0``.
BUILTIN_RULES = (
    ("isolated", "isolated", "events_sent == 0 and events_received == 0"),
    ("dormant_advocates", "dormant_advocates",
     "recency_days > {dormant_days} and events_sent > 0 and out_strength > 0 and "
     "pct(influence_rate) >= {dormant_pct}"),
    ("key_propagators", "champions",
     "propagator_rank >= 1 and events_sent > 0 and out_strength > 0"),
    ("champions", "champions",
     'influence_tier == "high" and activity_tier != "low" and out_strength > 0'),
    ("connectors", "connectors",
     'community_role == "connector" and cross_influence > 0 and '
     "pct(cross_influence) >= {connector_pct}"),
    ("local_leaders", "local_leaders",
     'community_role == "local_leader" and out_strength > 0'),
    ("rising_stars", "rising_stars",
     "tenure_days <= {new_days} and pct(influence_score) >= {rising_pct} and "
     "out_strength > 0"),
    ("quiet_influencers", "quiet_influencers",
     'influence_tier == "high" and out_strength > 0'),
    ("engaged_members", "engaged_members", 'activity_tier == "high"'),
    ("contributors", "contributors", 'influence_tier == "mid"'),
    ("newcomers", "newcomers", "tenure_days <= {new_days}"),
)

#: The action segments, each capped at ``[segments] max_share`` of the customers with
#: events: segment -> (ranking column, ascending). Customers beyond the cap fall
#: through to the next rules.
CAPPED_SEGMENTS = {
    "dormant_advocates": ("influence_rate", False),
    "champions": ("influence_rank", True),
    "connectors": ("cross_influence", False),
    "local_leaders": ("influence_rank", True),
    "rising_stars": ("influence_rank", True),
    "quiet_influencers": ("influence_rank", True),
}

#: Segment names of the built-in rules, in priority order, then the default.
SEGMENTS = tuple(dict.fromkeys([segment for _, segment, _ in BUILTIN_RULES]
                               + ["passive_audience"]))
