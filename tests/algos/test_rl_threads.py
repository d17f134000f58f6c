"""RL sampling runs at one torch thread whatever `--threads` says: the same episodes at any thread count
(a batched forward's last bits change with the count, and a hand simulation turns them into other
episodes), and the process's own count is back once sampling is done. The updates run at one thread
unless a count was chosen explicitly."""

import numpy as np
import pytest
import torch

from protege import runtime
from protege.algos.rl.loop import random_stats
from protege.algos.rl.rollout import VecSampler
from protege.envs import get_task
from protege.policies import make_policy

pytest.importorskip("gymnasium_robotics")


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(runtime, "_chosen", None)
    before = torch.get_num_threads()
    yield runtime
    torch.set_num_threads(before)


def test_sampled_episodes_are_the_same_at_one_and_two_threads(fresh):
    task = get_task("adroit/door")
    stats, _ = random_stats(task, 1, 0)
    torch.manual_seed(0)
    policy = make_policy("gaussian", None, task.spec, stats)
    sampler = VecSampler(task, 10)
    got = {}
    try:
        for threads in (1, 2):
            fresh.set_threads(threads)  # as `protege --threads N` does
            got[threads] = sampler.sample(policy, list(range(5, 15)), torch.Generator().manual_seed(3))
            assert torch.get_num_threads() == threads  # restored after sampling
    finally:
        sampler.close()
    # 200-step door episodes; before sampling was pinned, these differed after a few steps (ulp -> contact)
    for f in ("obs", "actions", "rewards", "returns", "last_obs"):
        assert np.array_equal(getattr(got[1], f), getattr(got[2], f)), f


def test_updates_run_at_one_thread_unless_a_count_was_chosen(fresh, monkeypatch):
    monkeypatch.setattr(runtime, "default_threads", lambda: 2)
    fresh.set_threads(None)  # the library default, as with no --threads
    assert torch.get_num_threads() == 2 and fresh.small_work_threads() == 1
    with fresh.torch_threads(fresh.small_work_threads()):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    fresh.set_threads(2)  # explicit: holds for the updates too
    assert fresh.small_work_threads() == 2


def test_the_rl_checkpoint_records_the_update_thread_count(fresh, tmp_path):
    import json

    from protege.algos.rl import RLConfig, rl_from_scratch

    rl_from_scratch(get_task("pendulum"), RLConfig(env_steps=400, episodes_per_iter=2, num_envs=2,
                                                   random_stats_episodes=1), tmp_path / "run")
    cfg = json.loads((tmp_path / "run" / "policy" / "config.json").read_text())
    assert json.dumps(cfg).count('"torch_threads": 1') == 1
