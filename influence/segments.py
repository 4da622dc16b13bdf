"""Tiers and named segments, each customer with a reason a person can read.

Tiers are built by ranking then cutting (never by quantile bins that crash on
ties): a customer's tier on an axis is ``high`` when fewer than
``high_share`` of customers rank strictly above them, ``mid`` within
``high_share + mid_share``, else ``low``. Tied customers share a tier, and a
customer whose value is zero is never above ``low``. Axes: influence
(``influence_score``), activity (``events_sent``) and, when a reach column
exists, reach (``reach_2``, else ``reach_1``).

Segments are named by rules, conditions over the output columns written in
the small language of :mod:`influence.conditions`. Rules are tried in
priority order; the first that matches names the customer's one segment, and
customers no rule matches get the default segment (``passive_audience``). A
rule that reads a column the table does not have (a metric this input or this
build does not produce, e.g. ``recency_days`` without timestamps) is skipped,
and :func:`plan_rules` says so. The built-in rules, in order
(``{name}`` is a ``[segments]`` threshold):

=====================  =====================  ================================================
rule                   segment                condition
=====================  =====================  ================================================
``isolated``           ``isolated``           ``events_sent == 0 and events_received == 0``
``dormant_advocates``  ``dormant_advocates``  ``recency_days > {dormant_days} and
                                              out_strength > 0 and (influence_tier != "low"
                                              or events_sent >= {dormant_min_events})``
``key_propagators``    ``champions``          ``propagator_rank >= 1``
``champions``          ``champions``          ``influence_tier == "high" and
                                              activity_tier != "low"``
``connectors``         ``connectors``         ``community_role == "connector"``
``local_leaders``      ``local_leaders``      ``community_role == "local_leader"``
``rising_stars``       ``rising_stars``       ``tenure_days <= {new_days} and
                                              influence_tier != "low"``
``quiet_influencers``  ``quiet_influencers``  ``influence_tier == "high"``
``engaged_members``    ``engaged_members``    ``activity_tier == "high"``
``contributors``       ``contributors``       ``influence_tier == "mid"``
``newcomers``          ``newcomers``          ``tenure_days <= {new_days}``
=====================  =====================  ================================================

See ``docs/segments.md`` for what each segment means and what to do with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .conditions import Column, Condition, Literal
from .config import SegmentConfig, SegmentRule, check_condition
from .schema import BUILTIN_RULES, CAPPED_SEGMENTS, SEGMENTS

__all__ = ["SEGMENTS", "BUILTIN_RULES", "RulePlan", "assign_tiers", "plan_rules",
           "assign_segments", "count_above", "tiers_from_above", "rank_column", "rank_needs",
           "rank_columns", "segment_inputs", "segment_end", "SegmentGlobals", "segment_globals",
           "segment_rows", "cap_key", "profile_table", "influence_rate", "check_rule_columns",
           "segment_profiles", "suppress_segments"]


_REACH_COLUMNS = ("reach_2", "reach_1")


@dataclass(frozen=True)
class RulePlan:
    """A rule as it will run: its parsed condition and whether it can.

    Attributes
    ----------
    rule : SegmentRule
    condition : Condition
    builtin : bool
    missing : tuple of str
        Columns the condition reads that the table lacks; non-empty means skipped.
    """

    rule: SegmentRule
    condition: Condition
    builtin: bool
    missing: tuple = ()

    @property
    def skipped(self) -> bool:
        return bool(self.missing)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "name": self.rule.name, "segment": self.rule.segment, "when": self.rule.when,
            "builtin": self.builtin, "status": "skipped" if self.skipped else "applied"}
        if self.skipped:
            out["missing"] = list(self.missing)
        return out


def assign_tiers(values: np.ndarray | pd.Series, high_share: float = 0.10,
                 mid_share: float = 0.40, *, among: np.ndarray | None = None) -> np.ndarray:
    """Cut values into ``high``/``mid``/``low`` tiers by rank.

    Parameters
    ----------
    values : array-like of float
        Larger is better. Missing values are ``low``.
    high_share, mid_share : float
        Shares of customers in the high and mid tiers.
    among : numpy.ndarray of bool, optional
        The customers the shares are of (the customers with events); the
        others are ``low``. Default: all.

    Returns
    -------
    numpy.ndarray of str

    Examples
    --------
    >>> assign_tiers([5, 0, 3, 3, 1], high_share=0.2, mid_share=0.4).tolist()
    ['high', 'low', 'mid', 'mid', 'low']
    """
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    population = len(values)
    if among is not None:
        values = np.where(among, values, 0.0)
        population = int(np.count_nonzero(among))
    return tiers_from_above(count_above(values), values, population, high_share, mid_share)


def count_above(values: np.ndarray) -> np.ndarray:
    """How many values are strictly larger than each (NaN last: above every number)."""
    return pd.Series(values).rank(method="min", ascending=False,
                                  na_option="bottom").to_numpy() - 1


def tiers_from_above(above: np.ndarray, values: np.ndarray, population: int,
                     high_share: float, mid_share: float) -> np.ndarray:
    """:func:`assign_tiers` given, per customer, how many values are strictly larger.

    The only global inputs of a tier are ``above`` (a rank) and ``population``; a
    finisher that computes them elsewhere (on Spark executors,
    :mod:`influence.spark.finish`) gets the same tiers from this function.

    >>> tiers_from_above(np.array([0, 4, 1, 1, 3]), np.array([5, 0, 3, 3, 1]), 5,
    ...                  0.2, 0.4).tolist()
    ['high', 'low', 'mid', 'mid', 'low']
    """
    above = np.asarray(above, dtype=np.float64)
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    # how many customers each tier holds, rounded up (>= 1 customer when share > 0);
    # the epsilon keeps 0.1 + 0.2 from counting as 0.30000000000000004
    n_high = np.ceil(high_share * population - 1e-9)
    n_mid = np.ceil((high_share + mid_share) * population - 1e-9)
    tiers = np.full(len(values), "low", dtype=object)
    mid = (above < n_mid) & (values > 0)
    high = (above < n_high) & (values > 0)
    tiers[mid] = "mid"
    tiers[high] = "high"
    return tiers


def check_rule_columns(config: SegmentConfig, *, types=(), attributes=()) -> None:
    """Fail on a custom rule that reads a column no analysis of this input can have.

    A rule may read any declared output column (:data:`influence.schema.RULE_COLUMNS`),
    ``sent_<type>`` for a declared event type, and the customers table's
    attributes (``plan``, ``lifetime_value``; ``attribute_<name>`` for one that
    clashes with an output column).

    Parameters
    ----------
    config : SegmentConfig
    types : iterable of str
        Declared event types.
    attributes : iterable of str
        Columns of the customers table (``customer_id`` excluded or not).

    Raises
    ------
    ConfigError
        Naming the rule, the column and what rules can read (exit 4).

    Examples
    --------
    >>> from influence.config import SegmentRule
    >>> cfg = SegmentConfig(rules=(SegmentRule("vip", "plan == 'pro'"),))
    >>> check_rule_columns(cfg, attributes=["plan"])
    >>> check_rule_columns(cfg)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    influence.errors.ConfigError: segment rule 'vip' ...: unknown column 'plan'; ...
    """
    from .columns import is_computed
    from .errors import ConfigError
    from .schema import RULE_COLUMNS

    known = set(RULE_COLUMNS) | {f"sent_{t}" for t in types}
    extra = []
    for name in attributes:
        if name == "customer_id":
            continue
        clash = is_computed(name) or name in RULE_COLUMNS or name in ("segment",
                                                                       "segment_reason")
        extra.append(f"attribute_{name}" if clash else name)
    known |= set(extra)
    for rule in config.rules:
        condition = check_condition(rule.when, f"segments.rules[{rule.name}].when", rule.name)
        for name in condition.columns:
            if name not in known:
                where = ("declared event types: " + ", ".join(sorted(types))
                         if name.startswith("sent_") else
                         "customer attributes: " + (", ".join(extra) if extra else
                                                    "none (no --customers table)"))
                raise ConfigError(
                    f"segment rule {rule.name!r} (segments.rules[{rule.name}].when = "
                    f"{rule.when!r}): unknown column {name!r}; rules can read the output "
                    f"columns (docs/segments.md), sent_<type> and customer attributes "
                    f"({where})")


def _pct_text(share: float) -> str:
    """The ``pct()`` threshold of a top share: 0.1 -> ``"90"``."""
    return f"{round(100.0 * (1.0 - share), 6):g}"


def plan_rules(config: SegmentConfig, columns=None) -> list[RulePlan]:
    """The rules in the order they run, each marked applied or skipped.

    Parameters
    ----------
    config : SegmentConfig
    columns : iterable of str, optional
        Columns of the table the rules will run on (after tiers are added); a
        rule reading any other column is skipped. ``None``: nothing is skipped.

    Returns
    -------
    list of RulePlan
        Custom rules first (in the order written), then the built-in ones (a
        custom rule named like a built-in one replaces it in place); then
        ``config.order`` moves the rules it names to the front; ``config.disable``
        removes rules.
    """
    thresholds = {"dormant_days": config.dormant_days,
                  "dormant_min_events": config.dormant_min_events,
                  "new_days": config.new_days,
                  "dormant_pct": _pct_text(config.dormant_share),
                  "rising_pct": _pct_text(config.rising_share),
                  "connector_pct": _pct_text(config.connector_share)}
    custom = {rule.name: rule for rule in config.rules}
    builtin_names = {name for name, _, _ in BUILTIN_RULES}
    rules: list[tuple[SegmentRule, bool]] = [
        (rule, False) for rule in config.rules if rule.name not in builtin_names]
    for name, segment, template in BUILTIN_RULES:
        if name in custom:
            rules.append((custom[name], False))
        else:
            rules.append((SegmentRule(name=name, segment=segment,
                                      when=template.format(**thresholds)), True))
    if config.order:
        rank = {name: i for i, name in enumerate(config.order)}
        rules.sort(key=lambda item: rank.get(item[0].name, len(rank)))  # stable
    present = None if columns is None else set(columns)
    plans = []
    for rule, builtin in rules:
        if rule.name in config.disable:
            continue
        condition = check_condition(rule.when, f"segments.rules[{rule.name}].when", rule.name)
        missing = () if present is None else tuple(c for c in condition.columns
                                                   if c not in present)
        plans.append(RulePlan(rule=rule, condition=condition, builtin=builtin,
                              missing=missing))
    return plans


def _text(fmt: str, values: np.ndarray) -> pa.Array:
    """``fmt % value`` for each value, formatted once per distinct value."""
    values = np.asarray(values)
    if len(values) == 0:
        return pa.array([], type=pa.string())
    distinct, inverse = np.unique(values, return_inverse=True)
    return pa.array([fmt % v for v in distinct.tolist()]).take(pa.array(inverse.ravel()))


def _top_percent(above: np.ndarray, n: int) -> pa.Array:
    """``top N%`` from how many of ``n`` customers rank strictly above
    (:func:`count_above`)."""
    share = np.ceil(100.0 * (np.asarray(above, dtype=np.float64) + 1) / max(n, 1)).astype(int)
    return _text("top %d%%", share)


def _int_text(values: np.ndarray) -> pa.Array:
    return _text("%d", np.nan_to_num(values).astype(np.int64))


def _join(*parts) -> pa.Array:
    """Element-wise concatenation of string arrays and scalars (Arrow's kernel: no Python
    string per piece; the reasons of a million customers are tens of millions of pieces)."""
    return pc.binary_join_element_wise(*parts, "")


def _strings(values: pd.Series, missing: str = "missing") -> pa.Array:
    """A column as Arrow strings, ``missing`` where it has no value."""
    text = pa.array(values.astype(str).to_numpy(dtype=object), type=pa.string(),
                    from_pandas=True)
    return pc.fill_null(text, missing)


def _where(mask: np.ndarray, yes, no: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), yes, no)


class _Facts:
    """Readable facts about each customer, one column at a time (vectorised, cached)."""

    def __init__(self, table: pd.DataFrame, score_text: np.ndarray | None = None, *,
                 n: int | None = None) -> None:
        self.table = table
        self.score_text = score_text
        # customers in the whole table (the rows may be a part of it)
        self.n = len(table) if n is None else n
        self.cache: dict[str, pa.Array] = {}

    def num(self, column: str) -> np.ndarray:
        return pd.to_numeric(self.table[column], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan)

    def get(self, column: str) -> pa.Array:
        if column not in self.cache:
            self.cache[column] = self._make(column)
        return self.cache[column]

    def _make(self, column: str) -> pa.Array:
        t = self.table
        if column in ("influence_tier", "influence_score"):
            score = self.num("influence_score")
            top = _top_percent(self.num(rank_column("top", "influence_score")), self.n)
            tier = _strings(t["influence_tier"])
            if self.score_text is not None:
                # what drove the expected influence (influence.metrics.score.reason_text)
                return _join("influence ", tier, " (", top, "): ",
                             pa.array(self.score_text, type=pa.string()))
            return _join("influence ", tier, " (score ", _text("%.3f", score), ", ", top, ")")
        if column in ("activity_tier", "events_sent"):
            return _join("activity ", _strings(t["activity_tier"]), " (",
                         _int_text(self.num("events_sent")), " events sent)")
        if column == "reach_tier":
            source = next(c for c in _REACH_COLUMNS if c in t.columns)
            return _join("reach ", _strings(t["reach_tier"]), " (",
                         _int_text(self.num(source)),
                         f" customers within {source[-1]} hop{'s' if source[-1] != '1' else ''})")
        if column == "recency_days":
            days = self.num("recency_days")
            return _where(np.isnan(days), "never sent an event",
                          _join("last active ", _int_text(days), " days ago"))
        if column == "tenure_days":
            days = self.num("tenure_days")
            return _where(np.isnan(days), "never sent an event",
                          _join("first active ", _int_text(days), " days ago"))
        if column == "pagerank":
            pr = self.num("pagerank")
            return _join("PageRank ", _text("%.4g", pr), " (",
                         _top_percent(self.num(rank_column("top", "pagerank")), self.n), ")")
        if column == "referral_downstream":
            return _join(_int_text(self.num(column)), " downstream referrals")
        if column == "propagator_rank":
            rank = self.num(column)
            return _where(np.isnan(rank), "not a key propagator",
                          _join("key propagator #", _int_text(rank)))
        if column == "community_role":
            role = _strings(t[column])
            if "community" in t.columns:
                return _join(role, " of community ", _int_text(self.num("community")))
            return _join("community role ", role)
        if column == "out_strength":
            return _join("influence exerted ", _text("%.4g", self.num(column)))
        if column == "events_received":
            return _join(_int_text(self.num(column)), " events received")
        values = t[column]
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
                values.dtype):
            text = _text("%.4g", self.num(column))
        else:
            text = _strings(values)
        return _join(column.replace("_", " ") + " ", text)


def _annotations(condition: Condition) -> dict[str, list[str]]:
    """Numeric thresholds the condition sets on each column, as text (``> 60``)."""
    notes: dict[str, list[str]] = {}
    for comparison in condition.comparisons:
        left, right = comparison.left, comparison.right
        if isinstance(right, tuple):
            continue
        if isinstance(left, Literal) and isinstance(right, Column):
            flip = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
            left, right = right, left
            op = flip.get(comparison.op, comparison.op)
        else:
            op = comparison.op
        if not (isinstance(left, Column) and isinstance(right, Literal)):
            continue
        if isinstance(right.value, str):
            continue
        prefix = "percentile " if left.percentile else ""
        notes.setdefault(left.name, []).append(f"{prefix}{op} {right.value:g}")
    return notes


# Facts shown for every customer after the rule's own, when the columns exist.
_CONTEXT = ("influence_tier", "activity_tier", "recency_days")
# Columns whose fact already shows another column (no need to repeat it).
_SAME_FACT = {"influence_score": "influence_tier", "events_sent": "activity_tier"}


def _reason(plan: RulePlan | None, facts: _Facts, rows: np.ndarray,
            columns: set[str]) -> pa.Array:
    shown: list[str] = []
    items: list[list[Any]] = []
    notes = _annotations(plan.condition) if plan is not None else {}
    take = pa.array(rows)
    for column in (plan.condition.columns if plan is not None else ()) + _CONTEXT:
        key = _SAME_FACT.get(column, column)
        if key in shown or key not in columns:
            continue
        shown.append(key)
        item = [facts.get(key).take(take)]
        note = notes.get(column) or notes.get(key)
        if note:
            item.append(f" (rule: {', '.join(note)})")
        items.append(item)
    if plan is None:
        items.insert(0, ["no rule matched"])
    if not items:
        assert plan is not None  # without a plan, items holds "no rule matched"
        items = [[f"rule {plan.rule.name}"]]
    pieces: list[Any] = []
    for i, item in enumerate(items):
        pieces.extend((["; "] if i else []) + item)
    if all(isinstance(piece, str) for piece in pieces):
        return pa.array(["".join(pieces)] * len(rows), type=pa.string())
    return _join(*pieces)


_TIME_COLUMNS = ("recency_days", "first_active", "last_active", "active_days")
#: The tier axes: tier column -> the value columns it ranks (the first present).
_AXES = {"influence_tier": ("influence_score",), "activity_tier": ("events_sent",),
         "reach_tier": _REACH_COLUMNS}
#: Hidden columns of the rows :func:`segment_rows` reads (see :func:`rank_column`).
_RANK_PREFIX = "_rank_"


def rank_column(kind: str, column: str) -> str:
    """The name of a rank column :func:`segment_rows` reads beside the customer's values.

    ``kind`` is ``"tier"`` (how many customers have a strictly larger value, the
    value taken as 0 for customers without events and for missing values: the
    tiers' rank), ``"top"`` (how many have a strictly larger value, missing values
    last: the ``top N%`` of the reasons) or ``"pct"`` (how many customers with
    events have a strictly smaller value, missing for the others and for a
    missing value: ``pct()`` in the rules). They are the only per-customer numbers
    that depend on the whole table: :func:`rank_columns` computes them on a pandas
    table, :mod:`influence.spark.finish` on the executors.
    """
    return f"{_RANK_PREFIX}{kind}_{column}"


def segment_inputs(customers: pd.DataFrame, has_timestamps: bool | None = None, *,
                   end: pd.Timestamp | None = None) -> pd.DataFrame:
    """The per-customer columns the rules read besides the tiers: ``tenure_days``
    (from ``end``, see :func:`segment_end`) and ``influence_rate``; the time columns
    are dropped when ``has_timestamps`` is ``False``. Row by row (no global input
    but ``end``), so any part of the table gives the same rows."""
    table = customers
    if has_timestamps is False:
        table = table.drop(columns=[c for c in _TIME_COLUMNS if c in table.columns])
    derived = pd.DataFrame(index=table.index)
    if "first_active" in table.columns and end is not None and end is not pd.NaT:
        first = pd.to_datetime(table["first_active"], utc=True)
        tenure = (end - first).dt.total_seconds() / 86400.0
        derived["tenure_days"] = np.floor(tenure.clip(lower=0)).to_numpy(dtype=float)
    if {"first_active", "last_active", "out_strength"} <= set(table.columns):
        derived["influence_rate"] = influence_rate(table)
    return pd.concat([table.drop(columns=[c for c in derived.columns if c in table.columns]),
                      derived], axis=1)


def segment_end(customers: pd.DataFrame, end: pd.Timestamp | None = None
                ) -> pd.Timestamp | None:
    """The analysis end date for ``tenure_days``: ``end``, else the latest ``last_active``."""
    if end is None and "first_active" in customers.columns \
            and "last_active" in customers.columns:
        end = pd.to_datetime(customers["last_active"], utc=True).max()
    return None if end is pd.NaT else end


def _tier_axes(columns) -> dict[str, str]:
    """tier column -> the value column it ranks, for the axes ``columns`` allow."""
    present = set(columns)
    axes = {}
    for tier, candidates in _AXES.items():
        source = next((c for c in candidates if c in present), None)
        if source is not None:
            axes[tier] = source
    return axes


def rank_needs(columns, config: SegmentConfig) -> list[tuple[str, str]]:
    """The rank columns (``(kind, column)``, :func:`rank_column`) that
    :func:`segment_rows` reads on a table with ``columns`` (after
    :func:`segment_inputs`)."""
    columns = [c for c in columns if not c.startswith(_RANK_PREFIX)]
    axes = _tier_axes(columns)
    needs = [("tier", source) for source in axes.values()]
    needs.append(("top", "influence_score"))
    plans = plan_rules(config, set(columns) | set(axes))
    read = [c for p in plans if not p.skipped for c in p.condition.columns]
    if "pagerank" in read and "pagerank" in columns:
        needs.append(("top", "pagerank"))
    for plan in plans:
        if plan.skipped:
            continue
        for comparison in plan.condition.comparisons:
            for side in (comparison.left, comparison.right):
                if isinstance(side, Column) and side.percentile \
                        and ("pct", side.name) not in needs:
                    needs.append(("pct", side.name))
    return needs


def rank_columns(table: pd.DataFrame, needs) -> pd.DataFrame:
    """The rank columns ``needs`` (:func:`rank_needs`) of the whole ``table`` (same index)."""
    active = _active(table)
    out = pd.DataFrame(index=table.index)
    for kind, column in needs:
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan)
        if kind == "tier":
            out[rank_column(kind, column)] = count_above(np.where(active, np.nan_to_num(values),
                                                             0.0))
        elif kind == "top":
            out[rank_column(kind, column)] = count_above(values)
        else:
            values = np.where(active, values, np.nan)
            out[rank_column(kind, column)] = pd.Series(values).rank(
                method="min", ascending=True).to_numpy() - 1
    return out


@dataclass(frozen=True)
class SegmentGlobals:
    """The numbers over the whole table that :func:`segment_rows` needs besides the
    rank columns.

    Attributes
    ----------
    n : int
        Customers.
    active : int
        Customers with an event, sent or received (the tiers', ``pct()``'s and the
        cap's population).
    pct_counts : dict
        column -> customers with events and a value in it (``pct()``'s divisor).
    cap_cuts : dict or None
        rule name -> the last ``(key, row)`` a capped rule keeps (``None``: every
        eligible row; key as :func:`cap_key` gives it, row the row number in
        customer-id order); ``None`` for the whole table: computed while the rules
        run, as :func:`assign_segments` does.
    caps : dict or None
        The manifest's record of the caps (``segment -> eligible, kept``), with
        ``cap_cuts``.
    """

    n: int
    active: int
    pct_counts: dict
    cap_cuts: dict | None = None
    caps: dict | None = None


def segment_globals(table: pd.DataFrame, needs) -> SegmentGlobals:
    """:class:`SegmentGlobals` of the whole ``table`` (after :func:`segment_inputs`)."""
    active = _active(table)
    counts = {}
    for kind, column in needs:
        if kind == "pct":
            values = pd.to_numeric(table[column], errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan)
            counts[column] = int(np.count_nonzero(active & ~np.isnan(values)))
    return SegmentGlobals(n=len(table), active=int(np.count_nonzero(active)),
                          pct_counts=counts)


def _tiers(table: pd.DataFrame, config: SegmentConfig, population: int) -> pd.DataFrame:
    """Tiers per axis from the rank columns."""
    derived = pd.DataFrame(index=table.index)
    for tier, source in _tier_axes(table.columns).items():
        values = pd.to_numeric(table[source], errors="coerce").to_numpy(dtype=float)
        above = pd.to_numeric(table[rank_column("tier", source)]).to_numpy(dtype=float)
        values = np.where(_active(table), np.nan_to_num(values), 0.0)
        derived[tier] = tiers_from_above(above, values, population, config.high_share,
                                         config.mid_share)
    return derived


def _active(customers: pd.DataFrame) -> np.ndarray:
    """Customers with an event, sent or received."""
    sent = pd.to_numeric(customers["events_sent"], errors="coerce").fillna(0).to_numpy()
    if "events_received" not in customers.columns:
        return sent > 0
    received = pd.to_numeric(customers["events_received"], errors="coerce").fillna(0)
    return (sent + received.to_numpy()) > 0


def influence_rate(customers: pd.DataFrame) -> np.ndarray:
    """Influence exerted per 30 days of active life.

    ``out_strength x 30 / max(30, days from first_active to last_active)``: the
    influence a customer brought per month while they acted, so a customer who
    moved many in a short active spell ranks above one who moved as many over
    years. NaN for customers who never sent an event.

    Examples
    --------
    >>> t = pd.DataFrame({"out_strength": [90.0, 90.0, 0.0],
    ...                   "first_active": pd.to_datetime(["2026-01-01", "2025-01-01", None]),
    ...                   "last_active": pd.to_datetime(["2026-01-11", "2026-01-01", None])})
    >>> influence_rate(t).round(2).tolist()
    [90.0, 7.4, nan]
    """
    first = pd.to_datetime(customers["first_active"], utc=True)
    last = pd.to_datetime(customers["last_active"], utc=True)
    span = ((last - first).dt.total_seconds() / 86_400.0).to_numpy(dtype=np.float64,
                                                                    na_value=np.nan)
    out = pd.to_numeric(customers["out_strength"], errors="coerce").to_numpy(dtype=np.float64)
    return np.round(out * 30.0 / np.maximum(span, 30.0), 9)


def assign_segments(customers: pd.DataFrame, config: SegmentConfig,
                    has_timestamps: bool | None = None, *,
                    end: pd.Timestamp | None = None,
                    score_text: np.ndarray | None = None) -> pd.DataFrame:
    """Name one segment per customer, with tiers and a reason.

    Parameters
    ----------
    customers : pandas.DataFrame
        Per-customer metrics; needs ``influence_score``, ``events_sent`` and
        ``events_received``. Any other output column a rule reads is used when
        present (``recency_days``, ``first_active``, ``reach_2``,
        ``community_role``, ``propagator_rank``, ...); rules reading absent
        columns are skipped.
    config : SegmentConfig
    has_timestamps : bool, optional
        ``False`` ignores the time columns (nobody is dormant, new or rising).
    end : pandas.Timestamp, optional
        Analysis end date, for ``tenure_days``; defaults to the latest
        ``last_active``.
    score_text : numpy.ndarray of str, optional
        Per customer, what drove the score (``expected influence 12.3 in the
        next 30 days (71% from the last weeks, ...)``); shown in the reasons in
        place of the score's value.

    Returns
    -------
    pandas.DataFrame
        Same index: ``segment``, ``segment_reason`` (str), ``influence_tier``,
        ``activity_tier`` (str), ``reach_tier`` (str, when ``reach_2`` or
        ``reach_1`` exists), ``tenure_days`` (float, when ``first_active``
        exists; NaN for customers who never sent an event).

    Notes
    -----
    Every customer gets exactly one segment: the first applied rule (in
    :func:`plan_rules` order) that matches, else ``config.default``.

    The work is split in two so that a finisher that never holds the whole
    table (:mod:`influence.spark.finish`) runs the same code: what depends on
    the whole table (:func:`segment_end`, :func:`rank_columns`,
    :func:`segment_globals`) and the rows given those (:func:`segment_inputs`,
    :func:`segment_rows`). Here both run on the whole table.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"influence_score": [0.9, 0.1, 0.0], "out_strength": [5, 1, 0],
    ...                       "events_sent": [12, 1, 0], "events_received": [3, 1, 0]})
    >>> assign_segments(table, SegmentConfig(high_share=0.3, max_share=1.0))["segment"].tolist()
    ['champions', 'contributors', 'isolated']
    >>> assign_segments(table, SegmentConfig(high_share=0.3))["segment"].tolist()  # 10% of 2
    ['engaged_members', 'contributors', 'isolated']
    """
    table = segment_inputs(customers, has_timestamps,
                           end=segment_end(customers if has_timestamps is not False else
                                           customers.drop(columns=[
                                               c for c in _TIME_COLUMNS
                                               if c in customers.columns]), end))
    needs = rank_needs(table.columns, config)
    table = pd.concat([table, rank_columns(table, needs)], axis=1)
    out = segment_rows(table, config, segment_globals(table, needs), score_text=score_text)
    out.index = customers.index
    return out


def segment_rows(table: pd.DataFrame, config: SegmentConfig, globals: SegmentGlobals, *,
                 score_text: np.ndarray | None = None, probe=None
                 ) -> pd.DataFrame:
    """Segments, reasons and tiers of ``table``'s rows given the whole table's numbers.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows after :func:`segment_inputs`, with the rank columns of
        :func:`rank_needs` (:func:`rank_columns`) and, when they are a part of the
        table, ``_row`` (the row number in the whole table, customer-id order).
    config : SegmentConfig
    globals : SegmentGlobals
        With ``cap_cuts`` unless ``table`` is the whole table.
    score_text : numpy.ndarray of str, optional
        As :func:`assign_segments`.
    probe : collection of str, optional
        Capped rules' names: return, instead of the segments, the rows each of them
        would take before its cap, as ``rule``, ``key`` (:func:`cap_key`) and ``row``
        (for computing their cut points elsewhere). Each probed rule without a cut in
        ``globals.cap_cuts`` keeps every eligible row, so the rows are right up to
        the first probed rule whose cap binds.

    Returns
    -------
    pandas.DataFrame
        As :func:`assign_segments` (``attrs["caps"]`` the caps' record).
    """
    n = len(table)
    derived = _tiers(table, config, globals.active)
    table = pd.concat([table.drop(columns=[c for c in derived.columns if c in table.columns]),
                       derived], axis=1)
    rows_of = (table["_row"].to_numpy(dtype=np.int64) if "_row" in table.columns
               else np.arange(n, dtype=np.int64))
    columns = {c for c in table.columns if not c.startswith(_RANK_PREFIX) and c != "_row"}
    plans = plan_rules(config, columns)
    segment = np.full(n, config.default, dtype=object)
    reasons: list[pa.Array] = []  # one array per group of rows, in the order of ``placed``
    placed: list[np.ndarray] = []
    undecided = np.ones(n, dtype=bool)
    facts = _Facts(table, score_text, n=globals.n)
    active = _active(table)
    percentiles = {column: 100.0 * pd.to_numeric(table[rank_column("pct", column)])
                   .to_numpy(dtype=np.float64) / max(count, 1)
                   for column, count in globals.pct_counts.items()}
    cap = int(np.floor(config.max_share * globals.active + 1e-9))
    caps: dict[str, dict[str, int]] = {}
    cuts = globals.cap_cuts
    probed: list[pd.DataFrame] = []
    for plan in plans:
        if plan.skipped or not undecided.any():
            continue
        hit = plan.condition.evaluate(table, among=active, percentiles=percentiles) \
            & undecided
        if probe is not None and plan.rule.name in probe:
            rows = np.flatnonzero(hit)
            probed.append(pd.DataFrame({
                "rule": pd.array(np.full(len(rows), plan.rule.name, dtype=object),
                                 dtype="str"),
                "key": cap_key(table, str(plan.rule.segment))[rows], "row": rows_of[rows]}))
        if not hit.any():
            continue
        rows = np.flatnonzero(hit)
        if plan.rule.segment in CAPPED_SEGMENTS:
            if cuts is None:
                rows, hit = _capped(table, plan.rule.segment, rows, cap, caps, rows_of)
            else:
                rows, hit = _cut(table, plan.rule.segment, rows, cuts.get(plan.rule.name),
                                 rows_of)
            if len(rows) == 0:
                continue
        segment[rows] = plan.rule.segment
        placed.append(rows)
        if plan.rule.name == "isolated" and plan.builtin:
            reasons.append(pa.array(["no events sent or received"] * len(rows),
                                    type=pa.string()))
        else:
            reasons.append(_reason(plan, facts, rows, columns))
        undecided &= ~hit
    if probe is not None:
        return pd.concat(probed, ignore_index=True) if probed else pd.DataFrame(
            {"rule": pd.array([], dtype="str"), "key": np.zeros(0),
             "row": np.zeros(0, dtype=np.int64)})
    rows = np.flatnonzero(undecided)
    if len(rows):
        placed.append(rows)
        reasons.append(_reason(None, facts, rows, columns))
    # every row is in exactly one group: put the groups' reasons back in row order
    where = np.empty(n, dtype=np.int64)
    if placed:
        where[np.concatenate(placed)] = np.arange(n)
    reason = pa.concat_arrays(reasons).take(pa.array(where)) if reasons else pa.array(
        [], type=pa.string())
    out = pd.DataFrame({
        # from the object array directly: astype(str) would make fixed-width
        # unicode arrays as wide as the longest name
        "segment": pd.array(segment, dtype="str"),
        "segment_reason": pd.array(reason, dtype="str"),
    }, index=table.index)
    for column in derived.columns:
        out[column] = pd.array(derived[column].astype(str).to_numpy(), dtype="str")
    for column in ("tenure_days", "influence_rate"):
        if column in table.columns:
            out[column] = table[column]
    out.attrs["caps"] = {"max_share": config.max_share,
                         "customers_with_events": globals.active,
                         "cap": cap, "segments": caps if cuts is None else globals.caps}
    return out


def cap_key(table: pd.DataFrame, segment: str) -> np.ndarray:
    """The key a capped segment keeps its best rows by, smallest first (missing last)."""
    column, ascending = CAPPED_SEGMENTS[segment]
    if column not in table.columns:
        column, ascending = "influence_score", False
    key = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64,
                                                                 na_value=np.nan)
    return np.where(np.isnan(key), np.inf, key if ascending else -key)


def _capped(table: pd.DataFrame, segment: str, rows: np.ndarray, cap: int,
            caps: dict[str, dict[str, int]], rows_of: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """The ``rows`` a capped segment keeps: the best by its ranking column
    (:data:`influence.schema.CAPPED_SEGMENTS`) while the segment holds fewer than
    ``cap``; ties (and missing values, last) by row order, i.e. customer id."""
    record = caps.setdefault(segment, {"eligible": 0, "kept": 0})
    record["eligible"] += len(rows)
    room = max(cap - record["kept"], 0)
    if len(rows) > room:
        key = cap_key(table, segment)[rows]
        rows = np.sort(rows[np.lexsort((rows_of[rows], key))[:room]])
    record["kept"] += len(rows)
    hit = np.zeros(len(table), dtype=bool)
    hit[rows] = True
    return rows, hit


def _cut(table: pd.DataFrame, segment: str, rows: np.ndarray, cut, rows_of: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray]:
    """The ``rows`` a capped rule keeps given its cut point (``None``: all)."""
    if cut is not None:
        key = cap_key(table, segment)[rows]
        at, last = cut
        rows = rows[(key < at) | ((key == at) & (rows_of[rows] <= last))]
    hit = np.zeros(len(table), dtype=bool)
    hit[rows] = True
    return rows, hit


_MEDIANS = ("influence_score", "pagerank", "out_strength", "events_sent", "recency_days",
            "reach_2", "referral_downstream")


def segment_profiles(customers: pd.DataFrame, *, min_segment_size: int = 1,
                     order=None) -> pd.DataFrame:
    """One row per segment: size, share, medians and K-factor.

    Parameters
    ----------
    customers : pandas.DataFrame
        With ``segment`` and any of the metric columns.
    min_segment_size : int, default=1
        Segments with fewer customers are *suppressed*: ``suppressed`` is true
        and every metric is left empty (size and share stay).
    order : sequence of str, optional
        Segment order (rule priority); other segments follow by name.

    Returns
    -------
    pandas.DataFrame
        :data:`influence.schema.SEGMENT_PROFILE_COLUMNS` that apply:
        ``segment`` (str), ``size`` (int64), ``share`` (float, of all
        customers), ``suppressed`` (bool), ``median_<metric>`` for each metric
        column present, and, when ``referrals_sent`` and ``referrals_converted``
        exist, ``referrers`` (members with a referral sent),
        ``invites_per_referrer``, ``conversion_rate`` (converted / sent) and
        ``k_factor`` = ``invites_per_referrer x conversion_rate``.
    """
    total = len(customers)
    names = list(dict.fromkeys(customers["segment"].astype(str)))
    labels = customers["segment"].astype(str).to_numpy()
    rows = []
    referral = {"referrals_sent", "referrals_converted"} <= set(customers.columns)
    for name in names:
        members = customers[labels == name]
        size = len(members)
        row: dict = {"segment": name, "size": size, "share": size / max(total, 1),
                     "suppressed": size < min_segment_size}
        for metric in _MEDIANS:
            if metric in customers.columns:
                values = pd.to_numeric(members[metric], errors="coerce")
                row[f"median_{metric}"] = float(values.median()) if values.notna().any() \
                    else np.nan
        if referral:
            sent = pd.to_numeric(members["referrals_sent"], errors="coerce").fillna(0)
            converted = pd.to_numeric(members["referrals_converted"],
                                      errors="coerce").fillna(0)
            referrers = int((sent > 0).sum())
            per = float(sent.sum() / referrers) if referrers else np.nan
            rate = float(converted.sum() / sent.sum()) if sent.sum() > 0 else np.nan
            row.update(referrers=referrers, invites_per_referrer=per, conversion_rate=rate,
                       k_factor=per * rate if referrers and sent.sum() > 0 else np.nan)
        rows.append(row)
    return profile_table(rows, order=order)


def profile_table(rows: list[dict], *, order=None) -> pd.DataFrame:
    """:func:`segment_profiles`' table from its rows (one dict per segment, any order):
    segments by ``order`` then name, suppressed segments' figures emptied, columns
    and types of :data:`influence.schema.SEGMENT_PROFILE_COLUMNS`."""
    from .schema import SEGMENT_PROFILE_COLUMNS

    rank = {name: i for i, name in enumerate(order or ())}
    rows = sorted(rows, key=lambda r: (rank.get(r["segment"], len(rank)), r["segment"]))
    profiles = pd.DataFrame(rows)
    if profiles.empty:
        profiles = pd.DataFrame(columns=["segment", "size", "share", "suppressed"])
    columns = [c for c in SEGMENT_PROFILE_COLUMNS if c in profiles.columns]
    profiles = profiles[columns]
    metrics = [c for c in columns if c not in ("segment", "size", "share", "suppressed")]
    if len(profiles):
        profiles.loc[profiles["suppressed"], metrics] = np.nan
        if "referrers" in profiles:
            profiles["referrers"] = profiles["referrers"].astype("Int64")
    profiles["segment"] = pd.array(profiles["segment"].astype(str), dtype="str")
    profiles["size"] = profiles["size"].astype(np.int64)
    profiles["share"] = profiles["share"].astype(float)
    profiles["suppressed"] = profiles["suppressed"].astype(bool)
    return profiles.reset_index(drop=True)


def suppress_segments(segments: pd.DataFrame, *, kfactor: pd.DataFrame | None = None,
                      communities: pd.DataFrame | None = None
                      ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Suppress the segments that :func:`segment_profiles` suppressed everywhere else too.

    A segment smaller than ``[privacy] min_segment_size`` shows only its size
    and share: any figure computed over its few members would be their own
    figures. So its ``kfactor`` rows (``group == "segment"``) are left out and
    its ``share_<segment>`` column of ``communities`` is emptied (with the
    community sizes it would tell in which communities those few customers
    are). The report leaves out its figures and example reason on its own
    (from ``segments["suppressed"]``).

    Parameters
    ----------
    segments : pandas.DataFrame
        :func:`segment_profiles` output (``segment``, ``suppressed``).
    kfactor : pandas.DataFrame, optional
        :func:`influence.reach.viral_coefficients` output.
    communities : pandas.DataFrame, optional
        :func:`influence.communities.community_profiles` output.

    Returns
    -------
    (kfactor, communities)
        New tables (``None`` where ``None`` was given); rows and columns stay in
        order, so the files keep their schema.

    Examples
    --------
    >>> seg = pd.DataFrame({"segment": ["big", "tiny"], "suppressed": [False, True]})
    >>> kf = pd.DataFrame({"group": ["overall", "segment", "segment"],
    ...                    "key": ["all", "big", "tiny"], "k_factor": [0.5, 0.4, 2.0]})
    >>> suppress_segments(seg, kfactor=kf)[0]["key"].tolist()
    ['all', 'big']
    """
    hidden = segments.loc[segments["suppressed"].astype(bool), "segment"].astype(str).tolist()
    if kfactor is not None:
        drop = ((kfactor["group"].astype(str) == "segment")
                & kfactor["key"].astype(str).isin(hidden)).to_numpy()
        kfactor = kfactor[~drop].reset_index(drop=True)
    if communities is not None:
        communities = communities.copy()
        for name in hidden:
            column = f"share_{name}"
            if column in communities:
                communities[column] = np.nan
    return kfactor, communities
