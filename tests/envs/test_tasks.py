import numpy as np
import pytest

from protege.envs import ExpertFactory, get_task, list_tasks
from protege.errors import ProtegeError
from protege.evaluation.rollout import run_episode, run_episodes


def test_all_fifty_metaworld_tasks_are_registered_with_experts():
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS

    names = [n for n in list_tasks() if n.startswith("metaworld/")]
    assert len(names) == 50
    assert {n.split("/")[1] + "-v3" for n in names} == set(ALL_V3_ENVIRONMENTS)


def test_unknown_task_suggests_names():
    with pytest.raises(ProtegeError, match="did you mean metaworld/pick-place"):
        get_task("metaworld/pick-plac")


def test_metaworld_reset_is_reproducible_per_seed_on_one_env():
    task = get_task("metaworld/pick-place")
    env = task.make_env()
    a, _ = env.reset(seed=7)
    b, _ = env.reset(seed=8)
    c, _ = env.reset(seed=7)
    np.testing.assert_array_equal(a["state"], c["state"])
    assert not np.array_equal(a["state"], b["state"])
    assert a["state"].dtype == np.float32 and a["state"].shape == task.spec.observation["state"].shape


def test_metaworld_expert_succeeds_and_episode_stops_at_success():
    task = get_task("metaworld/reach")
    results = run_episodes(task, ExpertFactory(task.name), list(range(5)))
    assert all(r.success for r in results)
    assert all(r.length < task.horizon for r in results)


def test_pendulum_swing_up_expert_beats_pd_expert():
    seeds = list(range(30))
    swing = run_episodes(get_task("pendulum"), ExpertFactory("pendulum"), seeds)
    pd = run_episodes(get_task("pendulum-pd"), ExpertFactory("pendulum-pd"), seeds)
    assert sum(r.success for r in swing) == 30  # swings up from any start
    assert sum(r.success for r in pd) < 20  # PD alone cannot swing up from most starts


def test_pendulum_success_needs_the_final_stretch_upright():
    task = get_task("pendulum")
    assert task.episode_success([False] * 150 + [True] * 50)
    assert not task.episode_success([True] * 199 + [False])


def test_noise_injection_keeps_clean_labels():
    task = get_task("pendulum")
    r = run_episode(task, task.make_env(), task.make_expert(), seed=3, noise=0.5)
    ep = r.episode
    assert ep.labels is not None and not np.allclose(ep.labels, ep.actions)
    # the label is what the expert says for the observation it saw
    expert = task.make_expert()
    for t in (0, 10, 50):
        np.testing.assert_allclose(expert.act({"state": ep.observations["state"][t]}), ep.labels[t], rtol=1e-6)
