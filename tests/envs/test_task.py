"""`Task.episode_done`: the one end-of-episode rule, and the places that run episodes agreeing on it."""

import dataclasses

import numpy as np
import pytest

from protege.envs import get_task
from protege.envs.sim_robot import SimRobot
from protege.evaluation.rollout import run_episode


def test_an_episode_ends_when_the_env_ends_it_or_at_the_horizon():
    task = get_task("bimodal")
    assert not task.episode_done(1, False, False, False)
    assert task.episode_done(1, True, False, False) and task.episode_done(1, False, True, False)
    assert not task.episode_done(task.horizon - 1, False, False, False)
    assert task.episode_done(task.horizon, False, False, False)


def test_success_ends_the_episode_only_on_tasks_that_stop_there():
    stops = get_task("bimodal")  # stop_on_success, success_window 0
    assert stops.ends_on_success and stops.episode_done(3, False, False, True)
    runs_on = get_task("pendulum")  # success judged on a final window: a successful step does not end it
    assert not runs_on.ends_on_success and not runs_on.episode_done(3, False, False, True)
    # Stopping at the first success would end a windowed episode before its window could fill.
    windowed = dataclasses.replace(stops, success_window=5)
    assert not windowed.ends_on_success and not windowed.episode_done(3, False, False, True)


@pytest.mark.parametrize("name", ["bimodal", "pendulum"])
def test_evaluation_and_the_simulated_robot_end_episodes_at_the_same_step(name):
    task = get_task(name)
    env = task.make_env()
    expert = task.make_expert()
    lengths = [run_episode(task, env, expert, seed, keep_episode=False).length for seed in (0, 1)]
    env.close()
    robot = SimRobot(task, seed=0)
    robot.connect()
    expert.reset()
    counted, sent = [], 0
    while robot.episodes < 2:
        obs = {k: v for k, v in robot.get_observation().items() if k in task.spec.observation}
        robot.send_action(np.asarray(expert.act(obs), np.float32))
        sent += 1
        if robot.episodes > len(counted):
            counted.append(sent - sum(counted))
            expert.reset()
    robot.disconnect()
    assert counted == lengths
