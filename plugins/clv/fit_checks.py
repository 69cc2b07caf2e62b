"""Whether a converged transaction-model fit is usable, and if not, why.

The optimiser can converge on an answer the data does not support: on a
tenant where nobody has stopped buying, Pareto/NBD and MBG/NBD run the
heterogeneity shape r to millions (every customer the same rate) and the
dropout parameters to zero or infinity, with standard errors as large as the
values. Such parameters predict nonsense (probability alive of exactly 1 for
everyone) and are refused: the previous run is kept. Limits (docs/clv.md):

- a shape parameter (r, s, a, b) above ``MAX_SHAPE``: a gamma or beta
  distribution that narrow means the model has degenerated to "everyone the
  same", which is not what it is for; the published fits (CDNOW r = 0.24,
  a = 0.79, b = 2.43; Pareto/NBD s = 0.61) are orders of magnitude below;
- a scale parameter (alpha, beta, in the fit's time unit) above
  ``MAX_SCALE_DAYS`` days: a mean time between purchases or to dropout of
  more than 10,000 years per unit of shape;
- a standard error that is not finite and positive, or above
  ``MAX_RELATIVE_SE`` times its value: the data does not locate the
  parameter (one standard error either side spans zero to four times the
  value). The limit is loose on purpose: on a few hundred customers the
  dropout parameters a and b of a sound fit often have standard errors near
  their value; degenerate fits have them 50 to 10^7 times the value.
"""

from __future__ import annotations

import math

MAX_SHAPE = 1_000.0
MAX_SCALE_DAYS = 3_650_000.0  # 10,000 years
MAX_RELATIVE_SE = 3.0
SHAPES = ("r", "s", "a", "b")
SCALES = ("alpha", "beta")
DAYS_PER_UNIT = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}


def refusal_reason(model: str, unit: str, params: dict[str, float], errors: dict[str, float]) -> str | None:
    """Why the fitted ``params`` (with standard ``errors``) are not usable, or None."""
    per_day = DAYS_PER_UNIT[unit]
    for name, value in params.items():
        if not (math.isfinite(value) and value > 0):
            return f"{model} fit refused: {name} = {value:.4g} is not a positive number"
        if name in SHAPES and value > MAX_SHAPE:
            return (f"{model} fit refused: {name} = {value:.4g} exceeds the ceiling {MAX_SHAPE:g} (the model has "
                    "degenerated; typical when nobody in the data has stopped buying)")
        scale = MAX_SCALE_DAYS / per_day
        if name in SCALES and value > scale * max(1.0, params.get("r" if name == "alpha" else "s", 1.0)):
            return f"{model} fit refused: {name} = {value:.4g} exceeds the ceiling of {MAX_SCALE_DAYS:g} days per unit of shape"
    for name, value in params.items():
        se = errors.get(name, math.nan)
        if not (math.isfinite(se) and se > 0):
            return f"{model} fit refused: the standard error of {name} is {se:.4g}, not a finite positive number"
        if se > MAX_RELATIVE_SE * value:
            return (f"{model} fit refused: {name} = {value:.4g} ± {se:.4g}, a standard error above "
                    f"{MAX_RELATIVE_SE:g} times the value (the data does not determine it)")
    return None
