"""Adroit tasks: the paper's horizons, success test and reward sign; the DAPG authors' experts act and succeed."""

from types import SimpleNamespace

import numpy as np
import pytest

from protege.envs import get_task, list_tasks

pytest.importorskip("gymnasium_robotics")

from protege.envs.adroit import AdroitEnv, default_expert_dir, expert_dir  # noqa: E402

EXPERTS = expert_dir()
needs_experts = pytest.mark.skipif(not (EXPERTS / "door.safetensors").exists(),
                                   reason=f"the converted hand_dapg experts are not at {EXPERTS}")


def test_tasks_have_the_papers_horizons_specs_and_reproducible_resets():
    assert {"adroit/door", "adroit/hammer", "adroit/relocate", "adroit/pen"} <= set(list_tasks())
    dims = {"door": (39, 28, 200), "hammer": (46, 26, 200), "relocate": (39, 30, 200), "pen": (45, 24, 100)}
    for short, (obs_dim, act_dim, horizon) in dims.items():
        task = get_task(f"adroit/{short}")
        assert (task.spec.observation["state"].shape, task.spec.action.shape, task.horizon, task.fps) == \
            ((obs_dim,), (act_dim,), horizon, 100.0)
        assert task.spec.action.low == (-1.0,) * act_dim and task.spec.action.high == (1.0,) * act_dim
    env = get_task("adroit/relocate").make_env()
    a, _ = env.reset(seed=5)
    c, _ = env.reset(seed=6)
    b, _ = env.reset(seed=5)
    assert np.array_equal(a["state"], b["state"]) and not np.array_equal(a["state"], c["state"])
    env.close()


class _FakeGoalEnv:
    """Stands in for the gymnasium env: the goal is achieved on the steps listed in `achieved`."""

    def __init__(self, achieved):
        self.achieved, self.t = achieved, 0
        self.unwrapped = SimpleNamespace(data=SimpleNamespace(site_xpos=np.zeros((2, 3))), grasp_site_id=0,
                                         handle_site_id=1)

    def reset(self, seed=None, options=None):
        self.t = 0
        return np.zeros(3), {}

    def step(self, action):
        self.t += 1
        return np.zeros(3), 0.0, False, False, {"success": self.t in self.achieved}


def test_success_needs_the_goal_on_more_than_25_steps():
    env = AdroitEnv.__new__(AdroitEnv)
    env.short, env.reward, env.need, env._achieved = "door", "paper", 25, 0
    env._env = _FakeGoalEnv(achieved=set(range(10, 36)))  # 26 goal steps, from step 10 to 35
    env.reset(seed=0)
    infos = [env.step(np.zeros(1))[4] for _ in range(40)]
    flags = [i["success"] for i in infos]
    assert not any(flags[:34]) and all(flags[34:])  # the 26th goal step (step 35) is the first success
    assert infos[20]["goal_steps"] == 12 and infos[20]["goal_achieved"]
    env._env = _FakeGoalEnv(achieved=set(range(10, 35)))  # 25 goal steps: never a success
    env.reset(seed=0)
    assert not any(env.step(np.zeros(1))[4]["success"] for _ in range(40))


def _hold_step(env: AdroitEnv, seed: int, arm_z: float):
    """Reset, move the door task's arm slide (ARTz) by `arm_z`, then one step commanding every actuator to
    hold its joint where it is: the hand stays put, only its distance to the handle differs."""
    u = env._env.unwrapped
    env.reset(seed=seed)
    state = u.get_env_state()
    state["qpos"] = state["qpos"].copy()
    state["qpos"][u.model.jnt_qposadr[u.model.joint("ARTz").id]] += arm_z
    u.set_env_state(state)
    joints = u.model.actuator_trnid[:, 0]
    hold = (u.data.qpos[u.model.jnt_qposadr[joints]] - u.act_mean) / u.act_rng
    obs, reward, *_, info = env.step(hold.astype(np.float32))
    return float(np.linalg.norm(obs["state"][35:38])), reward, info  # obs 35:38 = palm - handle


def test_moving_the_hand_towards_the_handle_pays_under_the_papers_reward_not_under_v1():
    env = get_task("adroit/door").make_env()
    results = [_hold_step(env, 0, dz) for dz in (-0.05, 0.0, 0.05)]
    env.close()
    dist = [d for d, _, _ in results]
    paper = [r for _, r, _ in results]
    v1 = [i["reward_v1"] for _, _, i in results]
    assert dist[0] > dist[1] > dist[2]  # ARTz up brings the palm nearer the handle
    assert paper[0] < paper[1] < paper[2]  # nearer is better, as in the paper
    assert v1[0] > v1[1] > v1[2]  # gymnasium-robotics 1.4.2's v1 pays for distance
    v1_env = get_task("adroit/door[reward=v1]").make_env()
    assert _hold_step(v1_env, 0, 0.05)[1] == pytest.approx(v1[2])  # the v1 reward, by name
    v1_env.close()


