"""The importance–performance matrix: which dimension to fix first.

Importance is a dimension's derived weight (drivers.py, normalised to sum
to 1); performance its mean on the index's 0–100 scale. The cross-hairs are
the means of the two over the dimensions, giving four quadrants:

- FIX_FIRST: important and below average performance ("concentrate here");
- KEEP_UP: important and performing;
- LOW_PRIORITY: neither;
- POSSIBLE_OVERKILL: performing well on what matters little.

The fix-first list orders FIX_FIRST dimensions by importance × (100 −
performance): the room to gain, weighted by what it is worth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QUADRANTS = ("FIX_FIRST", "KEEP_UP", "LOW_PRIORITY", "POSSIBLE_OVERKILL")


@dataclass
class IpaPoint:
    dimension: int
    importance: float
    performance: float
    quadrant: str
    priority: float  # importance × (100 − performance)


@dataclass
class IpaMatrix:
    importance_cut: float
    performance_cut: float
    points: list[IpaPoint]

    def fix_first(self) -> list[IpaPoint]:
        return sorted((p for p in self.points if p.quadrant == "FIX_FIRST"), key=lambda p: -p.priority)


def quadrant(importance: float, performance: float, importance_cut: float, performance_cut: float) -> str:
    important = importance >= importance_cut
    performing = performance >= performance_cut
    if important:
        return "KEEP_UP" if performing else "FIX_FIRST"
    return "POSSIBLE_OVERKILL" if performing else "LOW_PRIORITY"


def matrix(importance: np.ndarray, performance: np.ndarray) -> IpaMatrix:
    """The matrix of dimensions with an importance and a performance (NaN ones left out)."""
    importance = np.asarray(importance, np.float64)
    performance = np.asarray(performance, np.float64)
    known = np.flatnonzero(np.isfinite(importance) & np.isfinite(performance))
    if known.size == 0:
        return IpaMatrix(float("nan"), float("nan"), [])
    i_cut = float(importance[known].mean())
    p_cut = float(performance[known].mean())
    return IpaMatrix(i_cut, p_cut, [
        IpaPoint(int(d), float(importance[d]), float(performance[d]),
                 quadrant(importance[d], performance[d], i_cut, p_cut), float(importance[d] * (100.0 - performance[d])))
        for d in known
    ])


def of_analysis(analysis, derived=None) -> IpaMatrix:
    """The matrix of all the analysis' responses: derived importance against the dimensions' 0–100 means."""
    from plugins.satisfaction import drivers

    derived = derived or drivers.of_analysis(analysis)[0]
    n_dims = len(analysis.layout.dimension_codes)
    importance = np.full(n_dims, np.nan)
    for w in derived.weights:
        importance[w.dimension] = w.importance
    totals = analysis.aggregates.total().dimensions[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        performance = (totals[:, 1] / totals[:, 0] - 1.0) * 25.0
    return matrix(importance, performance)
