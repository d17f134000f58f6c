"""Training tensors for a whole dataset, with batches gathered by index (no per-sample Python).

`EpisodeDataset` concatenates every episode's vector observations into flat tensors and precomputes, for
each step, where its episode starts and ends. A batch for indices (B,) is then a handful of tensor gathers:

- observation history of length `n_obs`: steps t-n_obs+1 .. t, clamped at the episode start (the first
  observation repeats, as LeRobot and diffusion_policy do);
- `horizon` future actions t .. t+H-1, clamped at the episode end, with `action_pad` (B, H) True where the
  step is past the end, so losses can leave padding out.

Camera keys (uint8 frames (T, H, W, 3), `data/frames.py`) are never concatenated: a recorded dataset can be
far larger than memory. The dataset keeps each episode's `FrameArray` (lazy or in memory) and, per batch,
asks each episode the batch touches for the frames its windows need, once each, in one call (`_frames`).
That decoding is what `data/loader.py` runs on worker threads, off the optimiser's critical path; the
frames come back raw (uint8, not cropped or normalised): cropping, augmentation and /255 live in the
policy's image encoder, which runs in the training step.

It also splits train/validation **by episode**: neighbouring frames are nearly identical, so splitting by
sample would leak the validation set into training.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from protege.data.episode import Episode
from protege.data.frames import is_image_array, is_image_spec
from protege.data.native import Dataset
from protege.errors import bad_input


@dataclass
class Batch:
    """obs: key -> (B, n_obs, D) float32, or (B, n_obs, H, W, 3) uint8 for a camera; action: (B, H, A)
    targets; action_pad: (B, H) bool; weight: (B,)."""

    obs: dict[str, torch.Tensor]
    action: torch.Tensor
    action_pad: torch.Tensor
    weight: torch.Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Batch":
        return Batch({k: v.to(device, non_blocking=non_blocking) for k, v in self.obs.items()},
                     self.action.to(device, non_blocking=non_blocking),
                     self.action_pad.to(device, non_blocking=non_blocking),
                     self.weight.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "Batch":
        """Page-locked copies, so the copy to a GPU can overlap compute (`to(..., non_blocking=True)`)."""
        return Batch({k: v.pin_memory() for k, v in self.obs.items()}, self.action.pin_memory(),
                     self.action_pad.pin_memory(), self.weight.pin_memory())


class EpisodeDataset:
    """All steps of a list of episodes, sampled in windows: vector keys as tensors in memory, camera keys
    as each episode's frames, decoded per batch."""

    def __init__(self, episodes: list[Episode], n_obs: int = 1, horizon: int = 1,
                 weights: list[np.ndarray] | None = None, spec: Any = None, cameras: list[str] | None = None):
        """spec: the dataset's `Spec`; a key whose spec `is_image_spec` is a camera. Without one (or for a
        key it does not list) a key is a camera when its array is frames (`is_image_array`).
        cameras: the camera keys to read (None = all); the others are left out of batches, never decoded."""
        if not episodes:
            raise bad_input("training data", "episodes", "at least one episode", "none")
        self.n_obs, self.horizon = int(n_obs), int(horizon)
        lengths = np.array([len(e) for e in episodes])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self.num_episodes = len(episodes)
        keys = list(episodes[0].observations)
        all_cameras = [k for k in keys if _is_image_key(k, episodes[0].observations[k], spec)]
        self.image_keys = [k for k in all_cameras if cameras is None or k in cameras]
        keys = [k for k in keys if k not in all_cameras or k in self.image_keys]
        self.keys = keys  # batch order: as the episodes list them
        # [:len(e)]: a kept final observation is not a step (as Episode.step_observations)
        self.obs = {k: torch.as_tensor(np.concatenate([e.observations[k][:len(e)] for e in episodes]))
                    for k in keys if k not in self.image_keys}
        self.frames = {k: [e.observations[k] for e in episodes] for k in self.image_keys}
        self.frame_shape = {k: _frame_shape(k, self.frames[k], episodes) for k in self.image_keys}
        # A lazy reader need not be thread-safe (a video decoder is not): one reader call at a time per
        # episode and key, while loader workers decode different episodes in parallel.
        self._locks = {k: [threading.Lock() for _ in episodes] for k in self.image_keys}
        self._episode_of = np.repeat(np.arange(len(episodes)), lengths)  # global step -> episode
        self._episode_start = starts.astype(np.int64)  # episode -> its first global step
        self.action = torch.as_tensor(np.concatenate([e.targets for e in episodes]), dtype=torch.float32)
        self.ep_start = torch.as_tensor(np.repeat(starts, lengths), dtype=torch.long)
        self.ep_end = torch.as_tensor(np.repeat(starts + lengths, lengths), dtype=torch.long)
        w = np.ones(int(lengths.sum()), np.float32) if weights is None else np.concatenate(weights).astype(np.float32)
        self.weight = torch.as_tensor(w)
        self._obs_offsets = torch.arange(-(self.n_obs - 1), 1)
        self._act_offsets = torch.arange(self.horizon)

    @property
    def has_images(self) -> bool:
        return bool(self.image_keys)

    def __len__(self) -> int:
        return int(self.action.shape[0])

    def to(self, device: torch.device | str) -> "EpisodeDataset":
        """Move every tensor to `device` (in place), so batches are gathered there. Camera frames stay
        where their reader keeps them; a batch's frames are decoded on the CPU and then copied over."""
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
        obs = {k: v[obs_idx] for k, v in self.obs.items()}
        if self.image_keys:
            steps = obs_idx.cpu().numpy()
            for k in self.image_keys:
                obs[k] = torch.from_numpy(self._frames(k, steps)).to(obs_idx.device)
            obs = {k: obs[k] for k in self.keys}
        return Batch(obs=obs, action=self.action[act_idx], action_pad=pad, weight=self.weight[idx])

    def _frames(self, key: str, steps: np.ndarray) -> np.ndarray:
        """Global steps (B, n_obs) -> frames (B, n_obs, H, W, C) uint8 of camera `key`.

        Requests are grouped per episode and deduplicated, so each episode is asked once, with its needed
        local steps in increasing order, and decodes each needed frame once (neighbouring windows overlap
        and observation history repeats the first frame at an episode start).
        """
        flat = steps.reshape(-1)
        episode = self._episode_of[flat]
        local = flat - self._episode_start[episode]
        width = int(local.max()) + 1
        wanted, inverse = np.unique(episode * width + local, return_inverse=True)  # sorted by (episode, step)
        w_episode, w_local = wanted // width, wanted % width
        decoded = np.empty((len(wanted), *self.frame_shape[key]), np.uint8)
        bounds = np.flatnonzero(np.diff(w_episode)) + 1
        for lo, hi in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(wanted)]])):
            e = int(w_episode[lo])
            with self._locks[key][e]:
                got = np.asarray(self.frames[key][e][w_local[lo:hi]])
            if got.shape != decoded[lo:hi].shape or got.dtype != np.uint8:
                raise bad_input(f"episode {e}", f"observations/{key}", f"frames {decoded[lo:hi].shape} uint8",
                                f"{got.shape} {got.dtype}")
            decoded[lo:hi] = got
        return decoded[inverse.reshape(-1)].reshape(*steps.shape, *self.frame_shape[key])

    def iterate(self, batch_size: int, generator: torch.Generator, shuffle: bool = True):
        """One pass over all steps in batches (shuffled with `generator`)."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for i in range(0, n, batch_size):
            yield self.batch(order[i:i + batch_size])


def _is_image_key(key: str, array: Any, spec: Any) -> bool:
    if spec is not None and key in getattr(spec, "observation", {}):
        return is_image_spec(spec.observation[key])
    return is_image_array(array)


def _frame_shape(key: str, frames: list[Any], episodes: list[Episode]) -> tuple[int, ...]:
    """The one (H, W, C) every episode's camera `key` shares (batches stack them)."""
    shape = tuple(frames[0].shape[1:])
    for f, e in zip(frames, episodes):
        if tuple(f.shape[1:]) != shape or len(f.shape) != 4:
            raise bad_input(e.origin or "episode", f"observations/{key}",
                            f"frames (T, {', '.join(map(str, shape))}) like the first episode", f"shape {tuple(f.shape)}")
    return shape


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
