"""Training tensors for a whole dataset, with batches gathered by index (no per-sample Python).

`EpisodeDataset` concatenates every episode into flat tensors and precomputes, for each step, where its
episode starts and ends. A batch for indices (B,) is then a handful of tensor gathers:

- observation history of length `n_obs`: steps t-n_obs+1 .. t, clamped at the episode start (the first
  observation repeats, as LeRobot and diffusion_policy do);
- `horizon` future actions t .. t+H-1, clamped at the episode end, with `action_pad` (B, H) True where the
  step is past the end, so losses can leave padding out.

It also splits train/validation **by episode**: neighbouring frames are nearly identical, so splitting by
sample would leak the validation set into training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from protege.data.episode import Episode
from protege.data.native import Dataset
from protege.errors import bad_input


@dataclass
class Batch:
    """obs: key -> (B, n_obs, ...); action: (B, H, A) targets; action_pad: (B, H) bool; weight: (B,)."""

    obs: dict[str, torch.Tensor]
    action: torch.Tensor
    action_pad: torch.Tensor
    weight: torch.Tensor

    def to(self, device: torch.device | str) -> "Batch":
        return Batch({k: v.to(device) for k, v in self.obs.items()}, self.action.to(device),
                     self.action_pad.to(device), self.weight.to(device))


class EpisodeDataset:
    """All steps of a list of episodes as tensors, sampled in windows."""

    def __init__(self, episodes: list[Episode], n_obs: int = 1, horizon: int = 1,
                 weights: list[np.ndarray] | None = None):
        if not episodes:
            raise bad_input("training data", "episodes", "at least one episode", "none")
        self.n_obs, self.horizon = int(n_obs), int(horizon)
        lengths = np.array([len(e) for e in episodes])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self.num_episodes = len(episodes)
        self.obs = {k: torch.as_tensor(np.concatenate([e.step_observations()[k] for e in episodes]))
                    for k in episodes[0].observations}
        self.action = torch.as_tensor(np.concatenate([e.targets for e in episodes]), dtype=torch.float32)
        self.ep_start = torch.as_tensor(np.repeat(starts, lengths), dtype=torch.long)
        self.ep_end = torch.as_tensor(np.repeat(starts + lengths, lengths), dtype=torch.long)
        w = np.ones(int(lengths.sum()), np.float32) if weights is None else np.concatenate(weights).astype(np.float32)
        self.weight = torch.as_tensor(w)
        self._obs_offsets = torch.arange(-(self.n_obs - 1), 1)
        self._act_offsets = torch.arange(self.horizon)

    def __len__(self) -> int:
        return int(self.action.shape[0])

    def to(self, device: torch.device | str) -> "EpisodeDataset":
        """Move every tensor to `device` (in place), so batches are gathered there."""
        self.obs = {k: v.to(device) for k, v in self.obs.items()}
        for name in ("action", "ep_start", "ep_end", "weight", "_obs_offsets", "_act_offsets"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def batch(self, idx: torch.Tensor) -> Batch:
        """Gather the windows for global step indices `idx` (B,)."""
        obs_idx = torch.maximum(idx[:, None] + self._obs_offsets, self.ep_start[idx][:, None])
        act_idx = idx[:, None] + self._act_offsets
        end = self.ep_end[idx][:, None]
        pad = act_idx >= end
        act_idx = torch.minimum(act_idx, end - 1)
        return Batch(obs={k: v[obs_idx] for k, v in self.obs.items()}, action=self.action[act_idx],
                     action_pad=pad, weight=self.weight[idx])

    def iterate(self, batch_size: int, generator: torch.Generator, shuffle: bool = True):
        """One pass over all steps in batches (shuffled with `generator`)."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for i in range(0, n, batch_size):
            yield self.batch(order[i:i + batch_size])


def split_by_episode(dataset: Dataset | list[Episode], val_fraction: float, seed: int) -> tuple[list[Episode], list[Episode]]:
    """Split whole episodes into (train, validation); at least one episode stays in training.

    A dataset that brings its own split (robomimic's `mask/train` and `mask/valid`, kept in
    meta["splits"]) is split that way instead of at random.
    """
    episodes = dataset.episodes if isinstance(dataset, Dataset) else list(dataset)
    own = _own_split(dataset) if isinstance(dataset, Dataset) else None
    if own is not None:
        return own
    n = len(episodes)
    n_val = int(round(n * val_fraction))
    n_val = min(max(n_val, 1 if val_fraction > 0 and n > 1 else 0), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    val = set(order[:n_val].tolist())
    return [e for i, e in enumerate(episodes) if i not in val], [e for i, e in enumerate(episodes) if i in val]


def _own_split(dataset: Dataset) -> tuple[list[Episode], list[Episode]] | None:
    splits = dataset.meta.get("splits") or {}
    names = [e.info.get("robomimic_demo") for e in dataset.episodes]
    if "train" not in splits or "valid" not in splits or None in names:
        return None
    train, valid = set(splits["train"]), set(splits["valid"])
    train_eps = [e for e, n in zip(dataset.episodes, names) if n in train]
    val_eps = [e for e, n in zip(dataset.episodes, names) if n in valid]
    return (train_eps, val_eps) if train_eps else None
