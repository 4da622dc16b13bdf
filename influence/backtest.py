"""Backtest: compute scores on events before a split, judge them by the spread after it.

The question a growth team asks of a score is "if I had picked the top k
customers by this score at the split date, would I have picked the ones whose
content and referrals then moved the most people?". This module answers it
for the influence score and for simple baselines. ``docs/backtest.md`` states
every choice; in short:

Spread after the split
----------------------
Only events with ``split <= timestamp < split + horizon`` count. Each event
with a target is read along its type's influence flow: the *influencer* is the
source of a ``forward`` type (share, referral) and the target of a ``reverse``
type (comment: the author of the content commented on). The event counts for
the influencer when it is *followed by activity*:

* a ``reverse`` event always counts: it *is* the influenced customer's own
  activity, caused by the influencer's content;
* a ``forward`` event counts when the referral converted (``converted`` true),
  or when its target sends at least one event of any type later in the
  horizon (strictly after the forward event).

``spread`` is the number of counted events (unweighted: the type weights are
a modelling choice of the score, so they stay out of the target);
``spread_customers`` the distinct customers they reached. Events without a
target count for nobody.

Who is judged
-------------
Customers who took part in at least one event before the split (the scores
cannot rank anyone else). Customers new after the split are left out of both
the ranking and the target, and reported: their number and the share of all
spread they carry.

Metrics, per score
------------------
The *relevant* customers are the judged customers whose spread is at least
the k-th largest spread and above zero (ties at the cut are all relevant, so
there can be more than k). A score picks its top ``k`` judged customers, ties
broken by ``customer_id``; ``precision_at_k = hits / picks``, ``lift =
precision_at_k / (relevant / judged)`` (1 = no better than a random pick),
``captured_spread`` the share of the judged customers' spread that the k
picks carry, and ``spearman`` the rank correlation (average ranks for ties) of
score and spread over all judged customers.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from .config import AnalysisConfig, as_config
from .errors import InputError
from .graph import encode_events
from .io import write_table
from .periods import parse_days, parse_instant
from .progress import Reporter, StageClock, prefixed
from .schema import CONVERTED, CUSTOMER_ID, SOURCE, TARGET, TIMESTAMP, TYPE
from .sources import read_events
from .validation import clean_events

__all__ = ["Backtest", "backtest", "downstream_spread", "evaluate_scores", "SCORES"]

logger = logging.getLogger(__name__)

#: Scores judged, with what each is: computed on the events before the split.
SCORES = {
    "influence_score": "the composite influence score (PageRank and out strength percentiles)",
    "expected_influence": "candidate score: influence events expected in the next 30 days, "
                          "calibrated on the history before the split (docs/validity.md)",
    "pagerank": "PageRank on the reversed influence graph",
    "out_strength": "weight of influence exerted (baseline)",
    "received": "influence events credited, unweighted: replies/comments received on one's "
                "content, shares/referrals sent (baseline)",
    "received_7d": "influence events credited, each weighted 0.5 ** (age / 7 days) at the "
                   "split (baseline)",
    "out_degree": "distinct customers influenced: the distinct senders of replies in a "
                  "reply network (baseline)",
    "events": "events taken part in, sent or received (baseline)",
    "events_sent": "events sent (activity baseline)",
}


@dataclass
class Backtest:
    """Result of :func:`backtest`.

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per score and ``k``: ``score`` (str), ``k`` (int64: picks
        made), ``hits`` (int64), ``precision_at_k``, ``lift``,
        ``captured_spread``, ``spearman`` (float64; NaN when undefined). The
        last two rows of each ``k`` are ``oracle`` (the top ``k`` by the
        spread itself: the most any score can capture) and ``random`` (the
        expectation of a random pick).
    customers : pandas.DataFrame
        One row per judged customer, sorted by ``spread`` descending then
        ``customer_id``: ``customer_id``, each score, ``spread``,
        ``spread_customers`` (int64), ``relevant`` (bool).
    summary : dict
        Split, horizon, counts of judged / relevant / new customers, events
        before and after, spread of new customers.
    """

    scores: pd.DataFrame
    customers: pd.DataFrame
    summary: dict

    def to_dict(self) -> dict:
        """JSON-ready summary and score table (NaN as null)."""
        rows = json.loads(self.scores.to_json(orient="records"))
        return {"summary": self.summary, "scores": rows}

    def save(self, out: str | Path) -> Path:
        """Write ``backtest.json`` and ``backtest_customers.csv`` into ``out`` (created)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "backtest.json").write_text(json.dumps(self.to_dict(), indent=2) + "\n",
                                           encoding="utf-8")
        write_table(self.customers, out / "backtest_customers.csv")
        return out


