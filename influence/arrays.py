"""Small array helpers shared by the stages."""

from __future__ import annotations

import numpy as np

__all__ = ["sorted_unique"]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of integers by one sort (numpy 2.4's hash-based unique is
    several times slower on millions of distinct keys)."""
    values = np.sort(values)
    if len(values) == 0:
        return values
    return values[np.r_[True, values[1:] != values[:-1]]]
