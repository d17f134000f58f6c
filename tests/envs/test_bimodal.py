"""The `bimodal` task: the expert succeeds, splits 50/50 with no cue, and touching the obstacle fails."""

import numpy as np

from protege.envs import ExpertFactory, get_task
from protege.evaluation.rollout import run_episode, run_episodes


def _side(episode) -> float:
    x = episode.observations["state"][:, 0]
    return float(np.sign(x[np.abs(x).argmax()]))


def test_expert_succeeds_and_goes_both_ways():
    task = get_task("bimodal")
    results = run_episodes(task, ExpertFactory("bimodal"), list(range(60)), keep_episodes=True)
    assert all(r.success for r in results)
    right = np.mean([_side(r.episode) > 0 for r in results])
    assert 0.3 < right < 0.7, right


def test_no_cue_in_the_observation():
    """Left and right demonstrations pass through the same observations until they split."""
    task = get_task("bimodal")
    env, expert = task.make_env(), task.make_expert()
    by_side = {}
    for _ in range(20):
        r = run_episode(task, env, expert, seed=5)  # the same initial state every time
        by_side.setdefault(_side(r.episode), r.episode)
    assert set(by_side) == {-1.0, 1.0}
    left, right = by_side[-1.0].observations["state"], by_side[1.0].observations["state"]
    assert np.array_equal(left[:3], right[:3])  # identical approach ...
    assert not np.allclose(left[8], right[8])  # ... then opposite sides


def test_driving_straight_hits_the_obstacle_and_fails():
    class Straight:
        def reset(self):
            pass

        def act(self, obs):
            return np.array([0.0, 1.0], np.float32)

    task = get_task("bimodal")
    r = run_episode(task, task.make_env(), Straight(), seed=0)
    assert not r.success and r.length < task.horizon  # the collision ends the episode


def test_render_gives_an_image():
    env = get_task("bimodal").make_env(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (160, 160, 3) and frame.dtype == np.uint8
    assert (frame != 255).any()
