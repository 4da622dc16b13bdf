"""Expected influence: a score that predicts who will move others next.

The composite ``influence_score`` (PageRank and out-strength percentiles) ranks
who *has* moved others; judged out of time it captures no more of the later
influence than a plain count (``docs/validity.md``). This module holds the
pieces of the score that replaces it where events have timestamps, as pure
functions over arrays (vertex codes and times in, arrays out), so that both
engines can call them:

1. **Influence events.** An event with a target is *credited* to its
   influencer along its type's flow: the source of a ``forward`` type (share,
   referral), the target of a ``reverse`` type (comment: the author of the
   content). Each credited event counts 1, whatever its type weight
   (:func:`influence_events`).
2. **Features.** For each half-life ``h`` in :data:`HALF_LIVES` (7, 30, 90 and
   365 days), ``R_h(u) = sum of 0.5 ** (age / h)`` over the events credited to
   ``u`` before the scoring time ``end`` (:func:`decayed_influence`), counting
   the events followed by activity (:func:`features_at`); and for each
   half-life ``g`` in :data:`REACH_HALF_LIVES` (7 days), ``D_g(u) = sum of
   0.5 ** (age / g)`` over the distinct customers ``u`` influenced, aged by
   its last contact with each (:func:`decayed_reach`): the breadth of recent
   influence, every influence event counted.
3. **Expected influence.** ``E(u) = sum_h w_h R_h(u) + sum_g v_g D_g(u)``: the influence events
   ``u`` is expected to be credited with in the next ``horizon_days``
   (:func:`expected_influence`). The weights ``w >= 0`` are fitted on the
   customer base's own history (:func:`calibrate`): features at ``end -
   horizon``, judged by the later influence (:func:`later_influence`, the
   target of ``influence backtest``) in the last ``horizon`` days, by Poisson
   maximum likelihood (:func:`fit_weights`), shrunk toward the fixed
   :func:`prior_weights` when the period holds few spreaders (the prior gives
   ``D_g`` no weight: without history the score is the rate formula alone).
4. **Self-check.** The whole procedure repeated one horizon earlier and judged,
   with the baselines, on the last ``horizon`` days: what a run prints under
   "does the score work on your data" (:func:`self_check`).
   :func:`fit_and_check` computes the score and its self-check together with
   shared passes over the events (what ``analyze`` should call: about 8 CPU
   seconds at 1M customers and 10M events).

Times are float days (``timestamps.view("int64") / 86_400e9`` for
``datetime64[ns]``; any origin, only differences matter). Vertices are int64
codes ``0 .. n - 1`` in customer-id order (ties between equal scores are
broken by the smaller code, i.e. the smaller customer id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..arrays import sorted_unique

__all__ = ["HALF_LIVES", "REACH_HALF_LIVES", "HORIZON_DAYS", "SHRINKAGE", "influence_events",
           "decayed_influence",
           "later_influence", "prior_weights", "fit_weights", "expected_influence",
           "ScoreModel", "ScoreRun", "calibrate", "fit_and_check", "top_k_metrics",
           "baseline_scores", "self_check", "contributions", "reason_text", "event_arrays",
           "DAY_NS", "expected_influence_run", "score_percentile", "features_at", "FOLLOWED",
           "decayed_reach", "minimize_poisson", "shrunk_model", "POISSON_FLOOR"]

#: Half-lives (days) of the decayed influence counts: a week, a month, a quarter, a year.
HALF_LIVES = (7.0, 30.0, 90.0, 365.0)
#: Half-lives (days) of the decayed count of distinct customers influenced (:func:`decayed_reach`).
REACH_HALF_LIVES = (7.0,)
#: Default horizon (days) the score predicts, and the length of the calibration period.
HORIZON_DAYS = 30.0
#: Shrinkage toward the prior weights: ``lambda = spreaders / (spreaders + SHRINKAGE)``.
SHRINKAGE = 10.0
_LN2 = float(np.log(2.0))
_QUANTUM = float(2 ** 30)


#: Nanoseconds per day: ``times = timestamps.view("int64") / DAY_NS``.
DAY_NS = 86_400e9


def event_arrays(types, timestamps, converted, flows: dict[str, bool]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``reverse``, ``times`` (float days) and ``converted`` arrays of clean events.

    Parameters
    ----------
    types : array-like of str or categorical pandas.Series
        Each event's type.
    timestamps : array-like of datetime64[ns] or int64 nanoseconds
    converted : array-like of bool or None
        Missing values count as not converted.
    flows : dict of str to bool
        Whether each event type has ``reverse`` flow.

    Examples
    --------
    >>> r, t, c = event_arrays(["share", "comment"], np.array([0, 86_400 * 10**9]), None,
    ...                        {"share": False, "comment": True})
    >>> r.tolist(), t.tolist(), c
    ([False, True], [0.0, 1.0], None)
    """
    # one look-up per distinct type, not per event
    if isinstance(types, pd.Series) and isinstance(types.dtype, pd.CategoricalDtype):
        codes, uniques = types.cat.codes.to_numpy(), types.cat.categories
    else:
        codes, uniques = pd.factorize(np.asarray(types, dtype=object))
    lookup = np.array([bool(flows.get(u, False)) for u in uniques] + [False], dtype=bool)
    reverse = lookup[np.where(codes < 0, len(uniques), codes)]
    stamps = np.asarray(timestamps)
    if stamps.dtype.kind == "M":
        stamps = stamps.astype("datetime64[ns]").view(np.int64)
    times = stamps.astype(np.int64) / DAY_NS
    if converted is not None:
        converted = pd.Series(converted).fillna(False).to_numpy(dtype=bool)
    return reverse, times, converted


