"""Normalisation statistics over a set of episodes (numpy, JSON-able).

Observation statistics are per key; action statistics are over the training targets (expert labels where
present), since those are what a policy learns to output.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from protege.data.episode import Episode
from protege.data.frames import is_image_array


def array_stats(x: np.ndarray) -> dict[str, list]:
    """(N, ...) samples -> {"mean", "std", "min", "max"}: per-dimension lists over the N samples (float64),
    the one format every statistics file here uses (dataset stats.json, checkpoints, converters)."""
    x = np.asarray(x).reshape(len(x), -1).astype(np.float64)
    return {"mean": x.mean(0).tolist(), "std": x.std(0).tolist(), "min": x.min(0).tolist(), "max": x.max(0).tolist()}


def compute_stats(episodes: Iterable[Episode]) -> dict[str, dict[str, list]]:
    """{"observation.<key>": {mean,std,min,max}, "action": {...}} over every step of every episode.
    Camera keys get none: an image encoder scales pixels itself, and stats would decode every frame."""
    episodes = list(episodes)
    out = {}
    for key, first in episodes[0].observations.items():
        if is_image_array(first):
            continue
        out[f"observation.{key}"] = array_stats(np.concatenate([e.observations[key][:len(e)] for e in episodes]))
    out["action"] = array_stats(np.concatenate([e.targets for e in episodes]))
    return out
