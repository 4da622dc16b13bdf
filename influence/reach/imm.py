"""Key propagators: influence maximisation under the independent cascade model
with reverse-reachable (RR) sets, the IMM algorithm [1]_.

A random RR set is the set of customers that would have activated a
uniformly drawn customer ``r`` in one random live-edge world: a reverse BFS
from ``r`` where each in-edge is kept with its probability. For any seed set
``S``, ``n x P(S meets a random RR set)`` is its expected spread [2]_, so a
greedy maximum coverage of ``theta`` RR sets picks seeds whose spread is at
least ``(1 - 1/e - epsilon)`` x the optimum with probability ``1 - 1/n**ell``
when ``theta`` is as IMM sets it. Following [3]_, the RR sets used for the
final selection are drawn afresh, independent of those used to estimate
``theta``.

References
----------
.. [1] Tang, Y., Shi, Y., & Xiao, X. (2015). Influence maximization in
   near-linear time: a martingale approach. SIGMOD '15.
   doi:10.1145/2723372.2723734
.. [2] Borgs, C., Brautbar, M., Chayes, J., & Lucier, B. (2014). Maximizing
   social influence in nearly optimal time. SODA '14. doi:10.1137/1.9781611973402.70
.. [3] Chen, W. (2018). An issue in the martingale analysis of the influence
   maximization algorithm IMM. CSoNet 2018. doi:10.1007/978-3-030-04648-4_24
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..progress import Advance, no_progress
from .spread import Adjacency, cascade

__all__ = ["RRSets", "sample_rr_sets", "select_seeds", "imm"]


@dataclass
class RRSets:
    """RR sets as flat arrays: set ``s`` holds ``node[ptr[s]:ptr[s + 1]]`` and was
    grown from ``root[s]`` (which it holds; ``root`` is ``None`` when unknown)."""

    ptr: np.ndarray
    node: np.ndarray
    root: np.ndarray | None = None

    @property
    def count(self) -> int:
        return len(self.ptr) - 1

    @property
    def entries(self) -> int:
        return len(self.node)


def sample_rr_sets(reverse_adj: Adjacency, count: int, rng: np.random.Generator,
                   batch: int = 20_000, progress: Advance = no_progress) -> RRSets:
    """Draw ``count`` random RR sets (uniform roots, reverse BFS with coin flips).

    Parameters
    ----------
    reverse_adj : Adjacency
        Adjacency of the *transposed* influence graph with edge probabilities.
    count : int
    rng : numpy.random.Generator
    batch : int, default=20_000
        RR sets grown together.
    progress : callable, optional
        ``progress(drawn, count)`` after each batch.
    """
    n = reverse_adj.n
    ptrs, nodes, starts, offset = [np.zeros(1, np.int64)], [], [], 0
    for first in range(0, count, batch):
        size = min(batch, count - first)
        roots = rng.integers(0, n, size=size)
        keys = cascade(reverse_adj, np.arange(size, dtype=np.int64), roots, rng)
        run = keys // n
        nodes.append(keys % n)
        starts.append(roots.astype(np.int64))
        ends = np.searchsorted(run, np.arange(1, size + 1))
        ptrs.append(ends + offset)
        offset += len(keys)
        progress(first + size, count)
    node = np.concatenate(nodes) if nodes else np.zeros(0, np.int64)
    root = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    return RRSets(ptr=np.concatenate(ptrs).astype(np.int64), node=node.astype(np.int64),
                  root=root)


def _merge(a: RRSets, b: RRSets) -> RRSets:
    root = (None if a.root is None or b.root is None else np.r_[a.root, b.root])
    return RRSets(ptr=np.r_[a.ptr, b.ptr[1:] + a.entries], node=np.r_[a.node, b.node],
                  root=root)


def _empty() -> RRSets:
    return RRSets(ptr=np.zeros(1, np.int64), node=np.zeros(0, np.int64),
                  root=np.zeros(0, np.int64))


def select_seeds(rr: RRSets, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy maximum coverage of RR sets, stopping at zero marginal gain.

    A vertex is a candidate while it covers at least one uncovered RR set
    grown from *another* vertex: its expected marginal gain counts someone
    besides itself. Among the candidates the greedy step takes the one that
    covers the most uncovered sets (its own included: the IMM objective counts
    the seeds). When no candidate is left the selection stops, so fewer than
    ``k`` seeds is a valid answer: the other vertices would only activate
    themselves (e.g. customers who influenced nobody), or nothing at all.

    Returns
    -------
    seeds : numpy.ndarray of int64
        At most ``k`` vertices, in the order chosen.
    covered : numpy.ndarray of int64
        RR sets newly covered by each seed (its own sets included).

    Notes
    -----
    Ties go to the smallest vertex index (the smallest customer id). Each RR
    set is un-counted once, when first covered: O(total entries + k n).
    Without ``rr.root`` (sets built by hand) a vertex is a candidate while it
    covers any uncovered set.
    """
    set_of = np.repeat(np.arange(rr.count), np.diff(rr.ptr))
    by_node = np.argsort(rr.node, kind="stable")
    node_ptr = np.r_[0, np.cumsum(np.bincount(rr.node, minlength=n))]
    counts = np.bincount(rr.node, minlength=n).astype(np.int64)
    # uncovered sets grown from each vertex (each holds its root)
    own = (np.zeros(n, dtype=np.int64) if rr.root is None
           else np.bincount(rr.root, minlength=n).astype(np.int64))
    covered = np.zeros(rr.count, dtype=bool)
    chosen = np.zeros(n, dtype=bool)
    seeds, gains = [], []
    for _ in range(min(k, n)):
        masked = np.where(chosen | (counts - own <= 0), -1, counts)
        v = int(np.argmax(masked))
        if masked[v] <= 0:
            break
        sets = set_of[by_node[node_ptr[v]:node_ptr[v + 1]]]
        new = sets[~covered[sets]]
        covered[new] = True
        if len(new):
            lo, hi = rr.ptr[new], rr.ptr[new + 1]
            length = hi - lo
            idx = np.repeat(lo - (np.cumsum(length) - length), length) + np.arange(length.sum())
            counts -= np.bincount(rr.node[idx], minlength=n)
            if rr.root is not None:
                own -= np.bincount(rr.root[new], minlength=n)
        chosen[v] = True
        seeds.append(v)
        gains.append(len(new))
    return np.asarray(seeds, dtype=np.int64), np.asarray(gains, dtype=np.int64)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def imm(reverse_adj: Adjacency, k: int, epsilon: float = 0.5, ell: float = 1.0,
        seed: int = 0, max_entries: int = 300_000_000,
        progress: Advance = no_progress) -> tuple[pd.DataFrame, dict]:
    """IMM seed selection (Tang et al. 2015, Algorithms 1-3, with Chen's 2018 fix).

    Parameters
    ----------
    reverse_adj : Adjacency
        Transposed influence graph with IC edge probabilities.
    k : int
        Seeds to pick.
    epsilon : float, default=0.5
    ell : float, default=1.0
        Failure probability ``1 / n**ell``.
    seed : int, default=0
    max_entries : int, default=300_000_000
        Stop with a ``RuntimeError`` before RR sets would exceed this many
        entries (memory guard for supercritical diffusion: lower ``p0``).
    progress : callable, optional
        ``progress(drawn, needed)``: RR sets drawn, of those needed so far (the
        estimation phase raises the need as it goes, the final one starts afresh).

    Returns
    -------
    seeds : pandas.DataFrame
        ``order`` (1..k), ``vertex`` (int64), ``marginal_gain`` and
        ``cumulative_spread`` (float64: RR-set estimates, customers). Fewer
        than ``k`` rows when no other vertex would activate anyone but itself
        (:func:`select_seeds`).
    info : dict
        ``theta``, ``lower_bound``, ``rr_sets`` (all drawn), ``rr_entries``,
        ``seeds`` (how many were found) and ``stopped_early`` (fewer than ``k``).
    """
    n = reverse_adj.n
    rng = np.random.default_rng(seed)
    k = min(k, n)
    if k == 0:
        return (pd.DataFrame({"order": [], "vertex": [], "marginal_gain": [],
                              "cumulative_spread": []}), {"theta": 0})
    log_n = math.log(max(n, 2))
    ell = ell * (1 + math.log(2) / log_n)
    eps_p = math.sqrt(2) * epsilon
    lcnk = _log_comb(n, k)
    lam_p = ((2 + 2 * eps_p / 3) * (lcnk + ell * log_n + math.log(max(math.log2(max(n, 2)), 1)))
             * n / eps_p ** 2)
    rr = _empty()
    drawn = 0
    lower = 1.0

    def extend(rr: RRSets, target: int) -> RRSets:
        nonlocal drawn
        need = target - rr.count
        if need > 0:
            before = rr.count
            extra = sample_rr_sets(reverse_adj, need, rng,
                                   progress=lambda done, _: progress(before + done, target))
            drawn += need
            rr = _merge(rr, extra)
            if rr.entries > max_entries:
                raise RuntimeError(
                    f"RR sets exceed {max_entries} entries (mean size "
                    f"{rr.entries / rr.count:.0f}): diffusion is near-critical; lower p0")
        return rr

    for i in range(1, max(1, int(math.log2(n)))):
        x = n / 2 ** i
        theta_i = int(math.ceil(lam_p / x))
        rr = extend(rr, theta_i)
        _, gains = select_seeds(rr, n, k)
        covered = n * gains.sum() / rr.count
        if covered >= (1 + eps_p) * x:
            lower = covered / (1 + eps_p)
            break
    alpha = math.sqrt(ell * log_n + math.log(2))
    beta = math.sqrt((1 - 1 / math.e) * (lcnk + ell * log_n + math.log(2)))
    lam_star = 2 * n * ((1 - 1 / math.e) * alpha + beta) ** 2 / epsilon ** 2
    theta = int(math.ceil(lam_star / lower))
    fresh = extend(_empty(), theta)
    seeds, gains = select_seeds(fresh, n, k)
    gain = n * gains / fresh.count
    table = pd.DataFrame({"order": np.arange(1, len(seeds) + 1), "vertex": seeds,
                          "marginal_gain": gain, "cumulative_spread": np.cumsum(gain)})
    # how many of the final RR sets grown from *another* vertex hold each vertex:
    # 1 + n * count / theta estimates the spread of the vertex alone (itself included;
    # what candidate_spread reuses instead of simulating)
    coverage = np.bincount(fresh.node, minlength=n).astype(np.int64)
    if fresh.root is not None:
        coverage -= np.bincount(fresh.root, minlength=n).astype(np.int64)
    return table, {"theta": theta, "lower_bound": lower, "rr_sets": drawn,
                   "rr_entries": int(fresh.entries), "seeds": int(len(seeds)),
                   "stopped_early": bool(len(seeds) < k), "rr_final": int(fresh.count),
                   "coverage": coverage}
