"""Statistics of `compounding_theory.py`: log-log slopes of cost against horizon, with bootstrap intervals.

Data shape everywhere: `per_seed[s][i]` = per-episode costs (N_i,) of training seed s at horizon T[i], each
horizon rolled out on its own episodes. A bootstrap replicate draws the seeds with replacement (the spread
between training seeds is part of the uncertainty) and, within each drawn seed and horizon, the episodes
with replacement; the curve is the mean over the drawn seeds. Episode costs are whole steps, so resampling
N episodes is a multinomial draw over their distinct values: 10^4 episodes per horizon cost nothing.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def fit_slope(T: Sequence[float], J: np.ndarray) -> np.ndarray:
    """Least-squares slope of log J against log T; J (..., len(T)) -> (...). J must be > 0."""
    x = np.log(np.asarray(T, np.float64))
    x = x - x.mean()
    y = np.log(np.asarray(J, np.float64))
    return (y - y.mean(-1, keepdims=True)) @ x / (x @ x)


def resampled_means(costs: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap means (n_boot,) of per-episode costs (N,): N episodes drawn with replacement."""
    costs = np.asarray(costs, np.float64)
    values, counts = np.unique(costs, return_counts=True)
    draws = rng.multinomial(len(costs), counts / len(costs), size=n_boot)  # (n_boot, distinct values)
    return draws @ values / len(costs)


def bootstrap_curves(per_seed: Sequence[Sequence[np.ndarray]], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n_T) replicate curves: mean over seeds drawn with replacement of each seed's resampled mean."""
    means = np.stack([np.stack([resampled_means(c, n_boot, rng) for c in seed]) for seed in per_seed])  # (S, T, B)
    pick = rng.integers(len(per_seed), size=(n_boot, len(per_seed)))  # (B, S) seeds drawn
    rows = np.arange(n_boot)
    return np.stack([means[pick[:, j], :, rows] for j in range(len(per_seed))]).mean(0)  # (B, T)


def mean_curve(per_seed: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """(n_T,) the point estimate: mean over seeds of the mean episode cost."""
    return np.mean([[float(np.mean(c)) for c in seed] for seed in per_seed], axis=0)


def interval(x: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates, over finite values."""
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    return float(np.quantile(x, (1 - level) / 2)), float(np.quantile(x, (1 + level) / 2))


def slope_summary(T: Sequence[float], per_seed: Sequence[Sequence[np.ndarray]], n_boot: int,
                  rng: np.random.Generator, baseline: np.ndarray | None = None) -> dict:
    """Slope of log(J - baseline) against log T: point estimate, 95% bootstrap interval, each seed's own.

    baseline: (n_T,) the expert's J(pi*) at each horizon (subtracted: the theory bounds the gap)."""
    base = np.zeros(len(T)) if baseline is None else np.asarray(baseline, np.float64)
    curves = bootstrap_curves(per_seed, n_boot, rng) - base
    positive = (curves > 0).all(1)  # a replicate with a zero gap has no log: counted, left out
    point = mean_curve(per_seed) - base
    lo, hi = interval(fit_slope(T, curves[positive]))
    return {"slope": float(fit_slope(T, point)), "ci": [lo, hi], "replicates_used": int(positive.sum()),
            "per_seed": [float(fit_slope(T, mean_curve([s]) - base)) for s in per_seed],
            "gap": point.tolist(), "gap_ci": [list(interval(curves[:, i])) for i in range(len(T))]}


def shift_summary(per_seed_ref: Sequence[Sequence[np.ndarray]], per_seed: Sequence[Sequence[np.ndarray]],
                  n_boot: int, rng: np.random.Generator) -> dict:
    """Vertical offset of one log-log curve from a reference: mean over horizons of log J - log J_ref
    (natural log), with a 95% bootstrap interval; the two curves are resampled independently."""
    a, b = bootstrap_curves(per_seed_ref, n_boot, rng), bootstrap_curves(per_seed, n_boot, rng)
    ok = (a > 0).all(1) & (b > 0).all(1)
    shift = (np.log(b[ok]) - np.log(a[ok])).mean(1)
    point = float(np.mean(np.log(mean_curve(per_seed)) - np.log(mean_curve(per_seed_ref))))
    return {"shift": point, "ci": list(interval(shift))}


def absorbing_cost(eps: float, T: int, k: int = 1) -> float:
    """The theory's J for a learner that decides every k steps, errs with probability eps per decision,
    and never recovers: an error at decision j (step jk) costs every step from jk to T."""
    j = np.arange(int(np.ceil(T / k)))
    return float(np.sum(eps * (1 - eps) ** j * (T - j * k)))
