"""Generalised advantage estimation (Schulman et al., 2016) over flattened episodes.

All episodes of a batch are laid out as one padded (E, T) array so the backward recursion is one numpy
loop over time, vectorised over episodes. An episode that stopped at the horizon bootstraps from the value
of its last observation; one the env terminated does not.
"""

from __future__ import annotations

import numpy as np


def gae(rewards: np.ndarray, values: np.ndarray, episode: np.ndarray, t: np.ndarray, last_values: np.ndarray,
        terminated: np.ndarray, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and value targets (lambda-returns), both (N,).

    rewards, values: (N,) per step; episode, t: (N,) episode index and step within it; last_values: (E,)
    value of each episode's final observation; terminated: (E,) bool (True = no bootstrap).
    """
    E = int(episode.max()) + 1 if len(episode) else 0
    T = int(t.max()) + 1 if len(t) else 0
    R = np.zeros((E, T + 1))
    V = np.zeros((E, T + 1))
    mask = np.zeros((E, T + 1), bool)
    R[episode, t] = rewards
    V[episode, t] = values
    mask[episode, t] = True
    lengths = mask.sum(1)
    # The value after the last step: bootstrapped unless the env terminated.
    V[np.arange(E), lengths] = np.where(terminated, 0.0, last_values)
    adv = np.zeros((E, T + 1))
    running = np.zeros(E)
    for k in range(T - 1, -1, -1):
        delta = R[:, k] + gamma * V[:, k + 1] - V[:, k]
        running = np.where(mask[:, k], delta + gamma * lam * running, 0.0)
        adv[:, k] = running
    a = adv[episode, t]
    return a.astype(np.float32), (a + values).astype(np.float32)