def downstream_spread(events: pd.DataFrame, config: AnalysisConfig) -> pd.DataFrame:
    """Spread each customer caused in ``events`` (see the module docstring).

    Parameters
    ----------
    events : pandas.DataFrame
        Clean events of the judging period (:func:`influence.validation.clean_events`),
        with ``timestamp``.
    config : AnalysisConfig
        For the flow of each event type.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (str), ``spread``, ``spread_customers`` (int64): one row
        per customer with at least one counted event, sorted by ``customer_id``.
    """
    # an event of any type counts for "acting later": use every event, with or without
    # target (so before dropping the events without one)
    last_sent = events.groupby(SOURCE, sort=False, observed=True)[TIMESTAMP].max()
    events = events[events[TARGET].notna()]
    reverse = events[TYPE].map({k: v.flow == "reverse" for k, v in config.types.items()})
    reverse = reverse.astype(bool).to_numpy()
    influencer = np.where(reverse, events[TARGET].to_numpy(), events[SOURCE].to_numpy())
    influenced = np.where(reverse, events[SOURCE].to_numpy(), events[TARGET].to_numpy())
    followed = (pd.Series(influenced).map(last_sent).to_numpy()
                > events[TIMESTAMP].to_numpy())
    followed = pd.Series(followed).fillna(False).to_numpy(dtype=bool)
    converted = (events[CONVERTED].fillna(False).to_numpy(dtype=bool)
                 if CONVERTED in events else np.zeros(len(events), dtype=bool))
    counted = reverse | converted | followed
    pairs = pd.DataFrame({CUSTOMER_ID: influencer[counted], "to": influenced[counted]})
    spread = pairs.groupby(CUSTOMER_ID).agg(spread=("to", "size"),
                                            spread_customers=("to", "nunique"))
    spread = spread.astype("int64").reset_index()
    spread[CUSTOMER_ID] = spread[CUSTOMER_ID].astype("str")
    return spread


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = pd.Series(a).rank(method="average").to_numpy()
    rb = pd.Series(b).rank(method="average").to_numpy()
    if len(a) < 2 or ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def evaluate_scores(customers: pd.DataFrame, scores: list[str], k: int) -> pd.DataFrame:
    """Precision@k, lift, captured spread and Spearman of each score column.

    Parameters
    ----------
    customers : pandas.DataFrame
        One row per judged customer: ``customer_id``, ``spread`` and the score
        columns (larger is better). A ``propagator_rank`` column (1 = best, NA
        = not a seed) is judged as the seed set: its picks are the seeds with
        rank <= k, and precision is over that many picks.
    scores : list of str
    k : int
        Picks per score, >= 1 (capped at the number of customers).

    Returns
    -------
    pandas.DataFrame
        See :attr:`Backtest.scores`.

    Examples
    --------
    >>> table = pd.DataFrame({"customer_id": list("abcd"), "spread": [5, 0, 3, 0],
    ...                       "good": [0.9, 0.1, 0.8, 0.2], "bad": [0.1, 0.9, 0.2, 0.8]})
    >>> evaluate_scores(table, ["good", "bad"], k=2)[["score", "hits", "lift"]].values.tolist()
    [['good', 2, 2.0], ['bad', 0, 0.0], ['oracle', 2, 2.0], ['random', 1, 1.0]]
    """
    n = len(customers)
    k = int(min(k, n))
    spread = customers["spread"].to_numpy(dtype=np.float64)
    ids = customers[CUSTOMER_ID].astype("str").to_numpy()
    cut = np.sort(spread)[::-1][k - 1] if k else 0.0
    relevant = (spread >= cut) & (spread > 0)
    base_rate = relevant.sum() / n if n else float("nan")
    total = spread.sum()
    rows = []
    for name in scores:
        values = customers[name]
        if name == "propagator_rank":
            rank = values.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
            picked = np.flatnonzero(~np.isnan(rank) & (rank <= k))
            picked = picked[np.argsort(rank[picked], kind="stable")]
            score = np.where(np.isnan(rank), -np.inf, -rank)
            score = np.where(np.isinf(score), np.nanmin(score[~np.isinf(score)]) - 1
                             if (~np.isinf(score)).any() else 0.0, score)
        else:
            score = values.to_numpy(dtype=np.float64)
            picked = np.lexsort((ids, -score))[:k]
        hits = int(relevant[picked].sum())
        precision = hits / len(picked) if len(picked) else float("nan")
        rows.append({
            "score": name, "k": len(picked), "hits": hits,
            "precision_at_k": precision,
            "lift": precision / base_rate if base_rate else float("nan"),
            "captured_spread": spread[picked].sum() / total if total else float("nan"),
            "spearman": _spearman(score, spread),
        })
    picked = np.lexsort((ids, -spread))[:k]
    precision = relevant[picked].mean() if k else float("nan")
    rows.append({"score": "oracle", "k": k, "hits": int(relevant[picked].sum()),
                 "precision_at_k": precision,
                 "lift": precision / base_rate if base_rate else float("nan"),
                 "captured_spread": spread[picked].sum() / total if total else float("nan"),
                 "spearman": 1.0 if n > 1 and np.std(spread) > 0 else float("nan")})
    rows.append({"score": "random", "k": k, "hits": int(round(base_rate * k)),
                 "precision_at_k": base_rate, "lift": 1.0 if base_rate else float("nan"),
                 "captured_spread": k / n if n else float("nan"), "spearman": 0.0})
    table = pd.DataFrame(rows)
    for column in ("precision_at_k", "lift", "captured_spread", "spearman"):
        table[column] = table[column].astype("float64").round(6)
    table["score"] = table["score"].astype("str")
    table[["k", "hits"]] = table[["k", "hits"]].astype("int64")
    return table


