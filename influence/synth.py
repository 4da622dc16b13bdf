"""Realistic synthetic interaction events with a planted ground truth.

:func:`generate_events` builds an events table in the canonical event schema
(``source, target, type, timestamp, converted, value``) together with a *truth*
table that says, per customer, what was planted: community, role
(``propagator`` / ``dormant`` / ``regular``), referrer and join time. The
analysis pipeline can then be judged against the truth: communities found vs
planted, key propagators found vs planted, dormant advocates found vs planted,
referral cascades reconstructed vs the planted referral forest.

What is planted
---------------
* **Heavy-tailed activity.** Each customer has a lognormal sending propensity
  and a Pareto receiving propensity (popularity); event counts are
  ``1 + Poisson(rate)`` so every customer acts at least once.
* **Communities** with heavy-tailed (Pareto) sizes. An interaction stays inside
  the source's community with probability ``1 - mixing``; otherwise its target
  is drawn from another community.
* **Referral forest.** About 30% of customers join because an earlier
  customer referred them: each has exactly one referrer, who joined strictly
  earlier, so the referral edges form a forest. The referral event is
  ``referrer -> referred`` at the referred customer's join time; about 40% of
  referrals convert, with a lognormal ``value`` around 50.
* **Strong propagators** (about 0.5% of customers, at least one): far higher
  share and referral rates. Customers they refer inherit part of that "heat"
  (half per generation), so they too share and refer more, which makes the
  propagators' referral subtrees deeper and larger.
* **Dormant customers** (about 5%): active from joining until a quiet time
  before 60% of the period (some of them propagator-like "advocates", a few
  of them former propagators), then never again a source. They may still
  receive.

Influence flow follows the package convention: ``share`` and ``referral`` move
influence source -> target, ``comment`` (source comments on the target's
content) moves it target -> source.

Everything is vectorised with numpy (Python loops run only over ~60 time
slices of the referral process and a few resampling rounds), and is fully
determined by ``seed`` through :func:`numpy.random.default_rng`. String
columns are assembled with pyarrow (a hard dependency of this module).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["generate_events", "SYNTH_EVENT_COLUMNS", "TRUTH_COLUMNS", "ROLES"]

#: Columns of the generated events table, in order.
SYNTH_EVENT_COLUMNS = ("source", "target", "type", "timestamp", "converted", "value")
#: Columns of the truth table, in order.
TRUTH_COLUMNS = ("customer_id", "community", "role", "referred_by", "joined")
#: Roles that can appear in ``truth["role"]``.
ROLES = ("propagator", "dormant", "regular")

_DAY = 86_400
_EVENTS_PER_CUSTOMER = 10.0
_REFERRED_FRACTION = 0.30
_PROPAGATOR_FRACTION = 0.005
_DORMANT_FRACTION = 0.05
_DORMANT_PROPAGATOR_SHARE = 0.10  # share of propagators that go dormant
_ADVOCATE_SHARE = 0.20  # share of the other dormant customers that were propagator-like
_EMPTY_TARGET_FRACTION = 0.02
_CONVERSION_RATE = 0.40
_VALUE_MEDIAN = 50.0
_QUIET_LIMIT = 0.58  # dormant customers' last possible source time, as a fraction of the period
_N_SLICES = 60  # time slices of the referral process
_HEAT_DECAY = 0.5  # heat a referred customer inherits from the referrer, per generation
_REFERRAL_HEAT_GAIN = 24.0  # referral weight multiplier is 1 + gain * heat
_SEND_HEAT_GAIN = 19.0  # sending rate multiplier is 1 + gain * heat**2
_ADVOCATE_GAIN = 8.0

# Event type codes; the string values are the built-in event types.
_SHARE, _REFERRAL, _COMMENT = 0, 1, 2
_TYPE_NAMES = ("share", "referral", "comment")


def generate_events(
    n_customers: int,
    *,
    days: int = 180,
    seed: int = 0,
    start: str = "2026-01-01",
    n_communities: int | None = None,
    mixing: float = 0.15,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate synthetic interaction events with a planted ground truth.

    Parameters
    ----------
    n_customers : int
        Number of customers, >= 2. About ``10 * n_customers`` events are made.
    days : int, default 180
        Length of the period in days, >= 1. Every timestamp lies in
        ``[start, start + days)``.
    seed : int, default 0
        Seed for :func:`numpy.random.default_rng`. Same arguments give
        identical DataFrames.
    start : str, default "2026-01-01"
        Start of the period, anything :class:`pandas.Timestamp` parses. A
        time-zone-aware value is converted to UTC; sub-second parts are
        dropped.
    n_communities : int, optional
        Number of planted communities, in ``[1, n_customers]``. Default
        ``max(2, n_customers // 250)`` (capped at ``n_customers``).
    mixing : float, default 0.15
        Fraction of interactions whose target is drawn from a community other
        than the source's, in ``[0, 1]``.

    Returns
    -------
    events : pandas.DataFrame
        One row per interaction, columns in this order:

        ``source`` (string)
            Acting customer id, ``"c"`` + zero-padded number (at least 7
            digits, e.g. ``"c0000042"``); never missing.
        ``target`` (string)
            Counterpart id; missing (``pd.NA``) on about 2% of rows, meaning
            activity with no counterpart.
        ``type`` (string)
            ``"share"``, ``"referral"`` or ``"comment"``.
        ``timestamp`` (string)
            ISO 8601 UTC, second precision, ``Z`` suffix, e.g.
            ``"2026-03-01T12:34:56Z"``.
        ``converted`` (string)
            ``"true"`` / ``"false"`` on referrals, missing otherwise. Kept as
            text so that a CSV round trip reads back ``true`` / ``false``.
        ``value`` (float64)
            Money from a converted referral, ``NaN`` otherwise.

        String columns have dtype ``pd.StringDtype()`` (missing value
        ``pd.NA``). Rows are sorted by timestamp, then source, then target
        (missing last), then type; there are no self-loops and no exact
        duplicate rows.
    truth : pandas.DataFrame
        One row per customer, sorted by ``customer_id``:

        ``customer_id`` (string)
            Every id appears in ``events`` at least once, as source or target.
        ``community`` (int64)
            Planted community, ``0 .. n_communities - 1``, 0 the largest.
        ``role`` (string)
            ``"propagator"``, ``"dormant"`` or ``"regular"``. A propagator
            that went dormant is ``"dormant"``.
        ``referred_by`` (string)
            Id of the customer who referred this one (a ``referral`` event
            ``referred_by -> customer_id`` exists at ``joined``), or ``pd.NA``.
        ``joined`` (string)
            Join time, same format as ``timestamp``. A referrer always joined
            strictly before the customers they referred.

    Raises
    ------
    ValueError
        If an argument is out of range or ``start`` cannot be parsed.

    Notes
    -----
    Dormant customers (role ``"dormant"``) have no event as ``source`` at or
    after 58% of the period (so none after 60%). Propagators were chosen among
    customers who joined in the first quarter of the period.

    Examples
    --------
    >>> events, truth = generate_events(1000, seed=1)
    >>> list(events.columns)
    ['source', 'target', 'type', 'timestamp', 'converted', 'value']
    >>> truth["role"].value_counts().to_dict()  # doctest: +SKIP
    {'regular': 945, 'dormant': 50, 'propagator': 5}
    """
    n, period, k, mixing, start_sec = _check_args(n_customers, days, start, n_communities, mixing)
    rng = np.random.default_rng(seed)

    comm = _plant_communities(rng, n, k)
    plan = _plant_people(rng, n, period)
    referrer = _grow_referral_forest(rng, comm, plan, k, mixing, period)
    referred = referrer >= 0

    # Activity: 1 + Poisson events as source, in the active window [join, end).
    heat, adv = plan["heat"], plan["advocate"]
    join, end = plan["join"], plan["end"]
    window = (end - join).astype(np.float64)
    rate = plan["send"] * (1.0 + _SEND_HEAT_GAIN * heat**2) * np.where(adv, _ADVOCATE_GAIN, 1.0)
    rate *= window / period
    n_ref = int(referred.sum())
    budget = max(_EVENTS_PER_CUSTOMER * n - n - n_ref, 0.0)
    counts = 1 + rng.poisson(rate * (budget / rate.sum()))
    counts[plan["dormant"]] += 2
    src = np.repeat(np.arange(n, dtype=np.int64), counts)
    m = src.size
    t = join[src] + (rng.random(m) * window[src]).astype(np.int64)
    p_share = 0.45 + 0.4 * np.maximum(heat, adv.astype(np.float64))
    etype = np.where(rng.random(m) < p_share[src], _SHARE, _COMMENT).astype(np.int8)
    p_empty = _EMPTY_TARGET_FRACTION * (m + n_ref) / m
    has_target = rng.random(m) >= p_empty
    tgt = np.full(m, -1, dtype=np.int64)
    tgt[has_target] = _pick_targets(rng, src[has_target], t[has_target], comm, plan, k, mixing,
                                    period)

    # Referral events: referrer -> referred at the referred customer's join time.
    kids = np.flatnonzero(referred)
    conv = rng.random(kids.size) < _CONVERSION_RATE
    money = np.round(rng.lognormal(np.log(_VALUE_MEDIAN), 0.6, kids.size), 2)

    src = np.concatenate([src, referrer[kids]])
    tgt = np.concatenate([tgt, kids])
    t = np.concatenate([t, join[kids]])
    etype = np.concatenate([etype, np.full(kids.size, _REFERRAL, dtype=np.int8)])
    conv_code = np.concatenate([np.full(m, -1, dtype=np.int8), conv.astype(np.int8)])
    value = np.concatenate([np.full(m, np.nan), np.where(conv, money, np.nan)])
    del has_target, p_share

    # Sort by (timestamp, source, target with missing last, type); drop exact duplicates.
    tgt_key = np.where(tgt < 0, n, tgt)
    key1 = t * (n + 1) + src
    key2 = tgt_key * 3 + etype
    order = np.lexsort((key2, key1))
    key1, key2 = key1[order], key2[order]
    keep = np.ones(order.size, dtype=bool)
    keep[1:] = (key1[1:] != key1[:-1]) | (key2[1:] != key2[:-1])
    order = order[keep]
    del key1, key2, keep, tgt_key
    src, tgt, t, etype = src[order], tgt[order], t[order], etype[order]
    conv_code, value = conv_code[order], value[order]
    del order

    ids = _customer_ids(n)
    events = pa.table(
        {
            "source": ids.take(pa.array(src)),
            "target": ids.take(pa.array(tgt, mask=tgt < 0)),
            "type": pa.array(_TYPE_NAMES).take(pa.array(etype)),
            "timestamp": _iso_seconds(start_sec, t, period),
            "converted": pa.array(["false", "true"]).take(pa.array(conv_code, mask=conv_code < 0)),
            "value": pa.array(value, type=pa.float64()),
        }
    )
    del src, tgt, t, etype, conv_code, value

    role_code = np.full(n, 2, dtype=np.int8)
    role_code[plan["propagator"]] = 0
    role_code[plan["dormant"]] = 1
    truth = pa.table(
        {
            "customer_id": ids,
            "community": pa.array(comm, type=pa.int64()),
            "role": pa.array(ROLES).take(pa.array(role_code)),
            "referred_by": ids.take(pa.array(referrer, mask=~referred)),
            "joined": _iso_seconds(start_sec, join, period),
        }
    )
    return _to_pandas(events), _to_pandas(truth)


