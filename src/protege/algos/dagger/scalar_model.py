"""Small learned estimates the uncertainty-gated variants need: a probability per observation.

- ThriftyDAgger's risk: the discounted probability that an episode succeeds from a state, fitted on every
  episode collected so far (`success_targets`).
- SafeDAgger's safety classifier: the probability that the learner's action is off the expert's label by
  more than a threshold, fitted on every labelled step so far (`deviation_targets`).

Both are one small MLP (observation -> logit) trained with binary cross-entropy on whole-dataset tensors.
They deliberately stay out of the Policy seam: they are never deployed and never checkpointed, since the
gate refits them at the start of every round.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from protege.actor import Observation
from protege.data.observation import flatten_observation
from protege.policies.nets import mlp


class ScalarModel:
    """observation -> probability in [0, 1]; normalisation (mean/std of the fitting data) inside."""

    def __init__(self, net: torch.nn.Module, keys: list[str], mean: np.ndarray, std: np.ndarray):
        self.net, self.keys = net.eval(), keys
        self.mean, self.std = torch.as_tensor(mean), torch.as_tensor(std)

    def _features(self, obs: dict[str, Any], batched: bool) -> torch.Tensor:
        x = flatten_observation(obs, self.keys, batch_dims=1) if batched else flatten_observation(obs, self.keys)[None]
        return (torch.as_tensor(x) - self.mean) / self.std

    @torch.no_grad()
    def predict(self, obs: Observation) -> float:
        """One observation (key -> (...)) -> probability."""
        return float(torch.sigmoid(self.net(self._features(obs, False)))[0, 0])

    @torch.no_grad()
    def predict_batch(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """key -> (N, ...) -> (N,) probabilities."""
        return torch.sigmoid(self.net(self._features(obs, True)))[:, 0].numpy()


def fit_scalar_model(obs: dict[str, np.ndarray], targets: np.ndarray, steps: int = 600, batch_size: int = 256,
                     hidden: tuple[int, ...] = (64, 64), lr: float = 3e-3, seed: int = 0) -> ScalarModel:
    """Fit observation (key -> (N, ...)) -> targets (N,) in [0, 1] with binary cross-entropy."""
    keys = [k for k in obs if np.asarray(obs[k]).ndim <= 2]
    x = flatten_observation(obs, keys, batch_dims=1)
    mean, std = x.mean(0), x.std(0) + 1e-6
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = mlp(x.shape[1], hidden, 1, layer_norm=False)
    X = (torch.as_tensor(x) - torch.as_tensor(mean)) / torch.as_tensor(std)
    Y = torch.as_tensor(np.asarray(targets, np.float32))[:, None]
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(steps):
        idx = torch.randint(len(Y), (min(batch_size, len(Y)),), generator=gen)
        loss = loss_fn(net(X[idx]), Y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return ScalarModel(net, keys, mean, std)


def success_targets(episodes: list, gamma: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every step of every episode with target success * gamma^(steps left): 0 on failed episodes."""
    obs: dict[str, list[np.ndarray]] = {}
    ys = []
    for ep in episodes:
        T = len(ep)
        for k, v in ep.step_observations().items():
            obs.setdefault(k, []).append(v)
        ys.append(float(ep.success) * gamma ** np.arange(T - 1, -1, -1, dtype=np.float64))
    return {k: np.concatenate(v) for k, v in obs.items()}, np.concatenate(ys).astype(np.float32)


def deviation_targets(episodes: list, learner: Any, half_range: np.ndarray,
                      threshold: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every labelled step with target 1 where the learner's action is off the label by > threshold."""
    obs: dict[str, list[np.ndarray]] = {}
    labels = []
    for ep in episodes:
        mask = ep.label_mask if ep.labels is not None else np.ones(len(ep), bool)
        for k, v in ep.step_observations().items():
            obs.setdefault(k, []).append(v[mask])
        labels.append(ep.targets[mask])
    cat = {k: np.concatenate(v) for k, v in obs.items()}
    target = np.concatenate(labels)
    pred = learner.predict_batch(cat).mean(0)  # (N, A)
    d = (pred - target) / np.asarray(half_range, np.float32)
    deviation = np.sqrt((d * d).mean(-1))
    return cat, (deviation > threshold).astype(np.float32)