def backtest(events: Any, split, *, horizon: int | str | None = 30,
             k: int | Sequence[int] = 100, config: AnalysisConfig | str | Path | None = None,
             columns: Mapping[str, str] | None = None,
             input_format: str | None = None, reporter: Reporter | None = None) -> Backtest:
    """Score customers on events before ``split``; judge the scores by the spread after it.

    Parameters
    ----------
    events : path, str, Query, Arrow-compatible table or pandas.DataFrame
        Events with timestamps, from anything :func:`influence.analyze` reads.
    split : str or pandas.Timestamp
        ISO date or datetime (a date alone is midnight UTC). Scores use events
        with ``timestamp < split``; the judging period starts at ``split``.
    horizon : int or str or None, default=30
        Length of the judging period in days (``30``, ``"30d"``, ``"4w"``);
        ``None`` judges on every event after the split.
    k : int or sequence of int, default=100
        Picks per score (capped at the number of judged customers), each >= 1.
        With several, the score table has one block of rows per ``k`` and the
        ``relevant`` column of the customers table is for the first.
    config : AnalysisConfig, path or dict, optional
        As for :func:`influence.analyze` (a TOML file's path is read as
        ``--config`` reads it). Event types, columns, communities, ...
        ``window.since`` limits the
        scoring period; ``window.until`` is ignored (the split and horizon set
        the ends).
    columns : dict, optional
        Extra column mapping, merged over ``config.columns``.
    input_format : str, optional
    reporter : Reporter, optional
        Told when each stage starts and ends (:mod:`influence.progress`):
        ``read``, the scoring analysis' stages as ``score read``, ``score
        graph``, ..., then ``judge``.

    Returns
    -------
    Backtest

    Raises
    ------
    InputError
        No timestamps, or no events before or after the split.
    ConfigError
        A split or horizon that does not parse.
    """
    from .analysis import analyze

    split = parse_instant("split", split) if not isinstance(split, pd.Timestamp) else (
        split.tz_localize("UTC") if split.tzinfo is None else split.tz_convert("UTC"))
    horizon_days = None if horizon is None else parse_days("horizon", horizon)
    ks = ([k] if isinstance(k, (int, np.integer)) and not isinstance(k, bool)
          else list(cast(Sequence[int], k)))
    if not ks or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool)
                         and x >= 1 for x in ks):
        raise ValueError(f"k must be an integer >= 1 or a list of them; got {k!r}")
    k = int(ks[0])
    config = as_config(config)
    if columns:
        config = config.replace(columns={**config.columns, **columns})
    clock = StageClock(reporter)
    with clock.stage("read"):
        raw, info = read_events(events, columns=config.columns, input_format=input_format)
    if TIMESTAMP not in raw.columns or raw[TIMESTAMP].isna().all():
        raise InputError("backtest needs timestamps, but the events have no timestamp "
                         "column; map one with --map timestamp=COLUMN")
    base = config.replace(columns={})
    base = dataclasses.replace(base, window=dataclasses.replace(  # type: ignore[type-var]
        base.window, until=None))  # (a section(): a dataclass mypy does not see as one)
    if base.propagators.k > 0:
        # the seed set is the propagator score's top k: as many picks as the other
        # scores (the largest k asked for; a smaller k judges the seeds ranked <= k)
        base = base.replace(propagators__k=int(max(ks)))
    if base.window.since is not None and base.window.since >= split:
        raise InputError(f"window.since ({base.window.since.date()}) is not before the "
                         f"split ({split.date()}); nothing to score")
    until = split - pd.Timedelta(nanoseconds=1)
    end = None if horizon_days is None else split + pd.Timedelta(days=horizon_days)
    # expected_spread is not judged: skip its per-customer simulations (minutes on
    # real graphs); the key-propagator seed set (propagator_rank) is kept
    before_config = base.replace(window__until=until, propagators__candidates=0)
    try:
        before = analyze(raw, config=before_config, reporter=prefixed(reporter, "score "))
    except InputError as exc:
        raise InputError(f"no events to score before the split {split.isoformat()}: "
                         f"{exc}") from None
    with clock.stage("judge"):
        history = clean_events(raw, before_config).events
        after_config = base.replace(window__since=split, window__until=(
            None if end is None else end - pd.Timedelta(nanoseconds=1)))
        try:
            after = clean_events(raw, after_config)
        except InputError as exc:
            raise InputError(f"no events to judge on or after the split {split.isoformat()}: "
                             f"{exc}") from None
        del raw

        scored = before.customers
        assert before.graph is not None  # analyze() keeps the graph
        table = pd.DataFrame({CUSTOMER_ID: scored[CUSTOMER_ID].astype("str").to_numpy()})
        for name in ("influence_score", "pagerank", "out_strength", "events_sent"):
            table[name] = scored[name].to_numpy()
        edges = before.graph.edges
        out_degree = np.bincount(edges["src"].to_numpy(), minlength=before.graph.n_customers)
        position = before.graph.ids.get_indexer(table[CUSTOMER_ID])
        table["out_degree"] = out_degree[position].astype("int64")
        table["events"] = (scored["events_sent"] + scored["events_received"]).to_numpy()
        for name, values in _time_scores(history, before.graph.ids, base, split).items():
            table[name] = values[position]
        names = [name for name in SCORES if name in table.columns]
        if "propagator_rank" in scored:
            table["propagator_rank"] = scored["propagator_rank"].to_numpy()
            names.append("propagator_rank")
        active_before = table["events"].to_numpy() > 0

        spread = downstream_spread(after.events, base)
        table = table.merge(spread, on=CUSTOMER_ID, how="left")
        table[["spread", "spread_customers"]] = (table[["spread", "spread_customers"]]
                                                 .fillna(0).astype("int64"))
        total_spread = int(table["spread"].sum())
        judged = table[active_before].reset_index(drop=True)
        new_spread = int(table.loc[~active_before, "spread"].sum())
        new_customers = int(((~active_before) & _acted(table, after.events)).sum())
        if len(judged) == 0:
            raise InputError("no customer took part in an event before the split; nothing to judge")
        result = pd.concat([evaluate_scores(judged, names, int(x)) for x in ks],
                           ignore_index=True)
        spread_values = judged["spread"].to_numpy()
        cut = np.sort(spread_values)[::-1][min(k, len(judged)) - 1]
        judged["relevant"] = (spread_values >= cut) & (spread_values > 0)
        judged = judged[[CUSTOMER_ID, *names, "spread", "spread_customers", "relevant"]]
        judged = judged.sort_values(["spread", CUSTOMER_ID], ascending=[False, True],
                                    kind="mergesort").reset_index(drop=True)
        summary = {
            "input": info,
            "split": split.isoformat(),
            "horizon_days": horizon_days,
            "judging_until": None if end is None else end.isoformat(),
            "events_before": before.manifest["rows_used"],
            "events_after": len(after.events),
            "judged_customers": len(judged),
            "relevant_customers": int(judged["relevant"].sum()),
            "relevant_spread_cut": int(cut),
            "k": int(min(k, len(judged))),
            "ks": [int(min(x, len(judged))) for x in ks],
            "spread_total": total_spread,
            "new_customers_after_split": new_customers,
            "spread_by_new_customers": new_spread,
            "scores": {name: SCORES.get(name, "key propagator seed set (propagator_rank)")
                       for name in names},
            "config": base.to_dict(),
        }
    return Backtest(scores=result, customers=judged, summary=summary)


