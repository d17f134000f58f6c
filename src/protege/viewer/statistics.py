"""Dataset statistics for the page: a histogram per action and observation dimension, and the warnings
worth a look before training (constant dimensions, outlier episodes, actions stuck at their bounds).

Thresholds are deliberately loose: a warning is a pointer to an episode or a dimension to open, not a
verdict. Camera keys are left out (per-pixel histograms say nothing a frame does not show better).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from protege.data.frames import is_image_array
from protege.data.native import Dataset

BINS = 24
OUTLIER_Z = 4.0  # robust z-score (median / MAD across episodes) beyond which an episode is flagged
AT_BOUND_FRACTION = 0.2  # share of steps at a bound beyond which an action dimension is flagged
MAX_DIMS_PER_KEY = 64


def _histogram(x: np.ndarray) -> dict[str, Any]:
    """x: (N,) float64, contiguous. Bins by integer division (np.histogram's general path is several
    times slower on a million samples)."""
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    width = hi - lo if hi > lo else 1e-9
    idx = np.minimum(((x - lo) * (BINS / width)).astype(np.int64), BINS - 1)
    counts = np.bincount(idx, minlength=BINS)
    return {"counts": counts.tolist(), "lo": float(f"{lo:.5g}"), "hi": float(f"{hi:.5g}"),
            "mean": float(f"{x.mean():.5g}") if x.size else 0.0, "std": float(f"{x.std():.5g}") if x.size else 0.0}


def _robust_z(x: np.ndarray) -> np.ndarray:
    med = np.median(x)
    mad = np.median(np.abs(x - med)) * 1.4826
    scale = mad if mad > 1e-12 else (np.std(x) if np.std(x) > 1e-12 else 1.0)
    return (x - med) / scale


def dataset_stats(ds: Dataset) -> dict[str, Any]:
    """{"histograms": [{group, name, counts, lo, hi, mean, std}], "warnings": [{kind, message, episode?, series?}]}."""
    eps = ds.episodes
    groups: dict[str, np.ndarray] = {"action": np.concatenate([e.actions.reshape(len(e), -1) for e in eps])}
    for key, first in eps[0].observations.items():
        if is_image_array(first):
            continue
        groups[key] = np.concatenate([np.asarray(e.observations[key])[:len(e)].reshape(len(e), -1) for e in eps])
    if all(e.rewards is not None for e in eps):
        groups["reward"] = np.concatenate([e.rewards for e in eps])[:, None]
    histograms, warnings = [], []
    for group, x in groups.items():
        columns = np.ascontiguousarray(x[:, :MAX_DIMS_PER_KEY].T, dtype=np.float64)  # one dimension per row
        for d, col in enumerate(columns):
            name = group if group == "reward" else f"{group}[{d}]"
            hist = _histogram(col)
            histograms.append({"group": group, "name": name, **hist})
            if x.shape[0] > 1 and col.min() == col.max():
                warnings.append({"kind": "constant", "series": name,
                                 "message": f"{name} is constant ({x[0, d]:.4g}) over all {x.shape[0]} steps: "
                                            f"it carries no information (check the recording)"})
    warnings += _bound_warnings(ds, groups["action"])
    warnings += _outlier_warnings(ds, groups)
    return {"histograms": histograms, "warnings": warnings, "steps": int(groups["action"].shape[0])}


def _bound_warnings(ds: Dataset, acts: np.ndarray) -> list[dict[str, Any]]:
    low, high = ds.spec.action.low, ds.spec.action.high
    if low is None or high is None:
        return []
    out = []
    for d in range(acts.shape[1]):
        lo, hi = low[d], high[d]
        tol = 1e-3 * max(hi - lo, 1e-9)
        at = float(np.mean((acts[:, d] <= lo + tol) | (acts[:, d] >= hi - tol)))
        if at >= AT_BOUND_FRACTION:
            out.append({"kind": "at_bounds", "series": f"action[{d}]",
                        "message": f"action[{d}] is at its bound [{lo:g}, {hi:g}] on {at:.0%} of steps "
                                   f"(saturated: the demonstrator wanted more than the robot allows)"})
    return out


def _outlier_warnings(ds: Dataset, groups: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Episodes far from the others in length, or whose mean action / observation is far from the others'
    (a different operator, a sensor fault, a wrongly scaled recording)."""
    eps = ds.episodes
    if len(eps) < 5:
        return []
    lengths = np.array([len(e) for e in eps], np.float64)
    checks = {"length": (lengths, lambda i: f"{int(lengths[i])} steps (median {np.median(lengths):.0f})")}
    bounds = np.cumsum([0] + [len(e) for e in eps])
    for group, x in groups.items():
        if group == "reward":
            continue
        std = x.std(0)
        std[std < 1e-12] = 1.0
        z = (x - x.mean(0)) / std
        per_ep = np.abs(np.add.reduceat(z, bounds[:-1], axis=0) / lengths[:, None]).mean(1)
        checks[f"mean {group}"] = (per_ep, lambda i, v=per_ep: f"mean |z| {v[i]:.2f} (median {np.median(v):.2f})")
    out = []
    for what, (values, describe) in checks.items():
        rz = _robust_z(values)
        for i in np.flatnonzero(np.abs(rz) > OUTLIER_Z):
            out.append({"kind": "outlier", "episode": int(i),
                        "message": f"episode {i}: {what} is unusual, {describe(int(i))}, robust z {rz[i]:+.1f}"})
    return out


