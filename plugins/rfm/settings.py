"""Per-tenant settings of the RFM plugin (DOMAIN.md §3).

Every number here is a tenant setting; the defaults are ours, not the
literature's. Validation messages name the setting and say what is wrong in
plain words, because admins read them in the GraphQL ``errors`` payload.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

Scheme = Literal["RF_GRID_10", "RFM_MEAN_8", "ABC"]
SCHEMES: tuple[str, ...] = ("RF_GRID_10", "RFM_MEAN_8", "ABC")

K_MIN, K_MAX = 2, 10


def _check_cut_points(name: str, values: list[float] | None) -> list[float] | None:
    if values is None:
        return None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name} cut points must be finite numbers, got {values}")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"{name} cut points must be strictly increasing, got {values}")
    return values


class RfmThresholds(BaseModel):
    """Fixed cut points per dimension, used instead of quantile scores.

    A dimension left out (None) keeps the quantile score. With cut points
    t1 < t2 < ... < t(k-1):

    - frequency / monetary (higher is better): score = 1 + #{j : t_j <= v},
      so v < t1 scores 1 and v >= t(k-1) scores k;
    - recency, in days (lower is better): score = k - #{j : t_j < r}, so a
      purchase at most t1 days ago scores k and one more than t(k-1) days
      ago scores 1.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    recency: list[float] | None = None
    frequency: list[float] | None = None
    monetary: list[float] | None = None

    @field_validator("recency")
    @classmethod
    def _recency(cls, v: list[float] | None) -> list[float] | None:
        v = _check_cut_points("recency", v)
        if v is not None and v and v[0] < 0:
            raise ValueError(f"recency cut points are days since the last purchase and cannot be negative, got {v}")
        return v

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, v: list[float] | None) -> list[float] | None:
        return _check_cut_points("frequency", v)

    @field_validator("monetary")
    @classmethod
    def _monetary(cls, v: list[float] | None) -> list[float] | None:
        return _check_cut_points("monetary", v)

    def items(self) -> list[tuple[str, list[float]]]:
        """The dimensions that have cut points, as (name, cut points)."""
        return [
            (name, getattr(self, name))
            for name in ("recency", "frequency", "monetary")
            if getattr(self, name) is not None
        ]


class RfmSettings(BaseModel):
    """How a tenant scores and segments its customers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheme: Scheme = Field(
        "RF_GRID_10",
        description="Segment scheme: RF_GRID_10 (R x F grid), RFM_MEAN_8 (above/below mean) or ABC (Pareto on spend).",
    )
    # strict: a JSON ``true`` or ``5.5`` is a mistake, not a score count.
    k: int = Field(5, strict=True, description="Scores run 1..k per dimension (2-10).")
    window_days: int | None = Field(
        None, strict=True, description="Only purchases in the last N days count; null = all history."
    )
    thresholds: RfmThresholds | None = Field(
        None, description="Fixed cut points per dimension instead of quantile scores (k-1 each)."
    )
    abc_cuts: tuple[float, float] = Field(
        (0.75, 0.95), description="Cumulative spend shares closing the A and B classes."
    )
    schedule_minutes: int | None = Field(
        None, strict=True, description="Rescore every N minutes; null = only on demand."
    )

    @field_validator("k")
    @classmethod
    def _k_range(cls, v: int) -> int:
        if not K_MIN <= v <= K_MAX:
            raise ValueError(f"k must be between {K_MIN} and {K_MAX} (scores run 1..k), got {v}")
        return v

    @field_validator("window_days")
    @classmethod
    def _window(cls, v: int | None) -> int | None:
        if v is not None and v <= 0:
            raise ValueError(f"window_days must be a positive number of days, or null for all history; got {v}")
        return v

    @field_validator("abc_cuts")
    @classmethod
    def _abc(cls, v: tuple[float, float]) -> tuple[float, float]:
        a, b = v
        if not (0.0 < a < b < 1.0):
            raise ValueError(
                f"abc_cuts must be two cumulative spend shares with 0 < A cut < B cut < 1 "
                f"(for example 0.75, 0.95), got {a}, {b}"
            )
        return v

    @field_validator("schedule_minutes")
    @classmethod
    def _schedule(cls, v: int | None) -> int | None:
        if v is not None and v <= 0:
            raise ValueError(f"schedule_minutes must be a positive number of minutes, or null for no schedule; got {v}")
        return v

    # A field validator (not a model one) so the error's loc is "thresholds";
    # k is declared earlier, so it is in info.data once it validated.
    @field_validator("thresholds")
    @classmethod
    def _thresholds_match_k(cls, v: RfmThresholds | None, info: ValidationInfo) -> RfmThresholds | None:
        k = info.data.get("k")
        if v is None or k is None:
            return v
        for name, cuts in v.items():
            if len(cuts) != k - 1:
                raise ValueError(f"thresholds.{name} has {len(cuts)} cut points but k={k} needs exactly {k - 1}")
        return v
