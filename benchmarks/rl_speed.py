"""RL sampling speed, side by side in one run (issue 5): is the policy a real cost next to the simulator?

Three ways to collect the same number of Meta-World steps with 10 envs in one process:
  - bare env:   each env stepped with a fixed action, no policy at all (the simulator's own cost);
  - batched:    `VecSampler`, one policy forward for all 10 envs per step (what `protege rl/dapg` use);
  - per-env:    one policy forward per env per step (a naive sampler).
Plus one full iteration, with its sampling and update (GAE, NPG step, value fit) times as the loop records them.
Reported as steps/s and ratios measured in this one run; the machine is shared, so absolute numbers vary.

    python benchmarks/rl_speed.py [--task pick-place] [--steps 5000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_outputs  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from protege.algos.rl.loop import RLConfig, random_stats, train_rl  # noqa: E402
from protege.algos.rl.rollout import VecSampler  # noqa: E402
from protege.data.observation import flatten_observation  # noqa: E402
from protege.envs import get_task  # noqa: E402
from protege.policies import make_policy  # noqa: E402


def bare(task, n_envs: int, steps: int) -> float:
    envs = [task.make_env() for _ in range(n_envs)]
    for i, e in enumerate(envs):
        e.reset(seed=i)
    a = np.zeros(task.spec.action.shape, np.float32)
    t0 = time.perf_counter()
    done = 0
    while done < steps:
        for e in envs:
            *_, term, trunc, _ = e.step(a)
            done += 1
    return done / (time.perf_counter() - t0)


def per_env(task, policy, n_envs: int, steps: int) -> float:
    envs = [task.make_env() for _ in range(n_envs)]
    obs = [e.reset(seed=i)[0] for i, e in enumerate(envs)]
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    done = 0
    with torch.no_grad():
        while done < steps:
            for i, e in enumerate(envs):
                x = torch.from_numpy(flatten_observation(obs[i], policy.obs_keys))[None]
                mean, log_std = policy.mean_log_std(policy.features(x))
                act = mean + torch.exp(log_std) * torch.randn(mean.shape, generator=gen)
                a = policy.action_normalizer.inverse(act.clamp(-1, 1))[0].numpy()
                obs[i], *_ = e.step(a)
                done += 1
    return done / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--task", default="pick-place")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--envs", type=int, default=10)
    args = p.parse_args()
    torch.set_num_threads(1)
    task = get_task(f"metaworld/{args.task}")
    stats, _ = random_stats(task, 1, 0)
    policy = make_policy("gaussian", None, task.spec, stats)

    r_bare = bare(task, args.envs, args.steps)
    sampler = VecSampler(task, args.envs)
    t0 = time.perf_counter()
    eps = sampler.sample(policy, list(range(args.steps // task.horizon)), torch.Generator().manual_seed(0))
    r_batched = eps.num_steps / (time.perf_counter() - t0)
    sampler.close()
    r_per_env = per_env(task, policy, args.envs, args.steps)

    # Two full RL iterations; the second is reported (the first pays one-time costs such as torch's lazy
    # imports on the first optimiser), with sampling and update times as the loop records them.
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        n_eps = max(1, args.steps // task.horizon)
        cfg = RLConfig(env_steps=2 * n_eps * task.horizon, episodes_per_iter=n_eps, num_envs=args.envs, seed=0)
        res = train_rl(task, policy, cfg, d)
    row = res.curve[-1]
    it_steps = row["env_steps"] - res.curve[-2]["env_steps"]
    it_s = row["sample_s"] + row["update_s"]
    rows = {"bare_env_steps_per_s": r_bare, "batched_sampler_steps_per_s": r_batched,
            "per_env_forward_steps_per_s": r_per_env, "batched_over_bare": r_batched / r_bare,
            "batched_over_per_env": r_batched / r_per_env, "iteration_env_steps": it_steps,
            "iteration_sample_s": row["sample_s"], "iteration_update_s": row["update_s"],
            "iteration_steps_per_s": it_steps / it_s, "update_share": row["update_s"] / it_s}
    hours_1m = 1e6 / rows["iteration_steps_per_s"] / 3600
    md = "\n".join([
        f"# RL sampling speed on metaworld/{args.task} ({args.envs} envs, {args.steps} steps per way, one process)",
        "",
        "| way | steps/s | ratio to bare env |",
        "|---|---|---|",
        f"| bare env, fixed action, no policy | {r_bare:.0f} | 1.00 |",
        f"| batched sampler (one forward for all envs) | {r_batched:.0f} | {r_batched / r_bare:.2f} |",
        f"| per-env forward | {r_per_env:.0f} | {r_per_env / r_bare:.2f} |",
        "",
        f"Batched over per-env: {r_batched / r_per_env:.2f}x. A full RL iteration ({it_steps} env steps; the "
        f"second of two): sampling {row['sample_s']:.1f} s, update (GAE, NPG step, value fit) "
        f"{row['update_s']:.1f} s ({100 * rows['update_share']:.0f}%), {rows['iteration_steps_per_s']:.0f} "
        f"steps/s overall; at that rate 1M steps take {hours_1m:.1f} h on this machine as loaded during the run.",
        "",
        f"    python benchmarks/rl_speed.py --task {args.task} --steps {args.steps} --envs {args.envs}",
        ""])
    write_outputs("rl_speed", {"task": f"metaworld/{args.task}", **rows}, md)


if __name__ == "__main__":
    main()
