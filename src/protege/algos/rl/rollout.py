"""On-policy sampling for RL: several envs stepped in lockstep, one batched policy forward per step.

`VecSampler` keeps `num_envs` envs in this process. Each step it stacks the active envs' observations,
runs the Gaussian policy once for all of them (normalise -> mean -> add noise), and steps each env with its
action clipped to the task's bounds. When an episode ends its slot starts the next episode seed of its
shard. There is no per-env torch call; the per-step Python is the env steps and each episode's noise draw
(a numpy stream of its own, so an episode does not depend on which others shared its batch).

Seeds run in fixed shards of `num_envs`; with an executor (`protege.distributed`: worker processes or Ray,
`--workers`/`--ray`) the shards run side by side on workers that keep their envs between iterations, and
the episodes are the ones this process would have sampled.

Episodes end where the task ends them (`Task.episode_done`, asked per env): at the horizon, when the env
terminates, or (tasks with `stop_on_success`, e.g. Meta-World) at the first successful step. Ending there
saves the steps a solved episode would spend holding the goal, but would cut off the reward a successful
policy earns for staying successful; the loop (`loop.py`) therefore values the success state as absorbing,
earning its reward for the rest of the horizon. Success is judged by the task's own test (`Task.episode_success`).

It deliberately does not compute advantages or touch the optimiser: see `gae.py` and `npg.py`/`ppo.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from protege.data.observation import flatten_observation
from protege.distributed.executor import Executor, new_job_key
from protege.envs.task import Task
from protege.errors import bad_input
from protege.policies.gaussian import GaussianPolicy
from protege.runtime import torch_threads


@dataclass
class Episodes:
    """A batch of finished episodes, flattened over time (N = total steps, E = episodes, D = obs dim).

    obs: (N, D) raw observations (`flatten_observation`, policy key order); actions: (N, A) sampled actions in normalised units
    (before clipping, as the log-likelihood needs); rewards: (N,); episode: (N,) episode index of each step;
    t: (N,) step index within its episode; last_obs: (E, D) observation after each episode's last step;
    terminated: (E,) bool, the env ended the episode (no bootstrapping) rather than the horizon;
    success_end: (E,) bool, the episode ended at its first successful step; last_reward: (E,) reward of
    each episode's last step;
    returns: (E,) undiscounted returns; success: (E,) bool by the task's test; seeds: (E,).
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    episode: np.ndarray
    t: np.ndarray
    last_obs: np.ndarray
    terminated: np.ndarray
    success_end: np.ndarray
    last_reward: np.ndarray
    returns: np.ndarray
    success: np.ndarray
    seeds: np.ndarray

    @property
    def num_steps(self) -> int:
        return int(self.rewards.shape[0])


