"""Answers generated from a known model: the truth tests, the bench and the demo's wave.

Each respondent has a general mood g ~ N(0, 0.5²) and, per dimension d, a
latent satisfaction mu_d + g + N(0, 0.5²); each indicator answer is that
latent plus N(0, 0.6²), rounded to 1–5. A respondent's dimension score is
the mean of their indicator answers in it (as the index computes it), and

    overall = round(intercept + Σ_d weight_d · dimension score_d + N(0, noise²)), clipped to 1–5

so the regression the drivers run has ``weights`` as its true coefficients
(rounding adds noise nearly independent of the scores; the clipping at 1 and
5 is rare for the default means). Repurchase intention follows overall
satisfaction, NPS follows it on 0–10, and "would you recommend" follows NPS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plugins.satisfaction.kernels import MISSING


@dataclass
class Simulated:
    scores: np.ndarray  # n×k uint8
    overall: np.ndarray  # int8, MISSING where not answered
    nps: np.ndarray
    recommend: np.ndarray
    repurchase: np.ndarray


def simulate(n: int, item_dim: np.ndarray, weights: np.ndarray, seed: int = 0, means: np.ndarray | None = None,
             intercept: float = 0.0, noise: float = 0.6, missing: float = 0.0, shift: np.ndarray | None = None) -> Simulated:
    """n responses; ``shift`` (n,) moves every latent of a respondent (a bad month, a weak store)."""
    rng = np.random.default_rng(seed)
    item_dim = np.asarray(item_dim)
    weights = np.asarray(weights, np.float64)
    n_dims = weights.size
    means = np.full(n_dims, 3.4) if means is None else np.asarray(means, np.float64)
    latent = means + rng.normal(0, 0.5, (n, 1)) + rng.normal(0, 0.5, (n, n_dims))
    if shift is not None:
        latent += np.asarray(shift, np.float64)[:, None]
    raw = latent[:, item_dim] + rng.normal(0, 0.6, (n, item_dim.size))
    scores = np.clip(np.rint(raw), 1, 5).astype(np.uint8)
    if missing:
        scores[rng.random(scores.shape) < missing] = 0
    answered = np.zeros((n, n_dims))
    totals = np.zeros((n, n_dims))
    for d in range(n_dims):
        cols = scores[:, item_dim == d].astype(np.float64)
        answered[:, d] = (cols > 0).sum(axis=1)
        totals[:, d] = cols.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dimension = totals / answered
    dimension = np.where(answered > 0, dimension, means)  # unanswered dimension: no effect beyond the mean
    overall = np.clip(np.rint(intercept + dimension @ weights + rng.normal(0, noise, n)), 1, 5)
    repurchase = np.clip(np.rint(0.6 + 0.8 * overall + rng.normal(0, 0.7, n)), 1, 5)
    nps = np.clip(np.rint((overall - 1) * 2.5 + rng.normal(0, 1.2, n)), 0, 10)
    recommend = np.where(nps >= 8, 1, np.where(nps <= 4, 2, 3))
    out = [overall, nps, recommend, repurchase]
    if missing:
        out = [np.where(rng.random(n) < missing, MISSING, column) for column in out]
    overall, nps, recommend, repurchase = (np.asarray(c).astype(np.int8) for c in out)
    return Simulated(scores=scores, overall=overall, nps=nps, recommend=recommend, repurchase=repurchase)