def influence_events(source: np.ndarray, target: np.ndarray,
                     reverse: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Influencer and influenced customer of each event that has a target.

    Parameters
    ----------
    source, target : numpy.ndarray of int64
        Vertex codes of each event's source and target (``-1``: no target).
    reverse : numpy.ndarray of bool
        Whether the event's type has ``reverse`` flow (influence target -> source).

    Returns
    -------
    rows : numpy.ndarray of int64
        Positions of the events with a target.
    influencer, influenced : numpy.ndarray of int64
        For those events: the target and source of a ``reverse`` event, the
        source and target of a ``forward`` one.

    Examples
    --------
    >>> rows, by, to = influence_events(np.array([0, 1, 2]), np.array([1, -1, 0]),
    ...                                 np.array([False, False, True]))
    >>> rows.tolist(), by.tolist(), to.tolist()
    ([0, 2], [0, 0], [1, 2])
    """
    source = np.asarray(source, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    reverse = np.asarray(reverse, dtype=bool)
    rows = np.flatnonzero(target >= 0)
    s, t, r = source[rows], target[rows], reverse[rows]
    return rows, np.where(r, t, s), np.where(r, s, t)


def decayed_influence(influencer: np.ndarray, times: np.ndarray, end: float, n: int, *,
                      half_lives=HALF_LIVES) -> np.ndarray:
    """Influence events credited to each customer before ``end``, decayed by age.

    ``R_h(u) = sum over events e credited to u with times[e] < end of
    0.5 ** ((end - times[e]) / h)``, one column per half-life ``h``
    (``None`` or ``inf``: no decay, the plain count).

    Parameters
    ----------
    influencer : numpy.ndarray of int64
        Vertex credited with each event (:func:`influence_events`).
    times : numpy.ndarray of float64
        Event times in days, aligned with ``influencer``.
    end : float
        Scoring time in days; events at or after it are ignored.
    n : int
        Number of customers.
    half_lives : sequence of float, default=HALF_LIVES

    Returns
    -------
    numpy.ndarray of float64, shape (n, len(half_lives))

    Notes
    -----
    O(m), no sort: each term is rounded to a multiple of ``2 ** -30`` (about
    1e-9) before it is summed, so every partial sum below ``2 ** 23`` (8
    million events) is exact in float64 and the result is bit-identical
    whatever the order of the input rows.

    Examples
    --------
    >>> decayed_influence(np.array([0, 0, 1]), np.array([0.0, 7.0, 14.0]), 14.0, 2,
    ...                   half_lives=(7.0, None)).tolist()
    [[0.75, 2.0], [0.0, 0.0]]
    """
    influencer = np.asarray(influencer, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    before = times < end
    who, age = influencer[before], end - times[before]
    out = np.zeros((n, len(half_lives)))
    for j, h in enumerate(half_lives):
        if h is None or not np.isfinite(h):
            out[:, j] = np.bincount(who, minlength=n)
        else:
            decay = np.round(np.exp2(-age / float(h)) * _QUANTUM) / _QUANTUM
            out[:, j] = np.bincount(who, weights=decay, minlength=n)
    return out


def _pairs(influencer: np.ndarray, influenced: np.ndarray, n: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Each influence event's (influencer, influenced) pair as a code, and each pair's
    influencer: one hash pass (no sort), shared by every scoring time of a run."""
    key = np.asarray(influencer, dtype=np.int64) * np.int64(n) + np.asarray(influenced,
                                                                          dtype=np.int64)
    codes, keys = pd.factorize(key)
    return codes.astype(np.int64), np.asarray(keys, dtype=np.int64) // np.int64(n)


def decayed_reach(influencer: np.ndarray, influenced: np.ndarray, times: np.ndarray,
                  end: float, n: int, *, half_lives=REACH_HALF_LIVES,
                  pairs: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Distinct customers each customer influenced before ``end``, decayed by the last contact.

    ``D_g(u) = sum over customers v that u influenced before end of
    0.5 ** ((end - last(u, v)) / g)``, where ``last(u, v)`` is the time of
    the last influence event from ``u`` to ``v`` before ``end``: ``out_degree``
    (distinct customers influenced) with a memory. Every influence event
    counts, followed by activity or not: breadth of reach is the evidence a
    customer's next events will find an audience.

    Parameters
    ----------
    influencer, influenced : numpy.ndarray of int64
        Each influence event's pair (:func:`influence_events`).
    times : numpy.ndarray of float64
        Event times in days, aligned with the pairs.
    end : float
    n : int
    half_lives : sequence of float, default=REACH_HALF_LIVES
    pairs : (numpy.ndarray, numpy.ndarray), optional
        :func:`_pairs` of the events, to share its one hash pass between
        scoring times; computed when omitted.

    Returns
    -------
    numpy.ndarray of float64, shape (n, len(half_lives))

    Notes
    -----
    O(m), no sort; bit-identical whatever the order of the rows (the sums of
    :func:`decayed_influence`).

    Examples
    --------
    >>> decayed_reach(np.array([0, 0, 0, 1]), np.array([1, 1, 2, 0]),
    ...               np.array([0.0, 7.0, 0.0, 20.0]), 14.0, 3, half_lives=(7.0,)).tolist()
    [[0.75], [0.0], [0.0]]
    """
    times = np.asarray(times, dtype=np.float64)
    if not len(half_lives):
        return np.zeros((n, 0))
    codes, owner = _pairs(influencer, influenced, n) if pairs is None else pairs
    before = times < end
    last = np.full(len(owner), -np.inf)
    np.maximum.at(last, codes[before], times[before])
    seen = np.flatnonzero(last > -np.inf)
    return decayed_influence(owner[seen], last[seen], end, n, half_lives=half_lives)


#: Whether the features count only influence events that were followed by activity
#: (:func:`features_at`); ``False`` counts every influence event (the first version).
FOLLOWED = True


def features_at(source: np.ndarray, target: np.ndarray, reverse: np.ndarray,
                times: np.ndarray, end: float, n: int, *, half_lives=HALF_LIVES,
                converted: np.ndarray | None = None, followed: bool | None = None,
                reach_half_lives=REACH_HALF_LIVES,
                pairs: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The score's features at ``end``: decayed counts of the influence that moved someone.

    Columns ``R_h`` (one per ``half_lives``), then ``D_g`` (one per
    ``reach_half_lives``: :func:`decayed_reach` over every influence event;
    ``pairs`` as there, aligned with the events that have a target).

    ``R_h`` is :func:`decayed_influence` over the influence events before ``end`` that were
    *followed by activity* by ``end``, the backtest's test applied to the past:
    a ``reverse`` event always (it is the influenced customer's own act), a
    ``forward`` event when it converted or its target sent any event later
    (before ``end``). A share to someone who never acts is not influence: a
    customer who sends many shares that move nobody gets no credit for them.
    ``followed=False`` counts every influence event. O(m), no sort.

    Examples
    --------
    >>> features_at(np.array([0, 0, 1]), np.array([1, 2, -1]), np.zeros(3, bool),
    ...             np.array([0.0, 0.0, 1.0]), 2.0, 3, half_lives=(None,),
    ...             reach_half_lives=(None,)).tolist()
    [[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]]
    """
    followed = FOLLOWED if followed is None else followed
    source = np.asarray(source, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    reverse = np.asarray(reverse, dtype=bool)
    rows, by, to = influence_events(source, target, reverse)
    when = times[rows]
    reach = decayed_reach(by, to, when, end, n, half_lives=reach_half_lives, pairs=pairs)
    if followed:
        before = times < end
        last_sent = np.full(n, -np.inf)
        np.maximum.at(last_sent, source[before], times[before])
        keep = reverse[rows] | (last_sent[to] > when)
        if converted is not None:
            keep |= np.asarray(converted, dtype=bool)[rows]
        by, when = by[keep], when[keep]
    return np.hstack([decayed_influence(by, when, end, n, half_lives=half_lives), reach])


def later_influence(source: np.ndarray, target: np.ndarray, reverse: np.ndarray,
                    times: np.ndarray, start: float, end: float, n: int, *,
                    converted: np.ndarray | None = None) -> np.ndarray:
    """Influence each customer exerted in ``[start, end)``: the backtest target.

    An event of the period with a target counts for its influencer when it
    was followed by activity: always for a ``reverse`` event (it is the
    influenced customer's own act), for a ``forward`` event when it converted
    or when its target sends any event strictly later in the period. The same
    definition as :func:`influence.backtest.downstream_spread`, on arrays.

    Parameters
    ----------
    source, target, reverse, times
        As for :func:`influence_events` and :func:`decayed_influence`.
    start, end : float
        The period, in days (``start`` included, ``end`` excluded).
    n : int
    converted : numpy.ndarray of bool, optional
        Referral outcome of each event (false where unknown).

    Returns
    -------
    numpy.ndarray of int64, shape (n,)
        Counted events per influencer.

    Examples
    --------
    >>> later_influence(np.array([0, 1, 2]), np.array([1, -1, 0]), np.array([False] * 3),
    ...                 np.array([1.0, 2.0, 3.0]), 0.0, 10.0, 3).tolist()
    [1, 0, 0]
    """
    source = np.asarray(source, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    period = np.flatnonzero((times >= start) & (times < end))
    last_sent = np.full(n, -np.inf)
    np.maximum.at(last_sent, source[period], times[period])
    rows, by, to = influence_events(source[period], target[period],
                                    np.asarray(reverse, dtype=bool)[period])
    counted = np.asarray(reverse, dtype=bool)[period][rows]
    if converted is not None:
        counted = counted | np.asarray(converted, dtype=bool)[period][rows]
    counted = counted | (last_sent[to] > times[period][rows])
    return np.bincount(by[counted], minlength=n).astype(np.int64)


def prior_weights(horizon_days: float = HORIZON_DAYS, half_lives=HALF_LIVES) -> np.ndarray:
    """The fixed weights used without enough history: the mean of the rate estimates.

    A customer credited with ``r`` events a day for long has ``R_h ~ r h /
    ln 2``, so ``R_h ln 2 / h`` estimates the rate over the last ``~h`` days.
    The prior averages these estimates over the half-lives and multiplies by
    the horizon: ``w_h = horizon * ln 2 / (len(half_lives) * h)``, the expected
    count in the next ``horizon`` days if the rate stays what it has been, on
    average over a week, a month, a quarter and a year.

    Examples
    --------
    >>> prior_weights(30.0, (7.0, 30.0)).round(4).tolist()
    [1.4853, 0.3466]
    """
    h = np.asarray(half_lives, dtype=np.float64)
    return horizon_days * _LN2 / (len(h) * h)


def fit_weights(features: np.ndarray, later: np.ndarray) -> tuple[np.ndarray, float]:
    """Non-negative Poisson regression of the later influence on the features.

    Maximises the Poisson log-likelihood of ``later`` with mean ``features @ w
    + b``, ``w >= 0``, ``b > 0``: the weights that best predict the *count*
    of later influence events, neither dominated by the few largest
    customers (as least squares is) nor blind to magnitude (as a rank
    correlation is).

    Parameters
    ----------
    features : numpy.ndarray of float64, shape (m, p)
        One row per judged customer (:func:`decayed_influence` at the split).
    later : numpy.ndarray, shape (m,)
        Their later influence (:func:`later_influence` after the split).

    Returns
    -------
    weights : numpy.ndarray of float64, shape (p,)
        In units of the features (expected later events per unit of ``R_h``).
    intercept : float
        Expected later events of a customer with all features zero.

    Notes
    -----
    L-BFGS-B (scipy) on features scaled to mean 1, from ``w = mean / p`` and
    ``b`` = a tenth of the mean; O(m' p) per iteration where m' is the number
    of rows with a non-zero feature (the others share the intercept and enter
    as one weighted term); deterministic.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(later, dtype=np.float64)
    m, p = x.shape
    if m == 0 or y.sum() <= 0:
        return np.zeros(p), 0.0
    scale = x.mean(axis=0)
    scale[scale <= 0] = 1.0
    # customers with no feature at all share one mean (the intercept): one row
    # for all of them, weighted by their number, gives the same likelihood
    some = x.any(axis=1)
    zero_count, zero_later = float((~some).sum()), float(y[~some].sum())
    xs, y = x[some] / scale, y[some]
    floor = POISSON_FLOOR

    def loss(v: np.ndarray) -> tuple[float, np.ndarray]:
        mu = np.maximum(xs @ v[:p] + v[p], floor)
        ratio = 1.0 - y / mu
        b = max(float(v[p]), floor)
        value = mu.sum() - y @ np.log(mu) + zero_count * b - zero_later * np.log(b)
        return float(value), np.r_[ratio @ xs, ratio.sum() + zero_count - zero_later / b]

    weights, intercept = minimize_poisson(loss, p=p, mean_later=y.mean())
    return weights / scale, intercept


#: Lower bound of the Poisson mean and of the intercept in :func:`fit_weights`.
POISSON_FLOOR = 1e-12


def minimize_poisson(loss, *, p: int, mean_later: float) -> tuple[np.ndarray, float]:
    """The L-BFGS-B minimisation of :func:`fit_weights`, on any loss.

    Parameters
    ----------
    loss : callable
        ``loss(v) -> (value, gradient)`` of the negative Poisson log-likelihood
        at ``v`` (``p`` scaled weights, then the intercept), over the rows with
        a non-zero feature plus the zero-feature rows as one weighted term:
        in memory in :func:`fit_weights`, one Spark aggregate per call in
        :func:`influence.spark.score.score_frame`.
    p : int
        Number of features.
    mean_later : float
        Mean later influence of the rows with a non-zero feature (the start
        point: ``w = mean / p``, ``b`` = a tenth of the mean).

    Returns
    -------
    weights : numpy.ndarray of float64, shape (p,)
        Scaled weights (divide by the feature scale).
    intercept : float
    """
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    start = np.r_[np.full(p, mean_later / p), 0.1 * mean_later]
    # BLAS on a handful of parameters: its threads only spin (3-4x the CPU and the wall
    # time of the fit at 100k customers on 2 busy cores), and one thread sums in one order
    with threadpool_limits(limits=1, user_api="blas"):
        fit = minimize(loss, start, jac=True, method="L-BFGS-B",
                       bounds=[(0.0, None)] * p + [(POISSON_FLOOR, None)])
    return fit.x[:p], float(fit.x[p])


def expected_influence(features: np.ndarray, weights: npt.ArrayLike) -> np.ndarray:
    """``features @ weights``, rounded to 9 decimals (ranks never flip on last-bit noise)."""
    return np.round(np.asarray(features, dtype=np.float64) @ np.asarray(weights), 9)


def score_percentile(expected: np.ndarray) -> np.ndarray:
    """``influence_score`` from expected influence: the share of customers with a
    smaller value, in [0, 1], 6 decimals (as the composite score).

    >>> score_percentile(np.array([0.0, 2.5, 0.0, 7.0])).tolist()
    [0.0, 0.666667, 0.0, 1.0]
    """
    from .centrality import _percentile

    return np.round(_percentile(np.asarray(expected, dtype=np.float64)), 6)


@dataclass(frozen=True)
class ScoreModel:
    """How the expected-influence score was set for one run (for the manifest).

    Attributes
    ----------
    weights : tuple of float
        ``w_h`` per half-life, in expected events per unit of ``R_h``, then
        ``v_g`` per reach half-life, per unit of ``D_g``.
    half_lives : tuple of float
    reach_half_lives : tuple of float
    horizon_days : float
    method : {"fitted", "prior"}
        ``fitted``: calibrated on the history (possibly shrunk); ``prior``:
        :func:`prior_weights` (history shorter than two horizons, or no
        customer exerted influence in the calibration period).
    fitted : tuple of float or None
        The unshrunk fit.
    shrink : float
        ``lambda`` in ``weights = lambda * fitted + (1 - lambda) * prior``.
    split : float or None
        Calibration split (days): features before it, judged on ``[split, end)``.
    judged, spreaders : int
        Customers active before the split, and those of them with later influence.
    intercept : float
    """

    weights: tuple
    half_lives: tuple = HALF_LIVES
    horizon_days: float = HORIZON_DAYS
    reach_half_lives: tuple = REACH_HALF_LIVES
    method: str = "prior"
    fitted: tuple | None = None
    shrink: float = 0.0
    split: float | None = None
    judged: int = 0
    spreaders: int = 0
    intercept: float = 0.0
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {"method": self.method, "horizon_days": self.horizon_days,
                "half_lives": list(self.half_lives),
                "reach_half_lives": list(self.reach_half_lives),
                "weights": [round(float(w), 9) for w in self.weights],
                "fitted": None if self.fitted is None else [round(float(w), 9)
                                                            for w in self.fitted],
                "shrink": round(self.shrink, 6), "judged": self.judged,
                "spreaders": self.spreaders, "intercept": round(self.intercept, 9),
                "notes": list(self.notes)}


def _first_seen(source: np.ndarray, target: np.ndarray, times: np.ndarray, n: int) -> np.ndarray:
    """Time of each customer's first event in either role (``inf`` if none)."""
    first = np.full(n, np.inf)
    np.minimum.at(first, source, times)
    has = target >= 0
    np.minimum.at(first, target[has], times[has])
    return first


def _prior(horizon_days: float, half_lives, reach_half_lives) -> np.ndarray:
    """:func:`prior_weights`, then no weight on the reach features."""
    return np.r_[prior_weights(horizon_days, half_lives), np.zeros(len(reach_half_lives))]


def _fit(features: np.ndarray, judged: np.ndarray, later: np.ndarray, *, split: float,
         horizon_days: float, half_lives, shrinkage: float,
         reach_half_lives=REACH_HALF_LIVES) -> ScoreModel:
    """:func:`fit_weights` on the judged customers, shrunk toward the prior."""
    later = later[judged]
    return shrunk_model(lambda: fit_weights(features[judged], later),
                        judged=int(judged.sum()), spreaders=int((later > 0).sum()),
                        split=split, horizon_days=horizon_days, half_lives=half_lives,
                        shrinkage=shrinkage, reach_half_lives=reach_half_lives)


def shrunk_model(fit, *, judged: int, spreaders: int, split: float, horizon_days: float,
                 half_lives, shrinkage: float, reach_half_lives=REACH_HALF_LIVES) -> ScoreModel:
    """The :class:`ScoreModel` of one calibration, shrunk toward the prior.

    Parameters
    ----------
    fit : callable
        ``fit() -> (weights, intercept)``: :func:`fit_weights` on the judged
        customers (called only when ``spreaders > 0``).
    judged, spreaders : int
        Customers active before ``split``, and those of them with later influence.
    split, horizon_days, half_lives, shrinkage, reach_half_lives
        As for :func:`calibrate`.
    """
    prior = _prior(horizon_days, half_lives, reach_half_lives)
    base: dict[str, Any] = dict(half_lives=tuple(half_lives), horizon_days=float(horizon_days),
                                reach_half_lives=tuple(reach_half_lives),
                                split=split, judged=judged)
    if spreaders == 0:
        return ScoreModel(weights=tuple(prior), method="prior", **base,
                          notes=["no customer exerted influence in the calibration period"])
    fitted, intercept = fit()
    shrink = spreaders / (spreaders + shrinkage)
    weights = shrink * fitted + (1.0 - shrink) * prior
    return ScoreModel(weights=tuple(float(w) for w in weights), method="fitted",
                      fitted=tuple(float(w) for w in fitted), shrink=shrink,
                      spreaders=spreaders, intercept=intercept, **base)


def _short(horizon_days: float, half_lives, times: int,
           reach_half_lives=REACH_HALF_LIVES) -> ScoreModel:
    return ScoreModel(weights=tuple(_prior(horizon_days, half_lives, reach_half_lives)),
                      method="prior", half_lives=tuple(half_lives),
                      reach_half_lives=tuple(reach_half_lives), horizon_days=float(horizon_days),
                      notes=[f"history shorter than {times} x {horizon_days:g} days"])


def calibrate(source: np.ndarray, target: np.ndarray, reverse: np.ndarray,
              times: np.ndarray, n: int, *, end: float | None = None,
              converted: np.ndarray | None = None, horizon_days: float = HORIZON_DAYS,
              half_lives=HALF_LIVES, shrinkage: float = SHRINKAGE,
              reach_half_lives=REACH_HALF_LIVES) -> ScoreModel:
    """Fit the weights of the expected-influence score on the customers' own history.

    Features at ``split = end - horizon_days`` (events before it), judged by
    each active customer's later influence in ``[split, end)``; weights by
    :func:`fit_weights`, shrunk toward :func:`prior_weights` by ``lambda =
    S / (S + shrinkage)`` where ``S`` is the number of judged customers with
    later influence. Uses only events before ``end``. (:func:`fit_and_check`
    does this and the self-check with shared passes over the events.)

    Parameters
    ----------
    source, target, reverse, times, n
        All events (:func:`influence_events`, :func:`decayed_influence`).
    end : float, optional
        Scoring time (days); default the last event time + 1 second.
    converted : numpy.ndarray of bool, optional
    horizon_days : float, default=30
    half_lives : sequence of float, default=HALF_LIVES
    shrinkage : float, default=10
    reach_half_lives : sequence of float, default=REACH_HALF_LIVES

    Returns
    -------
    ScoreModel
        ``method = "prior"`` when the history before ``end`` is shorter than
        two horizons or nobody active before the split exerted influence in
        the calibration period.
    """
    source = np.asarray(source, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    if end is None:
        end = float(times.max()) + 1.0 / 86400.0
    before = times < end
    if not before.any() or end - times[before].min() < 2 * horizon_days:
        return _short(horizon_days, half_lives, 2, reach_half_lives)
    split = end - horizon_days
    features = features_at(source, target, reverse, times, split, n, half_lives=half_lives,
                           converted=converted, reach_half_lives=reach_half_lives)
    judged = _first_seen(source, target, times, n) < split
    later = later_influence(source, target, reverse, times, split, end, n, converted=converted)
    return _fit(features, judged, later, split=split, horizon_days=horizon_days,
                half_lives=half_lives, shrinkage=shrinkage, reach_half_lives=reach_half_lives)


def top_k_metrics(score: np.ndarray, later: np.ndarray, k: int) -> dict:
    """Capture and precision of the top ``k`` by ``score`` (ties: smaller index first).

    ``capture`` = share of the total ``later`` carried by the ``k`` picks;
    ``precision`` = share of picks that are *relevant*: ``later`` at least the
    ``k``-th largest and above zero (as :func:`influence.backtest.evaluate_scores`).

    Examples
    --------
    >>> top_k_metrics(np.array([3.0, 2.0, 1.0]), np.array([0, 5, 5]), 2)
    {'k': 2, 'capture': 0.5, 'precision': 0.5}
    """
    score = np.asarray(score, dtype=np.float64)
    later = np.asarray(later, dtype=np.float64)
    k = int(min(k, len(score)))
    total = later.sum()
    if k == 0 or total <= 0:
        return {"k": k, "capture": float("nan"), "precision": float("nan")}
    picked = _top_k(score, k)
    cut = np.partition(later, len(later) - k)[len(later) - k]
    relevant = (later >= cut) & (later > 0)
    return {"k": k, "capture": float(later[picked].sum() / total),
            "precision": float(relevant[picked].mean())}


def _top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, ties by smaller index; O(n + k log k)."""
    n = len(score)
    if k >= n:
        return np.lexsort((np.arange(n), -score))
    threshold = np.partition(score, n - k)[n - k]
    above = np.flatnonzero(score > threshold)
    tied = np.flatnonzero(score == threshold)[:k - len(above)]
    chosen = np.concatenate([above, tied])
    return chosen[np.lexsort((chosen, -score[chosen]))]


def baseline_scores(source: np.ndarray, target: np.ndarray, reverse: np.ndarray,
                    times: np.ndarray, end: float, n: int) -> dict[str, np.ndarray]:
    """The single-metric baselines at ``end`` that need no graph algorithm.

    ``received`` (influence events credited), ``received_7d`` (the same with a
    7-day half-life), ``out_degree`` (distinct customers influenced = distinct
    senders of replies in a reply network) and ``events`` (events taken part
    in, sent or received), each from the events before ``end``.
    """
    source = np.asarray(source, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    rows, by, to = influence_events(source, target, reverse)
    counts = decayed_influence(by, times[rows], end, n, half_lives=(None, 7.0))
    before = times[rows] < end
    pairs = sorted_unique(by[before] * np.int64(n) + to[before])
    sent = np.bincount(source[times < end], minlength=n)
    received = np.bincount(target[rows][before], minlength=n)
    return {"received": counts[:, 0], "received_7d": counts[:, 1],
            "out_degree": np.bincount(pairs // n, minlength=n).astype(np.float64),
            "events": (sent + received).astype(np.float64)}


@dataclass
class ScoreRun:
    """What :func:`fit_and_check` returns: everything a run needs.

    Attributes
    ----------
    model : ScoreModel
        The weights for the score at ``end``.
    features : numpy.ndarray, shape (n, len(half_lives) + len(reach_half_lives)), or None
        The features at ``end``; ``expected_influence(features, model.weights)``
        is the score. ``None`` from :func:`influence.spark.score.score_frame`:
        on the Spark executors the features stay there.
    check : pandas.DataFrame
        One row per (score, k): ``score`` (``expected_influence``, ``received``,
        ``received_7d``, ``out_degree``, ``events``, ``oracle``), ``k``,
        ``capture``, ``precision`` (empty when skipped).
    check_summary : dict
        ``check`` (days), ``horizon_days``, ``judged``, ``spreaders``,
        ``later_total``, ``model`` (the one used to score at ``check``); or
        ``{"skipped": reason}``.
    """

    model: ScoreModel
    features: np.ndarray | None
    check: pd.DataFrame
    check_summary: dict


def _empty_check() -> pd.DataFrame:
    return pd.DataFrame({"score": pd.Series(dtype="str"), "k": pd.Series(dtype="int64"),
                         "capture": pd.Series(dtype="float64"),
                         "precision": pd.Series(dtype="float64")})


def fit_and_check(source: np.ndarray, target: np.ndarray, reverse: np.ndarray,
                  times: np.ndarray, n: int, *, end: float | None = None,
                  converted: np.ndarray | None = None, horizon_days: float = HORIZON_DAYS,
                  half_lives=HALF_LIVES, shrinkage: float = SHRINKAGE,
                  ks=(100, 1000), self_check: bool = True,
                  reach_half_lives=REACH_HALF_LIVES) -> ScoreRun:
    """The score at ``end`` and its self-check, with shared passes over the events.

    With ``H = horizon_days``, ``check = end - H`` and ``split = end - 2H``:

    * the **score** at ``end`` uses the weights fitted on features at ``check``
      judged by the later influence in ``[check, end)`` (:func:`calibrate`);
    * the **self-check** scores every customer active before ``check`` with
      the weights fitted one horizon earlier (features at ``split``, judged on
      ``[split, check)``) and judges that score, the baselines
      (:func:`baseline_scores`) and the oracle by the later influence in
      ``[check, end)`` at each ``k``: an out-of-sample check of the very
      procedure that sets the score, since nothing after ``check`` was used.

    Three feature passes (``split``, ``check``, ``end``), two later-influence
    passes and two fits, all O(m) but one sort for ``out_degree``; the reach
    features' pairs are hashed once for the three passes.

    Parameters
    ----------
    source, target, reverse, times, n, end, converted, horizon_days, half_lives, shrinkage
        As for :func:`calibrate`; ``reach_half_lives`` too.
    ks : sequence of int, default=(100, 1000)
    self_check : bool, default=True
        ``False`` skips the self-check (``check_summary = {"skipped": ...}``).

    Returns
    -------
    ScoreRun
        The model is :func:`prior_weights` when the history is shorter than
        two horizons; the check is skipped when it is shorter than two
        horizons (nothing to fit the checked score on), when it is shorter
        than three (the checked score's own calibration period would reach
        before the history), or when nobody exerted influence in the last
        horizon.
    """
    source = np.asarray(source, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    reverse = np.asarray(reverse, dtype=bool)
    times = np.asarray(times, dtype=np.float64)
    if end is None:
        end = float(times.max()) + 1.0 / 86400.0
    pairs = None
    if len(reach_half_lives):
        _, by, to = influence_events(source, target, reverse)
        pairs = _pairs(by, to, n)

    def at(when: float) -> np.ndarray:
        return features_at(source, target, reverse, times, when, n, half_lives=half_lives,
                           converted=converted, reach_half_lives=reach_half_lives,
                           pairs=pairs)

    features = at(end)
    first = _first_seen(source, target, times, n)
    seen = first[first < end]
    history = end - seen.min() if len(seen) else 0.0
    fit = dict(horizon_days=horizon_days, half_lives=half_lives, shrinkage=shrinkage,
               reach_half_lives=reach_half_lives)
    if history < 2 * horizon_days:
        return ScoreRun(_short(horizon_days, half_lives, 2, reach_half_lives), features,
                        _empty_check(),
                        {"skipped": f"history shorter than 2 x {horizon_days:g} days"})
    check = end - horizon_days
    at_check = at(check)
    judged = first < check
    later = later_influence(source, target, reverse, times, check, end, n, converted=converted)
    model = _fit(at_check, judged, later, split=check, **fit)
    if not self_check:
        return ScoreRun(model, features, _empty_check(),
                        {"skipped": "turned off ([score] self_check = false)"})
    if history < 3 * horizon_days:
        return ScoreRun(model, features, _empty_check(),
                        {"skipped": f"history shorter than 3 x {horizon_days:g} days"})
    if later[judged].sum() == 0:
        return ScoreRun(model, features, _empty_check(),
                        {"skipped": "nobody exerted influence in the last period"})
    split = check - horizon_days
    earlier = later_influence(source, target, reverse, times, split, check, n,
                              converted=converted)
    past = _fit(at(split),
                first < split, earlier, split=split, **fit)
    scores = {"expected_influence": expected_influence(at_check, past.weights)}
    scores.update(baseline_scores(source, target, reverse, times, check, n))
    rows = np.flatnonzero(judged)
    truth = later[rows]
    scores["oracle"] = truth.astype(np.float64)
    out = []
    for name, values in scores.items():
        values = values if name == "oracle" else values[rows]
        for k in ks:
            out.append({"score": name, **top_k_metrics(values, truth, k)})
    summary = {"check": check, "horizon_days": horizon_days, "judged": len(rows),
               "spreaders": int((truth > 0).sum()), "later_total": int(truth.sum()),
               "model": past.to_dict()}
    return ScoreRun(model, features, pd.DataFrame(out)[["score", "k", "capture", "precision"]],
                    summary)


def self_check(source: np.ndarray, target: np.ndarray, reverse: np.ndarray,
               times: np.ndarray, n: int, *, end: float | None = None,
               converted: np.ndarray | None = None, horizon_days: float = HORIZON_DAYS,
               half_lives=HALF_LIVES, shrinkage: float = SHRINKAGE, ks=(100, 1000),
               extra: dict[str, np.ndarray] | None = None,
               reach_half_lives=REACH_HALF_LIVES) -> tuple[pd.DataFrame, dict]:
    """How well the score would have predicted the last ``horizon_days``.

    The self-check part of :func:`fit_and_check`: the score set as of ``check
    = end - horizon_days`` (its weights fitted on ``[check - horizon,
    check)``), judged with the baselines and the oracle on ``[check, end)``.

    Parameters
    ----------
    source, target, reverse, times, n, end, converted, horizon_days, half_lives, shrinkage, ks
    reach_half_lives
        As for :func:`fit_and_check`.
    extra : dict of str to numpy.ndarray, optional
        More scores computed on the events before ``check`` (e.g. PageRank),
        one value per vertex, judged the same way.

    Returns
    -------
    table : pandas.DataFrame
        :attr:`ScoreRun.check`, plus the ``extra`` scores.
    summary : dict
        :attr:`ScoreRun.check_summary`.
    """
    run = fit_and_check(source, target, reverse, times, n, end=end, converted=converted,
                        horizon_days=horizon_days, half_lives=half_lives,
                        shrinkage=shrinkage, ks=ks, reach_half_lives=reach_half_lives)
    table, summary = run.check, run.check_summary
    if extra and not table.empty:
        times = np.asarray(times, dtype=np.float64)
        source = np.asarray(source, dtype=np.int64)
        target = np.asarray(target, dtype=np.int64)
        check = summary["check"]
        rows = np.flatnonzero(_first_seen(source, target, times, n) < check)
        end = check + horizon_days
        truth = later_influence(source, target, reverse, times, check, end, n,
                                converted=converted)[rows]
        more = [{"score": name, **top_k_metrics(values[rows], truth, k)}
                for name, values in extra.items() for k in ks]
        table = pd.concat([table, pd.DataFrame(more)], ignore_index=True)
    return table, summary


def contributions(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Share of each customer's expected influence from each feature (rows sum to 1, or 0)."""
    parts = np.asarray(features, dtype=np.float64) * np.asarray(weights, dtype=np.float64)
    total = parts.sum(axis=1, keepdims=True)
    return np.divide(parts, total, out=np.zeros_like(parts), where=total > 0)


_MEMORY = {7.0: "the last weeks", 30.0: "the last months", 90.0: "the last quarters",
           365.0: "the last years"}


def reason_text(expected: np.ndarray, shares: np.ndarray, *, horizon_days: float = HORIZON_DAYS,
                half_lives=HALF_LIVES, top: int = 2,
                reach_half_lives=REACH_HALF_LIVES) -> np.ndarray:
    """A reason fragment per customer: the expected influence and what drove it.

    ``"expected influence 12.3 in the next 30 days (71% from the last weeks,
    24% from the last quarters)"``: the ``top`` largest contributions of the
    features (:func:`contributions`), each half-life named by its memory (7
    days: the last weeks, 30: months, 90: quarters, 365: years), a reach
    feature by the customers reached in that memory ("the customers reached
    in the last weeks"), shares rounded to whole percents; customers with
    nothing expected read ``"no influence exerted yet"``.

    Examples
    --------
    >>> reason_text(np.array([12.3, 0.0]),
    ...             np.array([[0.61, 0.05, 0.24, 0.0, 0.1], [0, 0, 0, 0, 0]])
    ...             ).tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['expected influence 12.3 in the next 30 days (61% from the last weeks,
      24% from the last quarters)', 'no influence exerted yet']
    """
    def span(h: float) -> str:
        return _MEMORY.get(float(h), f"a {h:g}-day memory")

    names = np.array([span(h) for h in half_lives]
                     + [f"the customers reached in {span(h)}" for h in reach_half_lives],
                     dtype=object)
    expected = np.asarray(expected, dtype=np.float64)
    shares = np.asarray(shares, dtype=np.float64)
    out = np.full(len(expected), "no influence exerted yet", dtype=object)
    rows = np.flatnonzero(expected > 0)
    if len(rows) == 0:
        return out
    order = np.argsort(-shares[rows], axis=1, kind="stable")[:, :top]
    percent = np.rint(np.take_along_axis(shares[rows], order, axis=1) * 100).astype(np.int64)
    # one formatted string per distinct value shown (3 significant digits) and per
    # percent, joined by Arrow's string kernels: about 1 s at 1M customers
    import pyarrow as pa
    import pyarrow.compute as pc

    digits = np.floor(np.log10(expected[rows])) - 2
    shown = np.round(expected[rows] / 10.0 ** digits) * 10.0 ** digits
    value, inverse = np.unique(shown, return_inverse=True)
    heads = pa.array([f"expected influence {v:.3g} in the next {horizon_days:g} days ("
                      for v in value.tolist()])
    pieces = [heads.take(pa.array(inverse.ravel()))]
    labels = pa.array([f"{p}% from " for p in range(101)])
    memory = pa.array(names.tolist())
    for j in range(order.shape[1]):
        keep = percent[:, j] >= 1
        part = pc.binary_join_element_wise(
            pa.array(np.where(keep & (j > 0), ", ", "")),
            labels.take(pa.array(np.clip(percent[:, j], 0, 100))),
            memory.take(pa.array(order[:, j])), "")
        pieces.append(pc.if_else(pa.array(keep), part, ""))
    pieces.append(pa.array(np.full(len(rows), ")")))
    out[rows] = pc.binary_join_element_wise(*pieces, "").to_numpy(zero_copy_only=False)
    return out


def expected_influence_run(events: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray],
                           config, end: pd.Timestamp, n: int) -> ScoreRun:
    """:func:`fit_and_check` on an engine's clean events, with the ``[score]`` config.

    Parameters
    ----------
    events : pandas.DataFrame
        Clean events with ``type``, ``timestamp`` and, optionally, ``converted``.
    codes : (source, target) of numpy.ndarray
        Vertex codes (target ``-1`` where missing).
    config : influence.config.AnalysisConfig
    end : pandas.Timestamp
        The analysis end date; events at it count (the score is set one
        second after it).
    n : int
        Number of customers (vertices).
    """
    from ..schema import CONVERTED, TIMESTAMP, TYPE

    flows = {name: spec.flow == "reverse" for name, spec in config.types.items()}
    reverse, times, converted = event_arrays(
        events[TYPE], events[TIMESTAMP].to_numpy(dtype="datetime64[ns]"),
        events[CONVERTED].to_numpy(dtype=object) if CONVERTED in events.columns else None,
        flows)
    return score_arrays(codes[0], codes[1], reverse, times, end, config.score,
                        converted=converted, n=n)


def score_arrays(source: np.ndarray, target: np.ndarray, reverse: np.ndarray,
                 times: np.ndarray, end: pd.Timestamp, config, *,
                 converted: np.ndarray | None = None, n: int) -> ScoreRun:
    """:func:`fit_and_check` at ``end`` + 1 second with a :class:`~influence.config.ScoreConfig`."""
    return fit_and_check(source, target, reverse, times, n,
                         end=end.value / DAY_NS + 1.0 / 86_400.0, converted=converted,
                         horizon_days=config.horizon_days, half_lives=config.half_lives,
                         shrinkage=config.shrinkage, ks=config.check_k,
                         self_check=config.self_check,
                         reach_half_lives=config.reach_half_lives)
