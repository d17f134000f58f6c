"""The one RL loop: `train_rl` improves a Gaussian policy by NPG or PPO; given demonstrations it is
DAPG (Rajeswaran et al., 2018):

    for k = 0, 1, ...:
        sample episodes with the Gaussian policy (vectorised, `rollout.py`)
        advantages by GAE on the value baseline (`gae.py`, `value.py`), normalised to mean 0, std 1
        demonstration weight w_k = lambda0 * lambda1^k * max(advantages)
        policy step on  sum_pi grad log pi * A  +  sum_demo grad log pi * w_k   (`npg.py` / `ppo.py`)
        refit the value baseline; write the curve row and the iteration checkpoint

`dapg.py` adds the BC pre-training (`run_dapg`). A run folder resumes from its
last complete iteration (`checkpoint.py`). This module does not parse arguments or print.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import numpy as np
import torch

from protege.algos.rl.gae import gae
from protege.algos.rl.npg import NPG, NPGConfig
from protege.algos.rl.types import DemoTerm, PolicyBatch
from protege.algos.rl.ppo import PPO, PPOConfig
from protege.algos.rl.checkpoint import latest_iteration, load_iteration, save_iteration
from protege.algos.rl.curve import plot_curves, write_csv
from protege.algos.rl.rollout import VecSampler
from protege.distributed.executor import make_executor
from protege.algos.rl.value import ValueFunction
from protege.data.native import Dataset
from protege.data.stats import array_stats
from protege.data.observation import flatten_observation
from protege.envs.task import Task
from protege.errors import ProtegeError, bad_input
from protege.policies import GaussianConfig, make_policy
from protege.policies.gaussian import GaussianPolicy
from protege.progress import Progress, bar
from protege.runtime import small_work_threads, torch_threads
from protege.specs import check_compatible

# Episode seeds for RL sampling live above recording (< 1e6) and evaluation (1e6 .. 2e6) seeds.
RL_SEED_OFFSET = 10_000_000


@dataclass
class RLConfig:
    env_steps: int = 1_000_000
    """Budget of environment steps for the RL stage (the run stops at the first iteration reaching it)."""
    episodes_per_iter: int = 50
    """Episodes sampled per iteration. Each NPG step moves the policy by the full trust region, so a
    small batch makes the run a random walk: on pick-place (1M steps) 20 episodes ended at 36%, 50 at 98%."""
    num_envs: int = 10
    """Envs stepped together (one batched policy forward per step); episodes run in shards of this many."""
    workers: int = 1
    """Worker processes sampling shards side by side (1 = this process); with --ray, Ray actors. The
    episodes are the same whichever runs them."""
    ray: str | None = None
    """Sample on Ray: "auto" (a local Ray cluster of --workers CPUs) or a running cluster's address;
    needs `pip install -e ".[ray]"`."""
    algo: str = "npg"
    """Policy optimiser: "npg" (natural policy gradient, as in DAPG) or "ppo"."""
    gamma: float = 0.995
    """Discount factor."""
    gae_lambda: float = 0.97
    """GAE lambda."""
    lambda0: float = 0.1
    """DAPG: initial weight of the demonstration term, relative to the largest advantage (paper: 0.1)."""
    lambda1: float = 0.95
    """DAPG: per-iteration decay of the demonstration weight (paper: 0.95)."""
    init_log_std: float | None = None
    """Log std (normalised action units) to start RL with; None keeps the policy's own."""
    value_hidden_dims: tuple[int, ...] = (128, 128)
    """Hidden layers of the value baseline."""
    value_epochs: int = 3
    """Passes over each iteration's samples when refitting the value baseline."""
    value_lr: float = 1e-3
    """Adam learning rate of the value baseline."""
    value_batch_size: int = 256
    """Minibatch size of the value fit."""
    random_stats_episodes: int = 2
    """RL from scratch: random-action episodes run to get observation normalisation statistics
    (their steps count towards the budget)."""
    npg: NPGConfig = field(default_factory=NPGConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    seed: int = 0
    """Seed of episode initial states, exploration noise and minibatches."""

    def __post_init__(self) -> None:
        if self.algo not in ("npg", "ppo"):
            raise ProtegeError(f"rl config: field 'algo': expected 'npg' or 'ppo', found '{self.algo}'")
        for name in ("env_steps", "episodes_per_iter", "num_envs", "workers", "value_epochs", "value_batch_size"):
            if getattr(self, name) < 1:
                raise ProtegeError(f"rl config: field '{name}': expected >= 1, found {getattr(self, name)}")
        if not (0 < self.gamma <= 1 and 0 <= self.gae_lambda <= 1):
            raise ProtegeError(f"rl config: fields 'gamma', 'gae_lambda': expected in (0, 1], found "
                               f"{self.gamma}, {self.gae_lambda}")
        if self.lambda0 < 0 or not 0 <= self.lambda1 <= 1:
            raise ProtegeError(f"rl config: fields 'lambda0', 'lambda1': expected lambda0 >= 0 and lambda1 in "
                               f"[0, 1], found {self.lambda0}, {self.lambda1}")


@dataclass
class RLResult:
    policy: GaussianPolicy
    curve: list[dict[str, float]]
    env_steps: int
    wall_seconds: float
    iterations: int
    resumed_from: int | None = None


def demo_weight(lambda0: float, lambda1: float, iteration: int, max_advantage: float) -> float:
    """DAPG's per-sample weight of the demonstration term at iteration k: lambda0 * lambda1^k * max A."""
    return lambda0 * lambda1**iteration * max_advantage


def absorbing_value(reward: np.ndarray, remaining: np.ndarray, gamma: float) -> np.ndarray:
    """Value of a success state treated as absorbing: `reward` on each of the `remaining` steps, discounted."""
    if gamma >= 1:
        return reward * remaining
    return reward * (1 - gamma ** remaining) / (1 - gamma)


def random_stats(task: Task, episodes: int, seed: int) -> tuple[dict[str, Any], int]:
    """Normalisation statistics for RL from scratch: observations from uniform-random-action episodes,
    actions from the task's bounds. Returns (stats in `compute_stats` format, env steps used)."""
    spec = task.spec
    if spec.action.low is None or spec.action.high is None:
        raise ProtegeError(f"{task.name}: RL from scratch needs action bounds in the task spec")
    rng = np.random.default_rng(seed)
    env = task.make_env()
    seen: dict[str, list[np.ndarray]] = {}
    steps = 0
    try:
        for e in range(episodes):
            obs, _ = env.reset(seed=RL_SEED_OFFSET - 1 - e - 1000 * seed)
            for t in count(1):
                for k, v in obs.items():
                    seen.setdefault(k, []).append(np.asarray(v, np.float64).reshape(-1))
                a = rng.uniform(spec.action.low, spec.action.high).astype(np.float32).reshape(spec.action.shape)
                obs, _, term, trunc, _ = env.step(a)
                steps += 1
                if task.episode_done(t, term, trunc, success=False):  # exploration: success does not end it
                    break
    finally:
        env.close()
    stats: dict[str, Any] = {}
    for k, vs in seen.items():
        stats[f"observation.{k}"] = array_stats(np.stack(vs))
    low, high = np.asarray(spec.action.low), np.asarray(spec.action.high)
    stats["action"] = {"mean": ((low + high) / 2).tolist(), "std": ((high - low) / np.sqrt(12)).tolist(),
                       "min": low.tolist(), "max": high.tolist()}
    return stats, steps


def demo_tensors(policy: GaussianPolicy, demos: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """All demonstration steps as (M, D) normalised features and (M, A) normalised target actions."""
    obs = np.concatenate([flatten_observation(e.step_observations(), policy.obs_keys, batch_dims=1)
                          for e in demos.episodes])
    acts = np.concatenate([e.targets for e in demos.episodes]).astype(np.float32)
    with torch.no_grad():
        return policy.features(torch.from_numpy(obs)), policy.action_normalizer(torch.from_numpy(acts))


def _episode_seeds(seed: int, iteration: int, n: int) -> list[int]:
    return [RL_SEED_OFFSET + seed * 1_000_000 + (iteration * n + i) % 1_000_000 for i in range(n)]


def train_rl(task: Task, policy: GaussianPolicy, config: RLConfig, out: str | Path,
             demos: Dataset | None = None, progress: Progress | None = None, initial_env_steps: int = 0,
             ckpt_extra: dict[str, Any] | None = None) -> RLResult:
    """Improve `policy` on `task` by NPG/PPO; with `demos`, by DAPG. Resumes from `out` if it holds a run.

    initial_env_steps: steps already spent before RL (e.g. on normalisation statistics), counted in the budget.

    Runs at `runtime.small_work_threads()` torch threads (one unless `protege --threads N` chose a count;
    sampling itself always at one): its batches are small, and on a shared 2-core machine an NPG update of
    a door batch took 0.4 s CPU at one thread and 1.2-1.9 s at two. The count is recorded in the checkpoints.
    """
    threads = small_work_threads()
    with torch_threads(threads):
        return _train_rl(task, policy, config, out, demos, progress, initial_env_steps,
                         {**(ckpt_extra or {}), "torch_threads": threads})


def _train_rl(task: Task, policy: GaussianPolicy, config: RLConfig, out: str | Path, demos: Dataset | None,
              progress: Progress | None, initial_env_steps: int, ckpt_extra: dict[str, Any]) -> RLResult:
    run = Path(out)
    run.mkdir(parents=True, exist_ok=True)
    check_compatible(policy.spec, task.spec, "policy", task.name)
    torch.manual_seed(config.seed)

    # --- state: fresh, or the last complete iteration of this run folder ---------------------------
    value = ValueFunction(policy.obs_dim, config.value_hidden_dims)
    optimizer = NPG(config.npg, seed=config.seed) if config.algo == "npg" else PPO(config.ppo, seed=config.seed)
    curve: list[dict[str, float]] = []
    iteration, env_steps, wall_before, resumed_from = 0, int(initial_env_steps), 0.0, None
    last = latest_iteration(run)
    if last is not None:
        policy, state = load_iteration(last)
        if state["algo"] != config.algo:
            raise bad_input(last / "rl_state.json", "algo", f"'{config.algo}' to resume this run", repr(state["algo"]))
        value.load_state_dict(state["value"])
        optimizer.load_state_dict(state["optimizer"])
        iteration, env_steps, wall_before = int(state["iteration"]), int(state["env_steps"]), float(state["wall_s"])
        curve, resumed_from = list(state["curve"]), iteration
    elif config.init_log_std is not None:
        with torch.no_grad():
            policy.log_std.fill_(float(config.init_log_std))
    assert isinstance(policy, GaussianPolicy)
    demo_feats = demo_actions = None
    if demos is not None:
        check_compatible(demos.spec, task.spec, f"demonstrations {demos.path}", task.name)
        demo_feats, demo_actions = demo_tensors(policy, demos)
    # `dataset` tells `protege eval` the task and the demonstration seeds to keep out of evaluation.
    dataset_info = dict(getattr(policy, "checkpoint_config", {}).get("dataset") or {"task": task.name, "episode_seeds": []})
    extra = {**(ckpt_extra or {}), "dataset": dataset_info, "rl": _jsonable(asdict(config)), "task": task.name}

    # --- the loop ---------------------------------------------------------------------------------
    sampler = VecSampler(task, min(config.num_envs, config.episodes_per_iter))
    executor = make_executor(config.workers, config.ray) if (config.workers > 1 or config.ray) else None
    gen = torch.Generator()
    start = time.perf_counter()
    est_iters = max(1, math.ceil((config.env_steps - env_steps) / (config.episodes_per_iter * task.horizon)))
    pbar = bar(progress, f"{'dapg' if demos is not None else 'rl'} {config.algo} {task.name}",
               iteration + est_iters, unit="iter")
    pbar.update(iteration)
    try:
        while env_steps < config.env_steps:
            # --- sample ------------------------------------------------------------------------
            gen.manual_seed(config.seed * 1_000_003 + iteration)
            t_sample = time.perf_counter()
            eps = sampler.sample(policy, _episode_seeds(config.seed, iteration, config.episodes_per_iter), gen,
                                 executor=executor)
            t_update = time.perf_counter()
            feats = policy.features(torch.from_numpy(eps.obs))
            with torch.no_grad():
                actions = torch.from_numpy(eps.actions)
                old_logp = policy.log_prob(feats, actions)
                tf = torch.from_numpy(eps.t.astype(np.float32) / task.horizon)
                values = value(feats, tf).numpy()
                lengths = np.bincount(eps.episode, minlength=len(eps.seeds))
                last_values = value(policy.features(torch.from_numpy(eps.last_obs)),
                                    torch.from_numpy(lengths.astype(np.float32) / task.horizon)).numpy()
            last_values = np.where(eps.success_end, absorbing_value(eps.last_reward, task.horizon - lengths,
                                                                    config.gamma), last_values)

            # --- advantages and the demonstration weight ---------------------------------------
            adv, targets = gae(eps.rewards, values, eps.episode, eps.t, last_values, eps.terminated,
                               config.gamma, config.gae_lambda)
            adv_t = torch.from_numpy(adv)
            adv_t = (adv_t - adv_t.mean()) / (adv_t.std() + 1e-8)
            w = 0.0
            demo_term = None
            if demo_feats is not None and config.lambda0 > 0:
                w = demo_weight(config.lambda0, config.lambda1, iteration, float(adv_t.max()))
                demo_term = DemoTerm(demo_feats, demo_actions, w)

            # --- policy step, then the baseline ------------------------------------------------
            metrics = optimizer.update(policy, PolicyBatch(feats.detach(), actions, adv_t, old_logp), demo_term)
            vf_loss = value.fit(feats.detach(), tf, torch.from_numpy(targets), config.value_epochs,
                                config.value_batch_size, config.value_lr, gen)

            # --- bookkeeping: curve, checkpoint, progress --------------------------------------
            t_done = time.perf_counter()
            iteration += 1
            env_steps += eps.num_steps
            wall = wall_before + time.perf_counter() - start
            row = {"iteration": iteration, "env_steps": env_steps, "wall_s": wall,
                   "success_rate": float(eps.success.mean()), "mean_return": float(eps.returns.mean()),
                   "demo_weight": w, "kl": float(metrics.get("kl", 0.0)), "value_loss": vf_loss,
                   "std_mean": float(torch.exp(policy.log_std.detach()).mean()),
                   "sample_s": t_update - t_sample, "update_s": t_done - t_update}
            curve.append(row)
            state = {"algo": config.algo, "iteration": iteration, "env_steps": env_steps, "wall_s": wall,
                     "curve": curve, "value": value.state_dict(), "optimizer": optimizer.state_dict()}
            save_iteration(run, iteration, policy, state, {**extra, "rl_iteration": iteration,
                                                            "env_steps": env_steps})
            write_csv(curve, run / "curve.csv")
            pbar.update(1, steps=env_steps, success=f"{row['success_rate']:.0%}", ret=row["mean_return"])
    finally:
        pbar.close()
        sampler.close()
        if executor is not None:
            executor.close()
        if curve:
            write_csv(curve, run / "curve.csv")
            plot_curves({"dapg" if demos is not None else config.algo: curve}, run / "curve.png", task.name)
    wall = wall_before + time.perf_counter() - start
    return RLResult(policy=policy, curve=curve, env_steps=env_steps, wall_seconds=wall, iterations=iteration,
                    resumed_from=resumed_from)


def rl_from_scratch(task: Task, config: RLConfig, out: str | Path, policy_config: GaussianConfig | None = None,
                    progress: Progress | None = None) -> RLResult:
    """RL alone: a fresh Gaussian policy (normalisation from random-action episodes), then `train_rl`."""
    run = Path(out)
    if latest_iteration(run) is not None:  # resuming: the policy comes from the run folder
        policy = make_policy("gaussian", policy_config, task.spec, None)
        return train_rl(task, policy, config, run, progress=progress)  # type: ignore[arg-type]
    stats, steps = random_stats(task, config.random_stats_episodes, config.seed)
    torch.manual_seed(config.seed)
    policy = make_policy("gaussian", policy_config, task.spec, stats)
    return train_rl(task, policy, config, run, progress=progress, initial_env_steps=steps,  # type: ignore[arg-type]
                    ckpt_extra={"normalisation": "random-action episodes"})


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj
