"""Adroit tasks: registered from gymnasium-robotics with DAPG's success test, and `rl` runs on them."""

import numpy as np
import pytest

from protege.envs import list_tasks

adroit = pytest.importorskip("gymnasium_robotics")


def test_adroit_tasks_are_registered_with_reproducible_resets():
    from protege.envs import get_task

    assert {"adroit/door", "adroit/hammer", "adroit/relocate", "adroit/pen"} <= set(list_tasks())
    task = get_task("adroit/door")
    env = task.make_env()
    a, _ = env.reset(seed=5)
    b, _ = env.reset(seed=5)
    assert a["state"].shape == task.spec.observation["state"].shape and np.array_equal(a["state"], b["state"])
    env.close()


class _FakeGoalEnv:
    """Stands in for the gymnasium env: the goal is achieved on the steps listed in `achieved`."""

    def __init__(self, achieved):
        self.achieved, self.t = achieved, 0

    def reset(self, seed=None, options=None):
        self.t = 0
        return np.zeros(3), {}

    def step(self, action):
        self.t += 1
        return np.zeros(3), 0.0, False, False, {"success": self.t in self.achieved}


def test_success_needs_the_goal_on_more_than_25_steps():
    from protege.envs.adroit import AdroitEnv

    env = AdroitEnv.__new__(AdroitEnv)
    env.need, env._achieved = 25, 0
    env._env = _FakeGoalEnv(achieved=set(range(10, 36)))  # 26 goal steps, from step 10 to 35
    env.reset(seed=0)
    flags = [env.step(np.zeros(1))[4]["success"] for _ in range(40)]
    assert not any(flags[:34]) and all(flags[34:])  # the 26th goal step (step 35) is the first success


def test_rl_runs_on_adroit_door(tmp_path):
    import torch

    from protege.algos.rl import RLConfig, rl_from_scratch
    from protege.envs import get_task

    torch.set_num_threads(1)
    result = rl_from_scratch(get_task("adroit/door"), RLConfig(env_steps=400, episodes_per_iter=2, num_envs=2,
                                                               random_stats_episodes=1), tmp_path / "run")
    assert result.iterations >= 1 and (tmp_path / "run" / "policy" / "model.safetensors").exists()