def _acted(table: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """Customers of ``table`` who took part in any of ``events``."""
    present = pd.Index(pd.concat([events[SOURCE], events[TARGET].dropna()]).unique())
    return table[CUSTOMER_ID].isin(present).to_numpy()


def _time_scores(events: pd.DataFrame, ids: pd.Index, config: AnalysisConfig,
                 split: pd.Timestamp) -> dict[str, np.ndarray]:
    """``received``, ``received_7d`` and ``expected_influence`` of each vertex of
    ``ids``, from the clean events before ``split`` (:mod:`influence.metrics.score`)."""
    from .metrics import score

    source, target = encode_events(events, ids)
    reverse = events[TYPE].map({k: v.flow == "reverse" for k, v in config.types.items()})
    reverse = reverse.astype(bool).to_numpy()
    days = events[TIMESTAMP].to_numpy(dtype="datetime64[ns]").view(np.int64) / 86_400e9
    end = split.value / 86_400e9
    converted = (events[CONVERTED].fillna(False).to_numpy(dtype=bool)
                 if CONVERTED in events else None)
    n = len(ids)
    base = score.baseline_scores(source, target, reverse, days, end, n)
    sc = config.score  # the run's [score] settings, as analyze uses them
    model = score.calibrate(source, target, reverse, days, n, end=end, converted=converted,
                            horizon_days=sc.horizon_days, half_lives=sc.half_lives,
                            shrinkage=sc.shrinkage, reach_half_lives=sc.reach_half_lives)
    features = score.features_at(source, target, reverse, days, end, n,
                                 half_lives=model.half_lives, converted=converted,
                                 reach_half_lives=model.reach_half_lives)
    return {"received": base["received"], "received_7d": base["received_7d"],
            "expected_influence": score.expected_influence(features, model.weights)}
