"""Summary statistics for rollouts: success rate with a Wilson score interval, returns, lengths."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (well behaved at 0% and 100%, unlike +-1.96 sigma)."""
    if n == 0:
        return 0.0, 1.0
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class EvalSummary:
    """What `protege eval` reports."""

    episodes: int
    successes: int
    success_rate: float
    ci_low: float
    ci_high: float
    mean_return: float
    mean_length: float

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        return (f"{100 * self.success_rate:.0f}% [{100 * self.ci_low:.0f}, {100 * self.ci_high:.0f}]")


def summarize(successes: Sequence[bool], returns: Sequence[float], lengths: Sequence[int]) -> EvalSummary:
    n, k = len(successes), int(sum(bool(s) for s in successes))
    lo, hi = wilson_interval(k, n)
    return EvalSummary(episodes=n, successes=k, success_rate=k / n if n else 0.0, ci_low=lo, ci_high=hi,
                       mean_return=float(sum(returns) / n) if n else 0.0,
                       mean_length=float(sum(lengths) / n) if n else 0.0)