# ---------------------------------------------------------------------------
# planting


def _check_args(n_customers, days, start, n_communities, mixing):
    """Validate the arguments; return ``(n, period_seconds, k, mixing, start_epoch_seconds)``."""
    if isinstance(n_customers, bool) or not isinstance(n_customers, (int, np.integer)):
        raise ValueError(f"n_customers must be an integer, got {n_customers!r}")
    n = int(n_customers)
    if n < 2:
        raise ValueError(f"n_customers must be >= 2, got {n}")
    if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or days < 1:
        raise ValueError(f"days must be an integer >= 1, got {days!r}")
    if n_communities is None:
        k = min(n, max(2, n // 250))
    elif isinstance(n_communities, bool) or not isinstance(n_communities, (int, np.integer)):
        raise ValueError(f"n_communities must be an integer, got {n_communities!r}")
    elif not 1 <= n_communities <= n:
        raise ValueError(f"n_communities must be in [1, n_customers={n}], got {n_communities}")
    else:
        k = int(n_communities)
    mixing = float(mixing)
    if not 0.0 <= mixing <= 1.0:
        raise ValueError(f"mixing must be in [0, 1], got {mixing}")
    try:
        ts = pd.Timestamp(start)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"start is not a date or timestamp: {start!r}") from exc
    if ts is pd.NaT:
        raise ValueError(f"start is not a date or timestamp: {start!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    start_sec = int(np.datetime64(ts.floor("s").to_datetime64(), "s").astype(np.int64))
    return n, int(days) * _DAY, k, mixing, start_sec


def _plant_communities(rng, n, k):
    """Community of each customer: Pareto sizes (each >= 1), 0 the largest."""
    weights = np.minimum(rng.pareto(1.8, k) + 1.0, 15.0)
    sizes = 1 + rng.multinomial(n - k, weights / weights.sum())
    sizes = np.sort(sizes)[::-1]
    return rng.permutation(np.repeat(np.arange(k, dtype=np.int64), sizes))


def _plant_people(rng, n, period):
    """Join times, roles, propensities and the referral plan of every customer."""
    edges = _slice_edges(period)
    referred = rng.random(n) < _REFERRED_FRACTION
    u = rng.random(n)
    # Organic customers join early-heavy; referred ones after the first slice.
    join_f = np.where(referred, 0.0, 0.97 * u**2)
    join = (join_f * period).astype(np.int64)
    first = int(edges[1])
    join[referred] = first + (u[referred] * (period - first)).astype(np.int64)

    # Propagators: among the organic customers who joined in the first quarter.
    n_prop = max(1, round(_PROPAGATOR_FRACTION * n))
    cand = np.flatnonzero(~referred & (join < 0.25 * period))
    if cand.size < n_prop:
        cand = np.argsort(join, kind="stable")[: max(n_prop, min(n, 4 * n_prop))]
    prop_idx = np.sort(rng.choice(cand, n_prop, replace=False))
    propagator = np.zeros(n, dtype=bool)
    propagator[prop_idx] = True

    # Dormant: joined in the first 30%; a few former propagators among them.
    n_dorm = round(_DORMANT_FRACTION * n)
    n_dprop = min(round(_DORMANT_PROPAGATOR_SHARE * n_prop), n_prop - 1, n_dorm)
    dormant = np.zeros(n, dtype=bool)
    early_prop = prop_idx[join[prop_idx] < 0.30 * period]
    n_dprop = min(n_dprop, early_prop.size)
    if n_dprop > 0:
        dormant[rng.choice(early_prop, n_dprop, replace=False)] = True
    cand = np.flatnonzero(~propagator & (join < 0.30 * period))
    n_rest = min(n_dorm - n_dprop, cand.size)
    if n_rest > 0:
        dormant[rng.choice(cand, n_rest, replace=False)] = True
    advocate = dormant & ~propagator & (rng.random(n) < _ADVOCATE_SHARE)

    end = np.full(n, period, dtype=np.int64)
    quiet = join + (rng.uniform(0.15, 0.35, n) * period).astype(np.int64)
    quiet = np.minimum(quiet, int(_QUIET_LIMIT * period))
    end[dormant] = quiet[dormant]
    end = np.maximum(end, join + 1)

    heat = propagator.astype(np.float64)
    return {
        "join": join,
        "end": end,
        "referred": referred,
        "propagator": propagator,
        "dormant": dormant,
        "advocate": advocate,
        "heat": heat,
        "send": rng.lognormal(0.0, 0.9, n),
        "recv": rng.pareto(1.6, n) + 1.0,
        "refw": rng.lognormal(0.0, 0.8, n),
    }


def _slice_edges(period):
    return (np.arange(_N_SLICES + 1, dtype=np.int64) * period) // _N_SLICES


def _grow_referral_forest(rng, comm, plan, k, mixing, period):
    """Choose each referred customer's referrer; update heat in place.

    Time is cut into slices; a customer joining in slice ``s`` is referred by
    someone who joined in an earlier slice and is still active at the end of
    slice ``s``, drawn with weight ``refw * (1 + gain * heat)``; from the own
    community with probability ``1 - mixing``, else from everyone. A referred
    customer inherits half the referrer's heat. Customers for whom no referrer
    exists become organic. Returns ``referrer`` (-1 for none).
    """
    n = comm.size
    join, end, heat = plan["join"], plan["end"], plan["heat"]
    base = plan["refw"] * np.where(plan["advocate"], _ADVOCATE_GAIN, 1.0)
    edges = _slice_edges(period)
    order_c, key_c, comm_lo = _community_index(comm, join, k, period)
    order_g = np.argsort(join, kind="stable")
    join_g = join[order_g]

    referrer = np.full(n, -1, dtype=np.int64)
    kids = np.flatnonzero(plan["referred"])
    kid_slice = np.searchsorted(edges, join[kids], side="right") - 1
    kids = kids[np.argsort(kid_slice, kind="stable")]
    bounds = np.searchsorted(np.sort(kid_slice), np.arange(_N_SLICES + 1), side="left")
    for s in range(1, _N_SLICES):
        members = kids[bounds[s] : bounds[s + 1]]
        if members.size == 0:
            continue
        lo_t, hi_t = int(edges[s]), int(edges[s + 1])
        w = base * (1.0 + _REFERRAL_HEAT_GAIN * heat)
        w[end < hi_t] = 0.0
        c = comm[members]
        u = rng.random(members.size)
        local = rng.random(members.size) >= mixing
        cum_c = _cumsum0(w[order_c])
        lo = comm_lo[c]
        hi = np.searchsorted(key_c, c * (period + 1) + lo_t, side="left")
        ok = local & (cum_c[hi] > cum_c[lo])
        chosen = np.full(members.size, -1, dtype=np.int64)
        chosen[ok] = order_c[_weighted_pick(cum_c, lo[ok], hi[ok], u[ok])]
        rest = ~ok
        if rest.any():
            cum_g = _cumsum0(w[order_g])
            hi_g = int(np.searchsorted(join_g, lo_t, side="left"))
            if cum_g[hi_g] > 0:
                nr = int(rest.sum())
                pos = _weighted_pick(
                    cum_g, np.zeros(nr, dtype=np.int64), np.full(nr, hi_g), u[rest]
                )
                chosen[rest] = order_g[pos]
        got = chosen >= 0
        referrer[members[got]] = chosen[got]
        heat[members[got]] = np.maximum(heat[members[got]], _HEAT_DECAY * heat[chosen[got]])
    return referrer


def _community_index(comm, join, k, period):
    """Customers sorted by (community, join); sort key; first position of each community."""
    order = np.lexsort((join, comm))
    key = comm[order] * (period + 1) + join[order]
    comm_lo = np.searchsorted(key, np.arange(k, dtype=np.int64) * (period + 1), side="left")
    return order, key, comm_lo


def _cumsum0(w):
    out = np.empty(w.size + 1, dtype=np.float64)
    out[0] = 0.0
    np.cumsum(w, out=out[1:])
    return out


def _weighted_pick(cum, lo, hi, u):
    """Positions drawn in ``[lo, hi)`` with probability proportional to weight.

    ``cum`` is the cumulative weight with a leading zero (``cum[i]`` = weight
    of positions ``< i``); each range must have positive total weight.
    Zero-weight positions are never returned.
    """
    x = cum[lo] + u * (cum[hi] - cum[lo])
    pos = np.searchsorted(cum, x, side="right") - 1
    bad = pos >= hi  # rounding put x at the top: take the last positive weight
    if bad.any():
        pos[bad] = np.searchsorted(cum, cum[hi[bad]], side="left") - 1
    return pos


def _pick_targets(rng, src, t, comm, plan, k, mixing, period):
    """Target of each event: a customer who joined by ``t``, never the source.

    Weighted by receiving propensity; in the source's community, or with
    probability ``mixing`` in another community (chosen by popularity mass).
    Falls back to any customer who joined by ``t``; -1 if there is none.
    """
    join, recv = plan["join"], plan["recv"]
    order_c, key_c, comm_lo = _community_index(comm, join, k, period)
    cum_c = _cumsum0(recv[order_c])
    m = src.size
    sc = comm[src]
    tc = sc.copy()
    if k > 1 and mixing > 0:
        cross = np.flatnonzero(rng.random(m) < mixing)
        tc[cross] = _other_community(rng, sc[cross], np.bincount(comm, weights=recv, minlength=k))
    del sc
    lo = comm_lo[tc]
    hi = np.searchsorted(key_c, tc * (period + 1) + t, side="right")
    del tc
    tgt = np.full(m, -1, dtype=np.int64)
    todo = np.flatnonzero(hi > lo)
    for _ in range(8):
        if todo.size == 0:
            break
        tgt[todo] = order_c[_weighted_pick(cum_c, lo[todo], hi[todo], rng.random(todo.size))]
        todo = todo[tgt[todo] == src[todo]]
    tgt[todo] = -1
    del lo, hi, cum_c, key_c, order_c

    todo = np.flatnonzero(tgt < 0)
    if todo.size:
        order_g = np.argsort(join, kind="stable")
        cum_g = _cumsum0(recv[order_g])
        hi_g = np.searchsorted(join[order_g], t[todo], side="right")
        lo_g = np.zeros(todo.size, dtype=np.int64)
        for _ in range(8):
            if todo.size == 0:
                break
            pos = _weighted_pick(cum_g, lo_g, hi_g, rng.random(todo.size))
            tgt[todo] = order_g[pos]
            again = tgt[todo] == src[todo]
            todo, lo_g, hi_g = todo[again], lo_g[again], hi_g[again]
        tgt[todo] = -1  # nobody else had joined yet: activity without counterpart
    return tgt


def _other_community(rng, own, mass):
    """For each community in ``own``, a different one drawn by ``mass``."""
    k = mass.size
    cum = _cumsum0(mass)
    out = np.searchsorted(cum, rng.random(own.size) * cum[-1], side="right") - 1
    out = np.minimum(out, k - 1)
    for _ in range(10):
        same = np.flatnonzero(out == own)
        if same.size == 0:
            return out
        out[same] = np.minimum(
            np.searchsorted(cum, rng.random(same.size) * cum[-1], side="right") - 1, k - 1
        )
    same = out == own
    out[same] = (own[same] + 1 + rng.integers(0, k - 1, int(same.sum()))) % k
    return out


# ---------------------------------------------------------------------------
# formatting


def _customer_ids(n):
    """``c`` + zero-padded index, at least 7 digits, as a pyarrow string array."""
    width = max(7, len(str(n - 1)))
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(n, dtype=np.int64)), pa.string()), width, "0")
    return pc.binary_join_element_wise("c", digits, "")


def _iso_seconds(start_sec, offsets, period):
    """ISO 8601 ``YYYY-MM-DDTHH:MM:SSZ`` strings for ``start_sec + offsets``."""
    absolute = start_sec + np.asarray(offsets, dtype=np.int64)
    first_day = start_sec // _DAY
    n_days = (start_sec + period) // _DAY - first_day + 1
    day_strings = np.datetime_as_string(
        np.arange(first_day, first_day + n_days, dtype=np.int64).astype("datetime64[D]"), unit="D"
    )
    tod_strings = np.datetime_as_string(
        np.arange(_DAY, dtype=np.int64).astype("datetime64[s]"), unit="s"
    )
    tod = pc.utf8_slice_codeunits(pa.array(tod_strings), 10)  # "THH:MM:SS"
    days_arr = pa.array(day_strings).take(pa.array(absolute // _DAY - first_day))
    tod_arr = tod.take(pa.array(absolute % _DAY))
    return pc.binary_join_element_wise(days_arr, tod_arr, "Z", "")


def _to_pandas(table):
    string = pd.StringDtype("pyarrow")
    return table.to_pandas(types_mapper={pa.string(): string}.get)
