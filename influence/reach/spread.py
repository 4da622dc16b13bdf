"""Reach and diffusion: k-hop reach, independent cascade probabilities, and a
batched Monte Carlo cascade simulator.

Independent cascade (IC) model [1]_: when a customer becomes active, each
influence edge ``u -> v`` leaving them gets one chance to activate ``v``, with
probability ``p(u, v)``. Default rule: ``p = 1 - (1 - p0) ** w`` with ``w``
the edge weight, i.e. each unit of weight is an independent chance ``p0``
(default ``p0 = 0.02``: a single comment, weight 1, activates with 2%; a single
referral, weight 3, with 5.9%).

References
----------
.. [1] Kempe, D., Kleinberg, J., & Tardos, É. (2003). Maximizing the spread of
   influence through a social network. KDD '03. doi:10.1145/956750.956769
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..arrays import sorted_unique, sum_by_group
from ..config import AnalysisConfig
from ..graph import InfluenceGraph
from ..progress import Advance, no_progress
from ..schema import TIMESTAMP, TYPE

__all__ = ["k_hop_reach", "weight_probabilities", "learn_type_probabilities",
           "learned_probabilities", "Adjacency", "adjacency", "cascade", "simulate_spread"]


def k_hop_reach(graph: InfluenceGraph, *, max_edges_exact: int = 50_000_000
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """Distinct customers reachable within 1 and 2 hops along influence flow.

    Parameters
    ----------
    graph : InfluenceGraph
    max_edges_exact : int, default=50_000_000
        Above this many edges ``reach_2`` is not computed (``None``).

    Returns
    -------
    reach_1, reach_2 : numpy.ndarray of int64 (reach_2 may be None)
        ``reach_1`` is the number of distinct out-neighbours; ``reach_2`` the
        number of distinct customers at distance 1 or 2 (the customer
        excluded), exact, by igraph ``neighborhood_size(order=2, mode="out",
        mindist=1)``. Cost: the sum over customers of their out-neighbours'
        out-degrees (about 6 s at 1M customers / 10M edges).
    """
    g = graph.graph
    reach_1 = np.asarray(g.outdegree(), dtype=np.int64)
    if graph.n_edges > max_edges_exact:
        return reach_1, None
    reach_2 = np.asarray(g.neighborhood_size(order=2, mode="out", mindist=1), dtype=np.int64)
    return reach_1, reach_2


def weight_probabilities(graph: InfluenceGraph, p0: float) -> np.ndarray:
    """Edge activation probabilities ``1 - (1 - p0) ** weight``, in edge order."""
    weight = graph.edges["weight"].to_numpy(dtype=np.float64)
    return -np.expm1(weight * np.log1p(-p0))


def _influenced(events: pd.DataFrame, codes, config: AnalysisConfig):
    source, target = codes
    reverse_types = [t for t, spec in config.types.items() if spec.flow == "reverse"]
    reverse = events[TYPE].isin(reverse_types).to_numpy()
    src = np.where(reverse, target, source)
    dst = np.where(reverse, source, target)
    return src, dst, reverse


def learn_type_probabilities(events: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray],
                             config: AnalysisConfig, horizon_days: float) -> pd.DataFrame:
    """Estimate a per-type activation probability from history.

    An event of type ``t`` (with a target) *succeeds* when the customer it
    influenced (the target for forward types, the source for reverse ones)
    passes something on, i.e. sends a forward-flow event with a target,
    within ``(time, time + horizon_days]``. ``p_t`` = successes / events of
    type ``t``, with a add-one (Laplace) prior: ``(s + 1) / (m + 2)``.

    This is a simple frequency estimator: it does not subtract the customer's
    baseline activity, so it overstates ``p`` for customers who pass things
    on anyway, and events near the end date have a truncated horizon.

    Returns
    -------
    pandas.DataFrame
        Index ``type``; columns ``events``, ``successes``, ``p`` (float64).
    """
    if TIMESTAMP not in events.columns:
        raise ValueError("learned probabilities need timestamps")
    source, target = codes
    src, dst, _ = _influenced(events, codes, config)
    has_target = target >= 0
    seconds = events[TIMESTAMP].to_numpy(dtype="datetime64[ns]").view(np.int64) // 10**9
    seconds = seconds - (seconds.min() if len(seconds) else 0)
    forward_types = [t for t, spec in config.types.items() if spec.flow == "forward"]
    passes = has_target & events[TYPE].isin(forward_types).to_numpy()
    shift = np.int64(1 << 34)
    pass_keys = np.sort(source[passes].astype(np.int64) * shift + seconds[passes])
    horizon = int(round(horizon_days * 86_400))
    ev = np.flatnonzero(has_target)
    low = dst[ev].astype(np.int64) * shift + seconds[ev] + 1
    pos = np.searchsorted(pass_keys, low)
    hit = np.zeros(len(ev), dtype=bool)
    inside = pos < len(pass_keys)
    hit[inside] = pass_keys[pos[inside]] <= low[inside] - 1 + horizon
    types = sorted(config.types)
    kinds = events[TYPE].to_numpy()[ev]
    rows = []
    for t in types:
        mask = kinds == t
        m, s = int(mask.sum()), int(hit[mask].sum())
        rows.append((t, m, s, (s + 1) / (m + 2)))
    return pd.DataFrame(rows, columns=["type", "events", "successes", "p"]).set_index("type")


def learned_probabilities(events: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray],
                          graph: InfluenceGraph, config: AnalysisConfig,
                          type_p: pd.Series) -> np.ndarray:
    """Edge probabilities from per-type ones: ``1 - prod over the edge's events (1 - p_type)``."""
    src, dst, _ = _influenced(events, codes, config)
    ok = codes[1] >= 0
    n = graph.n_customers
    log_fail = np.log1p(-events[TYPE].map(type_p).to_numpy(dtype=np.float64))
    key = src[ok].astype(np.int64) * n + dst[ok]
    edge_key = (graph.edges["src"].to_numpy(np.int64) * n + graph.edges["dst"].to_numpy())
    pos = np.searchsorted(edge_key, key)
    # summed in a canonical order (not row order): the same probabilities, to the bit,
    # whatever the order of the events
    total = sum_by_group(pos, log_fail[ok], graph.n_edges)
    return -np.expm1(total)