class VecSampler:
    """`num_envs` envs of one task, sampled together with one batched forward per step."""

    def __init__(self, task: Task, num_envs: int):
        if num_envs < 1:
            raise bad_input("rl config", "num_envs", ">= 1", repr(num_envs))
        self.task = task
        self.envs = [task.make_env() for _ in range(num_envs)]
        self.job_key = new_job_key()  # workers keep their envs across iterations (the policy changes)
        self.low = np.asarray(task.spec.action.low, np.float32) if task.spec.action.low is not None else None
        self.high = np.asarray(task.spec.action.high, np.float32) if task.spec.action.high is not None else None

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def sample(self, policy: GaussianPolicy, seeds: list[int], generator: torch.Generator,
               deterministic: bool = False, executor: Executor | None = None) -> Episodes:
        """Run one episode per seed; episodes come back in seed order.

        Seeds run in fixed shards of `num_envs` (seeds[0:n], seeds[n:2n], ...), each shard in lockstep on
        `num_envs` envs, and each episode draws its exploration noise from its own stream (one draw from
        `generator` and the episode's seed). So an episode is the same whether the shards run here, one
        after the other, or on an executor's workers (processes, Ray) side by side.
        """
        base = int(torch.randint(0, 2**62, (1,), generator=generator))
        n = len(self.envs)
        shards = [list(seeds[i:i + n]) for i in range(0, len(seeds), n)]
        if executor is None:
            parts = [self.sample_shard(policy, shard, base, deterministic) for shard in shards]
        else:
            job = ShardJob(self.task.name, n, policy, {shard[0]: shard for shard in shards}, base, deterministic,
                           key=self.job_key)
            got: dict[int, Episodes] = {}
            executor.map(job, [shard[0] for shard in shards], got.__setitem__)
            parts = [got[shard[0]] for shard in shards]
        return concat_episodes(parts)

    def sample_shard(self, policy: GaussianPolicy, seeds: list[int], base: int, deterministic: bool = False) -> Episodes:
        """Run one shard: one episode per seed on these envs in lockstep; episodes come back in seed order.

        The per-step forward (a few envs through a small MLP) always runs at one torch thread, whatever
        `protege --threads` says: more threads cost 4x the CPU there and change the forward's last bits,
        which the simulation turns into other episodes; at one thread an episode is the same whatever
        thread count the process runs at (`runtime.py`)."""
        with torch_threads(1):
            return self._sample_shard(policy, seeds, base, deterministic)

    @torch.no_grad()
    def _sample_shard(self, policy: GaussianPolicy, seeds: list[int], base: int, deterministic: bool) -> Episodes:
        keys, A = policy.obs_keys, policy.action_dim
        pending = list(range(len(seeds)))[::-1]  # episode ids still to start (popped from the end)
        slot_ep: list[int | None] = [None] * len(self.envs)
        slot_obs: list[np.ndarray | None] = [None] * len(self.envs)
        slot_t = [0] * len(self.envs)
        buf = [dict(obs=[], act=[], rew=[], ok=[]) for _ in seeds]
        last_obs: list[np.ndarray | None] = [None] * len(seeds)
        terminated = np.zeros(len(seeds), bool)
        success_end = np.zeros(len(seeds), bool)
        noise = [np.random.default_rng([base, int(s)]) for s in seeds]  # each episode its own stream

        def start(slot: int) -> None:
            if not pending:
                slot_ep[slot] = None
                return
            ep = pending.pop()
            obs, _ = self.envs[slot].reset(seed=int(seeds[ep]))
            slot_ep[slot], slot_obs[slot], slot_t[slot] = ep, flatten_observation(obs, keys), 0

        for s in range(len(self.envs)):
            start(s)
        while any(e is not None for e in slot_ep):
            active = [s for s, e in enumerate(slot_ep) if e is not None]
            obs_b = np.stack([slot_obs[s] for s in active])
            mean, log_std = policy.mean_log_std(policy.features(torch.from_numpy(obs_b)))
            act_n = mean
            if not deterministic:
                eps = np.stack([noise[slot_ep[s]].standard_normal(A, dtype=np.float32) for s in active])
                act_n = mean + torch.exp(log_std) * torch.from_numpy(eps).reshape(mean.shape)
            # Executed actions are clipped to the normalised (demonstrated) range; the stored action is the
            # unclipped sample, whose log-likelihood the policy gradient needs.
            env_act = policy.action_normalizer.inverse(act_n.clamp(-1.0, 1.0)).numpy()
            if self.low is not None:
                env_act = np.clip(env_act, self.low, self.high)
            act_np = act_n.numpy()
            for i, s in enumerate(active):
                ep = slot_ep[s]
                obs, reward, term, trunc, info = self.envs[s].step(env_act[i].reshape(self.task.spec.action.shape))
                b = buf[ep]
                b["obs"].append(slot_obs[s])
                b["act"].append(act_np[i])
                b["rew"].append(float(reward))
                b["ok"].append(bool(self.task.step_success(info)))
                slot_obs[s] = flatten_observation(obs, keys)
                slot_t[s] += 1
                if self.task.episode_done(slot_t[s], term, trunc, b["ok"][-1]):
                    hit = self.task.ends_on_success and b["ok"][-1]
                    last_obs[ep], terminated[ep], success_end[ep] = slot_obs[s], bool(term), bool(hit)
                    start(s)
        lengths = np.array([len(b["rew"]) for b in buf])
        return Episodes(
            obs=np.stack([o for b in buf for o in b["obs"]]).astype(np.float32),
            actions=np.stack([a for b in buf for a in b["act"]]).astype(np.float32).reshape(-1, A),
            rewards=np.array([r for b in buf for r in b["rew"]], np.float32),
            episode=np.repeat(np.arange(len(seeds)), lengths),
            t=np.concatenate([np.arange(n) for n in lengths]),
            last_obs=np.stack(last_obs).astype(np.float32),
            terminated=terminated,
            success_end=success_end,
            last_reward=np.array([b["rew"][-1] for b in buf], np.float32),
            returns=np.array([sum(b["rew"]) for b in buf], np.float64),
            success=np.array([self.task.episode_success(b["ok"]) for b in buf], bool),
            seeds=np.asarray(seeds, np.int64),
        )


def concat_episodes(parts: list[Episodes]) -> Episodes:
    """Shards' episodes as one batch, in order (episode indices renumbered)."""
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0] + [len(p.seeds) for p in parts[:-1]])
    cat = np.concatenate
    return Episodes(obs=cat([p.obs for p in parts]), actions=cat([p.actions for p in parts]),
                    rewards=cat([p.rewards for p in parts]), episode=cat([p.episode + o for p, o in zip(parts, offsets)]),
                    t=cat([p.t for p in parts]), last_obs=cat([p.last_obs for p in parts]),
                    terminated=cat([p.terminated for p in parts]), success_end=cat([p.success_end for p in parts]),
                    last_reward=cat([p.last_reward for p in parts]), returns=cat([p.returns for p in parts]),
                    success=cat([p.success for p in parts]), seeds=cat([p.seeds for p in parts]))


@dataclass
class ShardJob:
    """One iteration's sampling as an executor job: a worker keeps `num_envs` envs of the task across
    iterations (the key stays; the policy and noise base change) and runs one shard per call, keyed by the
    shard's first seed."""
    task_name: str
    num_envs: int
    policy: GaussianPolicy
    shards: dict[int, list[int]]
    base: int
    deterministic: bool
    key: str

    def setup(self) -> "VecSampler":
        from protege.envs.registry import get_task

        return VecSampler(get_task(self.task_name), self.num_envs)

    def run(self, sampler: "VecSampler", first_seed: int) -> Episodes:
        return sampler.sample_shard(self.policy, self.shards[first_seed], self.base, self.deterministic)

    def teardown(self, sampler: "VecSampler") -> None:
        sampler.close()
