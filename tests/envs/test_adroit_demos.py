"""The 25 human door demonstrations of the DAPG paper, read in place from the Minari layout (and the npz
folder): spec of adroit/door, the paper's success count, and start states that replay in the task's env."""

import h5py
import numpy as np
import pytest

from protege.data.formats import load_any

pytest.importorskip("gymnasium_robotics")

from protege.envs import get_task  # noqa: E402
from protege.envs.adroit import default_expert_dir  # noqa: E402
from protege.specs import check_compatible  # noqa: E402

SHARED = default_expert_dir().parent
MINARI = SHARED / "door-human"
pytestmark = pytest.mark.skipif(not (MINARI / "data/main_data.hdf5").exists(),
                                reason=f"the hand_dapg human door demos are not at {MINARI}")


def test_human_door_demos_load_with_the_tasks_spec_and_the_papers_success_count():
    ds = load_any(MINARI)
    assert (len(ds), ds.num_steps) == (25, 6729)
    check_compatible(ds.spec, get_task("adroit/door").spec, "human door demos", "adroit/door")
    assert all(len(e.observations["state"]) == len(e) + 1 for e in ds.episodes)  # Minari's T+1
    # success as the paper counts it: the door open on more than 25 steps (the README's 6 of 25)
    assert [i for i, e in enumerate(ds.episodes) if e.info["success_steps"] > 25] == [11, 16, 18, 22, 23, 24]
    npz = load_any(SHARED / "door-human-npz")
    assert len(npz) == 25
    for a, b in zip(ds.episodes, npz.episodes):
        np.testing.assert_allclose(a.actions, b.actions, rtol=0, atol=1e-6)
        np.testing.assert_allclose(a.observations["state"][: len(a)], b.observations["state"], rtol=0, atol=1e-6)


def test_a_demo_replays_from_its_start_state_in_the_tasks_env():
    ds = load_any(MINARI)
    demo = ds.episodes[11]
    with h5py.File(MINARI / "data/main_data.hdf5", "r") as f:  # the README's open-loop replay in v1
        replay = f["episode_11/infos/v1_replay/observations"][()]
    env = get_task("adroit/door").make_env()
    obs, _ = env.reset(seed=demo.info["seed"], options=demo.info["reset_options"])
    got = [obs["state"]]
    for action in demo.actions[:150]:
        obs, *_ = env.step(action)
        got.append(obs["state"])
    env.close()
    np.testing.assert_allclose(np.array(got), replay[:151], rtol=0, atol=1e-5)
    plain = get_task("adroit/door").make_env()  # without its start state the door is elsewhere
    start, _ = plain.reset(seed=demo.info["seed"])
    plain.close()
    assert np.abs(start["state"][32:35] - replay[0][32:35]).max() > 1e-3  # handle position
