"""Small array helpers shared by the stages."""

from __future__ import annotations

import numpy as np

__all__ = ["sorted_unique", "sum_by_group"]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of integers by one sort (numpy 2.4's hash-based unique is
    several times slower on millions of distinct keys)."""
    values = np.sort(values)
    if len(values) == 0:
        return values
    return values[np.r_[True, values[1:] != values[:-1]]]


def sum_by_group(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Sum of ``values`` per group ``0 .. n-1``, whatever the order of the rows.

    Each group's values are added from 0.0, one at a time, in ascending order,
    so the float total depends only on the multiset of values (``np.bincount``
    with weights adds them in row order: shuffled rows change the last digit).
    The Spark engine adds ``array_sort(collect_list(value))`` from 0.0 left to
    right, the same sequence of additions: the totals are bit-identical.

    Parameters
    ----------
    group : numpy.ndarray of int
        Group of each value, in ``[0, n)``.
    values : numpy.ndarray of float64
        No NaN.
    n : int
        Number of groups.

    Returns
    -------
    numpy.ndarray of float64
        One total per group (0.0 for a group without values).

    Notes
    -----
    O(m log m) for m values (one sort), plus one vectorised addition per
    position: as many numpy calls as the largest group has values.

    Examples
    --------
    >>> sum_by_group(np.array([1, 0, 1, 1]), np.array([0.2, 5.0, 0.1, 0.3]), 3).tolist()
    [5.0, 0.6000000000000001, 0.0]
    """
    group = np.asarray(group, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    total = np.zeros(n)
    if len(group) == 0:
        return total
    order = np.lexsort((values, group))
    group_sorted = group[order]
    values_sorted = values[order]
    starts = np.flatnonzero(np.r_[True, group_sorted[1:] != group_sorted[:-1]])
    sizes = np.diff(np.r_[starts, len(group_sorted)])
    # largest groups first: the groups with more than k values are a prefix
    by_size = np.argsort(-sizes, kind="stable")
    starts, sizes = starts[by_size], sizes[by_size]
    acc = np.zeros(len(starts))
    live = len(starts)
    for k in range(int(sizes[0])):
        while sizes[live - 1] <= k:
            live -= 1
        acc[:live] += values_sorted[starts[:live] + k]
    total[group_sorted[starts]] = acc
    return total