def _paper_reward(short: str, u) -> float:
    """The DAPG paper's dense reward (mj_envs' door/hammer/relocate v0), from the simulator state."""
    d = u.data
    if short == "door":
        palm, handle, door = d.site_xpos[u.grasp_site_id], d.site_xpos[u.handle_site_id], float(d.qpos[u.door_hinge_addrs])
        r = -0.1 * np.linalg.norm(palm - handle) - 0.1 * (door - 1.57) ** 2 - 1e-5 * np.sum(d.qvel ** 2)
        return r + 2 * (door > 0.2) + 8 * (door > 1.0) + 10 * (door > 1.35)
    if short == "hammer":
        hammer, palm = d.xpos[u.obj_body_id], d.site_xpos[u.S_grasp_site_id]
        head, nail, goal = d.site_xpos[u.tool_site_id], d.site_xpos[u.target_obj_site_id], d.site_xpos[u.goal_site_id]
        r = (-0.1 * np.linalg.norm(palm - hammer) - np.linalg.norm(head - nail) - 10 * np.linalg.norm(nail - goal)
             - 1e-2 * np.linalg.norm(d.qvel))
        g = np.linalg.norm(nail - goal)
        return r + 2 * (hammer[2] > 0.04 and head[2] > 0.04) + 25 * (g < 0.02) + 75 * (g < 0.01)
    ball, palm, target = d.xpos[u.obj_body_id], d.site_xpos[u.S_grasp_site_id], d.site_xpos[u.target_obj_site_id]
    r = -0.1 * np.linalg.norm(palm - ball)
    if ball[2] > 0.04:
        r += 1.0 - 0.5 * np.linalg.norm(palm - target) - 0.5 * np.linalg.norm(ball - target)
    g = np.linalg.norm(ball - target)
    return r + 10 * (g < 0.1) + 20 * (g < 0.05)


@needs_experts
@pytest.mark.parametrize("short", ["door", "hammer", "relocate"])
def test_reward_is_the_papers_formula_along_an_expert_episode(short):
    task = get_task(f"adroit/{short}")
    env, expert = task.make_env(), task.make_expert()
    obs, _ = env.reset(seed=3)
    u, rewards, goal_steps = env._env.unwrapped, [], 0
    for _ in range(task.horizon):
        obs, r, term, trunc, info = env.step(expert.act(obs))
        rewards.append((r, _paper_reward(short, u)))
        goal_steps += info["goal_achieved"]
    env.close()
    got, want = np.array(rewards).T
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert goal_steps > 25 and info["success"]  # the episode reached the goal's bonus terms too


@needs_experts
def test_experts_load_act_in_bounds_and_succeed_on_a_few_seeds():
    for short in ("door", "hammer", "relocate", "pen"):
        task = get_task(f"adroit/{short}")
        env, expert = task.make_env(), task.make_expert()
        wins = 0
        for seed in (0, 2):  # pen's expert succeeds on 80% of seeds; seed 1 is one of its failures
            obs, _ = env.reset(seed=seed)
            expert.reset()
            for t in range(1, task.horizon + 1):
                action = expert.act(obs)
                assert action.shape == task.spec.action.shape and action.dtype == np.float32
                assert np.all(np.abs(action) <= 1.0)
                obs, _, term, trunc, info = env.step(action)
                if task.episode_done(t, term, trunc, task.step_success(info)):
                    break
            wins += info["success"]
        env.close()
        assert wins == 2, short


def test_a_missing_expert_is_one_line_naming_the_path(tmp_path, monkeypatch):
    import re

    from protege.errors import ProtegeError

    monkeypatch.setenv("PROTEGE_ADROIT_EXPERTS", str(tmp_path))
    with pytest.raises(ProtegeError, match=rf"^adroit/door expert: expected the DAPG authors' policy at "
                                           rf"{re.escape(str(tmp_path / 'door.json'))} .*PROTEGE_ADROIT_EXPERTS"
                                           rf".*found no such file$"):
        get_task("adroit/door").make_expert()
    assert default_expert_dir().parts[-3:] == ("shared", "adroit", "experts")


def test_unknown_reward_name_is_refused():
    from protege.errors import ProtegeError

    with pytest.raises(ProtegeError, match=r"reward: expected one of \['paper', 'v1'\], found 'v0'"):
        get_task("adroit/door[reward=v0]")


def test_pen_ends_when_the_pen_falls():
    env = get_task("adroit/pen").make_env()
    u = env._env.unwrapped
    ended = {}
    for drop in (0.1, 0.2):  # OBJTx lowers the pen (the pen's joint frame is turned): to 0.15 m, 0.05 m
        env.reset(seed=0)
        state = u.get_env_state()
        state["qpos"] = state["qpos"].copy()
        state["qpos"][u.model.jnt_qposadr[u.model.joint("OBJTx").id]] += drop
        u.set_env_state(state)
        _, _, terminated, truncated, _ = env.step(np.zeros(24, np.float32))
        ended[round(float(u.data.xpos[u.obj_body_id][2]), 2)] = terminated and not truncated
    env.close()
    assert ended == {0.15: False, 0.05: True}  # below 0.075 m the episode is over, as in v0


def test_rl_runs_on_adroit_door(tmp_path):
    import torch

    from protege.algos.rl import RLConfig, rl_from_scratch

    torch.set_num_threads(1)
    result = rl_from_scratch(get_task("adroit/door"), RLConfig(env_steps=400, episodes_per_iter=2, num_envs=2,
                                                               random_stats_episodes=1), tmp_path / "run")
    assert result.iterations >= 1 and (tmp_path / "run" / "policy" / "model.safetensors").exists()