@dataclass(frozen=True)
class Adjacency:
    """Compressed adjacency (CSR) with a probability per edge.

    ``nbr[ptr[v]:ptr[v + 1]]`` are ``v``'s neighbours, ``prob`` their edge
    probabilities.
    """

    ptr: np.ndarray
    nbr: np.ndarray
    prob: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ptr) - 1


def adjacency(graph: InfluenceGraph, prob: np.ndarray, reverse: bool = False) -> Adjacency:
    """CSR of the influence graph (``reverse``: of its transpose, for RR sets)."""
    src = graph.edges["src"].to_numpy(np.int64)
    dst = graph.edges["dst"].to_numpy(np.int64)
    if reverse:
        src, dst = dst, src
    key = src * np.int64(graph.n_customers) + dst
    if len(key) > 1 and bool(np.all(key[1:] > key[:-1])):
        order = np.arange(len(key))  # already sorted (the forward edges always are)
    elif not reverse:
        order = np.argsort(key, kind="stable")
    else:
        # forward edges sorted by (src, dst): a stable sort by dst gives (dst, src)
        order = np.argsort(src, kind="stable")
        if not bool(np.all(np.diff(key[order]) > 0)):
            order = np.argsort(key, kind="stable")
    ptr = np.r_[0, np.cumsum(np.bincount(src, minlength=graph.n_customers))]
    return Adjacency(ptr=ptr.astype(np.int64), nbr=dst[order],
                     prob=np.asarray(prob, dtype=np.float64)[order])


