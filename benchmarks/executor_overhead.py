"""What an executor costs per episode apart from the episode itself: the figures behind docs/scaling.md.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/executor_overhead.py [--calls 1000]

Three measurements, each with the executor's own code path (`Executor.map`, results delivered in order):
- empty episodes: a job whose episode returns its seed at once, on each executor (in this process, 2 worker
  processes, Ray with 1 and 2 actors): wall time per episode = scheduling + transport + delivery;
- an episode-sized result: the same with a result the size of a 500-step pick-place episode (39-D
  observations, 4-D actions, float32);
- a job carrying a policy (what DAgger collection and RL sampling send): the job travels with every call,
  so its size is paid per episode; mlp on the 39-D state, and mlp on two 84x84 cameras with the small and
  the resnet18 encoder.

Writes docs/benchmarks/executor_overhead.{json,md}. The load average is recorded beside every timing: on a
shared machine read the per-call figures as upper bounds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_outputs  # noqa: E402

import numpy as np  # noqa: E402

from protege.distributed.executor import FunctionJob, new_job_key  # noqa: E402

EPISODE_STEPS = 500  # a pick-place episode at its horizon


def load() -> float:
    return round(os.getloadavg()[0], 2)


def episode_sized(seed: int) -> dict[str, np.ndarray]:
    """A result the size of a 500-step pick-place episode (observations with the final one, actions, rewards)."""
    return {"obs": np.full((EPISODE_STEPS + 1, 39), seed, np.float32),
            "actions": np.zeros((EPISODE_STEPS, 4), np.float32), "rewards": np.zeros(EPISODE_STEPS, np.float32)}


@dataclass
class PolicyJob:
    """An empty episode whose job carries a policy, as DAgger's CollectJob and RL's ShardJob do."""
    policy: Any
    key: str = field(default_factory=new_job_key)

    def setup(self) -> None:
        return None

    def run(self, state: Any, seed: int) -> int:
        return seed

    def teardown(self, state: Any) -> None:
        pass


def per_call(executor: Any, job: Any, calls: int) -> dict[str, float]:
    """Wall seconds per episode over `calls` episodes (after a warm-up map that starts the workers)."""
    got: list[int] = []
    executor.map(job, list(range(-4, 0)), lambda s, r: None)  # workers up, the job's state built
    before = load()
    t0 = time.perf_counter()
    executor.map(job, list(range(calls)), lambda s, r: got.append(s))
    wall = time.perf_counter() - t0
    assert got == list(range(calls))
    return {"calls": calls, "wall_s": wall, "ms_per_episode": 1000 * wall / calls, "load_before": before,
            "load_after": load()}


def policies() -> dict[str, Any]:
    import torch

    from protege.envs import get_task
    from protege.policies import EncoderConfig, MLPConfig, make_policy

    state = get_task("metaworld/pick-place").spec
    vision = get_task("metaworld-vision/assembly").spec
    torch.manual_seed(0)
    return {"mlp, 39-D state": make_policy("mlp", MLPConfig(), state, None),
            "mlp + small encoder, 2 cameras": make_policy("mlp", MLPConfig(), vision, None, EncoderConfig("small")),
            "mlp + resnet18 encoder, 2 cameras": make_policy("mlp", MLPConfig(), vision, None, EncoderConfig("resnet18"))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1000, help="empty episodes per executor")
    ap.add_argument("--policy-calls", type=int, default=40, help="episodes per policy-carrying job")
    a = ap.parse_args()
    import torch

    from protege.distributed.executor import LocalExecutor, ProcessExecutor
    from protege.distributed.ray_executor import RayExecutor

    torch.set_num_threads(1)
    light = ["__main__", "protege.distributed.executor", "numpy", "torch"]  # the jobs live in this script
    result: dict[str, Any] = {"load_start": load(), "cpu_count": os.cpu_count()}
    models = policies()
    rows, jobs, startup = [], [], {}

    def measure(name: str, make: Any) -> None:
        t0 = time.perf_counter()
        ex = make()
        ex.map(FunctionJob(abs), [0, 1], lambda s, r: None)  # workers up (ray.init, actors, the pool)
        startup[name] = time.perf_counter() - t0
        for what, job in (("empty", FunctionJob(abs)), ("episode-sized result", FunctionJob(episode_sized))):
            rows.append({"executor": name, "result": what, **per_call(ex, job, a.calls)})
            print(rows[-1], flush=True)
        for policy_name, policy in models.items():
            nbytes = sum(t.numel() * t.element_size() for t in policy.state_dict().values())
            jobs.append({"policy": policy_name, "parameters": sum(p.numel() for p in policy.parameters()),
                         "state_mib": nbytes / 2**20, "executor": name,
                         **per_call(ex, PolicyJob(policy), a.policy_calls)})
            print(jobs[-1], flush=True)
        ex.close()

    measure("in-process", LocalExecutor)
    measure("2 processes", lambda: ProcessExecutor(2, preload=light))
    measure("ray, 1 actor", lambda: RayExecutor(1, "auto"))  # each closes its local cluster before the next
    measure("ray, 2 actors", lambda: RayExecutor(2, "auto"))
    result.update(startup_s=startup, episodes=rows, policy_jobs=jobs)
    result["load_end"] = load()
    write_outputs("executor_overhead", result, markdown(result))


def markdown(r: dict) -> str:
    lines = ["# Executor overhead per episode", "",
             "`OMP_NUM_THREADS=1 .venv/bin/python benchmarks/executor_overhead.py` on this machine "
             f"({r['cpu_count']} CPUs, shared: 1-minute load average {r['load_start']} at the start, {r['load_end']} "
             "at the end). Each figure is wall time per episode through `Executor.map` (scheduling, transport, "
             "in-order delivery) for episodes that do nothing, so it is what an executor adds to every real episode. "
             "Worker start-up is not included; it is listed separately.", "",
             "Start-up (executor made, workers up, first job run): "
             + ", ".join(f"{k} {v:.1f} s" for k, v in r["startup_s"].items()) + ".", "",
             "## Empty episodes", "",
             "| executor | result | episodes | ms per episode | load before / after |", "|---|---|---|---|---|"]
    for row in r["episodes"]:
        lines.append(f"| {row['executor']} | {row['result']} | {row['calls']} | {row['ms_per_episode']:.3f} | "
                     f"{row['load_before']} / {row['load_after']} |")
    lines += ["", f"Episode-sized result: a 500-step pick-place episode's arrays ({(501 * 39 + 500 * 5) * 4 / 1024:.0f} KiB).",
              "", "## A job carrying a policy (sent with every episode, as DAgger collection and RL sampling do)", "",
              "| policy | parameters | state MiB | executor | episodes | ms per episode | load before / after |",
              "|---|---|---|---|---|---|---|"]
    for row in r["policy_jobs"]:
        lines.append(f"| {row['policy']} | {row['parameters']:,} | {row['state_mib']:.1f} | {row['executor']} | "
                     f"{row['calls']} | {row['ms_per_episode']:.2f} | {row['load_before']} / {row['load_after']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
