"""An ensemble of K policies acting as one, trained with `train_bc`: `protege train --ensemble K`, and the
learner of the DAgger loop.

An ensemble acts with the mean of its members' actions and exposes every member's action, whose spread is
the novelty signal of the EnsembleDAgger and ThriftyDAgger gates. Members differ by seed (initialisation,
validation split and batch order). On disk it is a folder of checkpoints `member_<i>/` (`ensemble_members`
finds them; `protege eval --checkpoint FOLDER` acts with their mean). K = 1 is a plain policy: its
checkpoint folder is the folder itself, so `protege eval --checkpoint RUN/rounds/round_003` works on any
DAgger round. A task- or
instruction-conditioned learner (a run started from a multi-task checkpoint, `--init`) is told its task
once (`task`) and adds that condition to every observation, as `PolicyActor` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from protege.algos.bc import TrainConfig, TrainResult, train_bc
from protege.actor import Observation
from protege.checkpoint import load_checkpoint, member_folder, obs_tensor
from protege.policies.encoders.conditioning import CONDITION_KEY
from protege.data.episode import Episode
from protege.data.native import Dataset
from protege.policies import PolicyBase
from protege.errors import ProtegeError
from protege.progress import Progress


class Learner:
    """K policies acting as one Actor (mean action); `act_all` gives every member's action.
    task: what conditioned members are asked to do (a trained task name; unknown: refused in one line);
    unconditioned members ignore it."""

    def __init__(self, policies: list[PolicyBase], paths: list[str] | None = None, task: str | None = None):
        self.policies = [p.eval() for p in policies]
        self.paths = paths or []
        self.task = task
        self.name = f"learner:{policies[0].name}x{len(policies)}"
        self._conditions = [p.condition_input(task=task, who=f"learner {path}") if task is not None else None
                            for p, path in zip(self.policies, self.paths or [p.name for p in self.policies])]
        for p, c in zip(self.policies, self._conditions):
            if p.conditioning is not None and c is None:
                raise ProtegeError(f"learner: expected the task a conditioned policy is to do (one of "
                                   f"{', '.join(p.conditioning.tasks)}), found none")

    @classmethod
    def load(cls, paths: list[str | Path], task: str | None = None) -> "Learner":
        return cls([load_checkpoint(p) for p in paths], [str(p) for p in paths], task)

    def _observe(self, i: int, obs: Observation) -> Observation:
        c = self._conditions[i]
        return obs if c is None else {**obs, CONDITION_KEY: c.array}

    @property
    def size(self) -> int:
        return len(self.policies)

    def reset(self) -> None:
        for p in self.policies:
            p.reset()

    @torch.inference_mode()
    def act_all(self, obs: Observation) -> np.ndarray:
        """obs key -> (...) raw  ->  (K, A) env units, one action per member (each keeps its own history)."""
        out = []
        for i, p in enumerate(self.policies):
            seen = self._observe(i, obs)
            batch = {k: obs_tensor(seen[k])[None] for k in p.obs_keys}  # frames stay uint8, as PolicyActor's
            out.append(p.select_action(batch)[0].numpy())
        return np.stack(out)

    def act(self, obs: Observation) -> np.ndarray:
        return self.act_all(obs).mean(0)

    @torch.inference_mode()
    def predict_batch(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """key -> (N, ...) raw, without history  ->  (K, N, A): each member's first action for each state.

        Policies with an observation history see the current observation repeated, as at an episode start.
        """
        out = []
        n = len(next(iter(obs.values())))
        for i, p in enumerate(self.policies):
            c = self._conditions[i]
            seen = obs if c is None else {**obs, CONDITION_KEY: np.broadcast_to(c.array, (n, *c.array.shape))}
            batch = {k: torch.as_tensor(np.asarray(seen[k]), dtype=torch.float32)[:, None].expand(
                -1, p.n_obs, *np.asarray(seen[k]).shape[1:]) for k in p.obs_keys}
            out.append(p.predict_chunk(batch)[:, 0].numpy())
        return np.stack(out)


class LearnerFactory:
    """A picklable factory (for evaluation worker processes) that loads a Learner from checkpoint folders
    (conditioned on `task` where they are)."""

    def __init__(self, paths: list[str | Path], task: str | None = None):
        self.paths = [str(p) for p in paths]
        self.task = task

    def __call__(self) -> Learner:
        return Learner.load(self.paths, self.task)


def member_paths(out: str | Path, size: int) -> list[Path]:
    return [Path(out)] if size == 1 else [member_folder(out, i) for i in range(size)]


def train_members(dataset: Dataset, policy_name: str, policy_config: Any, config: TrainConfig, size: int,
                  out: str | Path, init: Learner | None = None,
                  sample_weights: Callable[[Episode], np.ndarray] | None = None,
                  progress: Progress | None = None, extra: dict[str, Any] | None = None,
                  encoder: Any = None, conditioning: Any = None) -> list[TrainResult]:
    """Train `size` members with `train_bc` (member i uses seed config.seed + 1000 i), one checkpoint each
    (`member_paths`).

    init: warm start member i from `init`'s member i (same head and size), else from scratch.
    encoder, conditioning: the image encoder's config (`EncoderConfig`) for datasets with cameras and the
    task conditioning (`ConditioningConfig`); None = init's, else the default / unconditioned.
    """
    import dataclasses

    results = []
    for i, path in enumerate(member_paths(out, size)):
        cfg = dataclasses.replace(config, seed=config.seed + 1000 * i)
        start = init.policies[i] if init is not None and i < init.size else None
        results.append(train_bc(dataset, policy_name, policy_config, cfg, out=path, progress=progress,
                                extra={**(extra or {}), "member": i, "ensemble_size": size},
                                init_policy=start, sample_weights=sample_weights, encoder=encoder,
                                conditioning=conditioning))
    return results


def train_learner(dataset: Dataset, policy_name: str, policy_config: Any, config: TrainConfig, size: int,
                  out: str | Path, init: Learner | None = None,
                  sample_weights: Callable[[Episode], np.ndarray] | None = None,
                  progress: Progress | None = None, extra: dict[str, Any] | None = None,
                  encoder: Any = None, task: str | None = None) -> tuple[Learner, list[TrainResult]]:
    """`train_members`, then the members as one Learner; task: what conditioned members are asked to do when
    they act (see `Learner`)."""
    results = train_members(dataset, policy_name, policy_config, config, size, out, init, sample_weights, progress,
                            extra, encoder)
    return Learner([r.policy for r in results], [str(p) for p in member_paths(out, size)], task), results