def cascade(adj: Adjacency, run: np.ndarray, start: np.ndarray,
            rng: np.random.Generator) -> np.ndarray:
    """Run many independent cascades at once.

    Parameters
    ----------
    adj : Adjacency
    run, start : numpy.ndarray of int64
        Start node ``start[i]`` belongs to cascade ``run[i]``.
    rng : numpy.random.Generator
        One uniform draw per edge tried (Bernoulli coin flip), in a fixed order.

    Returns
    -------
    numpy.ndarray of int64
        Sorted keys ``run * n + node`` of every activated node (start nodes
        included), so runs are contiguous.

    Notes
    -----
    Level-synchronous BFS over all runs together: each newly active node
    tries each of its edges once; duplicates within a level are removed with
    one sort. Visited keys stay sorted; merging them is a near-linear stable
    sort of two sorted runs.
    """
    n = np.int64(adj.n)
    visited = sorted_unique(run.astype(np.int64) * n + start)
    frontier = visited
    while len(frontier):
        nodes = frontier % n
        lo = adj.ptr[nodes]
        deg = adj.ptr[nodes + 1] - lo
        total = int(deg.sum())
        if total == 0:
            break
        offsets = np.cumsum(deg) - deg
        edge = np.repeat(lo - offsets, deg) + np.arange(total)
        fired = rng.random(total) < adj.prob[edge]
        runs = np.repeat(frontier // n, deg)[fired]
        cand = sorted_unique(runs * n + adj.nbr[edge[fired]])
        pos = np.searchsorted(visited, cand)
        seen = np.zeros(len(cand), dtype=bool)
        inside = pos < len(visited)
        seen[inside] = visited[pos[inside]] == cand[inside]
        frontier = cand[~seen]
        visited = np.sort(np.concatenate([visited, frontier]), kind="stable")
    return visited


def simulate_spread(adj: Adjacency, seed_sets: list[np.ndarray], runs: int, *, seed: int = 0,
                    batch_entries: int = 50_000,
                    progress: Advance = no_progress) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo expected spread (activated customers, seeds included) of seed sets.

    Parameters
    ----------
    adj : Adjacency
        Forward adjacency with edge probabilities.
    seed_sets : list of numpy.ndarray of int
        Vertex indices of each seed set.
    runs : int
        Simulations per seed set.
    seed : int, default=0
    batch_entries : int, default=50_000
        Start nodes simulated together (memory bound).
    progress : callable, optional
        ``progress(simulated, len(seed_sets))`` after each batch of seed sets.

    Returns
    -------
    mean, se : numpy.ndarray of float64
        Mean spread and its standard error (sample std / sqrt(runs)), per set.
    """
    rng = np.random.default_rng(seed)
    n = adj.n
    sizes = np.array([len(s) for s in seed_sets], dtype=np.int64)
    n_sets = len(seed_sets)
    counts = np.zeros((n_sets, runs))
    per_batch = max(1, batch_entries // max(1, int(sizes.max()) if n_sets else 1) // runs)
    for first in range(0, n_sets, per_batch):
        chosen = range(first, min(n_sets, first + per_batch))
        starts = np.concatenate([np.tile(np.asarray(seed_sets[i], np.int64), runs)
                                 for i in chosen])
        run_ids = np.concatenate([
            (j * runs + np.repeat(np.arange(runs), sizes[i])) for j, i in enumerate(chosen)])
        active = cascade(adj, run_ids, starts, rng)
        per_run = np.bincount(active // n, minlength=len(chosen) * runs)
        counts[first:first + len(chosen)] = per_run.reshape(len(chosen), runs)
        progress(first + len(chosen), n_sets)
    mean = counts.mean(axis=1)
    se = counts.std(axis=1, ddof=1) / np.sqrt(runs) if runs > 1 else np.zeros(n_sets)
    return mean, se
