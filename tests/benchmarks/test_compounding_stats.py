"""The statistics of benchmarks/compounding_theory.py: slopes, bootstrap intervals, offsets, the theory's J."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _compounding_stats import (absorbing_cost, fit_slope, resampled_means, shift_summary,  # noqa: E402
                                slope_summary)

T = [25, 50, 100, 200, 400, 1000]


def _curves(rng, scale, power, seeds=3, n=4000):
    """Per-episode costs with mean scale * T**power (Poisson counts)."""
    return [[rng.poisson(scale * t**power, size=n).astype(float) for t in T] for _ in range(seeds)]


def test_fit_slope_recovers_a_power_law():
    Tn = np.asarray(T, float)
    assert np.allclose(fit_slope(T, 3 * Tn**2), 2) and np.allclose(fit_slope(T, np.stack([Tn, Tn**1.5])), [1, 1.5])


def test_resampled_means_centre_on_the_mean_with_the_right_spread():
    rng = np.random.default_rng(0)
    costs = rng.poisson(0.3, 5000).astype(float)
    means = resampled_means(costs, 4000, rng)
    assert abs(means.mean() - costs.mean()) < 0.003
    assert abs(means.std() - costs.std() / np.sqrt(len(costs))) < 0.001


def test_slope_intervals_cover_the_truth_and_separate_one_from_two():
    rng = np.random.default_rng(1)
    quad, lin = slope_summary(T, _curves(rng, 5e-4, 2), 500, rng), slope_summary(T, _curves(rng, 2e-3, 1), 500, rng)
    assert quad["ci"][0] < 2 < quad["ci"][1] and lin["ci"][0] < 1 < lin["ci"][1]
    assert quad["ci"][0] > lin["ci"][1] and quad["replicates_used"] == 500
    assert len(quad["per_seed"]) == 3 and len(quad["gap"]) == len(T)


def test_a_baseline_is_subtracted_before_the_log():
    rng = np.random.default_rng(2)
    per_seed = [[c + 5.0 for c in seed] for seed in _curves(rng, 1e-3, 2)]
    assert abs(slope_summary(T, per_seed, 200, rng, baseline=np.full(len(T), 5.0))["slope"] - 2) < 0.1
    assert slope_summary(T, per_seed, 200, rng)["slope"] < 1.5  # without it the constant flattens the curve


def test_shift_measures_a_constant_factor():
    rng = np.random.default_rng(3)
    s = shift_summary(_curves(rng, 2e-3, 2), _curves(rng, 5e-4, 2), 400, rng)
    assert s["ci"][0] < np.log(0.25) < s["ci"][1]


def test_absorbing_cost_matches_eps_t_squared_over_2k_while_eps_t_is_small():
    for k in (1, 2, 8):
        J = absorbing_cost(1e-5, 1000, k)
        assert abs(J - 1e-5 * 1000**2 / (2 * k)) / J < 0.02
    assert absorbing_cost(0.5, 10) < 10 and absorbing_cost(0.0, 10) == 0
