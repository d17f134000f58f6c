"""Camera observations on Meta-World tasks and the vision variant that hides the object."""

import json

import numpy as np
import pytest

from protege.envs import get_task
from protege.envs.cameras import parse_camera_name, with_cameras
from protege.errors import ProtegeError
from protege.specs import ArraySpec

pytestmark = pytest.mark.usefixtures("needs_gl")


def test_camera_task_observes_frames_that_follow_the_arm():
    task = with_cameras(get_task("metaworld/reach"), ("corner2", "gripperPOV"), 24)
    assert task.name == "metaworld/reach[corner2,gripperPOV@24]" and get_task(task.name).spec == task.spec
    assert task.spec.observation["corner2"] == ArraySpec((24, 24, 3), "uint8")
    assert task.spec.observation["state"].shape == (39,)
    env = task.make_env()
    try:
        obs, _ = env.reset(seed=0)
        assert set(obs) == {"state", "corner2", "gripperPOV"}
        for cam in ("corner2", "gripperPOV"):
            assert obs[cam].shape == (24, 24, 3) and obs[cam].dtype == np.uint8
            assert obs[cam].std() > 10  # not blank
        first = {k: v.copy() for k, v in obs.items()}
        for _ in range(15):
            obs, *_ = env.step(np.array([0.0, 0.0, -1.0, 0.0], np.float32))  # the hand moves down
        for cam in ("corner2", "gripperPOV"):
            assert np.abs(obs[cam].astype(int) - first[cam]).mean() > 1.0
        obs2, _ = env.reset(seed=0)  # frames are a function of the state
        np.testing.assert_array_equal(obs2["corner2"], first["corner2"])
    finally:
        env.close()


def test_frames_are_oriented_like_the_task_videos():
    """Camera frames match MetaWorldEnv.render's (upright) frames of the same camera and size."""
    from protege.envs.metaworld_tasks import MetaWorldEnv

    task = with_cameras(get_task("metaworld/reach"), ("corner2",), 32)
    env, video = task.make_env(), MetaWorldEnv("reach-v3", render_mode="rgb_array", width=32, height=32)
    try:
        obs, _ = env.reset(seed=3)
        video.reset(seed=3)
        np.testing.assert_array_equal(obs["corner2"], video.render())
    finally:
        env.close()
        video.close()


def test_vision_task_hides_the_object_and_its_expert_still_succeeds():
    from protege.evaluation.rollout import run_episode

    default = get_task("metaworld-vision/pick-place")
    assert list(default.spec.observation) == ["state", "corner2", "gripperPOV"]
    assert default.spec.observation["state"].shape == (7,) and "hidden" in default.description
    task = get_task("metaworld-vision/pick-place[gripperPOV@16]")  # small frames keep the test fast
    assert list(task.spec.observation) == ["state", "gripperPOV"]
    env = task.make_env()
    try:
        obs, _ = env.reset(seed=2)
        full = obs["privileged.state"]
        assert full.shape == (39,) and "privileged.state" not in task.spec.observation
        np.testing.assert_array_equal(obs["state"], np.concatenate([full[0:4], full[36:39]]))
        result = run_episode(task, env, task.make_expert(), seed=2)
    finally:
        env.close()
    assert result.success
    assert set(result.episode.observations) == {"state", "gripperPOV"}  # the privileged key is not kept
    assert result.episode.observations["gripperPOV"].shape == (result.length + 1, 16, 16, 3)


def test_camera_names_parse_and_bad_ones_are_refused():
    assert parse_camera_name("metaworld-vision/reach[corner2,gripperPOV@84]") == (
        "metaworld-vision/reach", ("corner2", "gripperPOV"), 84)
    assert parse_camera_name("metaworld/reach") is None
    with pytest.raises(ProtegeError, match="--image-size"):
        with_cameras(get_task("metaworld/reach"), ("corner2",), 4)
    with pytest.raises(ProtegeError, match="--cameras: expected camera names among"):
        get_task("metaworld/reach[nosuchcam@16]").make_env().reset(seed=0)


def test_record_cli_writes_cameras_into_the_spec(tmp_path, protege_cmd):
    import subprocess

    from protege.data.native import load_dataset

    out = tmp_path / "ds"
    r = subprocess.run([*protege_cmd, "record", "--task", "metaworld/reach", "--episodes", "1", "--out", str(out),
                        "--cameras", "corner2", "--image-size", "16"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["task"] == "metaworld/reach[corner2@16]"
    assert meta["spec"]["observation"]["corner2"] == {"shape": [16, 16, 3], "dtype": "uint8"}
    ds = load_dataset(out)
    cam = ds.episodes[0].observations["corner2"]
    assert cam.shape == (len(ds.episodes[0]) + 1, 16, 16, 3) and cam[0].std() > 10


def test_record_expert_on_the_vision_task_with_workers(tmp_path):
    from protege.data.native import load_dataset
    from protege.recording import record_expert

    out = record_expert("metaworld-vision/reach", 2, tmp_path / "v", cameras="gripperPOV", image_size=16, workers=2)
    ds = load_dataset(out)
    assert ds.meta["task"] == "metaworld-vision/reach[gripperPOV@16]"
    assert list(ds.spec.observation) == ["state", "gripperPOV"] and ds.spec.observation["state"].shape == (7,)
    assert len(ds) == 2 and all(set(e.observations) == {"state", "gripperPOV"} for e in ds.episodes)
