"""Statistics over paired seeds: percentile-bootstrap CIs of means and of paired differences."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd


def resample_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot`` bootstrap resamples of ``range(n)`` (rows), from a seeded generator."""
    return np.random.default_rng([seed, 0xB0075]).integers(0, n, size=(n_boot, n))


def bootstrap_ci(values: Any, idx: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` and its percentile-bootstrap CI over the resamples ``idx``.

    NaNs are left out (of the mean and of every resample's mean); all NaN gives NaNs.
    """
    x = np.asarray(values, dtype=float)
    if np.isnan(x).all():
        return math.nan, math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # resamples of only NaNs
        means = np.nanmean(x[idx], axis=1)
    a = 100 * (1 - level) / 2
    lo, hi = np.nanpercentile(means, [a, 100 - a])
    return float(np.nanmean(x)), float(lo), float(hi)


def summarize(episodes: pd.DataFrame, baseline: str, n_boot: int, seed: int) -> pd.DataFrame:
    """Per policy and metric: mean with CI, and the paired difference from the baseline with CI."""
    metrics = [c for c in episodes.columns if c not in ("policy", "seed")]
    wide = episodes.pivot(index="seed", columns="policy")
    idx = resample_indices(len(wide), n_boot, seed)
    rows = []
    for pol in episodes["policy"].unique():
        for m in metrics:
            x, b = wide[(m, pol)].to_numpy(float), wide[(m, baseline)].to_numpy(float)
            mean, lo, hi = bootstrap_ci(x, idx)
            d, dlo, dhi = bootstrap_ci(x - b, idx)
            rows.append({"policy": pol, "metric": m, "mean": mean, "ci_lo": lo, "ci_hi": hi,
                         "diff": d, "diff_lo": dlo, "diff_hi": dhi, "n": int(np.isfinite(x).sum())})  # fmt: skip
    return pd.DataFrame(rows)
