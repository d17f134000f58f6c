"""The `lane` task: dynamics, cost, horizon from the name, glare rate, the expert's zero cost, and the
no-recovery property a learner trained on centred demonstrations has."""

import numpy as np
import pytest

from protege.envs import ExpertFactory, get_task, list_tasks
from protege.envs.lane import (BARRIER, MAX_STEER, PREVIEW, PRIVILEGED_KEY, LaneBatch, LaneExpert, batch_rollout,
                               expert_action, lane_step, lane_task_name, road)
from protege.errors import ProtegeError
from protege.evaluation.rollout import run_episodes


def test_listed_and_the_horizon_comes_from_the_name():
    assert "lane" in list_tasks()
    for T in (25, 200, 1000):
        task = get_task(f"lane[T={T}]")
        assert task.horizon == T and task.success_window == T and not task.ends_on_success
    assert get_task("lane").horizon == 200
    assert get_task(lane_task_name(300, 0.01)).name == "lane[T=300,glare=0.01]"


@pytest.mark.parametrize("name,field", [("lane[T=0]", "'T'"), ("lane[T=abc]", "'T'"), ("lane[glare=0.7]", "'glare'"),
                                        ("lane[speed=3]", "speed=3")])
def test_bad_options_are_refused_in_one_line(name, field):
    with pytest.raises(ProtegeError) as err:
        get_task(name)
    assert field in str(err.value) and "\n" not in str(err.value)


def test_dynamics_push_off_centre_and_stop_at_the_barrier():
    y, cost = lane_step(np.array([0, 0, 1, -2, 3, 0]), np.array([0.4, -1.6, 0, 0, 0, 99]), np.array([1, 0, 0, 1, 1, 0]))
    # centre + bend 1 -> 1; steer -2 -> -2; off-centre pushed 2 outward (1 -> 3, -2 -> -3); barrier at 4; clip 7
    assert BARRIER == 4 and MAX_STEER == 7
    assert y.tolist() == [1, -2, 3, -3, 4, 4]
    assert cost.tolist() == [1, 1, 1, 1, 1, 1]


def test_cost_is_exactly_the_zero_one_loss_against_the_expert():
    rng = np.random.default_rng(0)
    y = rng.integers(-BARRIER, BARRIER + 1, 5000)
    bend = rng.integers(-1, 2, 5000)
    a = rng.integers(-MAX_STEER, MAX_STEER + 1, 5000).astype(np.float64)
    a[::3] = expert_action(y, bend)[::3]  # a third are the expert's own actions
    _, cost = lane_step(y, a, bend)
    assert np.array_equal(cost, (np.rint(a) != expert_action(y, bend)).astype(np.float32))
    assert np.abs(expert_action(y, bend)).max() <= MAX_STEER


def test_no_action_within_the_centred_range_ever_comes_back():
    """|a| <= 1 is all the expert does when centred; off-centre, such actions never reduce |y|."""
    for y in range(1, BARRIER + 1):
        for a in (-1, 0, 1):
            for d in (-1, 0, 1):
                for sign in (1, -1):
                    nxt, _ = lane_step(np.array([sign * y]), np.array([sign * a]), np.array([sign * d]))
                    assert abs(int(nxt[0])) >= y


def test_expert_has_zero_cost_and_succeeds_at_every_horizon():
    for T in (25, 1000):
        costs = batch_rollout(LaneExpert().act, range(50), T, glare=0.2)  # glare never touches the expert
        assert costs.sum() == 0
    task = get_task("lane[T=60]")
    results = run_episodes(task, ExpertFactory(task.name), list(range(5)))
    assert all(r.success and r.ret == 0 and r.length == 60 for r in results)


def test_env_and_batch_are_the_same_episodes_and_longer_roads_extend_shorter_ones():
    task = get_task("lane[T=40,glare=0.1]")
    env = task.make_env()
    seeds = [7, 8, 9]
    actions = np.random.default_rng(1).integers(-2, 3, (40, 3, 1)).astype(np.float32)
    steps = iter(actions)
    costs = batch_rollout(lambda obs: next(steps), seeds, 40, glare=0.1)  # (3, 40)
    first = LaneBatch(seeds, 40, 0.1).observation()
    for i, seed in enumerate(seeds):
        obs, _ = env.reset(seed=seed)
        assert np.array_equal(obs["state"], first["state"][i])
        assert set(obs) == {"state", PRIVILEGED_KEY} and PRIVILEGED_KEY not in task.spec.observation
        rewards = []
        for t in range(40):
            obs, reward, _, truncated, info = env.step(actions[t, i])
            rewards.append(reward)
            assert info["cost"] == -reward and info["offset"] == int(obs["state"][0])
        assert truncated and np.array_equal(-np.asarray(rewards, np.float32), costs[i])
    short, long = road(3, 20, 0.1), road(3, 500, 0.1)
    assert np.array_equal(short[0], long[0][:20 + PREVIEW]) and np.array_equal(short[1], long[1][:21])
    one = LaneBatch([0], 1, 0.0)
    one.step(np.zeros(1))
    with pytest.raises(ProtegeError, match="horizon"):
        one.step(np.zeros(1))


def test_glared_frames_misread_every_bend_and_clean_frames_none():
    bends, readings = road(0, 20_000, 0.05)
    true = np.lib.stride_tricks.sliding_window_view(bends, PREVIEW)[:20_001]
    wrong = readings != true
    glared = wrong.any(1)
    assert (wrong[glared].all(1)).all()  # a glared frame misreads all of its bends
    assert abs(glared.mean() - 0.05) < 0.006
    assert set(np.unique(bends)) == {-1, 0, 1}
